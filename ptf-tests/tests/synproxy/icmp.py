# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- icmp       (TARGET=bmv2 for bmv2)
"""D15, ICMP and the other protocols to a VIP (p4src/v1model/control/icmp.p4): per
service policy in vip_protocols, keyed by (service id, protocol). setUp's low-priority
(VIP, *, *) deny entry is how such packets reach the service, as the controller's
vport-0 entry does. An echo request is answered with the exact reply (addresses and
MACs swapped, type 0, fresh TTL, identifier, sequence and payload kept, the same
length); passed packets are routed to the VIP (here: towards the servers); the rest is
dropped, each outcome counted. The hostile cases: martian sources, group MACs, IPv4
options, truncated headers, and an answer meter."""

from __future__ import annotations

from ptf.testutils import group
from scapy.layers.inet import ICMP, IP, IPOption_RR
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from synproxy_base import SynproxyTest
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    IPV4_DEFAULT_TTL,
    ROUTER_MAC,
    RS_MAC,
    SERVER_PORT,
    SERVICE_ID,
    VIP,
    routed,
)

PROTO_ICMP, PROTO_ESP, PROTO_AH, PROTO_GRE, PROTO_ICMPV6 = 1, 50, 51, 47, 58
CLIENT6, CLIENT6_NET, VIP6 = "2001:db8:1::1", "2001:db8:1::/64", "2001:db8:f::10"
PAYLOAD = bytes(range(48))


def echo_request(*, src: str = CLIENT_IP, src_mac: str = CLIENT_MAC, dst_mac: str = ROUTER_MAC,
                 ttl: int = 57, payload: bytes = PAYLOAD, ident: int = 0x4242, seq: int = 7,
                 icmp_type: int = 8, code: int = 0, options: list | None = None) -> Packet:
    ip = IP(src=src, dst=VIP, ttl=ttl, id=0x5151, flags="DF", tos=0x10)
    if options:
        ip.options = options
    return Ether(bytes(Ether(src=src_mac, dst=dst_mac) / ip
                       / ICMP(type=icmp_type, code=code, id=ident, seq=seq) / Raw(payload)))


def echo_reply(req: Packet) -> Packet:
    """The reply built from first principles: everything scapy recomputes."""
    ip, icmp = req[IP], req[ICMP]
    return Ether(bytes(Ether(src=req[Ether].dst, dst=req[Ether].src)
                       / IP(src=ip.dst, dst=ip.src, ttl=IPV4_DEFAULT_TTL, id=ip.id,
                            flags=ip.flags, tos=ip.tos)
                       / ICMP(type=0, code=0, id=icmp.id, seq=icmp.seq)
                       / Raw(bytes(icmp.payload))))


def other_protocol(proto: int, payload: bytes = b"\x00\x00\x10\x01" + bytes(28)) -> Packet:
    return Ether(bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
                       / IP(src=CLIENT_IP, dst=VIP, proto=proto, id=0x6161) / Raw(payload)))


class VipProtocolTest(SynproxyTest):
    def policy(self, proto: int | None, action: str, priority: int = 10) -> None:
        match = {"service_id": SERVICE_ID}
        if proto is not None:
            match["proto"] = proto
        self.insert("vip_protocols", match, action, priority=priority)

    def route_vip_to_servers(self) -> None:
        """A transparent service: the VIP is the servers' address, routed to them."""
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": SERVER_PORT, "src_mac": ROUTER_MAC, "dst_mac": RS_MAC})


@group("icmp")
class EchoAnsweredExactlyTest(VipProtocolTest):
    """icmp_answer: an echo request gets the exact echo reply on its own port, the
    same length as the request (payload, identifier, sequence kept; incremental
    checksum equal to scapy's from scratch), whatever its TTL; an odd-length
    payload too. Nothing goes to the servers."""

    def runTest(self) -> None:
        self.policy(PROTO_ICMP, "icmp_answer")
        for payload, ttl in ((PAYLOAD, 57), (b"\xff" * 33, 2), (b"", 255)):
            req = echo_request(payload=payload, ttl=ttl)
            self.send(CLIENT_PORT, req)
            got = self.receive(CLIENT_PORT)
            self.assert_packet(echo_reply(req), got, "echo reply")
            self.assertEqual(len(bytes(got)), len(bytes(req)), "the reply is not the request's size")
        self.expect_nothing()
        self.assert_events({"ICMP_ECHO_ANSWERED": 3})


