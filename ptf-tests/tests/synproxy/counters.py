# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- counters       (TARGET=bmv2 for bmv2)
"""Per-service and global event counters (D12) match what was sent: one outcome
per packet (plus SYN_IN for SYNs), packets and bytes, each service apart."""

from __future__ import annotations

from ptf.testutils import group
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from synproxy_base import COOKIE_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_PORT,
    EV,
    ROUTER_MAC,
    SERVICE_ID,
    VIP,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    cookie_for,
    raw_options_tcp,
    u32,
)

from controller import p4consts
from controller.cookie import encode_options

OTHER_SERVICE_ID = 9
OTHER_VPORT = 443


@group("counters")
class MixedTrafficCountersTest(SynproxyTest):
    """3 SYNs, 1 valid ACK, 2 forged ACKs, 2 RSTs, 1 UDP, 1 fragment and 1
    malformed SYN: every event counter (global and per service) grows by exactly
    what was sent, and by the bytes sent."""

    def runTest(self) -> None:
        syns = [client_tcp("S", 100 * i, sport=47000 + i, options=client_syn_options())
                for i in range(3)]
        for syn in syns:
            self.send(CLIENT_PORT, syn)
            self.receive(CLIENT_PORT)
        opts = encode_options(None, None, False, False)
        good = client_tcp("A", 501, u32(cookie_for(client_tcp("S", 500), opts) + 1))
        forged = [client_tcp("A", 501, 0x12345678), client_tcp("A", 9, 9, sport=1)]
        rsts = [client_tcp("R", 1), client_tcp("RA", 2, 3)]
        base = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        udp = base / IP(src="10.0.1.1", dst=VIP) / UDP(sport=1, dport=53) / Raw(b"q" * 10)
        frag = base / IP(src="10.0.1.1", dst=VIP, frag=10, proto=6) / Raw(b"f" * 30)
        bad = raw_options_tcp("S", b"\x02\x00\x05\xb4")
        for pkt in [good, *forged, *rsts, udp, frag, bad]:
            self.send(CLIENT_PORT, pkt)
        self.get_digest(COOKIE_DIGEST)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 4, "SYNACK_SENT": 3, "ACK_VALID": 1, "ACK_INVALID": 2,
                            "DROP_NO_SESSION": 2, "DROP_UDP": 1, "DROP_FRAGMENT": 1,
                            "DROP_MALFORMED": 1})
        # Bytes: a packet counts its whole frame as it arrived.
        sizes = {"ACK_INVALID": sum(len(p) for p in forged),
                 "DROP_NO_SESSION": sum(len(p) for p in rsts),
                 "DROP_UDP": len(udp), "SYN_IN": sum(len(p) for p in syns) + len(bad)}
        for name, size in sizes.items():
            self.assertEqual(self._bytes(name), size, f"bytes counted for {name}")

    def _bytes(self, name: str) -> int:
        glob = self.counter("global_events", EV[name])[1]
        per = self.counter("service_events", SERVICE_ID * p4consts.EVENTS_PER_SERVICE + EV[name])[1]
        self.assertEqual(glob - self.before_bytes[name][0], per - self.before_bytes[name][1])
        return glob - self.before_bytes[name][0]

    def setUp(self) -> None:
        super().setUp()
        self.before_bytes = {
            name: (self.counter("global_events", ev)[1],
                   self.counter("service_events", SERVICE_ID * p4consts.EVENTS_PER_SERVICE + ev)[1])
            for name, ev in EV.items()
            if name in ("ACK_INVALID", "DROP_NO_SESSION", "DROP_UDP", "SYN_IN")}


@group("counters")
class ServicesCountedApartTest(SynproxyTest):
    """Two services on one VIP (ports 80 and 443, ids 7 and 9): each counts its
    own packets; the global counters count both."""

    def runTest(self) -> None:
        self.insert(f"services{self.fam.suffix}",
                    {"vip": self.fam.vip, "vport": OTHER_VPORT, "proto": 6}, "set_service",
                    ServiceSettings().params(OTHER_SERVICE_ID), priority=10)
        other_before = self.snapshot(OTHER_SERVICE_ID)
        for i in range(2):
            self.send(CLIENT_PORT, client_tcp("S", i, sport=48000 + i))
            self.receive(CLIENT_PORT)
        for i in range(3):
            self.send(CLIENT_PORT, client_tcp("S", i, sport=48100 + i, dport=OTHER_VPORT))
            self.receive(CLIENT_PORT)
        self.send(CLIENT_PORT, client_tcp("A", 1, 1, dport=OTHER_VPORT))
        self.expect_nothing()
        self.assert_events({"SYN_IN": (5, 2), "SYNACK_SENT": (5, 2), "ACK_INVALID": (1, 0)})
        self.assert_events({"SYN_IN": (5, 3), "SYNACK_SENT": (5, 3), "ACK_INVALID": (1, 1)},
                           since=other_before, service_id=OTHER_SERVICE_ID)


# D13: services counted apart over IPv6 (services_v6 entries, the same counters).
globals().update(ipv6_variants(ServicesCountedApartTest))
