"""Key rotation (C7) and auto-defence hysteresis (C8), pure.

Run: .venv/bin/python -m pytest -q tests/controller/test_defence.py
"""

from __future__ import annotations

import itertools

from controller.config import AutoDefence
from controller.cookie import Flow, check_cookie, make_cookie
from controller.defence import AutoSwitch, KeyRing, KeyState


def ring() -> KeyRing:
    keys = itertools.count(0x1000)
    return KeyRing(60.0, 0xABCDEF, random_key=lambda: next(keys))


def test_rotation_keeps_the_previous_pair() -> None:
    r = ring()
    r.start(0.0)
    assert not r.due(59.9) and r.due(60.0)
    first = r.state
    second = r.rotate(60.0)
    assert (second.prev_key, second.prev_epoch) == (first.key, first.epoch)
    assert second.epoch == first.epoch + 1 and second.key != first.key
    assert not r.due(119.0) and r.due(120.0)
    # A cookie minted under the first key still checks against the pairs now installed.
    flow = Flow(1, 2, 3, 4)
    cookie = make_cookie(first.key, first.epoch, flow, 77, 0x5A)
    pairs = [(second.key, second.epoch), (second.prev_key, second.prev_epoch)]
    assert check_cookie(pairs, flow, 77, cookie) is not None
    third = r.rotate(120.0)
    pairs = [(third.key, third.epoch), (third.prev_key, third.prev_epoch)]
    assert check_cookie(pairs, flow, 77, cookie) is None  # two rotations later: gone


def test_consecutive_epochs_differ_in_the_low_bit() -> None:
    r = ring()
    for _ in range(5):
        s = r.rotate(0.0)
        assert (s.epoch ^ s.prev_epoch) & 1 == 1


def test_key_params_round_trip() -> None:
    s = KeyState(0x0123456789ABCDEF, 9, 0x1122334455667788, 8)
    p = s.params()
    assert p["key0"] == 0x89ABCDEF and p["key1"] == 0x01234567
    assert KeyState.from_params(p) == s


def test_adopt_continues_from_the_switch() -> None:
    r = ring()
    found = KeyState(5, 41, 6, 40)
    r.adopt(found, 10.0)
    assert r.rotate(70.0).epoch == 42


def feed(sw: AutoSwitch, samples: list[tuple[float, int]]) -> list[bool | None]:
    return [sw.update(t, c) for t, c in samples]


def test_auto_switches_on_above_the_threshold() -> None:
    sw = AutoSwitch(AutoDefence(syn_rate_on=100, syn_rate_off=10, quiet_seconds=3))
    assert feed(sw, [(0, 0), (1, 50), (2, 100)]) == [None, None, None]  # 50/s
    assert sw.update(3, 250) is True and sw.active  # 150/s
    assert sw.update(4, 260) is None  # 10/s is not below syn_rate_off


def test_auto_switches_off_after_quiet_period_only() -> None:
    sw = AutoSwitch(AutoDefence(syn_rate_on=100, syn_rate_off=10, quiet_seconds=3))
    feed(sw, [(0, 0), (1, 1000)])
    assert sw.active
    # Quiet from t=1; the burst measured at t=3 restarts the quiet period, which then
    # runs from t=3 and ends 3 s later.
    assert feed(sw, [(2, 1005), (3, 1100), (4, 1101), (5, 1102)]) == [None] * 4
    assert sw.update(6, 1103) is False and not sw.active


def test_auto_ignores_counter_resets() -> None:
    sw = AutoSwitch(AutoDefence(syn_rate_on=100, syn_rate_off=10, quiet_seconds=3))
    feed(sw, [(0, 5000), (1, 10)])  # the pipeline was pushed again: counters restarted
    assert not sw.active and sw.rate == 0


def test_passthrough_filter_zeroed_once_per_undefended_period() -> None:
    from controller.defence import FilterReset

    f = FilterReset(quiet=10.0, now=0.0)
    assert not f.update(5.0, undefended=False)
    assert f.update(10.0, undefended=False)  # the start counts as undefended
    assert not f.update(30.0, undefended=False)  # once
    assert not f.update(31.0, undefended=True)
    assert not f.update(40.0, undefended=False)
    assert f.update(41.0, undefended=False)


def test_passthrough_epochs_cycle_through_1_to_255_never_0() -> None:
    from controller.install import next_epoch

    assert next_epoch(1) == 2 and next_epoch(254) == 255 and next_epoch(255) == 1
    seen = set()
    e = 1
    for _ in range(255):
        e = next_epoch(e)
        seen.add(e)
    assert seen == set(range(1, 256))
