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


class ArrivalDuringFlood(ToPort):
    """Makes a packet arrive on port 2 while port 1's backlog is being worked off."""

    def __init__(self, late_port: MemoryPort) -> None:
        super().__init__(2, b"")
        self.late_port = late_port

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        if packet == b"a5":
            self.late_port.inject(b"b")
        return super().process(port, packet)


def test_a_flooded_port_does_not_starve_another() -> None:
    ports = [MemoryPort(1), MemoryPort(2)]
    for i in range(300):  # all queued before the loop starts: no race with it
        ports[0].inject(b"a%d" % i)
    sw = Switch([ports[0], ports[1]], cpu_port=255)
    sw.set_pipeline(ArrivalDuringFlood(ports[1]), DeviceState(p4info()))
    sw.start(grpc_address=None)
    try:
        got = [ports[1].sent.get(timeout=10) for _ in range(301)]
    finally:
        sw.stop()
    assert got.index(b"b") <= 100  # served within a few rounds, not after the backlog


def test_packet_out_path_without_pipeline(switch: Switch) -> None:
    switch.inject(255, b"out")
    assert switch.wait_idle()
    assert switch.counters[255].rx_packets == 1 and switch.dropped_no_pipeline == 1


def test_bad_port_sets() -> None:
    with pytest.raises(ValueError):
        Switch([MemoryPort(1), MemoryPort(1)])
    with pytest.raises(ValueError):
        Switch([MemoryPort(255)], cpu_port=255)
