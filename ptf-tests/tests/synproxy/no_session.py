# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- no_session     (TARGET=bmv2 for bmv2)
"""Traffic with no session (D1, D2, D6): floods dropped and counted, UDP and
fragments per the deny policy, malformed TCP never answered, everything that is
not protected forwarded as by a plain router, ARP for the VIP answered."""

from __future__ import annotations

from ptf.testutils import group
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from synproxy_base import SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    OTHER_IP,
    OTHER_MAC,
    OTHER_PORT,
    PROXY_AUTO,
    ROUTER_MAC,
    RS_IP,
    SERVER_PORT,
    VIP,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    cookie_for,
    encode_options,
    raw_options_tcp,
    routed,
)

from controller import entities


def to_vip(l4: object, **ip_fields: object) -> Ether:
    return Ether(bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
                       / IP(src=CLIENT_IP, dst=VIP, id=0x4444, **ip_fields) / l4))


@group("nosession")
class ControlFloodDroppedTest(SynproxyTest):
    """RST, FIN, FIN/ACK, RST/ACK, no flags, SYN/FIN and SYN/ACK from clients with
    no session: dropped, DROP_NO_SESSION each, never answered."""

    def runTest(self) -> None:
        flags = ("R", "F", "FA", "RA", "", "SF", "SA")
        for i, f in enumerate(flags):
            self.send(CLIENT_PORT, client_tcp(f, 1000 + i, 2000 + i))
        self.assert_events({"DROP_NO_SESSION": len(flags)})
        self.expect_nothing()
        self.assert_no_digest()


@group("nosession")
class DataWithoutSessionDroppedTest(SynproxyTest):
    """Data (PSH/ACK) with no session is an ACK whose cookie check fails."""

    def runTest(self) -> None:
        for i in range(3):
            self.send(CLIENT_PORT, client_tcp("PA", 7 + i, 9, payload=b"GET / HTTP/1.1\r\n"))
        self.assert_events({"ACK_INVALID": 3})
        self.expect_nothing()
        self.assert_no_packet_in()


@group("nosession")
@group("policy")
class UdpToVipDeniedTest(SynproxyTest):
    """UDP to a protected VIP hits the deny entry: dropped, DROP_UDP."""

    def runTest(self) -> None:
        self.send(CLIENT_PORT, to_vip(UDP(sport=5353, dport=53) / Raw(b"q")))
        self.send(CLIENT_PORT, to_vip(UDP(sport=5353, dport=VPORT) / Raw(b"q")))
        self.assert_events({"DROP_UDP": 2})
        self.expect_nothing()


@group("nosession")
@group("policy")
class FragmentsToVipDeniedTest(SynproxyTest):
    """A first fragment (MF, carrying a SYN) and a later fragment: DROP_FRAGMENT,
    and the fragmented SYN is not answered."""

    def runTest(self) -> None:
        self.send(CLIENT_PORT, to_vip(TCP(sport=40000, dport=VPORT, flags="S"), flags="MF"))
        self.send(CLIENT_PORT, to_vip(Raw(b"x" * 40), frag=100, proto=6))
        self.assert_events({"DROP_FRAGMENT": 2})
        self.expect_nothing()


@group("nosession")
@group("policy")
class OtherTrafficToVipDeniedTest(SynproxyTest):
    """ICMP and TCP to an unprotected port of the VIP: DROP_POLICY."""

    def runTest(self) -> None:
        self.send(CLIENT_PORT, to_vip(ICMP(type=8)))
        self.send(CLIENT_PORT, client_tcp("S", 1, dport=22))
        self.assert_events({"DROP_POLICY": 2})
        self.expect_nothing()


@group("nosession")
@group("policy")
class UdpAndFragmentsPassWithoutDenyTest(SynproxyTest):
    """Without a deny entry (the policy allows them) UDP and fragments to the VIP
    are routed like any packet, and count no proxy event."""

    deny_rest_of_vip = False

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        for pkt in (to_vip(UDP(sport=5353, dport=53) / Raw(b"q")),
                    to_vip(Raw(b"x" * 40), frag=100, proto=6),
                    to_vip(TCP(sport=40000, dport=VPORT, flags="S"), flags="MF")):
            self.send(CLIENT_PORT, pkt)
            self.expect(OTHER_PORT, routed(pkt, OTHER_PORT))
        self.expect_nothing()
        self.assert_events({})


MALFORMED = {
    "data offset 4": (b"", 4),
    "data offset past the end": (b"\x01\x01\x01\x00", 15),
    "timestamp past the header": (b"\x01\x01\x08\x0a\x00\x00\x00\x01", None),
    "MSS past the header": (b"\x01\x01\x01\x02\x04\x05", 7),
    "zero option length": (b"\x02\x04\x05\xb4\x1e\x00\x00\x00", None),
    "option length 1": (b"\x03\x01\x07\x00", None),
}


@group("nosession")
@group("malformed")
class MalformedSynNeverAnsweredTest(SynproxyTest):
    """SYNs with a bad data offset, an option running past the header, or an option
    length of 0 or 1: never answered, dropped, DROP_MALFORMED each."""

    def runTest(self) -> None:
        for raw, dataofs in MALFORMED.values():
            self.send(CLIENT_PORT, raw_options_tcp("S", raw, dataofs=dataofs))
        # Every SYN to the service counts SYN_IN, well-formed or not.
        self.assert_events({"SYN_IN": len(MALFORMED), "DROP_MALFORMED": len(MALFORMED)})
        self.expect_nothing()


