"""synproxy.p4, pending handshakes (C4): segments of a validated handshake that reach
the switch before the controller has installed the session are validated from the
pending-handshake registers (seq - 1 is no longer the ISN for them), forged ones are
not, entries age out, and the server SYN/ACK that establishes the session clears
the entry.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_pending.py
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from p4sim.backend.harness import Harness
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_PORT,
    CPU_PORT,
    REFLECT_SESSION_BASE,
    S_ESTABLISHED,
    S_FIN_WAIT,
    S_TIME_WAIT,
    SERVER_PORT,
    SERVICE_ID,
    SVC_DEFER,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    VPORT,
    Bench,
    add_routes,
    ip2int,
    pending_slot,
    split_packet_in,
)

ISN = 0xFFFFFFF0  # seq numbers of the request wrap around 2^32
SLOT = 9
SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
               ("WScale", 7)]
# cookie_ack_digest_t field positions (p4src/README.md)
D_ISN, D_COOKIE, D_HAS_PAYLOAD, D_WINDOW, D_TSVAL, D_OLD_SLOT, D_OLD_STATE = 4, 5, 10, 12, 13, 17, 18


class Clock:
    """The switch's clock, in ns, moved by the test."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tb(synproxy_program, clock: Clock) -> Iterator[Bench]:
    """The `bench` fixture (keys, one protected service) on the test's clock."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT, clock=clock)
    add_routes(h)
    for port in (CLIENT_PORT, SERVER_PORT):
        h.add_clone_session(REFLECT_SESSION_BASE + port, [(port, 1)])
    b = Bench(h)
    b.set_keys()
    b.add_service(window=64240)
    yield b


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


def test_every_segment_before_install_is_valid_with_the_real_isn(tb: Bench) -> None:
    cookie, our_ts = handshake(tb)
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts)) == []
    seq = ISN + 1
    for i, chunk in enumerate((b"GET /big HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n")):
        punted(tb, segment(tb, seq, cookie, our_ts, chunk, tsval=201 + i, window=600 + i))
        seq += len(chunk)
    digests = tb.digests("cookie_ack_digest_t")
    assert len(digests) == 4
    assert [d[D_ISN] for d in digests] == [ISN] * 4  # not seq - 1
    assert {d[D_COOKIE] for d in digests} == {cookie}
    assert [d[D_HAS_PAYLOAD] for d in digests] == [0, 1, 1, 1]
    # The rest is the segment's own: window and TSval of each.
    assert [d[D_WINDOW] for d in digests] == [502, 600, 601, 602]
    assert [d[D_TSVAL] for d in digests] == [200, 201, 202, 203]
    # The first data segment is one the cookie check alone accepts: a valid ACK as
    # ever; the two after it only the pending entry vouches for.
    assert tb.event("ACK_VALID") == (2, 2)
    assert tb.event("EARLY_DATA") == (2, 2)
    assert tb.event("ACK_INVALID") == (0, 0)


def test_registers_hold_the_validated_handshake(tb: Bench, clock: Clock) -> None:
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    index, flow = pending_slot()
    assert tb.pending_tuple(index) == flow
    assert tb.register("pending_cookie", index) == cookie
    assert tb.register("pending_isn", index) == ISN
    # era 0 ++ the 48-bit ingress clock in microseconds
    assert tb.register("pending_since", index) == clock.ns // 1000


def test_data_first_then_later_segments(tb: Bench) -> None:
    """No pure ACK (it was lost): the first data segment passes the cookie check
    itself, the next ones the pending entry it left."""
    cookie, our_ts = handshake(tb)
    punted(tb, segment(tb, ISN + 1, cookie, our_ts, b"abcd"))
    punted(tb, segment(tb, ISN + 5, cookie, our_ts, b"efgh"))
    assert [d[D_ISN] for d in tb.digests("cookie_ack_digest_t")] == [ISN, ISN]
    assert tb.event("ACK_VALID") == (1, 1)
    assert tb.event("EARLY_DATA") == (1, 1)


def test_a_later_segment_without_a_validated_ack_is_invalid(tb: Bench) -> None:
    cookie, our_ts = handshake(tb)
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 5, cookie, our_ts, b"efgh")) == []
    assert tb.event("ACK_INVALID") == (1, 1)
    assert tb.digests("cookie_ack_digest_t") == []


def test_forged_ack_on_a_pending_flow_is_invalid(tb: Bench) -> None:
    """Same 4-tuple (the entry is its own) but ack - 1 is not the stored cookie."""
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    for forged in (cookie + 1, cookie ^ 0x80000000, cookie - 1):
        assert tb.process(CLIENT_PORT, segment(tb, ISN + 9, forged, our_ts, b"evil")) == []
    assert tb.event("ACK_INVALID") == (3, 3)
    assert len(tb.digests("cookie_ack_digest_t")) == 1
    # ... and another flow's segment with the right cookie does not pass either.
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 9, cookie, our_ts, b"x", sport=40001)) == []
    assert tb.event("ACK_INVALID") == (4, 4)


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


def test_defer_keeps_the_entry_of_the_dropped_pure_ack(tb: Bench) -> None:
    tb.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, 1, SVC_TS | SVC_WSCALE | SVC_DEFER, 1460, 7, 64240, 64],
        priority=20,
    )
    cookie, our_ts = handshake(tb)
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts)) == []
    assert tb.event("DROP_DEFER") == (1, 1)
    punted(tb, segment(tb, ISN + 1 + 100, cookie, our_ts, b"second"))
    (d,) = tb.digests("cookie_ack_digest_t")
    assert d[D_ISN] == ISN and d[D_HAS_PAYLOAD] == 1


def _server_synack(b: Bench, client_isn: int) -> list[tuple[int, bytes]]:
    return b.process(SERVER_PORT, b.server_tcp("SA", 0x5000, (client_isn + 1) & 0xFFFFFFFF,
                                               options=[("Timestamp", (7, 200))]))


def test_server_synack_clears_the_entry(tb: Bench) -> None:
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    index, flow = pending_slot()
    assert tb.pending_tuple(index) == flow and tb.register("pending_since", index) != 0
    tb.install_session(SLOT, cookie=cookie, ts_base=our_ts)
    assert sorted(p for p, _ in _server_synack(tb, ISN)) == [CLIENT_PORT, SERVER_PORT]
    assert tb.register("session_state", SLOT) == S_ESTABLISHED
    assert tb.register("pending_since", index) == 0  # emptied
    # The connection closes; a late segment still acknowledging only our SYN/ACK
    # is translated like any segment of it, not reported as a new connection (C5).
    tb.set_register("session_state", SLOT, S_FIN_WAIT)
    out = tb.process(CLIENT_PORT, segment(tb, ISN + 1 + 30, cookie, our_ts))
    assert [p for p, _ in out] == [SERVER_PORT]
    assert tb.event("REUSE_ACK") == (0, 0)
    assert len(tb.digests("cookie_ack_digest_t")) == 1  # the handshake's own


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


def test_colliding_flow_takes_the_slot_over(tb: Bench) -> None:
    """Two handshakes in one slot: the later one owns it; the earlier one's later
    segments then need the cookie check (and fail it), as without C4."""
    other = _colliding_port(40000)
    cookie_a, ts_a = handshake(tb)
    cookie_b, ts_b = handshake(tb, sport=other)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie_a, ts_a))
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie_b, ts_b, sport=other))
    punted(tb, segment(tb, ISN + 5, cookie_b, ts_b, b"b2", sport=other))
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 5, cookie_a, ts_a, b"a2")) == []
    assert tb.event("ACK_INVALID") == (1, 1)


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


def test_session_installed_later_segments_are_early_data_with_slot(tb: Bench) -> None:
    """Once the session exists the pending entry plays no part: SYN_SENT punts
    EARLY_DATA with the slot, as before."""
    cookie, our_ts = handshake(tb)
    tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts))
    tb.install_session(SLOT, cookie=cookie, ts_base=our_ts)
    ((port, data),) = tb.process(CLIENT_PORT, segment(tb, ISN + 5, cookie, our_ts, b"more"))
    meta, _ = split_packet_in(data)
    assert (port, meta["reason"], meta["slot"]) == (CPU_PORT, 1, SLOT)
    assert len(tb.digests("cookie_ack_digest_t")) == 1


def test_reuse_later_segments_carry_old_slot_and_the_new_isn(tb: Bench) -> None:
    """C5 with C4: a new connection on a closing session's 4-tuple; its second
    segment, before the controller restarted the session, is reported like its
    ACK (old_slot, old_state) with the new connection's ISN."""
    tb.install_session(SLOT, cookie=tb.cookie(1234, 0), state=S_TIME_WAIT)
    cookie, our_ts = handshake(tb)
    assert tb.process(CLIENT_PORT, segment(tb, ISN + 1, cookie, our_ts)) == []
    punted(tb, segment(tb, ISN + 1 + 10, cookie, our_ts, b"second"))
    digests = tb.digests("cookie_ack_digest_t")
    assert [(d[D_ISN], d[D_OLD_SLOT], d[D_OLD_STATE]) for d in digests] == [
        (ISN, SLOT, S_TIME_WAIT)] * 2
    assert tb.event("REUSE_ACK") == (1, 1)
    assert tb.event("EARLY_DATA") == (1, 1)
