"""Reading a Prometheus metric's value through prometheus_client's public interface
(`collect()`), for tests that check what the controller counted."""

from __future__ import annotations

from typing import Any


def metric_value(metric: Any, *label_values: str) -> float:
    """The value of counter or gauge `metric` (of its child with `label_values`, in the
    order of its label names); 0 for a child that was never touched."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if tuple(sample.labels.values()) == label_values:
                return float(sample.value)
    return 0.0
