# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- translation    (TARGET=bmv2 for bmv2)
"""Translation on established sessions (D9): client -> server ack += delta, every
SACK edge += delta, TSecr -= tsoff; server -> client seq -= delta, TSval += tsoff;
all modulo 2^32 (ISNs, cookies and clocks chosen to cross 2^32), checksums right."""

from __future__ import annotations

from ptf.mask import Mask
from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from synproxy_base import ipv6_variants
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_PORT,
    CLIENT_SPORT,
    ROUTER_MAC,
    SERVER_PORT,
    VIP,
    VPORT,
    sack_option,
    ts_option,
    u32,
)
from synproxy_session import SessionTest, translated_c2s, translated_s2c

ISN = 0xFFFFFFF0
RS_ISN = 0x00001000
TS_BASE = 0x40000000


@group("translation")
class ClientToServerTranslationTest(SessionTest):
    """Data from the client: ack += delta, three SACK blocks += delta, TSecr -=
    tsoff, destination NAT; sequence number and payload untouched."""

    def runTest(self) -> None:
        c = self.new_conn(40, ISN, RS_ISN, TS_BASE, server_tsval=12345)
        self.establish(c)
        base = u32(c.cookie + 1)
        pkt = c.client("PA", data_sent=0x30, data_acked=100,
                       options=ts_option(1100, TS_BASE + 5)
                       + sack_option([base + 300, base + 400, base + 500, base + 600,
                                      base + 700, base + 800]),
                       payload=b"hello server")
        self.send(CLIENT_PORT, pkt)
        exp = translated_c2s(pkt, c.delta, c.tsoff)
        self.expect(SERVER_PORT, exp)
        # The values, spelled out once: the server sees its own sequence space and clock.
        self.assertEqual(exp[TCP].ack, u32(RS_ISN + 1 + 100))
        self.assertEqual(dict(exp[TCP].options)["Timestamp"], (1100, 12345 + 5))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 2, "SESSION_ESTABLISHED": 1})


@group("translation")
class SackBlockCountsTest(SessionTest):
    """One, two, three and four SACK blocks: every edge of every block moves."""

    def runTest(self) -> None:
        c = self.new_conn(41, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        base = u32(c.cookie + 1)
        for blocks in range(1, 5):
            edges = [base + 1000 * i + 10 * blocks for i in range(2 * blocks)]
            pkt = c.client("A", data_acked=5, options=sack_option(edges))
            self.send(CLIENT_PORT, pkt)
            self.expect(SERVER_PORT, translated_c2s(pkt, c.delta, c.tsoff))
        self.expect_nothing()


@group("translation")
class ServerToClientTranslationTest(SessionTest):
    """Data from the server: seq -= delta, TSval += tsoff, source NAT back to the
    VIP; its SACK blocks (client space already) and ack untouched."""

    def runTest(self) -> None:
        c = self.new_conn(42, ISN, RS_ISN, TS_BASE, server_tsval=500)
        self.establish(c)
        pkt = c.server("PA", data_sent=7, data_acked=12,
                       options=ts_option(560, 1100)
                       + sack_option([ISN + 20, ISN + 40, ISN + 60, ISN + 80]),
                       payload=b"hello client")
        self.send(SERVER_PORT, pkt)
        exp = translated_s2c(pkt, c.delta, c.tsoff)
        self.expect(CLIENT_PORT, exp)
        self.assertEqual(exp[TCP].seq, u32(c.cookie + 1 + 7))
        self.assertEqual(dict(exp[TCP].options)["Timestamp"], (TS_BASE + 60, 1100))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 1, "TRANSLATED_S2C": 1,
                            "SESSION_ESTABLISHED": 1})


