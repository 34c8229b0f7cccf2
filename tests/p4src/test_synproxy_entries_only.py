"""synproxy.p4 driven with table entries only, as on a P4Runtime server without
register access (bmv2's): session generations (a slot's stale registers are not
the new incarnation's), state changes reported in session_event digests, and
the passthrough filter's register cells (the `defense` table's behaviour, C8, is in
ptf-tests/tests/synproxy/entries_only.py).

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_entries_only.py
"""

from __future__ import annotations

import struct
import zlib

from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from controller.cookie import encode_options
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_PORT,
    CPU_PORT,
    PROXY_AUTO,
    S_CLOSE,
    S_CLOSE_WAIT,
    S_ESTABLISHED,
    S_FIN_WAIT,
    S_LAST_ACK,
    S_SYN_SENT,
    S_TIME_WAIT,
    SERVER_PORT,
    SERVICE_ID,
    SVC_TS,
    VIP,
    VPORT,
    Bench,
    ip2int,
    packet_out,
    split_packet_in,
)

SLOT = 21
ISN = 0x10000
OPTS = encode_options(1460, 7, True, True)
RS_ISN = 0x9000
EV_ESTABLISHED = p4consts.SESSION_EV_ESTABLISHED
EV_STATE = p4consts.SESSION_EV_STATE
FLOW_FILTER_SIZE = p4consts.FLOW_FILTER_SIZE


def _events(bench: Bench) -> list[tuple[int, int, int, int]]:
    """(slot, event, state, gen) of every session_event digest so far."""
    return [(e[0], e[1], e[-2], e[-1]) for e in bench.digests("session_event_digest_t")]


def _server_syn(bench: Bench) -> list[tuple[int, bytes]]:
    syn = bench.client_tcp("S", ISN, options=[("MSS", 1460), ("Timestamp", (1000, 0))])
    return bench.process(CPU_PORT, packet_out(bytes(syn), pipeline=True))


def _synack(bench: Bench, rs_isn: int = RS_ISN, tsval: int = 555) -> list[tuple[int, bytes]]:
    return bench.process(SERVER_PORT, bench.server_tcp(
        "SA", rs_isn, ISN + 1, options=[("Timestamp", (tsval, 1000)), ("NOP", None),
                                        ("WScale", 9)]))


def _data(bench: Bench, cookie: int, payload: bytes = b"req") -> list[tuple[int, bytes]]:
    return bench.process(CLIENT_PORT, bench.client_tcp("PA", ISN + 1, cookie + 1,
                                                       payload=payload))


# ---------------------------------------------------------------------- generations


def test_fresh_slot_ignores_an_earlier_incarnations_registers(bench: Bench) -> None:
    """A slot an earlier connection left ESTABLISHED with its delta, tsoff and server
    window scale: the new entries (another gen) start it as SYN_SENT from zero, so
    client data is held (EARLY_DATA), not translated with the stale delta."""
    bench.preset_slot(SLOT, 6, S_ESTABLISHED, delta=0x7777, tsoff=0x1234)
    bench.set_register("session_server_wscale", SLOT, 3)
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, gen=7)
    ((port, raw),) = _data(bench, cookie)
    meta, _ = split_packet_in(raw)
    assert (port, meta["reason"], meta["slot"]) == (CPU_PORT, 1, SLOT)
    assert bench.event("EARLY_DATA") == (1, 1)
    assert [bench.register(r, SLOT) for r in (
        "session_gen", "session_state", "session_delta", "session_tsoff",
        "session_server_wscale")] == [7, S_SYN_SENT, 0, 0, 0]
    assert _events(bench) == []  # starting afresh is no state change of the session


def test_fresh_slot_server_syn_and_synack_use_the_new_values(bench: Bench) -> None:
    """The controller's server SYN is the first packet of the incarnation; the
    SYN/ACK then records the new delta, and the digest names the new gen."""
    bench.preset_slot(SLOT, 6, S_TIME_WAIT, delta=0x7777, tsoff=0x1234)
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, gen=7)
    ((port, raw),) = _server_syn(bench)
    assert port == SERVER_PORT
    assert bench.register("session_state", SLOT) == S_SYN_SENT
    assert sorted(p for p, _ in _synack(bench)) == [CLIENT_PORT, SERVER_PORT]
    assert bench.register("session_delta", SLOT) == (RS_ISN - cookie) & 0xFFFFFFFF
    assert _events(bench) == [(SLOT, EV_ESTABLISHED, S_ESTABLISHED, 7)]
    ((port, raw),) = _data(bench, cookie)
    assert port == SERVER_PORT
    assert Ether(raw)[TCP].ack == RS_ISN + 1


def test_restart_in_place_starts_the_slot_again(bench: Bench) -> None:
    """C5: the controller modifies both entries with a new gen; the very next packet
    finds SYN_SENT (a stray client ACK of the old connection is dropped), and the new
    server handshake is reported under the new gen."""
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, gen=11)
    _synack(bench)
    assert bench.register("session_state", SLOT) == S_ESTABLISHED
    new_cookie = bench.cookie(ISN, encode_options(1460, None, False, False))
    bench.restart_session(SLOT, cookie=new_cookie, gen=12)
    stray = bench.client_tcp("A", ISN + 1, cookie + 1)
    assert bench.process(CLIENT_PORT, stray) == []
    assert bench.event("DROP_HANDSHAKE") == (1, 1)
    assert (bench.register("session_gen", SLOT), bench.register("session_state", SLOT)) == (
        12, S_SYN_SENT)
    assert sorted(p for p, _ in _synack(bench, rs_isn=0x1111)) == [CLIENT_PORT, SERVER_PORT]
    assert bench.register("session_delta", SLOT) == (0x1111 - new_cookie) & 0xFFFFFFFF
    assert _events(bench) == [(SLOT, EV_ESTABLISHED, S_ESTABLISHED, 11),
                              (SLOT, EV_ESTABLISHED, S_ESTABLISHED, 12)]


