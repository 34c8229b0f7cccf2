"""The pure session table: slots, retransmission schedule, held data, reuse rules,
state expiry, idle timeouts.

Run: .venv/bin/python -m pytest -q tests/controller/test_sessions.py
"""

from __future__ import annotations

import dataclasses

import pytest

from controller.config import Reuse, Sessions, Timeouts
from controller.sessions import (
    MAX_ORPHAN_FLOWS,
    SessionTable,
    State,
    retransmit_delay,
    reuse_allowed,
    state_timeout,
)
from controller.synpkt import Handshake

FLOW = (0x0A000001, 0xC0A80A0A, 40000, 80)


def hs(flow=FLOW, isn=1) -> Handshake:
    return Handshake(flow[0], flow[1], flow[2], flow[3], isn, 99, 1460, 7, True, True, 500, 0)


def new(t: SessionTable, flow=FLOW, now=0.0):
    return t.allocate(flow, service_id=1, rs_addr=5, rs_port=8080, cookie=99, client_isn=1,
                      handshake=hs(flow), now=now)


def flow(i: int) -> tuple[int, int, int, int]:
    return (0x0A000001, 0xC0A80A0A, 1000 + i, 80)


def test_allocate_free_and_full() -> None:
    t = SessionTable(Sessions(max=2))
    a, b = new(t, flow(1)), new(t, flow(2))
    assert {a.slot, b.slot} == {1, 2}  # slot 0 means "none" in digests
    assert new(t, flow(3)) is None and t.stats["full"] == 1
    t.release(a)
    assert new(t, flow(3)) is None, "a slot is not reused before its delete is confirmed"
    t.recycle(a.slot)
    c = new(t, flow(3))
    assert c is not None and c.slot == a.slot
    with pytest.raises(ValueError):
        new(t, flow(3))


def test_capacity_is_bounded_by_the_register_size() -> None:
    assert SessionTable(Sessions(max=1 << 20)).capacity == 65535


def test_retransmission_schedule_doubles_then_gives_up() -> None:
    t = SessionTable(Sessions(syn_timeout=1.0, syn_retries=2))
    s = new(t)
    t.syn_sent(s, 0.0)
    sent_at = [0.0]
    now = 0.0
    while True:
        now += 0.125
        resend, give_up = t.due(now)
        if give_up:
            break
        if resend:
            assert resend == [s]
            t.syn_sent(s, now)
            sent_at.append(now)
    assert sent_at == [0.0, 1.0, 3.0]  # waits of 1 s then 2 s
    assert now == 7.0  # then 4 s more before giving up
    assert [retransmit_delay(t.cfg, k) for k in range(3)] == [1.0, 2.0, 4.0]


def test_established_stops_retransmission_and_returns_held_data() -> None:
    t = SessionTable(Sessions(syn_timeout=1.0))
    s = new(t)
    t.syn_sent(s, 0.0)
    assert t.hold(FLOW, b"a", 2, 1, 0.1) and t.hold(FLOW, b"b", 3, 1, 0.2)
    assert t.established(s, 0.5) == [b"a", b"b"]
    assert t.due(100.0) == ([], [])
    assert not t.hold(FLOW, b"c", 4, 1, 0.6), "no holding once established"


def test_held_data_is_bounded_and_deduplicated() -> None:
    t = SessionTable(Sessions(early_data_bytes=10))
    s = new(t)
    assert t.hold(FLOW, b"x" * 60, 1, 6, 0.0)
    assert t.hold(FLOW, b"x" * 60, 1, 6, 0.0)  # a retransmission: held once
    assert s.held.nbytes == 6 and len(s.held.frames) == 1
    assert t.hold(FLOW, b"y", 7, 4, 0.0)  # exactly at the bound
    assert not t.hold(FLOW, b"z", 11, 1, 0.0)
    assert t.stats["early_dropped_packets"] == 1 and t.stats["early_dropped_bytes"] == 1


def test_data_before_the_digest_is_adopted_by_the_session() -> None:
    t = SessionTable(Sessions(timeouts=Timeouts(syn_sent=2.0)))
    assert t.hold(FLOW, b"early", 1, 5, 0.0, new_connection=True)
    s = new(t)
    assert s.held.frames == [b"early"] and not t.orphans
    t.hold(flow(9), b"lost", 1, 4, 0.0)
    assert t.expire_orphans(1.0) == 0 and t.expire_orphans(2.0) == 1


def test_orphan_flows_are_bounded() -> None:
    t = SessionTable(Sessions())
    for i in range(MAX_ORPHAN_FLOWS):
        assert t.hold(flow(i), b"d", 1, 1, 0.0)
    assert not t.hold(flow(MAX_ORPHAN_FLOWS), b"d", 1, 1, 0.0)
    assert t.stats["orphans_dropped"] == 1


def test_cookie_data_for_a_closing_session_waits_for_the_restart() -> None:
    t = SessionTable(Sessions())
    s = new(t)
    t.set_state(s, State.TIME_WAIT, 1.0)
    assert t.hold(FLOW, b"new", 500, 3, 1.0, new_connection=True)
    t.restart(s, rs_addr=6, rs_port=1, cookie=7, client_isn=499, handshake=hs(isn=499), now=2.0)
    assert s.state == State.SYN_SENT and s.held.frames == [b"new"] and s.attempts == 0


