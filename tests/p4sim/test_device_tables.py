"""Table semantics of p4sim.device: matching, priorities, validation, idle timeout.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_device_tables.py
"""

from __future__ import annotations

import pytest

from p4sim.device import Code, DeviceError, DeviceState
from tests.p4sim.runtime_fixtures import DROP, NO_ACTION, SET_PORT, FakeClock, p4info


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def state(clock: FakeClock) -> DeviceState:
    return DeviceState(p4info(), clock=clock)


def ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def code_of(exc: pytest.ExceptionInfo[DeviceError]) -> Code:
    return exc.value.code


class TestExact:
    def test_hit_and_miss(self, state: DeviceState) -> None:
        t = state.tables["ingress.smac"]
        e = t.insert((0xAABBCCDDEEFF, 3), 0, DROP, ())
        assert t.lookup((0xAABBCCDDEEFF, 3)) is e
        assert t.lookup((0xAABBCCDDEEFF, 4)) is None

    def test_duplicate_and_missing(self, state: DeviceState) -> None:
        t = state.tables["ingress.smac"]
        t.insert((1, 1), 0, DROP, ())
        with pytest.raises(DeviceError) as exc:
            t.insert((1, 1), 0, NO_ACTION, ())
        assert code_of(exc) == Code.ALREADY_EXISTS
        with pytest.raises(DeviceError) as exc:
            t.delete((2, 1), 0)
        assert code_of(exc) == Code.NOT_FOUND
        with pytest.raises(DeviceError) as exc:
            t.modify((2, 1), 0, DROP, ())
        assert code_of(exc) == Code.NOT_FOUND

    def test_table_full(self, state: DeviceState) -> None:
        t = state.tables["ingress.smac"]
        t.insert((1, 1), 0, DROP, ())
        t.insert((2, 1), 0, DROP, ())
        with pytest.raises(DeviceError) as exc:
            t.insert((3, 1), 0, DROP, ())
        assert code_of(exc) == Code.RESOURCE_EXHAUSTED
        t.delete((1, 1), 0)
        t.insert((3, 1), 0, DROP, ())
        assert t.lookup((1, 1)) is None
        assert t.lookup((3, 1)) is not None

    def test_value_too_wide(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError) as exc:
            state.tables["ingress.smac"].insert((1, 512), 0, DROP, ())
        assert code_of(exc) == Code.INVALID_ARGUMENT

    def test_priority_not_allowed(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError) as exc:
            state.tables["ingress.smac"].insert((1, 1), 5, DROP, ())
        assert code_of(exc) == Code.INVALID_ARGUMENT

    def test_exact_field_cannot_be_omitted(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError):
            state.tables["ingress.smac"].insert((1, None), 0, DROP, ())

    def test_modify_changes_action(self, state: DeviceState) -> None:
        t = state.tables["ingress.smac"]
        t.insert((1, 1), 0, DROP, ())
        t.modify((1, 1), 0, NO_ACTION, ())
        hit = t.lookup((1, 1))
        assert hit is not None and hit.action_id == NO_ACTION


