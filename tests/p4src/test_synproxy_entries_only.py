"""synproxy.p4 driven with table entries only, what only the in-process rig sees:
a slot's registers left by an earlier incarnation (set by hand) are not the new
one's (read back: gen, state, delta, tsoff, server window scale), and the
passthrough filter's register cells take the current epoch. The packet cases
(restart in place, a freed and reinstalled slot, every state change reported in a
session_event digest, the `defense` table and the epoch, C5, C8) are in the PTF
suite (ptf-tests/tests/synproxy/entries_only.py and resets.py), run in process and
over veths.

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
    S_ESTABLISHED,
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


# ---------------------------------------------------------------------- event codes


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