@group("icmp")
@group("hardening")
class EchoNeverAnsweredToHostileTest(VipProtocolTest):
    """D16 with icmp_answer: no reply to a martian source, a group source MAC, a
    group (broadcast, multicast) destination MAC, IPv4 options (record route), a
    non-zero code or another ICMP type; each dropped and counted."""

    def runTest(self) -> None:
        self.policy(PROTO_ICMP, "icmp_answer")
        self.insert("martian_sources", {"src_addr": "127.0.0.0/8"}, "set_martian")
        self.send(CLIENT_PORT, echo_request(src="127.0.0.9"))
        self.send(CLIENT_PORT, echo_request(src_mac="ff:ff:ff:ff:ff:ff"))
        for dst_mac in ("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"):
            self.send(CLIENT_PORT, echo_request(dst_mac=dst_mac))
        self.send(CLIENT_PORT, echo_request(options=[IPOption_RR(routers=["0.0.0.0"] * 4)]))
        self.send(CLIENT_PORT, echo_request(code=1))
        self.send(CLIENT_PORT, echo_request(icmp_type=13))   # timestamp request
        self.expect_nothing()
        self.assert_events({"DROP_MARTIAN": 1, "DROP_GROUP_MAC": 1, "DROP_ICMP": 5})


@group("icmp")
@group("hardening")
class TruncatedIcmpDroppedTest(VipProtocolTest):
    """An ICMP header shorter than 8 bytes (4 bytes; 2 bytes: the parser runs out)
    and an IPv4 length longer than the frame are dropped as DROP_ICMP_TRUNCATED,
    whatever the policy (here pass: nothing is routed either)."""

    def runTest(self) -> None:
        self.policy(PROTO_ICMP, "protocol_pass")
        self.route_vip_to_servers()
        base = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst=VIP, proto=PROTO_ICMP)
        self.send(CLIENT_PORT, Ether(bytes(base / Raw(b"\x08\x00\xf7\xff"))))
        self.send(CLIENT_PORT, Ether(bytes(base / Raw(b"\x08\x00"))))
        long_claim = echo_request()
        long_claim[IP].len = len(bytes(long_claim[IP])) + 40
        del long_claim[IP].chksum
        self.send(CLIENT_PORT, Ether(bytes(long_claim)))
        self.expect_nothing()
        self.assert_events({"DROP_ICMP_TRUNCATED": 3})


@group("icmp")
class EchoAnswerMeterTest(VipProtocolTest):
    """icmp_echo_meter at a burst of 2 (committed and peak): two requests in a row
    are answered, the third is dropped as DROP_ICMP_RATE; after the bucket refilled
    (p4sim's test clock) one is answered again."""

    def runTest(self) -> None:
        self.require_test_clock()
        self.policy(PROTO_ICMP, "icmp_answer")
        self.set_meter("icmp_echo_meter", SERVICE_ID, (1, 2, 1, 2))
        for seq in range(3):
            req = echo_request(seq=seq)
            self.send(CLIENT_PORT, req)
            if seq < 2:
                self.assert_packet(echo_reply(req), self.receive(CLIENT_PORT), "echo reply")
        self.expect_nothing()
        self.assert_events({"ICMP_ECHO_ANSWERED": 2, "DROP_ICMP_RATE": 1})
        self.advance_clock(10_000_000)
        req = echo_request(seq=9)
        self.send(CLIENT_PORT, req)
        self.assert_packet(echo_reply(req), self.receive(CLIENT_PORT), "echo reply")
        self.assert_events({"ICMP_ECHO_ANSWERED": 3, "DROP_ICMP_RATE": 1})


@group("icmp")
class IcmpPassedOrDroppedTest(VipProtocolTest):
    """protocol_pass: the echo request is routed to the VIP (towards the servers) as
    it came, TTL - 1, ICMP_PASSED; protocol_drop: dropped as DROP_ICMP; without an
    entry, the deny entry's DROP_POLICY as before."""

    def runTest(self) -> None:
        self.route_vip_to_servers()
        req = echo_request()
        self.send(CLIENT_PORT, req)          # no policy
        self.expect_nothing()
        self.assert_events({"DROP_POLICY": 1})
        self.policy(PROTO_ICMP, "protocol_drop")
        self.send(CLIENT_PORT, req)
        self.expect_nothing()
        self.assert_events({"DROP_POLICY": 1, "DROP_ICMP": 1})
        self.policy(PROTO_ICMP, "protocol_pass", priority=20)
        self.send(CLIENT_PORT, req)
        self.assert_packet(routed(req, SERVER_PORT), self.receive(SERVER_PORT), "passed echo")
        self.expect_nothing()
        self.assert_events({"DROP_POLICY": 1, "DROP_ICMP": 1, "ICMP_PASSED": 1})


