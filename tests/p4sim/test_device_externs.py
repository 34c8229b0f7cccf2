"""Counters, meters (RFC 2698 colours), registers, PRE and digest batching of p4sim.device.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_device_externs.py
"""

from __future__ import annotations

import pytest

from p4sim.device import (
    GREEN,
    RED,
    YELLOW,
    CloneSession,
    Code,
    DeviceError,
    DeviceState,
    DigestConfig,
    MeterConfig,
)
from tests.p4sim.runtime_fixtures import LEARN, FakeClock, p4info


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def state(clock: FakeClock) -> DeviceState:
    return DeviceState(p4info(), clock=clock)


def test_counter_counts_and_ignores_out_of_range(state: DeviceState) -> None:
    c = state.counters["ingress.pkts"]
    c.count(3, 100)
    c.count(3, 20)
    c.count(99, 20)
    assert c.read(3) == (2, 120)
    assert c.read(0) == (0, 0)
    with pytest.raises(DeviceError) as exc:
        c.read(8)
    assert exc.value.code == Code.OUT_OF_RANGE


def test_byte_meter_colours(state: DeviceState, clock: FakeClock) -> None:
    m = state.meters["ingress.byte_rate"]
    assert m.execute(0, 1500) == GREEN  # unconfigured: green
    m.set_config(0, MeterConfig(cir=1000, cburst=100, pir=2000, pburst=200))
    colours = [m.execute(0, 50) for _ in range(5)]
    assert colours == [GREEN, GREEN, YELLOW, YELLOW, RED]
    clock.advance(25_000_000)  # 25 ms: +25 committed bytes, +50 peak bytes
    assert m.execute(0, 50) == YELLOW
    assert m.execute(0, 10) == RED
    clock.advance(1_000_000_000)  # buckets refill, but never above their depth
    assert [m.execute(0, 100) for _ in range(3)] == [GREEN, YELLOW, RED]


def test_packet_meter_ignores_size(state: DeviceState, clock: FakeClock) -> None:
    m = state.meters["ingress.pkt_rate"]
    m.set_config(1, MeterConfig(cir=1, cburst=1, pir=2, pburst=2))
    assert [m.execute(1, 9000) for _ in range(3)] == [GREEN, YELLOW, RED]
    clock.advance(500_000_000)  # half a second: one peak token, no committed token
    assert m.execute(1, 64) == YELLOW
    m.set_config(1, None)
    assert m.execute(1, 64) == GREEN


def test_meter_config_validation(state: DeviceState) -> None:
    m = state.meters["ingress.byte_rate"]
    with pytest.raises(DeviceError):
        m.set_config(0, MeterConfig(cir=10, cburst=1, pir=5, pburst=1))
    with pytest.raises(DeviceError):
        m.set_config(0, MeterConfig(cir=-1, cburst=1, pir=5, pburst=1))


def test_direct_meter(state: DeviceState) -> None:
    t = state.tables["ingress.classify"]
    e = t.insert((None, 6), 1, 16777219, ())
    assert t.meter(e, 100) == GREEN
    t.set_meter_config(e, MeterConfig(cir=0, cburst=0, pir=1, pburst=1))
    assert [t.meter(e, 100) for _ in range(2)] == [YELLOW, RED]


def test_register_bounds_and_width(state: DeviceState) -> None:
    r = state.registers["ingress.seen"]
    r.values[2] = 7  # the pipeline writes the list directly
    assert r.read(2) == 7
    r.write(3, 0xFFFFFFFF)
    with pytest.raises(DeviceError):
        r.write(3, 1 << 32)
    with pytest.raises(DeviceError):
        r.write(16, 1)


