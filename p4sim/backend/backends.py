"""The back ends a pipeline can be compiled with, by name.

* `python`: the program compiled to Python (`pipeline.Pipeline`), the reference;
* `c`: the program compiled to C and loaded natively (`c.native.NativePipeline`).

Both take `(device_config, p4info, state, cpu_port)` in `load` and have `process`.
"""

from __future__ import annotations

import os
from typing import Any

BACKENDS = ("python", "c")
DEFAULT = "python"  # in-process pipelines (Harness, the p4src tests): the reference
TARGET_DEFAULT = "c"  # the `p4sim` target (demo, PTF, end-to-end tests): native


def default_backend(target: bool = False) -> str:
    """`$P4SIM_BACKEND` if set (tests run whole suites on either back end), else the
    native back end for the `p4sim` target and the Python one in process."""
    name = os.environ.get("P4SIM_BACKEND", TARGET_DEFAULT if target else DEFAULT)
    if name not in BACKENDS:
        raise ValueError(f"P4SIM_BACKEND={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


def pipeline_class(name: str | None = None) -> Any:
    """The pipeline class of back end `name` (None: `default_backend()`)."""
    name = name or default_backend()
    if name == "python":
        from .python.pipeline import Pipeline

        return Pipeline
    if name == "c":
        from .c.native import NativePipeline

        return NativePipeline
    raise ValueError(f"unknown back end {name!r}: expected one of {', '.join(BACKENDS)}")


def loader(name: str | None = None) -> Any:
    """A P4Runtime server loader `(device_config, p4info, state, cpu_port) -> pipeline`
    compiling with back end `name` (None: `default_backend()`, read at each load)."""

    def load(device_config: bytes, p4info: Any, state: Any, cpu_port: int) -> Any:
        return pipeline_class(name).load(device_config, p4info, state, cpu_port)

    load.backend = name  # type: ignore[attr-defined]
    return load
