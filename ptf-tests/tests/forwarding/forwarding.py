# Run: sudo .venv/bin/python ptf-tests/run.py forwarding        (TARGET=bmv2 for bmv2)
"""PTF tests of p4src/v1model/forwarding.p4: routing, bridging, flooding, ARP
answers, packet-in and packet-out, direct counters."""

from __future__ import annotations

import struct

from base_test import P4RuntimeTest
from ptf import testutils as tu
from ptf.mask import Mask
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from controller import entities, p4consts

ROUTER_MAC = "02:00:00:00:00:fe"
HOST1_MAC = "02:00:00:00:01:01"
HOST2_MAC = "02:00:00:00:02:02"
GW2_MAC = "02:00:00:00:02:fe"


def tcp_to_router(dst: str = "10.0.2.2", ttl: int = 64, payload: bytes = b"hello") -> Ether:
    return (Ether(src=HOST1_MAC, dst=ROUTER_MAC) / IP(src="10.0.1.1", dst=dst, ttl=ttl, id=7)
            / TCP(sport=1234, dport=80, flags="S", seq=1000) / Raw(payload))


class RouteTest(P4RuntimeTest):
    """A frame to the router MAC is routed by longest prefix: MACs rewritten, TTL
    decremented, IPv4 checksum recomputed."""

    def setUp(self) -> None:
        super().setUp()
        self.insert("router_macs", {"dst_mac": ROUTER_MAC}, "set_routed")

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
                    {"port": 2, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        self.insert("ipv4_routes", {"dst_addr": "10.0.2.128/25"}, "route_to",
                    {"port": 3, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        pkt = tcp_to_router("10.0.2.2")
        exp = pkt.copy()
        exp[Ether].src, exp[Ether].dst, exp[IP].ttl = GW2_MAC, HOST2_MAC, 63
        del exp[IP].chksum
        tu.send_packet(self, 0, pkt)
        tu.verify_packet(self, Ether(bytes(exp)), 2)
        tu.verify_no_other_packets(self)
        # The longer prefix wins.
        tu.send_packet(self, 0, tcp_to_router("10.0.2.200"))
        exp2 = tcp_to_router("10.0.2.200")
        exp2[Ether].src, exp2[Ether].dst, exp2[IP].ttl = GW2_MAC, HOST2_MAC, 63
        del exp2[IP].chksum
        tu.verify_packet(self, Ether(bytes(exp2)), 3)
        tu.verify_no_other_packets(self)


class RouteKeepsOptionsAndPayloadTest(RouteTest):
    """Routing rewrites the MACs, the TTL and the IPv4 checksum only: IP options, TCP
    options and payload leave as they came (the checksum is scapy's, from scratch)."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
                    {"port": 2, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        pkt = (Ether(src=HOST1_MAC, dst=ROUTER_MAC)
               / IP(src="10.0.1.1", dst="10.0.2.2", ttl=64, options=b"\x01\x01\x01\x00")
               / TCP(dport=80, flags="S", options=[("MSS", 1460), ("SAckOK", b"")])
               / Raw(b"payload"))
        exp = Ether(bytes(pkt))
        exp[Ether].src, exp[Ether].dst, exp[IP].ttl = GW2_MAC, HOST2_MAC, 63
        del exp[IP].chksum
        tu.send_packet(self, 0, pkt)
        tu.verify_packet(self, Ether(bytes(exp)), 2)
        tu.verify_no_other_packets(self)


class NoRouteDropTest(RouteTest):
    """No matching route: the default action drops."""

    def runTest(self) -> None:
        tu.send_packet(self, 0, tcp_to_router("192.0.2.1"))
        tu.verify_no_other_packets(self)


class TtlExpiredDropTest(RouteTest):
    """TTL 1 is not forwarded (no ICMP from the data plane)."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
                    {"port": 2, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        tu.send_packet(self, 0, tcp_to_router(ttl=1))
        tu.verify_no_other_packets(self)


def tagged(pkt: Ether, *tags: tuple[int, int]) -> Ether:
    """`pkt` with VLAN tags (TPID, TCI), outermost first, after the MACs."""
    raw = bytes(pkt)
    return Ether(raw[:12] + b"".join(struct.pack("!HH", t, c) for t, c in tags) + raw[12:])


class RouterDropsWhatItCannotFollowTest(RouteTest):
    """An IPv4 header of another version, an IPv6 frame and a frame under three VLAN
    tags are dropped; a frame under one tag is routed and keeps its tag."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
                    {"port": 2, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        pkt = tcp_to_router()
        exp = pkt.copy()
        exp[Ether].src, exp[Ether].dst, exp[IP].ttl = GW2_MAC, HOST2_MAC, 63
        del exp[IP].chksum
        bad = pkt.copy()
        bad[IP].version = 5
        tu.send_packet(self, 0, bad)
        tu.send_packet(self, 0, bytes(Ether(src=HOST1_MAC, dst=ROUTER_MAC, type=0x86DD))
                       + bytes(40))
        tu.send_packet(self, 0, tagged(pkt, (0x88A8, 1), (0x8100, 2), (0x8100, 3)))
        tu.verify_no_other_packets(self)
        tu.send_packet(self, 0, tagged(pkt, (0x8100, 7)))
        tu.verify_packet(self, tagged(Ether(bytes(exp)), (0x8100, 7)), 2)
        tu.verify_no_other_packets(self)


class BridgeTest(P4RuntimeTest):
    """A frame to a known MAC that is not the router's is bridged unchanged."""

    def runTest(self) -> None:
        self.insert("mac_table", {"dst_mac": HOST2_MAC}, "bridge_to", {"port": 1})
        pkt = Ether(src=HOST1_MAC, dst=HOST2_MAC) / IP(src="10.0.1.1", dst="10.0.1.2") / ICMP()
        tu.send_packet(self, 0, pkt)
        tu.verify_packet(self, pkt, 1)
        tu.verify_no_other_packets(self)


class FloodTest(P4RuntimeTest):
    """Unknown unicast floods to the multicast group, never back to the ingress port."""

    def runTest(self) -> None:
        group = 1
        self.client.write([entities.update(
            "INSERT", entities.multicast_group(group, [(p, 1) for p in self.ports]))])
        self._undo.append(entities.update("DELETE", entities.multicast_group(group, [])))
        self.set_default("mac_table", "flood", {"group": group})
        pkt = Ether(src=HOST1_MAC, dst="ff:ff:ff:ff:ff:ff") / IP(dst="10.0.1.255") / ICMP()
        tu.send_packet(self, 1, pkt)
        tu.verify_packets(self, pkt, [p for p in self.ports if p != 1])


class ArpReplyTest(P4RuntimeTest):
    """An ARP request for an address the switch owns is answered from the port it came in on."""

    def runTest(self) -> None:
        self.insert("arp_replies", {"target_ip": "10.0.1.254"}, "reply_arp", {"mac": ROUTER_MAC})
        req = Ether(src=HOST1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=HOST1_MAC, psrc="10.0.1.1", hwdst="00:00:00:00:00:00", pdst="10.0.1.254")
        rep = Ether(src=ROUTER_MAC, dst=HOST1_MAC) / ARP(
            op=2, hwsrc=ROUTER_MAC, psrc="10.0.1.254", hwdst=HOST1_MAC, pdst="10.0.1.1")
        tu.send_packet(self, 2, req)
        tu.verify_packet(self, rep, 2)
        tu.verify_no_other_packets(self)


class ArpOtherAddressNotAnsweredTest(P4RuntimeTest):
    """A request for an address the switch does not own is bridged, not answered."""

    def runTest(self) -> None:
        self.insert("arp_replies", {"target_ip": "10.0.1.254"}, "reply_arp", {"mac": ROUTER_MAC})
        self.insert("mac_table", {"dst_mac": "ff:ff:ff:ff:ff:ff"}, "bridge_to", {"port": 3})
        req = Ether(src=HOST1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=HOST1_MAC, psrc="10.0.1.1", pdst="10.0.1.9")
        tu.send_packet(self, 2, req)
        tu.verify_packet(self, req, 3)
        tu.verify_no_other_packets(self)


class PacketOutTest(P4RuntimeTest):
    """A PacketOut naming a port leaves by that port, byte for byte."""

    def runTest(self) -> None:
        pkt = tcp_to_router()
        for port in self.ports:
            self.client.packet_out(entities.packet_out(
                self.p4, bytes(pkt), {"egress_port": port, "_pad0": 0, "flags": 0}))
            tu.verify_packet(self, pkt, port)
        tu.verify_no_other_packets(self)


class PacketInTest(RouteTest):
    """A route whose action punts sends the packet to the controller with its
    ingress port and the reason."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": "10.0.9.0/24"}, "punt_route")
        pkt = tcp_to_router("10.0.9.9")
        tu.send_packet(self, 3, pkt)
        msg = self.client.get_stream("packet", timeout=5)
        self.assertIsNotNone(msg, "no PacketIn")
        meta = entities.packet_in_metadata(self.p4, msg)
        self.assertEqual(meta["ingress_port"], 3)
        self.assertEqual(meta["reason"], p4consts.PUNT_ROUTE)
        self.assertEqual(msg.payload, bytes(pkt))
        tu.verify_no_other_packets(self)


class DirectCounterTest(RouteTest):
    """Each routed packet counts on its route's direct counter."""

    def runTest(self) -> None:
        entry = self.insert("ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
                            {"port": 2, "src_mac": GW2_MAC, "dst_mac": HOST2_MAC})
        pkt = tcp_to_router()
        for _ in range(3):
            tu.send_packet(self, 0, pkt)
            exp = Mask(pkt)
            exp.set_do_not_care_scapy(Ether, "src")
            exp.set_do_not_care_scapy(Ether, "dst")
            exp.set_do_not_care_scapy(IP, "ttl")
            exp.set_do_not_care_scapy(IP, "chksum")
            tu.verify_packet(self, exp, 2)
        packets, octets = self.direct_counter(entry)
        self.assertEqual(packets, 3)
        self.assertEqual(octets, 3 * len(pkt))
