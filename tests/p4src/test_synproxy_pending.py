"""synproxy.p4, pending handshakes (C4), what only the in-process rig sees: the
pending-handshake registers (tuple, cookie, ISN, stamp) after a validated ACK and
after a server SYN/ACK (its own flow's entry cleared, another flow's left alone, in
NAT and transparent mode), and an entry's lifetime on the test's clock. The packet
cases (later segments validated with the real ISN, forged or other-flow ones
refused, data first, defer, a slot taken over, reuse, the session installed) are
in the PTF suite (ptf-tests/tests/synproxy/pending.py), run in process and over
veths.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_pending.py
"""

from __future__ import annotations

from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from tests.p4src.conftest import Clock
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_PORT,
    CPU_PORT,
    S_ESTABLISHED,
    SERVER_PORT,
    SERVICE_ID,
    VIP,
    VPORT,
    Bench,
    ip2int,
    pending_slot,
    split_packet_in,
)

ISN = 0xFFFFFFF0  # seq numbers of the request wrap around 2^32
SLOT = 9
SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
               ("WScale", 7)]


def handshake(b: Bench, isn: int = ISN, sport: int = 40000) -> tuple[int, int]:
    """SYN -> SYN/ACK; returns (cookie, our TSval)."""
    ((port, data),) = b.process(CLIENT_PORT, b.client_tcp("S", isn, sport=sport,
                                                          options=SYN_OPTIONS))
    assert port == CLIENT_PORT
    synack = Ether(data)
    return synack[TCP].seq, dict(synack[TCP].options)["Timestamp"][0]


def segment(b: Bench, seq: int, cookie: int, tsecr: int, payload: bytes = b"", *,
            tsval: int = 200, sport: int = 40000, window: int = 502):
    flags = "PA" if payload else "A"
    return b.client_tcp(flags, seq & 0xFFFFFFFF, (cookie + 1) & 0xFFFFFFFF, sport=sport,
                        payload=payload, window=window,
                        options=[("NOP", None), ("NOP", None), ("Timestamp", (tsval, tsecr))])


def punted(b: Bench, pkt) -> bytes:
    """The segment comes back to the controller, untouched, as COOKIE_DATA."""
    ((port, data),) = b.process(CLIENT_PORT, pkt)
    assert port == CPU_PORT
    meta, frame = split_packet_in(data)
    assert meta == {"ingress_port": CLIENT_PORT, "reason": p4consts.PUNT_COOKIE_DATA,
                    "slot": 0}
    assert frame == bytes(pkt)
    return frame


def test_registers_hold_the_validated_handshake(tb: Bench, clock: Clock) -> None:
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    index, flow = pending_slot()
    assert tb.pending_tuple(index) == flow
    assert tb.register("pending_cookie", index) == cookie
    assert tb.register("pending_isn", index) == ISN
    # era 0 ++ the 48-bit ingress clock in microseconds
    assert tb.register("pending_since", index) == clock.ns // 1000


def test_entry_past_its_lifetime_is_not_used(tb: Bench, clock: Clock) -> None:
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    clock.advance(9.9)
    punted(tb, segment(tb, ISN + 1 + 4, cookie, our_ts, b"late"))
    clock.advance(0.2)  # 10.1 s after the ACK: the use at 9.9 s did not refresh it
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 1 + 8, cookie, our_ts, b"gone")) == []
    assert tb.event("EARLY_DATA") == (1, 1)
    assert tb.event("ACK_INVALID") == (1, 1)
    # The client's retransmission from ISN + 1 still passes the cookie check.
    punted(tb, segment(tb, ISN + 1, cookie, our_ts, b"late"))
    assert tb.event("ACK_VALID") == (2, 2)


def _server_synack(b: Bench, client_isn: int) -> list[tuple[int, bytes]]:
    return b.process(SERVER_PORT, b.server_tcp("SA", 0x5000, (client_isn + 1) & 0xFFFFFFFF,
                                               options=[("Timestamp", (7, 200))]))


def _colliding_port(sport: int) -> int:
    """Another client port whose flow hashes to the same pending slot."""
    index = pending_slot(sport)[0]
    return next(p for p in range(1024, 65536) if p != sport and pending_slot(p)[0] == index)


def test_synack_leaves_another_flows_entry_alone(tb: Bench) -> None:
    """The SYN/ACK clears the slot only if the entry there is its own flow's."""
    other = _colliding_port(40000)
    cookie, our_ts = handshake(tb, sport=other)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts, sport=other))
    index, other_flow = pending_slot(other)
    assert pending_slot(40000)[0] == index and pending_slot(40000)[1] != other_flow
    since = tb.register("pending_since", index)
    tb.install_session(SLOT, cookie=tb.cookie(ISN, 0), ts_base=0)
    _server_synack(tb, ISN)
    assert tb.register("session_state", SLOT) == S_ESTABLISHED
    assert tb.pending_tuple(index) == other_flow
    assert tb.register("pending_since", index) == since != 0
    punted(tb, segment(tb, ISN + 9, cookie, our_ts, b"still", sport=other))


def test_transparent_mode_synack_clears_the_entry(tb: Bench) -> None:
    """Transparent mode: the server entry is keyed on the VIP itself."""
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    index, flow = pending_slot()
    assert tb.pending_tuple(index) == flow
    tb.h.add_entry("sessions", [ip2int(CLIENT_IP), ip2int(VIP), 40000, VPORT],
                   "set_client_session", [SLOT, SERVICE_ID, ip2int(VIP), VPORT, 3])
    tb.h.add_entry("sessions", [ip2int(VIP), ip2int(CLIENT_IP), VPORT, 40000],
                   "set_server_session",
                   [SLOT, SERVICE_ID, ip2int(VIP), VPORT, cookie, our_ts, 502, 7, 3])
    synack = Ether(bytes(tb.server_tcp("SA", 0x5000, (ISN + 1) & 0xFFFFFFFF)))
    synack["IP"].src, synack[TCP].sport = VIP, VPORT
    tb.process(SERVER_PORT, synack)
    assert tb.register("session_state", SLOT) == S_ESTABLISHED
    assert tb.register("pending_since", index) == 0
