# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- synack        (TARGET=bmv2 for bmv2)
"""SYN -> SYN/ACK (D3, D4): the exact reply, its cookie (controller/cookie.py), and
the options in every combination the cookie encodes, offered by the client, the
service, or both."""

from __future__ import annotations

import itertools
import random

from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from synproxy_base import SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_PORT,
    OTHER_MAC,
    OTHER_PORT,
    PROXY_AUTO,
    PROXY_OFF,
    ROUTER_MAC,
    SVC_SACK,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    encode_options,
    negotiated_opts,
    option_value,
    routed,
)

ALL_FLAGS = SVC_SACK | SVC_TS | SVC_WSCALE


@group("synack")
class SynAckLinuxSynTest(SynproxyTest):
    """A Linux-like SYN (MSS, SACK, TS, WS) gets the exact SYN/ACK: addresses and
    ports swapped, seq = cookie, ack = isn + 1, TTL/window/options from the service."""

    def runTest(self) -> None:
        syn = client_tcp("S", 1000, options=client_syn_options(1460, 7, True, 55555))
        got = self.synack_for(syn, encode_options(1460, 7, True, True))
        self.assertEqual(got[TCP].window, 0)  # the default service keeps the client quiet
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1})


@group("synack")
class SynAckMssIndexTest(SynproxyTest):
    """The client's MSS is rounded down to 536/1300/1440/1460 in the cookie (absent:
    536); the SYN/ACK advertises the service's MSS whatever the client sent."""

    def runTest(self) -> None:
        values = (None, 100, 535, 536, 1299, 1300, 1439, 1440, 1459, 1460, 8960, 65535)
        for i, mss in enumerate(values):
            syn = client_tcp("S", 7000 + i, sport=41000 + i,
                             options=client_syn_options(mss, None, False, None))
            self.synack_for(syn, encode_options(mss, None, False, False))
        self.expect_nothing()
        self.assert_events({"SYN_IN": len(values), "SYNACK_SENT": len(values)})


@group("synack")
class SynAckWindowScaleTest(SynproxyTest):
    """Window scale absent (15 in the cookie, no option back), present with shifts
    0..14, and shifts above 14 clamped to 14 in the cookie (RFC 7323)."""

    def runTest(self) -> None:
        values = (None, 0, 1, 7, 14, 15, 200)
        for i, ws in enumerate(values):
            syn = client_tcp("S", 0x8000 + i, sport=42000 + i,
                             options=client_syn_options(1460, ws, False, None))
            self.synack_for(syn, encode_options(1460, ws, False, False))
        self.expect_nothing()
        self.assert_events({"SYN_IN": len(values), "SYNACK_SENT": len(values)})


@group("synack")
class SynAckClientOptionsTest(SynproxyTest):
    """Every combination of the options a client offers (window scale, SACK,
    timestamps), with a service that offers them all."""

    def runTest(self) -> None:
        combos = list(itertools.product((None, 5), (False, True), (None, 0x7FFFFFFF)))
        for i, (ws, sack, tsval) in enumerate(combos):
            syn = client_tcp("S", 0x10000 * i, sport=43000 + i,
                             options=client_syn_options(1440, ws, sack, tsval))
            self.synack_for(syn, encode_options(1440, ws, sack, tsval is not None))
        self.expect_nothing()
        self.assert_events({"SYN_IN": len(combos), "SYNACK_SENT": len(combos)})


@group("synack")
class SynAckServiceOffersTest(SynproxyTest):
    """A client offering everything, and services offering every subset of window
    scaling, SACK and timestamps: only what both offer is in the cookie and reply."""

    def runTest(self) -> None:
        for i, flags in enumerate(range(8)):
            svc = ServiceSettings(flags=flags, mss=1400, wscale=9, window=1024, ttl=100)
            self.set_service(svc, priority=20 + i)  # shadows the previous one
            syn = client_tcp("S", 0xABCD0000 + i, sport=44000 + i,
                             options=client_syn_options(1460, 7, True, 424242))
            self.synack_for(syn, negotiated_opts(svc, 1460, 7, True, True), svc)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 8, "SYNACK_SENT": 8})


@group("synack")
class SynAckServiceSettingsTest(SynproxyTest):
    """TTL, window, MSS and window scale of the SYN/ACK are the service's."""

    service = ServiceSettings(flags=ALL_FLAGS, mss=8960, wscale=14, window=29200, ttl=255)

    def runTest(self) -> None:
        syn = client_tcp("S", 31337, options=client_syn_options(1300, 2, True, 1))
        got = self.synack_for(syn, encode_options(1300, 2, True, True))
        self.assertEqual((got[IP].ttl, got[TCP].window), (255, 29200))
        self.expect_nothing()


