"""The session table's hold() for data of a valid cookie ACK (PUNT_COOKIE_DATA) that
the switch validated from its pending-handshake entry (C4): it may arrive while the
flow's session is waiting for the server, already established, or closing with an
older connection (C5).

Run: .venv/bin/python -m pytest -q tests/controller/test_sessions_early.py
"""

from __future__ import annotations

import pytest

from controller.config import Sessions
from controller.sessions import SessionTable, State
from controller.synpkt import Handshake

FLOW = (0x0A000001, 0xC0A80A0A, 40000, 80)
COOKIE = 0xC00C1E00
OTHER_COOKIE = 0x0BADC0DE


def table_with_session(state: State) -> SessionTable:
    t = SessionTable(Sessions())
    h = Handshake(FLOW[0], FLOW[1], FLOW[2], FLOW[3], 1000, COOKIE, 1460, 7, True, True, 500, 0)
    s = t.allocate(FLOW, service_id=1, rs_addr=5, rs_port=8080, cookie=COOKIE, client_isn=1000,
                   handshake=h, now=0.0)
    assert s is not None
    t.set_state(s, state, 1.0)
    return t


def test_same_connection_while_syn_sent_is_held_in_the_session() -> None:
    t = table_with_session(State.SYN_SENT)
    assert t.hold(FLOW, b"two", 1004, 3, 1.0, new_connection=True, cookie=COOKIE)
    s = t.by_flow[FLOW]
    assert s.held.frames == [b"two"] and not t.orphans
    assert t.established(s, 2.0) == [b"two"]


@pytest.mark.parametrize("state", [State.ESTABLISHED, State.FIN_WAIT, State.CLOSE_WAIT])
def test_same_connection_past_the_handshake_is_not_held(state: State) -> None:
    """The caller delivers it at once (the session translates it)."""
    t = table_with_session(state)
    assert not t.hold(FLOW, b"two", 1004, 3, 1.0, new_connection=True, cookie=COOKIE)
    assert not t.orphans and t.by_flow[FLOW].held.frames == []
    assert t.stats["early_dropped_packets"] == 0


@pytest.mark.parametrize("state", [State.TIME_WAIT, State.CLOSE, State.FIN_WAIT])
def test_new_connection_on_a_closing_session_waits_as_an_orphan(state: State) -> None:
    t = table_with_session(state)
    assert t.hold(FLOW, b"new", 5001, 3, 1.0, new_connection=True, cookie=OTHER_COOKIE)
    assert t.orphans[FLOW].frames == [b"new"]
    assert t.by_flow[FLOW].held.frames == []
    s = t.by_flow[FLOW]
    t.restart(s, rs_addr=5, rs_port=8080, cookie=OTHER_COOKIE, client_isn=5000, handshake=None,
              now=2.0)
    assert s.held.frames == [b"new"] and not t.orphans


def test_early_data_of_the_session_is_not_held_once_established() -> None:
    """PUNT_EARLY_DATA (no cookie) keeps its rule: held only while SYN_SENT."""
    t = table_with_session(State.ESTABLISHED)
    assert not t.hold(FLOW, b"late", 1004, 4, 1.0)
    assert not t.orphans


def test_no_session_yet_is_an_orphan_adopted_by_the_session() -> None:
    t = SessionTable(Sessions())
    for i, chunk in enumerate((b"a", b"b", b"c")):
        assert t.hold(FLOW, chunk, 1001 + i, 1, 0.0, new_connection=True, cookie=COOKIE)
    assert t.hold(FLOW, b"a", 1001, 1, 0.0, new_connection=True, cookie=COOKIE)  # resent
    s = t.allocate(FLOW, service_id=1, rs_addr=5, rs_port=8080, cookie=COOKIE,
                   client_isn=1000, handshake=None, now=0.5)
    assert s is not None and s.held.frames == [b"a", b"b", b"c"]