class TestLpm:
    def test_longest_prefix_wins(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (1,))
        t.insert(((ip("10.1.0.0"), 16),), 0, SET_PORT, (2,))
        t.insert(((ip("10.1.2.3"), 32),), 0, SET_PORT, (3,))
        t.insert((None,), 0, SET_PORT, (9,))  # default route: prefix length 0
        assert t.lookup((ip("10.1.2.3"),)).args == (3,)  # type: ignore[union-attr]
        assert t.lookup((ip("10.1.2.4"),)).args == (2,)  # type: ignore[union-attr]
        assert t.lookup((ip("10.9.9.9"),)).args == (1,)  # type: ignore[union-attr]
        assert t.lookup((ip("192.168.0.1"),)).args == (9,)  # type: ignore[union-attr]

    def test_insert_order_does_not_matter(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        t.insert(((ip("10.1.2.0"), 24),), 0, SET_PORT, (3,))
        t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (1,))
        assert t.lookup((ip("10.1.2.9"),)).args == (3,)  # type: ignore[union-attr]
        t.delete(((ip("10.1.2.0"), 24),), 0)
        assert t.lookup((ip("10.1.2.9"),)).args == (1,)  # type: ignore[union-attr]

    def test_trailing_bits_must_be_zero(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError) as exc:
            state.tables["ingress.ipv4_lpm"].insert(((ip("10.1.0.0"), 8),), 0, SET_PORT, (1,))
        assert code_of(exc) == Code.INVALID_ARGUMENT

    def test_prefix_length_bounds(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        for plen in (0, 33):
            with pytest.raises(DeviceError):
                t.insert(((0, plen),), 0, SET_PORT, (1,))

    def test_same_value_other_prefix_is_distinct(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (1,))
        t.insert(((ip("10.0.0.0"), 16),), 0, SET_PORT, (2,))
        assert len(t) == 2


class TestTernaryRangeOptional:
    def test_priority_required(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError) as exc:
            state.tables["ingress.classify"].insert(((1, 0xFF), 6), 0, NO_ACTION, ())
        assert code_of(exc) == Code.INVALID_ARGUMENT

    def test_value_outside_mask_rejected(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError) as exc:
            state.tables["ingress.classify"].insert(((0x101, 0xFF), 6), 1, NO_ACTION, ())
        assert code_of(exc) == Code.INVALID_ARGUMENT

    def test_zero_mask_must_be_omitted(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError):
            state.tables["ingress.classify"].insert(((0, 0), 6), 1, NO_ACTION, ())

    def test_higher_priority_wins(self, state: DeviceState) -> None:
        t = state.tables["ingress.classify"]
        low = t.insert(((ip("10.0.0.0"), ip("255.0.0.0")), 6), 10, NO_ACTION, ())
        high = t.insert(((ip("10.1.0.0"), ip("255.255.0.0")), 6), 20, NO_ACTION, ())
        wild = t.insert((None, 6), 5, NO_ACTION, ())
        assert t.lookup((ip("10.1.1.1"), 6)) is high
        assert t.lookup((ip("10.2.1.1"), 6)) is low
        assert t.lookup((ip("11.2.1.1"), 6)) is wild
        assert t.lookup((ip("10.1.1.1"), 17)) is None
        # A more specific mask does not beat a higher priority.
        top = t.insert((None, 6), 30, NO_ACTION, ())
        assert t.lookup((ip("10.1.1.1"), 6)) is top

    def test_same_key_different_priorities(self, state: DeviceState) -> None:
        t = state.tables["ingress.classify"]
        a = t.insert(((ip("10.0.0.0"), ip("255.0.0.0")), 6), 10, NO_ACTION, ())
        b = t.insert(((ip("10.0.0.0"), ip("255.0.0.0")), 6), 20, NO_ACTION, ())
        assert t.lookup((ip("10.0.0.1"), 6)) is b
        t.delete(((ip("10.0.0.0"), ip("255.0.0.0")), 6), 20)
        assert t.lookup((ip("10.0.0.1"), 6)) is a

    def test_ranges_and_optional(self, state: DeviceState) -> None:
        t = state.tables["ingress.acl"]
        web = t.insert((None, (80, 443), 6), 10, DROP, ())
        port3 = t.insert(((3, 0x1FF), None, None), 20, NO_ACTION, ())
        udp = t.insert((None, None, 17), 5, DROP, ())
        assert t.lookup((1, 80, 6)) is web
        assert t.lookup((1, 443, 6)) is web
        assert t.lookup((1, 444, 6)) is None
        assert t.lookup((3, 100, 6)) is port3
        assert t.lookup((1, 53, 17)) is udp
        assert t.lookup((1, 100, 17)) is udp

    def test_range_validation(self, state: DeviceState) -> None:
        t = state.tables["ingress.acl"]
        with pytest.raises(DeviceError):
            t.insert((None, (10, 5), None), 1, DROP, ())
        with pytest.raises(DeviceError):
            t.insert((None, (0, 0xFFFF), None), 1, DROP, ())  # full range: omit it


class TestActions:
    def test_unknown_action(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError):
            state.tables["ingress.smac"].insert((1, 1), 0, SET_PORT, (1,))

    def test_param_count_and_width(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        with pytest.raises(DeviceError):
            t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, ())
        with pytest.raises(DeviceError):
            t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (512,))

    def test_scopes(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError):  # DEFAULT_ONLY used in an entry
            state.tables["ingress.acl"].insert((None, None, 6), 1, SET_PORT, (1,))
        state.tables["ingress.acl"].set_default(SET_PORT, (4,))
        with pytest.raises(DeviceError):  # TABLE_ONLY as default
            state.tables["ingress.classify"].set_default(SET_PORT, (1,))


class TestDefaultAndConst:
    def test_default_modify_and_reset(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        t.set_initial_default(DROP, ())
        assert (t.default_action_id, t.default_args) == (DROP, ())
        t.set_default(SET_PORT, (7,))
        assert (t.default_action_id, t.default_args) == (SET_PORT, (7,))
        t.reset_default()
        assert (t.default_action_id, t.default_args) == (DROP, ())

    def test_const_default(self, state: DeviceState) -> None:
        t = state.tables["ingress.fixed"]
        assert t.default_action_id == DROP
        with pytest.raises(DeviceError) as exc:
            t.set_default(NO_ACTION, ())
        assert code_of(exc) == Code.PERMISSION_DENIED

    def test_const_table(self, state: DeviceState) -> None:
        t = state.tables["ingress.fixed"]
        with pytest.raises(DeviceError) as exc:
            t.insert((1,), 0, DROP, ())
        assert code_of(exc) == Code.PERMISSION_DENIED
        entry = t.insert((1,), 0, DROP, (), static=True)
        assert t.lookup((1,)) is entry
        with pytest.raises(DeviceError) as exc:
            t.delete((1,), 0)
        assert code_of(exc) == Code.PERMISSION_DENIED


class TestDirectResourcesAndIdle:
    def test_direct_counter(self, state: DeviceState) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        e = t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (1,))
        t.count(e, 100)
        t.count(e, 60)
        assert (e.packets, e.bytes) == (2, 160)

    def test_idle_timeout(self, state: DeviceState, clock: FakeClock) -> None:
        t = state.tables["ingress.ipv4_lpm"]
        e = t.insert(((ip("10.0.0.0"), 8),), 0, SET_PORT, (1,), idle_timeout_ns=1000)
        t.insert(((ip("11.0.0.0"), 8),), 0, SET_PORT, (1,))  # no TTL: never expires
        clock.advance(600)
        assert t.lookup((ip("10.0.0.1"),)) is e  # refreshes the last hit
        clock.advance(600)
        assert t.expired(clock()) == []
        clock.advance(400)
        assert t.expired(clock()) == [e]
        # After a notification the timer restarts: nothing until another TTL.
        clock.advance(999)
        assert t.expired(clock()) == []
        clock.advance(1)
        assert t.expired(clock()) == [e]
        assert t.min_ttl_ns == 1000
        t.modify(((ip("10.0.0.0"), 8),), 0, None, (), idle_timeout_ns=0)
        clock.advance(5000)
        assert t.expired(clock()) == [] and t.min_ttl_ns == 0

    def test_idle_timeout_needs_support(self, state: DeviceState) -> None:
        with pytest.raises(DeviceError):
            state.tables["ingress.smac"].insert((1, 1), 0, DROP, (), idle_timeout_ns=10)
