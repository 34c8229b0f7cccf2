"""synproxy.p4, D16 (never a reflector), what only the in-process rig reaches: the
pending-handshake clock across wraps of the 48-bit ingress clock and stamps
slightly out of order, on the test's clock, with the registers read back. The
packet cases (tags, also on session traffic; martians; IP version != 4, also in a
session; the router's drops) are in the PTF suite (ptf-tests/tests/synproxy/
hardening.py and ptf-tests/tests/forwarding/), run in process and over veths.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_hardening.py
"""

from __future__ import annotations

from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from tests.p4src.conftest import Clock
from tests.p4src.p4bench import (
    CLIENT_PORT,
    CPU_PORT,
    Bench,
    pending_slot,
)

SYN_OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
               ("WScale", 7)]
ISN = 0x10000
HALF_48 = p4consts.PENDING_CLOCK_HALF


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