@group("nosession")
@group("malformed")
class MalformedCookieAckNotAcceptedTest(SynproxyTest):
    """An ACK carrying a valid cookie but malformed options is not a handshake: no
    digest, DROP_MALFORMED."""

    def runTest(self) -> None:
        probe = client_tcp("S", 999)
        cookie = cookie_for(probe, encode_options(None, None, False, False))
        for raw, dataofs in MALFORMED.values():
            self.send(CLIENT_PORT, raw_options_tcp("A", raw, dataofs=dataofs, seq=1000,
                                                   ack=cookie + 1))
        self.assert_events({"DROP_MALFORMED": len(MALFORMED)})
        self.assert_no_digest()
        self.expect_nothing()


@group("nosession")
@group("malformed")
class TruncatedIpLengthNotAnsweredTest(SynproxyTest):
    """An IPv4 total length (IPv6: payload length) beyond the frame: malformed,
    never answered."""

    def runTest(self) -> None:
        pkt = Ether(bytes(client_tcp("S", 1000, options=client_syn_options())))
        if IPv6 in pkt:
            pkt[IPv6].plen = 400
        else:
            pkt[IP].len = 400
        self.send(CLIENT_PORT, bytes(pkt))
        self.assert_events({"SYN_IN": 1, "DROP_MALFORMED": 1})
        self.expect_nothing()


@group("nosession")
@group("malformed")
class UnknownOptionsSkippedTest(SynproxyTest):
    """Unknown kinds are skipped by their length, an MSS of the wrong length is
    not an MSS, options after EOL are padding: the SYN is answered with the cookie
    of what was really offered."""

    def runTest(self) -> None:
        opts = b"\x1e\x06abcd" + b"\x02\x05\x05\xb4\x00" + b"\x01\x03\x03\x05" + b"\x00\x02"
        syn = raw_options_tcp("S", opts + b"\x04\x05\xb4")
        self.synack_for(syn, encode_options(None, 5, False, False))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1})


@group("forwarding")
class UnprotectedTrafficRoutedTest(SynproxyTest):
    """TCP to addresses that are no VIP (a plain host, the real server itself) is
    routed unchanged but for MACs and TTL, with no proxy event."""

    def runTest(self) -> None:
        for dst, port in ((OTHER_IP, OTHER_PORT), (RS_IP, SERVER_PORT)):
            for flags in ("S", "A", "R"):
                pkt = client_tcp(flags, 10, 20, dst=dst, dport=VPORT,
                                 options=client_syn_options())
                self.send(CLIENT_PORT, pkt)
                self.expect(port, routed(pkt, port))
        self.expect_nothing()
        self.assert_events({})


@group("forwarding")
class ArpForVipAnsweredTest(SynproxyTest):
    """An ARP request for the VIP is answered with the router MAC, out of the port
    it came in on (D2)."""

    def runTest(self) -> None:
        req = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=CLIENT_MAC, psrc=CLIENT_IP, hwdst="00:00:00:00:00:00", pdst=VIP)
        rep = Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ARP(
            op=2, hwsrc=ROUTER_MAC, psrc=VIP, hwdst=CLIENT_MAC, pdst=CLIENT_IP)
        self.send(CLIENT_PORT, req)
        self.expect(CLIENT_PORT, rep)
        self.expect_nothing()


@group("forwarding")
class ArpForUnknownAddressBridgedTest(SynproxyTest):
    """An ARP request for an address the switch does not own is bridged: dropped by
    the MAC table's default, flooded (never back out of its own port) once the default
    floods to a multicast group."""

    def runTest(self) -> None:
        req = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=CLIENT_MAC, psrc=CLIENT_IP, hwdst="00:00:00:00:00:00",
            pdst="10.0.1.77")
        self.send(CLIENT_PORT, req)
        self.expect_nothing()
        group_id = 1
        self.client.write([entities.update(
            "INSERT", entities.multicast_group(group_id, [(p, 1) for p in self.ports]))])
        self._undo.append(entities.update("DELETE", entities.multicast_group(group_id, [])))
        self.set_default("mac_table", "flood", {"group": group_id})
        self.send(CLIENT_PORT, req)
        for port in self.ports:
            if port != CLIENT_PORT:
                self.expect(port, req)
        self.expect_nothing()


@group("nosession")
class FlowsFromBeforeTheDefencePassTest(SynproxyTest):
    """C8: an AUTO service turning its defence on does not cut connections opened
    while it was off: their segments are still routed (PASSTHROUGH); an unknown
    flow's ACK is a bad cookie; SYNs get cookies."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        self.set_service(ServiceSettings(mode=PROXY_AUTO), priority=20)
        old = self.undefended(client_tcp("PA", 500, 600, sport=41000, payload=b"old"))
        self.send(CLIENT_PORT, old)
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        self.defend()
        self.send(CLIENT_PORT, old)
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        self.send(CLIENT_PORT, client_tcp("PA", 500, 600, sport=41001, payload=b"new"))
        syn = client_tcp("S", 9, sport=41000)
        self.synack_for(syn, encode_options(None, None, False, False))
        self.expect_nothing()
        self.assert_events({"PASSTHROUGH": 1, "ACK_INVALID": 1, "SYN_IN": 1,
                            "SYNACK_SENT": 1})


# D13: the same refusals over IPv6 (no session, malformed, lengths).
globals().update(ipv6_variants(
    ControlFloodDroppedTest, DataWithoutSessionDroppedTest, MalformedSynNeverAnsweredTest,
    MalformedCookieAckNotAcceptedTest, TruncatedIpLengthNotAnsweredTest,
    UnknownOptionsSkippedTest))