@group("translation")
class SequenceWrapTest(SessionTest):
    """Sequence numbers that cross 2^32 in every place: the client's seq (ISN
    2^32 - 16), the server's space (rs_isn 2^32 - 256), and the client's ack and SACK
    edges (acked just past 2^32 - cookie), both directions."""

    def runTest(self) -> None:
        c = self.new_conn(43, 0xFFFFFFF0, 0xFFFFFF00, TS_BASE)
        self.establish(c)
        to_wrap = u32(-(c.cookie + 1))  # bytes acked at which the client's ack wraps
        cases = [0x10, 0x200, to_wrap - 8, to_wrap + 8]
        for acked in cases:
            edges = [c.cookie + 1 + acked + k for k in (-16, -4, 4, 16)]
            pkt = c.client("PA", data_sent=0x20, data_acked=acked,
                           options=ts_option(1, TS_BASE) + sack_option(edges), payload=b"w")
            self.send(CLIENT_PORT, pkt)
            self.expect(SERVER_PORT, translated_c2s(pkt, c.delta, c.tsoff))
            reply = c.server("PA", data_sent=acked, data_acked=0x21, payload=b"z")
            self.send(SERVER_PORT, reply)
            self.expect(CLIENT_PORT, translated_s2c(reply, c.delta, c.tsoff))
        self.expect_nothing()


@group("translation")
class TimestampWrapTest(SessionTest):
    """Timestamps across 2^32: our clock near 2^32, the server's near 0, so TSval +
    tsoff and TSecr - tsoff both wrap."""

    def runTest(self) -> None:
        c = self.new_conn(44, 1000, RS_ISN, 0xFFFFFF00, server_tsval=0x10)
        self.establish(c)
        reply = c.server("PA", options=ts_option(0x200, 2000), payload=b"a")
        self.send(SERVER_PORT, reply)
        exp = translated_s2c(reply, c.delta, c.tsoff)
        self.expect(CLIENT_PORT, exp)
        self.assertEqual(dict(exp[TCP].options)["Timestamp"][0], 0xF0)  # wrapped
        pkt = c.client("A", data_acked=1, options=ts_option(2001, 0xF0))
        self.send(CLIENT_PORT, pkt)
        exp = translated_c2s(pkt, c.delta, c.tsoff)
        self.expect(SERVER_PORT, exp)
        self.assertEqual(dict(exp[TCP].options)["Timestamp"][1], 0x200)
        self.expect_nothing()


@group("translation")
class IpOptionsTranslatedTest(SessionTest):
    """A client segment with IPv4 options is translated with them kept and both
    checksums right."""

    def runTest(self) -> None:
        c = self.new_conn(45, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        pkt = Ether(bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
                          / IP(src="10.0.1.1", dst=VIP, id=5, options=b"\x94\x04\x00\x00")
                          / TCP(sport=CLIENT_SPORT, dport=VPORT, flags="A",
                                seq=u32(ISN + 1), ack=u32(c.cookie + 1))
                          / b"with ip options"))
        self.send(CLIENT_PORT, pkt)
        self.expect(SERVER_PORT, translated_c2s(pkt, c.delta, c.tsoff))
        self.expect_nothing()


@group("translation")
class BadChecksumStaysBadTest(SessionTest):
    """A segment with a corrupt TCP checksum is translated with the checksum
    patched incrementally, so it stays corrupt (the end host drops it, as it would
    without the proxy): the switch must neither fix nor drop it."""

    def runTest(self) -> None:
        c = self.new_conn(46, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        pkt = Ether(bytes(c.client("PA", payload=b"data")))
        pkt[TCP].chksum ^= 0x1234
        self.send(CLIENT_PORT, bytes(pkt))
        exp = translated_c2s(pkt, c.delta, c.tsoff)
        mask = Mask(exp)
        # The corrupt checksum's exact value depends on how the error folds into the
        # incremental update; what matters is that it is not the correct one.
        mask.set_do_not_care_scapy(TCP, "chksum")
        got = self.receive(SERVER_PORT)
        self.assertTrue(mask.pkt_match(bytes(got)), f"translated segment differs:\n{got!r}")
        self.assertNotEqual(got[TCP].chksum, exp[TCP].chksum)
        self.expect_nothing()


# D13: the same translation over IPv6 (NAT of 128-bit addresses, IPv6 pseudo-header).
globals().update(ipv6_variants(
    ClientToServerTranslationTest, SackBlockCountsTest, ServerToClientTranslationTest,
    SequenceWrapTest, TimestampWrapTest, BadChecksumStaysBadTest))