def test_freed_and_reinstalled_slot_is_fresh(bench: Bench) -> None:
    """Free = delete the entries (no register is touched); a later install of the
    same slot with another gen does not inherit the closed state."""
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, gen=1)
    bench.process(CLIENT_PORT, bench.client_tcp("R", ISN + 1))
    assert bench.register("session_state", SLOT) == S_CLOSE
    bench.free_session(SLOT)
    bench.install_session(SLOT, cookie=cookie, gen=2)
    assert sorted(p for p, _ in _synack(bench)) == [CLIENT_PORT, SERVER_PORT]
    assert [e[1:] for e in _events(bench)] == [
        (p4consts.SESSION_EV_CLIENT_ABORT, S_CLOSE, 1), (EV_ESTABLISHED, S_ESTABLISHED, 2)]


# ---------------------------------------------------------------------- state digests


def _established(bench: Bench, gen: int) -> int:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, gen=gen)
    _synack(bench)
    return cookie


def test_client_close_reports_every_state(bench: Bench) -> None:
    cookie = _established(bench, 40)
    c, s = ISN + 1, RS_ISN + 1
    bench.process(CLIENT_PORT, bench.client_tcp("A", c, cookie + 1))  # no change
    bench.process(CLIENT_PORT, bench.client_tcp("FA", c, cookie + 1))
    bench.process(SERVER_PORT, bench.server_tcp("A", s, c + 1))  # no change
    bench.process(SERVER_PORT, bench.server_tcp("FA", s, c + 1))
    bench.process(CLIENT_PORT, bench.client_tcp("A", c + 1, cookie + 2))
    bench.process(CLIENT_PORT, bench.client_tcp("A", c + 1, cookie + 2))  # TIME_WAIT again
    assert _events(bench) == [
        (SLOT, EV_ESTABLISHED, S_ESTABLISHED, 40),
        (SLOT, EV_STATE, S_FIN_WAIT, 40),
        (SLOT, EV_STATE, S_LAST_ACK, 40),
        (SLOT, EV_STATE, S_TIME_WAIT, 40),
    ]


def test_server_close_and_reset_report_their_states(bench: Bench) -> None:
    cookie = _established(bench, 41)
    bench.process(SERVER_PORT, bench.server_tcp("FA", RS_ISN + 1, ISN + 1))
    bench.process(CLIENT_PORT, bench.client_tcp("RA", ISN + 1, cookie + 2))
    events = bench.digests("session_event_digest_t")
    assert [(e[1], e[-2], e[-1]) for e in events[1:]] == [
        (EV_STATE, S_CLOSE_WAIT, 41), (EV_STATE, S_CLOSE, 41)]
    # The digest carries the client's address and port in both directions.
    assert {(e[4], e[5]) for e in events} == {(ip2int(CLIENT_IP), 40000)}


def test_rst_of_an_established_session_is_reported(bench: Bench) -> None:
    _established(bench, 42)
    bench.process(SERVER_PORT, bench.server_tcp("R", RS_ISN + 1))
    assert _events(bench)[1:] == [(SLOT, EV_STATE, S_CLOSE, 42)]
    assert bench.register("session_state", SLOT) == S_CLOSE


def test_state_event_code_is_the_next_free_one() -> None:
    codes = sorted(p4consts.SESSION_EVENTS.values())
    assert codes == [1, 2, 3, 4] and EV_STATE == 4


# ---------------------------------------------------------------------- passthrough epoch
# The defense table's and the epoch's packet behaviour is in the PTF suite
# (ptf-tests/tests/synproxy/entries_only.py, run in process and over veths); what only
# this rig sees, the filter's register cells, stays here.


def _auto_service(bench: Bench) -> None:
    bench.h.add_entry("ipv4_routes", [(ip2int(VIP), 32)], "route_to", [SERVER_PORT, 0xAA, 0xBB])
    bench.h.add_entry("services", [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)], "set_service",
                      [SERVICE_ID, PROXY_AUTO, SVC_TS, 1460, 7, 0, 64], priority=20)


def _cell(sport: int) -> int:
    data = struct.pack("!IIHH", ip2int(CLIENT_IP), ip2int(VIP), sport, VPORT)
    return zlib.crc32(data) % FLOW_FILTER_SIZE


def test_undefended_segments_write_the_current_epoch(bench: Bench) -> None:
    _auto_service(bench)
    bench.process(CLIENT_PORT, bench.client_tcp("PA", 5, 6, sport=41000, payload=b"a"))
    assert bench.register("passthrough_flows", _cell(41000)) == 1  # the initial epoch
    bench.set_passthrough_epoch(9)
    bench.process(CLIENT_PORT, bench.client_tcp("PA", 5, 6, sport=41000, payload=b"a"))
    assert bench.register("passthrough_flows", _cell(41000)) == 9