@group("synack")
class SynAckIsnWrapTest(SynproxyTest):
    """ISN 2^32 - 1: ack = isn + 1 wraps to 0."""

    def runTest(self) -> None:
        syn = client_tcp("S", 0xFFFFFFFF, options=client_syn_options(1460, None, False, None))
        got = self.synack_for(syn, encode_options(1460, None, False, False))
        self.assertEqual(got[TCP].ack, 0)
        self.expect_nothing()


@group("synack")
class SynAckDropsPayloadAndIpOptionsTest(SynproxyTest):
    """A SYN with IPv4 options and a payload is answered with neither (IHL 5, no
    data), and with the SYN's DSCP kept and ECN cleared."""

    def runTest(self) -> None:
        syn = (Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
               / IP(src="10.0.1.1", dst=VIP, id=99, tos=0xB9, options=b"\x94\x04\x00\x00")
               / TCP(sport=40000, dport=80, flags="S", seq=5,
                     options=client_syn_options(1460, 7, False, 99))
               / Raw(b"x" * 100))
        got = self.synack_for(Ether(bytes(syn)), encode_options(1460, 7, False, True))
        self.assertEqual((got[IP].ihl, got[IP].tos, len(got[TCP].payload)), (5, 0xB8, 0))
        self.expect_nothing()


@group("synack")
class SynWithoutKeysNotAnsweredTest(SynproxyTest):
    """Before the controller sets a key no SYN/ACK is minted (a known key would
    make cookies forgeable)."""

    def runTest(self) -> None:
        self.set_default("cookie_keys", "unset_cookie_keys")
        self.send(CLIENT_PORT, client_tcp("S", 1))
        self.assert_events({"SYN_IN": 1, "DROP_NO_KEY": 1})
        self.expect_nothing()


@group("synack")
class SynToUndefendedServiceRoutedTest(SynproxyTest):
    """Mode off, and auto without a `defense` entry: the SYN is routed to the
    VIP's next hop untouched (SYN_PASSED) and its flow's filter cell holds the
    current epoch; auto with the entry answers it."""

    def runTest(self) -> None:
        table, plen = ("ipv6_routes", 128) if self.family == 6 else ("ipv4_routes", 32)
        self.insert(table, {"dst_addr": f"{self.fam.vip}/{plen}"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        for i, mode in enumerate((PROXY_OFF, PROXY_AUTO)):
            self.set_service(ServiceSettings(mode=mode), priority=20 + i)
            syn = self.undefended(client_tcp("S", 100 + i, sport=45000 + i,
                                             options=client_syn_options()))
            self.send(CLIENT_PORT, syn)
            self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
            if self.registers_readable:
                self.assertEqual(self.passthrough_cell(syn), self.epoch)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYN_PASSED": 2})
        self.defend()
        syn = client_tcp("S", 102, sport=45002, options=client_syn_options())
        self.synack_for(syn, encode_options(1460, 7, True, True))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 3, "SYN_PASSED": 2, "SYNACK_SENT": 1})


@group("synack")
class SynAckRandomFlowsTest(SynproxyTest):
    """40 random flows (source port, ISN, options): the switch's cookie is the
    reference's every time, and every SYN/ACK is exact."""

    def runTest(self) -> None:
        rng = random.Random(2024)
        for _ in range(40):
            mss = rng.choice([None, 500, 536, 1300, 1399, 1440, 1460, 8960])
            ws = rng.choice([None, 0, 3, 14, 15])
            sack = rng.random() < 0.5
            tsval = rng.getrandbits(32) if rng.random() < 0.5 else None
            syn = client_tcp("S", rng.getrandbits(32), sport=rng.randrange(1, 65536),
                             options=client_syn_options(mss, ws, sack, tsval))
            self.synack_for(syn, encode_options(mss, ws, sack, tsval is not None))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 40, "SYNACK_SENT": 40})


@group("synack")
class SynAckTimestampIsAClockTest(SynproxyTest):
    """Our TSval comes from the switch's clock: never decreasing from one SYN/ACK
    to the next (RFC 7323 asks a sender's TSval to be monotonic)."""

    def runTest(self) -> None:
        tsvals = []
        for i in range(3):
            syn = client_tcp("S", i, sport=49000 + i, options=client_syn_options())
            got = self.synack_for(syn, encode_options(1460, 7, True, True))
            tsvals.append(option_value(got, "Timestamp")[0])
        self.assertEqual(tsvals, sorted(tsvals))
        self.expect_nothing()


# D13: the same SYN/ACKs over IPv6 (cookie over the full addresses, MSS index from
# the IPv6 table, the offered MSS clamped to 1440).
globals().update(ipv6_variants(
    SynAckLinuxSynTest, SynAckMssIndexTest, SynAckWindowScaleTest, SynAckClientOptionsTest,
    SynAckServiceOffersTest, SynAckIsnWrapTest, SynWithoutKeysNotAnsweredTest,
    SynAckRandomFlowsTest, SynAckTimestampIsAClockTest, SynToUndefendedServiceRoutedTest))
