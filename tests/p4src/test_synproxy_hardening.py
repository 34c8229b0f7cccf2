"""synproxy.p4 and forwarding.p4, D16 (never a reflector) in the in-process harness:
the pending-handshake clock across wraps, tagged frames (lengths, sessions), IP
versions in a session, the router's drops of what it cannot follow. The PTF suite
(ptf-tests/tests/synproxy/hardening.py) covers the same ground over real ports.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_hardening.py
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from p4sim.backend.harness import Harness
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    REFLECT_SESSION_BASE,
    ROUTER_MAC,
    SERVER_PORT,
    VIP,
    Bench,
    add_routes,
    ip2int,
    pending_slot,
)

SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
               ("WScale", 7)]
ISN = 0x10000
HALF_48 = p4consts.PENDING_CLOCK_HALF


class Clock:
    def __init__(self) -> None:
        self.ns = 5_000_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance_us(self, us: int) -> None:
        self.ns += us * 1000


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tb(synproxy_program, clock: Clock) -> Iterator[Bench]:
    h = Harness(synproxy_program, cpu_port=CPU_PORT, clock=clock)
    add_routes(h)
    for port in (CLIENT_PORT, SERVER_PORT):
        h.add_clone_session(REFLECT_SESSION_BASE + port, [(port, 1)])
    b = Bench(h)
    b.set_keys()
    b.add_service(window=64240)
    yield b


def tagged(pkt: object, *tags: tuple[int, int]) -> bytes:
    raw = bytes(pkt)  # type: ignore[call-overload]
    return raw[:12] + b"".join(struct.pack("!HH", t, c) for t, c in tags) + raw[12:]


def handshake(b: Bench, sport: int = 40000) -> tuple[int, int]:
    ((_, data),) = b.process(CLIENT_PORT, b.client_tcp("S", ISN, sport=sport,
                                                       options=SYN_OPTIONS))
    synack = Ether(data)
    cookie, tsval = synack[TCP].seq, dict(synack[TCP].options)["Timestamp"][0]
    assert b.process(CLIENT_PORT, later(b, cookie, tsval, 0, b"", sport=sport)) == []
    return cookie, tsval


def later(b: Bench, cookie: int, tsval: int, offset: int, payload: bytes = b"data", *,
          sport: int = 40000):
    return b.client_tcp("PA" if payload else "A", ISN + 1 + offset, cookie + 1, sport=sport,
                        payload=payload,
                        options=[("NOP", None), ("NOP", None), ("Timestamp", (200, tsval))])


# ----------------------------------------------------------------------------- clock


def test_pending_clock_counts_wraps_of_the_ingress_clock(tb: Bench, clock: Clock) -> None:
    cookie, tsval = handshake(tb)
    index, _ = pending_slot()
    since = tb.register("pending_since", index)
    assert since >> 48 == 0 and since == (clock.ns // 1000) & (1 << 48) - 1
    # The old 32-bit stamp (1.024 ms units) wrapped here: the entry stays expired.
    clock.advance_us(1 << 42)
    assert tb.process(CLIENT_PORT, later(tb, cookie, tsval, 10)) == []
    # Across the 48-bit wrap in steps below half the range: the era counts it.
    for _ in range(4):
        clock.advance_us((1 << 46) - (1 << 40))
        assert tb.process(CLIENT_PORT, later(tb, cookie, tsval, 20)) == []
    clock.advance_us((1 << 48) - 4 * ((1 << 46) - (1 << 40)) - (1 << 42))
    assert (clock.ns // 1000) % (1 << 48) == since  # the 48-bit clock is back where it was
    assert tb.process(CLIENT_PORT, later(tb, cookie, tsval, 30)) == []
    assert tb.register("pending_clock", 0) >> 48 == 1
    assert tb.event("ACK_INVALID") == (6, 6) and tb.event("EARLY_DATA") == (0, 0)
    # A new handshake after the wrap: its entry is stamped in era 1 and works.
    cookie2, tsval2 = handshake(tb, sport=40001)
    ((port, _),) = tb.process(CLIENT_PORT, later(tb, cookie2, tsval2, 10, sport=40001))
    assert port == CPU_PORT and tb.event("EARLY_DATA") == (1, 1)


def test_packets_slightly_out_of_order_are_no_wrap(tb: Bench, clock: Clock) -> None:
    """A stamp a little older than the last one seen (e.g. two ingress threads) does
    not count as a wrap. A segment stamped before its entry gets no help from it
    (an age is never negative), and the entry still serves the next one."""
    cookie, tsval = handshake(tb)
    clock.advance_us(-5)
    assert tb.process(CLIENT_PORT, later(tb, cookie, tsval, 10)) == []
    assert tb.register("pending_clock", 0) >> 48 == 0
    assert HALF_48 == 1 << 47
    clock.advance_us(10)
    ((port, _),) = tb.process(CLIENT_PORT, later(tb, cookie, tsval, 20))
    assert port == CPU_PORT
    assert tb.event("ACK_INVALID") == (1, 1) and tb.event("EARLY_DATA") == (1, 1)


# ----------------------------------------------------------------------------- VLAN


def test_tagged_synack_is_cut_to_its_headers_and_keeps_both_tags(tb: Bench) -> None:
    syn = tb.client_tcp("S", ISN, options=SYN_OPTIONS, payload=b"x" * 30)
    ((port, data),) = tb.process(CLIENT_PORT, tagged(syn, (0x88A8, 10), (0x8100, 20)))
    assert port == CLIENT_PORT
    assert data[12:20] == bytes.fromhex("88a8000a81000014")
    reply = Ether(data[:12] + data[20:])   # the tags out: an ordinary SYN/ACK
    assert reply[TCP].flags == "SA" and reply[IP].dst == CLIENT_IP
    assert len(data) == 14 + 8 + reply[IP].len   # no payload, no trailing bytes
    assert bytes(reply[IP].payload) == bytes(reply[TCP])


def test_tagged_session_traffic_is_translated_and_keeps_its_tag(tb: Bench) -> None:
    cookie, tsval = handshake(tb)
    tb.install_session(9, cookie=cookie, ts_base=tsval, state=p4consts.SESSION_ESTABLISHED)
    seg = later(tb, cookie, tsval, 0, b"GET /")
    ((port, data),) = tb.process(CLIENT_PORT, tagged(seg, (0x8100, 100)))
    assert port == SERVER_PORT and data[12:16] == bytes.fromhex("81000064")
    assert tb.event("TRANSLATED_C2S") == (1, 1)


def test_bad_ip_version_in_a_session_is_dropped(tb: Bench) -> None:
    cookie, tsval = handshake(tb)
    tb.install_session(9, cookie=cookie, ts_base=tsval, state=p4consts.SESSION_ESTABLISHED)
    seg = later(tb, cookie, tsval, 0, b"GET /")
    seg[IP].version = 6
    del seg[IP].chksum
    assert tb.process(CLIENT_PORT, seg) == []
    assert tb.event("DROP_MALFORMED") == (1, 1) and tb.event("TRANSLATED_C2S") == (0, 0)


def test_martian_lookup_is_only_for_traffic_to_a_service(tb: Bench) -> None:
    """A real server answering from the VIP (transparent mode) is not refused: the
    check is for packets to a VIP."""
    tb.h.add_entry("martian_sources", [(ip2int(VIP), 32)], "set_martian", [])
    from_vip = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=VIP, dst="10.1.0.5") / TCP(
        sport=80, dport=1234, flags="A")
    out = tb.process(CLIENT_PORT, from_vip)
    assert [p for p, _ in out] == [SERVER_PORT]
    assert tb.event("DROP_MARTIAN") == (0, 0)


# ----------------------------------------------------------------------------- router program


def test_router_drops_what_it_cannot_follow(router: Bench) -> None:
    v4 = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst="10.1.0.5") / TCP()
    assert [p for p, _ in router.process(CLIENT_PORT, v4)] == [SERVER_PORT]
    bad = v4.copy()
    bad[IP].version = 5
    assert router.process(CLIENT_PORT, bad) == []
    v6 = bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC, type=0x86DD)) + bytes(40)
    assert router.process(CLIENT_PORT, v6) == []
    three = tagged(v4, (0x88A8, 1), (0x8100, 2), (0x8100, 3))
    assert router.process(CLIENT_PORT, three) == []
    one = tagged(v4, (0x8100, 7))
    ((port, data),) = router.process(CLIENT_PORT, one)
    assert port == SERVER_PORT and data[12:16] == bytes.fromhex("81000007")