@group("icmp")
class IpsecAndOtherProtocolsTest(VipProtocolTest):
    """AH passed, ESP dropped (IPSEC_PASSED, DROP_IPSEC); a wildcard low-priority
    entry passes every other protocol (GRE: PROTOCOL_PASSED), and icmp_answer on a
    protocol other than ICMP drops (DROP_POLICY). Passed packets are routed as
    they came."""

    def runTest(self) -> None:
        self.route_vip_to_servers()
        self.policy(PROTO_AH, "protocol_pass")
        self.policy(PROTO_ESP, "protocol_drop")
        self.policy(None, "protocol_pass", priority=1)
        for proto in (PROTO_AH, PROTO_GRE):
            pkt = other_protocol(proto)
            self.send(CLIENT_PORT, pkt)
            self.assert_packet(routed(pkt, SERVER_PORT), self.receive(SERVER_PORT),
                               f"protocol {proto} passed")
        self.send(CLIENT_PORT, other_protocol(PROTO_ESP))
        self.expect_nothing()
        self.assert_events({"IPSEC_PASSED": 1, "PROTOCOL_PASSED": 1, "DROP_IPSEC": 1})
        self.policy(PROTO_GRE, "icmp_answer", priority=5)
        self.send(CLIENT_PORT, other_protocol(PROTO_GRE))
        self.expect_nothing()
        self.assert_events({"IPSEC_PASSED": 1, "PROTOCOL_PASSED": 1, "DROP_IPSEC": 1,
                            "DROP_POLICY": 1})


@group("icmp")
@group("hardening")
class PolicyNeedsAVipTest(VipProtocolTest):
    """A martian AH source is dropped even with pass; an echo to an address that is
    no VIP is plain routing (no policy, no event)."""

    def runTest(self) -> None:
        self.route_vip_to_servers()
        self.policy(None, "protocol_pass", priority=1)
        self.insert("martian_sources", {"src_addr": "0.0.0.0/8"}, "set_martian")
        pkt = other_protocol(PROTO_AH)
        pkt[IP].src = "0.1.2.3"
        del pkt[IP].chksum
        self.send(CLIENT_PORT, Ether(bytes(pkt)))
        self.expect_nothing()
        self.assert_events({"DROP_MARTIAN": 1})
        req = echo_request()
        req[IP].dst = "10.0.2.9"
        del req[IP].chksum
        req = Ether(bytes(req))
        self.send(CLIENT_PORT, req)
        self.assert_packet(routed(req, SERVER_PORT), self.receive(SERVER_PORT), "routed echo")
        self.assert_events({"DROP_MARTIAN": 1})


def echo6_request(*, src: str = CLIENT6, ext: bool = False, payload: bytes = PAYLOAD,
                  hlim: int = 33) -> Packet:
    ip = IPv6(src=src, dst=VIP6, hlim=hlim, tc=0x20, fl=0x12345)
    if ext:
        ip = ip / IPv6ExtHdrDestOpt()
    return Ether(bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / ip
                       / ICMPv6EchoRequest(id=0x77, seq=3, data=payload)))


def echo6_reply(req: Packet) -> Packet:
    ip, echo = req[IPv6], req[ICMPv6EchoRequest]
    return Ether(bytes(Ether(src=req[Ether].dst, dst=req[Ether].src)
                       / IPv6(src=ip.dst, dst=ip.src, hlim=64, tc=ip.tc, fl=ip.fl)
                       / ICMPv6EchoReply(id=echo.id, seq=echo.seq, data=echo.data)))


@group("icmp")
@group("ipv6")
class Echo6AnsweredExactlyTest(VipProtocolTest):
    """IPv6 (D13): icmp_answer on proto 58 answers an ICMPv6 echo request with the
    exact echo reply (type 129, hop limit 64, checksum equal to scapy's from
    scratch, traffic class and flow label kept, the same length). Not answered: with
    an extension header (DROP_ICMP), from a martian source (DROP_MARTIAN), a
    truncated ICMPv6 header (DROP_ICMP_TRUNCATED)."""

    def runTest(self) -> None:
        self.insert("ipv6_routes", {"dst_addr": CLIENT6_NET}, "route_to",
                    {"port": CLIENT_PORT, "src_mac": ROUTER_MAC, "dst_mac": CLIENT_MAC})
        self.insert("services_v6", {"vip": VIP6}, "deny_service", {"service_id": SERVICE_ID},
                    priority=1)
        self.insert("martian_sources_v6", {"src_addr": "::1/128"}, "set_martian")
        self.policy(PROTO_ICMPV6, "icmp_answer")
        for payload in (PAYLOAD, b"odd"):
            req = echo6_request(payload=payload)
            self.send(CLIENT_PORT, req)
            got = self.receive(CLIENT_PORT)
            self.assert_packet(echo6_reply(req), got, "ICMPv6 echo reply")
            self.assertEqual(len(bytes(got)), len(bytes(req)))
        self.send(CLIENT_PORT, echo6_request(ext=True))
        self.send(CLIENT_PORT, echo6_request(src="::1"))
        short = Ether(bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
                            / IPv6(src=CLIENT6, dst=VIP6, nh=PROTO_ICMPV6)
                            / Raw(b"\x80\x00\x00\x00")))
        self.send(CLIENT_PORT, short)
        self.expect_nothing()
        self.assert_events({"ICMP_ECHO_ANSWERED": 2, "DROP_ICMP": 1, "DROP_MARTIAN": 1,
                            "DROP_ICMP_TRUNCATED": 1})