@pytest.mark.parametrize("state", [State.CLOSE, State.TIME_WAIT, State.FIN_WAIT,
                                   State.CLOSE_WAIT, State.LAST_ACK])
def test_reuse_rules_per_state_and_master_switch(state: State) -> None:
    field = state.name.lower()
    assert reuse_allowed(Reuse(), state)
    assert not reuse_allowed(Reuse(enabled=False), state)
    assert not reuse_allowed(dataclasses.replace(Reuse(), **{field: False}), state)
    others = [s for s in State if s not in (state, State.NONE, State.SYN_SENT, State.ESTABLISHED)]
    only = dataclasses.replace(Reuse(), **{s.name.lower(): False for s in others})
    assert reuse_allowed(only, state)


@pytest.mark.parametrize("state", [State.NONE, State.SYN_SENT, State.ESTABLISHED, 42])
def test_live_or_unknown_states_are_never_reused(state: int) -> None:
    assert not reuse_allowed(Reuse(), state)


def test_expiry_by_state() -> None:
    cfg = Sessions(timeouts=Timeouts(time_wait=5, close=1, established=100))
    t = SessionTable(cfg)
    a, b, c = new(t, flow(1)), new(t, flow(2)), new(t, flow(3))
    t.observe({a.slot: State.TIME_WAIT, b.slot: State.CLOSE, c.slot: State.ESTABLISHED}, 10.0)
    assert t.expired(10.5, idle_supported=True) == []
    assert t.expired(11.0, idle_supported=True) == [b]
    assert set(map(id, t.expired(15.0, idle_supported=True))) == {id(a), id(b)}
    # Without idle timeouts on the target, ESTABLISHED expires by its state timeout.
    assert c in t.expired(110.0, idle_supported=False)
    assert c not in t.expired(110.0, idle_supported=True)
    assert state_timeout(cfg, State.NONE) is None


def test_state_age_restarts_on_change() -> None:
    t = SessionTable(Sessions(timeouts=Timeouts(fin_wait=10, last_ack=10)))
    s = new(t)
    t.observe({s.slot: State.FIN_WAIT}, 0.0)
    t.observe({s.slot: State.FIN_WAIT}, 8.0)
    t.observe({s.slot: State.LAST_ACK}, 9.0)
    assert t.expired(15.0, True) == [] and t.expired(19.0, True) == [s]


def test_idle_needs_both_directions() -> None:
    t = SessionTable(Sessions(timeouts=Timeouts(established=10)))
    s = new(t)
    assert not t.idle(s, "client", 100.0)
    assert t.idle(s, "server", 105.0)
    s2 = new(t, flow(2))
    t.idle(s2, "client", 100.0)
    assert not t.idle(s2, "server", 120.0), "the client side was idle long ago, then active"


def test_restore_takes_the_slot_out_of_the_free_list() -> None:
    t = SessionTable(Sessions(max=3))
    s = new(t)
    t2 = SessionTable(Sessions(max=3))
    s.slot = 2
    t2.restore(s)
    assert {new(t2, flow(5)).slot, new(t2, flow(6)).slot} == {1, 3}
    with pytest.raises(ValueError):
        t2.restore(s)


def test_restored_pending_session_gives_up_after_the_syn_sent_timeout() -> None:
    t = SessionTable(Sessions(timeouts=Timeouts(syn_sent=5.0)))
    s = new(t)
    t2 = SessionTable(t.cfg)
    restored = dataclasses.replace(s, handshake=None, next_retx=None, state_since=10.0)
    t2.restore(restored)
    assert t2.due(14.0) == ([], [])
    assert t2.due(15.0) == ([], [restored])


def test_stale_timers_are_skipped() -> None:
    t = SessionTable(Sessions(syn_timeout=1.0, syn_retries=5))
    s = new(t)
    t.syn_sent(s, 0.0)
    t.established(s, 0.5)
    assert t.due(10.0) == ([], [])
    t.release(s)
    t.recycle(s.slot)
    s2 = new(t, flow(2))
    t.syn_sent(s2, 20.0)
    assert t.due(20.5) == ([], []) and t.due(21.0) == ([s2], [])


def test_every_install_and_restart_gets_a_new_gen() -> None:
    t = SessionTable(Sessions(max=2))
    a, b = new(t, flow(1)), new(t, flow(2))
    assert 0 not in (a.gen, b.gen) and a.gen != b.gen
    before = a.gen
    t.restart(a, rs_addr=6, rs_port=8081, cookie=7, client_isn=2, handshake=hs(flow(1)),
              now=1.0)
    assert a.gen not in (before, b.gen) and a.slot == 1
    t.release(b)
    t.recycle(b.slot)
    c = new(t, flow(3))
    assert c is not None and c.slot == b.slot and c.gen not in (b.gen, a.gen, before)


def test_gens_continue_above_the_restored_ones_and_skip_zero() -> None:
    t = SessionTable(Sessions(max=4))
    restored = dataclasses.replace(new(SessionTable(Sessions(max=4)), flow(1)), slot=3,
                                   gen=1000)
    t.restore(restored)
    s = new(t, flow(2))
    assert s is not None and s.gen == 1001
    t.last_gen = (1 << 32) - 1  # the 32-bit gen wraps to 1, never to 0
    assert t.new_gen() == 1
