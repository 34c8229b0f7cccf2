"""The switch's packet loop with in-memory ports: forwarding, drops, hot swap, errors.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_ports_switch.py
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from p4sim.device import DeviceState
from p4sim.ports import MemoryPort
from p4sim.switch import Switch
from tests.p4sim.runtime_fixtures import p4info

pytestmark = pytest.mark.timeout(60)


class ToPort:
    """Sends every packet to a fixed port, prefixed with a tag; b"boom" raises."""

    def __init__(self, egress: int, tag: bytes) -> None:
        self.egress = egress
        self.tag = tag

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        if packet == b"boom":
            raise RuntimeError("the program failed")
        return [(self.egress, self.tag + packet)]


@pytest.fixture()
def ports() -> list[Any]:
    return [MemoryPort(1), MemoryPort(2)]


@pytest.fixture()
def switch(ports: list[Any]) -> Iterator[Switch]:
    sw = Switch(ports, cpu_port=255)
    sw.start(grpc_address=None)
    yield sw
    sw.stop()


def test_no_pipeline_drops(switch: Switch, ports: list[MemoryPort]) -> None:
    ports[0].inject(b"x")
    assert switch.wait_idle()
    assert switch.dropped_no_pipeline == 1 and ports[1].sent.empty()


def test_forward_hot_swap_and_errors(switch: Switch, ports: list[MemoryPort]) -> None:
    state = DeviceState(p4info())
    switch.set_pipeline(ToPort(2, b"A:"), state)
    for i in range(100):
        ports[0].inject(b"%d" % i)
    assert [ports[1].sent.get(timeout=10) for _ in range(100)] == [b"A:%d" % i for i in range(100)]
    switch.set_pipeline(ToPort(1, b"B:"), state)
    ports[1].inject(b"y")
    assert ports[0].sent.get(timeout=10) == b"B:y"
    ports[0].inject(b"boom")
    ports[0].inject(b"after")
    assert ports[0].sent.get(timeout=10) == b"B:after"
    assert switch.pipeline_errors == 1
    switch.set_pipeline(ToPort(7, b""), state)
    ports[0].inject(b"nowhere")
    assert switch.wait_idle()
    assert switch.dropped_no_port == 1
    assert switch.counters[1].rx_packets == 103 and switch.counters[2].tx_packets == 100


def test_both_ports_served_under_load(switch: Switch, ports: list[MemoryPort]) -> None:
    switch.set_pipeline(ToPort(2, b""), DeviceState(p4info()))
    for i in range(200):
        ports[0].inject(b"a%d" % i)
    ports[1].inject(b"b")
    got = [ports[1].sent.get(timeout=10) for _ in range(201)]
    assert b"b" in got and got.index(b"b") < 200  # port 2 did not wait for all of port 1


def test_packet_out_path_without_pipeline(switch: Switch) -> None:
    switch.inject(255, b"out")
    assert switch.wait_idle()
    assert switch.counters[255].rx_packets == 1 and switch.dropped_no_pipeline == 1


def test_bad_port_sets() -> None:
    with pytest.raises(ValueError):
        Switch([MemoryPort(1), MemoryPort(1)])
    with pytest.raises(ValueError):
        Switch([MemoryPort(255)], cpu_port=255)