def test_pre(state: DeviceState) -> None:
    pre = state.pre
    pre.write_clone_session("insert", CloneSession(5, [(1, 0), (2, 1)], 0, 64))
    assert pre.clone_sessions[5].replicas == [(1, 0), (2, 1)]
    with pytest.raises(DeviceError) as exc:
        pre.write_clone_session("insert", CloneSession(5, [], 0, 0))
    assert exc.value.code == Code.ALREADY_EXISTS
    with pytest.raises(DeviceError):
        pre.write_multicast_group("insert", 1, [(1, 0), (1, 0)])
    pre.write_multicast_group("insert", 1, [(1, 0), (2, 0)])
    pre.write_multicast_group("modify", 1, [(3, 0)])
    assert pre.multicast_groups[1] == [(3, 0)]
    pre.write_multicast_group("delete", 1, [])
    with pytest.raises(DeviceError) as exc:
        pre.write_multicast_group("delete", 1, [])
    assert exc.value.code == Code.NOT_FOUND


class TestDigests:
    def test_unconfigured_digest_is_dropped(self, state: DeviceState) -> None:
        state.digest_sink(LEARN, (1, 2))
        assert state.digests.poll()[0] == []
        assert state.digests.dropped == 1

    def test_batching_by_size_and_duplicates(self, state: DeviceState) -> None:
        eng = state.digests
        eng.configure("insert", LEARN, DigestConfig(10_000, 2, 50_000))
        state.digest_sink(LEARN, (1, 1))
        state.digest_sink(LEARN, (1, 1))  # duplicate in the buffer
        lists, deadline = eng.poll()
        assert lists == [] and deadline is not None
        state.digest_sink(LEARN, (2, 1))
        lists, _ = eng.poll()
        assert [(d.digest_id, d.values) for d in lists] == [(LEARN, [(1, 1), (2, 1)])]
        # While the list is not acknowledged, the same data is not sent again.
        state.digest_sink(LEARN, (1, 1))
        state.digest_sink(LEARN, (3, 1))
        state.digest_sink(LEARN, (4, 1))
        lists2, _ = eng.poll()
        assert [d.values for d in lists2] == [[(3, 1), (4, 1)]]
        assert eng.ack(LEARN, lists[0].list_id)
        assert not eng.ack(LEARN, lists[0].list_id)
        state.digest_sink(LEARN, (1, 1))
        state.digest_sink(LEARN, (5, 1))
        assert [d.values for d in eng.poll()[0]] == [[(1, 1), (5, 1)]]

    def test_timeout_flushes_a_partial_list(self, state: DeviceState, clock: FakeClock) -> None:
        eng = state.digests
        eng.configure("insert", LEARN, DigestConfig(1000, 100, 50_000))
        state.digest_sink(LEARN, (7, 7))
        lists, deadline = eng.poll()
        assert lists == [] and deadline == clock() + 1000
        clock.advance(999)
        assert eng.poll()[0] == []
        clock.advance(1)
        assert [d.values for d in eng.poll()[0]] == [[(7, 7)]]

    def test_ack_timeout_releases_the_cache(self, state: DeviceState, clock: FakeClock) -> None:
        eng = state.digests
        eng.configure("insert", LEARN, DigestConfig(0, 10, 5000))
        state.digest_sink(LEARN, (1, 2))
        assert len(eng.poll()[0]) == 1
        state.digest_sink(LEARN, (1, 2))
        assert eng.poll()[0] == []
        clock.advance(5000)
        eng.poll()
        state.digest_sink(LEARN, (1, 2))
        assert [d.values for d in eng.poll()[0]] == [[(1, 2)]]

    def test_config_updates(self, state: DeviceState) -> None:
        eng = state.digests
        with pytest.raises(DeviceError) as exc:
            eng.configure("modify", LEARN, DigestConfig(0, 1, 0))
        assert exc.value.code == Code.NOT_FOUND
        eng.configure("insert", LEARN, DigestConfig(0, 1, 0))
        with pytest.raises(DeviceError) as exc:
            eng.configure("insert", LEARN, DigestConfig(0, 1, 0))
        assert exc.value.code == Code.ALREADY_EXISTS
        eng.configure("delete", LEARN, None)
        assert eng.configured() == []
