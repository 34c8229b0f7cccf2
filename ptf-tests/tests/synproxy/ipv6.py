# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- ipv6      (TARGET=bmv2 for bmv2)
"""D13, IPv6 in the data plane, with exact packets: neighbour solicitations for the
switch's addresses answered (and never from martian sources, group MACs or with a
hop limit other than 255), the extension-header chain followed to the service, a
chain the parser does not follow dropped or passed by `ipv6_chain_policy` and
counted, fragments, UDP and martian sources to an IPv6 VIP dropped and counted, an
undefended IPv6 service forwarded; the proxy path in IPv6: the SYN/ACK (through a
followed chain, MSS clamped), the cookie ACK's digest, and the cookie refusing a
source that shares the client's low 32 bits. The IPv4 modules' behaviours repeated
over IPv6 are their `family = 6` subclasses (synack, ack_check, translation, ...)."""

from __future__ import annotations

import struct

from crc_collisions import crc16_arc
from ptf.testutils import group
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from synproxy_base import COOKIE_DIGEST, SynproxyTest
from synproxy_packets import (
    CLIENT6,
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    CLIENT_SPORT,
    EPOCH,
    KEY,
    OTHER_MAC,
    OTHER_PORT,
    PENDING_SIZE,
    PROXY_AUTO,
    PROXY_OFF,
    PUNT_COOKIE_DATA,
    ROUTER_MAC,
    RS_MAC,
    SERVER_PORT,
    SERVICE_ID,
    VIP,
    VIP6,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    cookie_for,
    encode_options,
    flow_bit,
    flow_of,
    ip2int,
    l3,
    option_value,
    pending_slot,
    routed,
    ts_option,
)

from controller.cookie import check_cookie

GATEWAY6 = "2001:db8:1::fe"
MARTIAN6 = ("::/128", "::1/128", "ff00::/8", "fe80::/10", "::ffff:0:0/96", f"{VIP6}/128")


def solicitation(target: str, *, src: str = CLIENT6, eth_src: str = CLIENT_MAC,
                 hlim: int = 255, lladdr: str | None = CLIENT_MAC) -> Packet:
    """An NS for `target` to its solicited-node group, as a host sends it."""
    group_addr = "ff02::1:ff" + target.split(":")[-1].rjust(6, "0")[-6:-4] + ":" + \
        target.split(":")[-1].rjust(4, "0")[-4:]
    ns = IPv6(src=src, dst=group_addr, hlim=hlim) / ICMPv6ND_NS(tgt=target)
    if lladdr is not None:
        ns = ns / ICMPv6NDOptSrcLLAddr(lladdr=lladdr)
    return Ether(src=eth_src, dst="33:33:ff:00:00:10") / ns


def advertisement(target: str, mac: str, *, dst: str = CLIENT6,
                  eth_dst: str = CLIENT_MAC) -> Packet:
    """The NA the switch must send for `target`: R, S and O set, the target's
    link-layer address; scapy computes the ICMPv6 checksum from scratch."""
    return (Ether(src=mac, dst=eth_dst)
            / IPv6(src=target, dst=dst, hlim=255)
            / ICMPv6ND_NA(R=1, S=1, O=1, tgt=target)
            / ICMPv6NDOptDstLLAddr(lladdr=mac))


def tcp6(flags: str, seq: int, *, src: str = CLIENT6, dst: str = VIP6,
         sport: int = CLIENT_SPORT, dport: int = VPORT, ext: Packet | None = None,
         eth_src: str = CLIENT_MAC, options: list | None = None,
         nh: int | None = None) -> Packet:
    ip = IPv6(src=src, dst=dst, hlim=64) if nh is None else IPv6(src=src, dst=dst, hlim=64,
                                                                  nh=nh)
    if ext is not None:
        ip = ip / ext
    return (Ether(src=eth_src, dst=ROUTER_MAC) / ip
            / TCP(sport=sport, dport=dport, flags=flags, seq=seq, window=64240,
                  options=options or []))


def routed6(pkt: Packet, port: int) -> Packet:
    """`pkt` as the switch routes it: next-hop MACs, hop limit - 1, nothing else."""
    dst_mac = {CLIENT_PORT: CLIENT_MAC, SERVER_PORT: RS_MAC, OTHER_PORT: OTHER_MAC}[port]
    out = Ether(bytes(pkt))
    out[Ether].src, out[Ether].dst = ROUTER_MAC, dst_mac
    out[IPv6].hlim -= 1
    return Ether(bytes(out))


class Ipv6Test(SynproxyTest):
    """SynproxyTest's set-up in IPv6 (family 6: IPv6 routes, the IPv6 VIP's service
    and deny entry, its ND answer), plus a route to the VIP (for services that
    forward) and an ND answer for a gateway address."""

    family = 6
    service = ServiceSettings(mss=1440)

    def setUp(self) -> None:
        super().setUp()
        self.insert("ipv6_routes", {"dst_addr": f"{VIP6}/128"}, "route_to",
                    {"port": SERVER_PORT, "src_mac": ROUTER_MAC, "dst_mac": RS_MAC})
        self.insert("nd_replies", {"target": GATEWAY6}, "reply_na", {"mac": ROUTER_MAC})
        self.before = self.snapshot()


@group("ipv6")
class NeighbourSolicitationAnsweredTest(Ipv6Test):
    """An NS for the VIP or a gateway address is answered with the exact NA, out of
    the port it came in on, with or without the source link-layer option; an NS for
    another address is not answered (bridged: the MAC table drops it here)."""

    def runTest(self) -> None:
        for target in (VIP6, GATEWAY6):
            self.send(CLIENT_PORT, solicitation(target))
            self.expect(CLIENT_PORT, advertisement(target, ROUTER_MAC))
        self.send(CLIENT_PORT, solicitation(VIP6, lladdr=None))
        self.expect(CLIENT_PORT, advertisement(VIP6, ROUTER_MAC))
        self.send(CLIENT_PORT, solicitation("2001:db8:1::99"))
        self.expect_nothing()
        self.assert_events({})


@group("ipv6")
@group("martian")
class NeighbourSolicitationNeverFromMartiansTest(Ipv6Test):
    """No NA for an NS from ::, ::1, a multicast source or an own address (martian,
    not link-local), from a group MAC (Ethernet source or the option's), or with a
    hop limit below 255: each dropped and counted (globally). A link-local source,
    martian towards a VIP, is the usual NS source and is answered."""

    def runTest(self) -> None:
        for prefix in MARTIAN6:
            self.insert("martian_sources_v6", {"src_addr": prefix}, "set_martian")
        for src in ("::", "::1", "ff02::1", VIP6):
            self.send(CLIENT_PORT, solicitation(VIP6, src=src))
        self.send(CLIENT_PORT, solicitation(VIP6, eth_src="33:33:00:00:00:01"))
        self.send(CLIENT_PORT, solicitation(VIP6, lladdr="01:00:5e:00:00:01"))
        self.send(CLIENT_PORT, solicitation(VIP6, hlim=64))
        self.assert_events({"DROP_MARTIAN": (4, 0), "DROP_GROUP_MAC": (2, 0),
                            "DROP_MALFORMED": (1, 0)})
        self.expect_nothing()
        self.send(CLIENT_PORT, solicitation(VIP6, src="fe80::1"))
        self.expect(CLIENT_PORT, advertisement(VIP6, ROUTER_MAC, dst="fe80::1"))


@group("ipv6")
class ExtensionHeadersFollowedTest(Ipv6Test):
    """The service is found through hop-by-hop, destination options, a routing
    header with Segments Left 0 and an atomic fragment: an undefended IPv6 service
    forwards the SYN with its chain as it came (SYN_PASSED); the same SYN with no
    chain too."""

    service = ServiceSettings(mode=PROXY_OFF, mss=1440)

    def runTest(self) -> None:
        chains = (None,
                  IPv6ExtHdrHopByHop(),
                  IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(segleft=0),
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(offset=0, m=0, id=7))
        for i, chain in enumerate(chains):
            syn = tcp6("S", 1000 + i, ext=chain, sport=CLIENT_SPORT + i,
                       options=client_syn_options(mss=1440))
            self.send(CLIENT_PORT, syn)
            self.expect(SERVER_PORT, routed6(syn, SERVER_PORT))
        self.assert_events({"SYN_IN": len(chains), "SYN_PASSED": len(chains)})


@group("ipv6")
class UnfollowedChainByPolicyTest(Ipv6Test):
    """A chain the parser does not follow (four option headers, a routing header
    with Segments Left 1, hop-by-hop after the first header, a second fragment
    header, an option header over 256 bytes) is dropped by default (DROP_UNPARSED,
    global) and forwarded as plain traffic with `ipv6_chain_policy` pass
    (V6_CHAIN_PASSED): never answered either way, even when it is a SYN to the VIP."""

    def runTest(self) -> None:
        # next header TCP, length 32 (264 bytes: over the 256 followed), Pad1s
        big = Raw(bytes([6, 32]) + bytes(6 + 8 * 32))
        chains: tuple[Packet, ...] = (
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
                  / IPv6ExtHdrDestOpt(),
                  IPv6ExtHdrRouting(segleft=1, addresses=["2001:db8:9::1"]),
                  IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop(),
                  IPv6ExtHdrFragment(offset=0, m=0) / IPv6ExtHdrFragment(offset=0, m=0),
                  big)
        syns = [tcp6("S", 2000 + i, ext=c, sport=CLIENT_SPORT + i,
                     nh=60 if c is big else None,
                     options=client_syn_options(mss=1440)) for i, c in enumerate(chains)]
        for syn in syns:
            self.send(CLIENT_PORT, syn)
        self.assert_events({"DROP_UNPARSED": (len(syns), 0)})
        self.expect_nothing()
        self.set_default("ipv6_chain_policy", "set_ipv6_chain_policy", {"pass": 1})
        before = self.snapshot()
        for syn in syns:
            self.send(CLIENT_PORT, syn)
            self.expect(SERVER_PORT, routed6(syn, SERVER_PORT))
        self.assert_events({"V6_CHAIN_PASSED": (len(syns), 0)}, since=before)


@group("ipv6")
class Ipv6VipDenyAndRefusalsTest(Ipv6Test):
    """To the IPv6 VIP: a fragment (DROP_FRAGMENT), UDP (DROP_UDP), ICMPv6 echo
    (DROP_POLICY) are denied by the VIP's deny entry; a SYN from a martian source
    (DROP_MARTIAN) or a group MAC (DROP_GROUP_MAC), and one with IP version 4 in an
    IPv6 frame (DROP_MALFORMED), are refused; nothing is answered or forwarded."""

    def runTest(self) -> None:
        for prefix in MARTIAN6:
            self.insert("martian_sources_v6", {"src_addr": prefix}, "set_martian")
        base = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        frag = base / IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrFragment(offset=8, m=0) / \
            Raw(bytes(16))
        udp = base / IPv6(src=CLIENT6, dst=VIP6) / UDP(sport=5000, dport=53) / Raw(b"q")
        echo = base / IPv6(src=CLIENT6, dst=VIP6, nh=58) / Raw(bytes([128, 0, 0, 0, 0, 1, 0, 1]))
        for pkt in (frag, udp, echo):
            self.send(CLIENT_PORT, pkt)
        self.send(CLIENT_PORT, tcp6("S", 10, src="::1", options=client_syn_options()))
        self.send(CLIENT_PORT, tcp6("S", 11, src="fe80::2", options=client_syn_options()))
        self.send(CLIENT_PORT, tcp6("S", 12, eth_src="ff:ff:ff:ff:ff:ff",
                                    options=client_syn_options()))
        bad = bytearray(bytes(tcp6("S", 13, options=client_syn_options())))
        bad[14] = (4 << 4) | (bad[14] & 0x0F)
        self.send(CLIENT_PORT, bytes(bad))
        self.assert_events({"DROP_FRAGMENT": 1, "DROP_UDP": 1, "DROP_POLICY": 1,
                            "DROP_MARTIAN": 2, "DROP_GROUP_MAC": 1, "DROP_MALFORMED": 1})
        self.expect_nothing()


@group("ipv6")
class Ipv6SynAckTest(Ipv6Test):
    """A SYN to the proxied IPv6 VIP gets the exact SYN/ACK (cookie over the full
    addresses, controller.cookie.Flow6; MSS index from the IPv6 table), through a
    followed extension-header chain too: the SYN/ACK carries none. The MSS offered
    is the service's, clamped to what fits under the IPv6 header (1440)."""

    service = ServiceSettings(mss=1460)

    def runTest(self) -> None:
        syn = tcp6("S", 0xDEADBEEF, options=client_syn_options(1440, 7, True, 4242))
        got = self.synack_for(syn, encode_options(1440, 7, True, True))
        self.assertEqual(option_value(got, "MSS"), 1440)
        chained = tcp6("S", 5000, sport=CLIENT_SPORT + 1, ext=IPv6ExtHdrHopByHop()
                       / IPv6ExtHdrDestOpt(), options=client_syn_options(1220, None, False, None))
        got = self.synack_for(chained, encode_options(1220, None, False, False))
        self.assertEqual(got[IPv6].nh, 6)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 2})


@group("ipv6")
class Ipv6CookieAckTest(Ipv6Test):
    """The client's ACK of an IPv6 SYN/ACK: consumed and reported in one
    cookie_ack_digest_v6_t (every field; MSS decoded from the IPv6 table). The same
    ACK from sources that share the client's low 32 bits (and more words) fails the
    check: the addresses enter the MAC in full."""

    def runTest(self) -> None:
        isn = 0x01020304
        syn = tcp6("S", isn, options=client_syn_options(1380, 5, True, 99))
        synack = self.synack_for(syn, encode_options(1380, 5, True, True))
        cookie, our_tsval = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        ack_opts = ts_option(100, our_tsval)
        spoofs = ("2001:db9:1::1", "2001:db8:1:0:ffff::1", "3fff:db8:1::1")
        for src in spoofs:  # low 32 bits (and more) equal to the client's
            self.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1, src=src,
                                              options=ack_opts))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_INVALID": 3})
        self.assert_no_digest()
        self.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1, window=502,
                                          options=ack_opts))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), {
            "client_addr": ip2int(CLIENT6), "vip_addr": ip2int(VIP6),
            "client_port": CLIENT_SPORT, "vip_port": VPORT, "client_isn": isn,
            "cookie": cookie, "mss": 1380, "wscale": 5, "sack_ok": 1, "ts_ok": 1,
            "has_payload": 0, "_pad0": 0, "client_window": 502, "client_tsval": 100,
            "client_tsecr": our_tsval, "ingress_port": CLIENT_PORT,
            "service_id": SERVICE_ID, "old_slot": 0, "old_state": 0})
        self.assertTrue(check_cookie([(KEY, EPOCH)], flow_of(syn), isn, cookie))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_INVALID": 3,
                            "ACK_VALID": 1})


@group("ipv6")
@group("martian")
class Ipv6MartianSourcesNeverAnsweredTest(Ipv6Test):
    """D16 over IPv6: SYNs to the proxied VIP from every martian source (::, ::1,
    multicast, link-local, IPv4-mapped, the VIP itself) get no SYN/ACK, and an ACK
    carrying the cookie the reference mints for such a source is no handshake
    either: no digest, nothing on the wire, DROP_MARTIAN each; no SYN_IN (refused
    before anything looks at it)."""

    def runTest(self) -> None:
        for prefix in MARTIAN6:
            self.insert("martian_sources_v6", {"src_addr": prefix}, "set_martian")
        sources = ("::", "::1", "ff02::1", "ff0e::5", "fe80::2", "::ffff:10.0.1.1", VIP6)
        for i, src in enumerate(sources):
            syn = tcp6("S", 100 + i, src=src, sport=47000 + i, options=client_syn_options())
            self.send(CLIENT_PORT, syn)
            cookie = cookie_for(syn, encode_options(1460, 7, True, True))
            self.send(CLIENT_PORT, client_tcp("A", 101 + i, cookie + 1, src=src,
                                              sport=47000 + i))
        self.assert_events({"DROP_MARTIAN": 2 * len(sources)})
        self.expect_nothing()
        self.assert_no_digest()


@group("ipv6")
class Ipv6PassthroughFlowTest(Ipv6Test):
    """C8 over IPv6: a connection opened while the auto service was undefended
    marks its filter cell with its full tuple and goes on, unproxied, once the
    defence is on (PASSTHROUGH); the same segment from a source that shares the
    client's low 32 bits (the cell's index differs or not, the tuple does) is an ACK
    whose cookie check fails."""

    service = ServiceSettings(mode=PROXY_AUTO, mss=1440)

    def runTest(self) -> None:
        old = client_tcp("PA", 500, 600, sport=42013, payload=b"old")
        self.send(CLIENT_PORT, old)
        self.expect(SERVER_PORT, routed(old, SERVER_PORT))
        if self.registers_readable:
            cell = flow_bit(old)
            self.assertEqual(self.read_register("passthrough_src6", cell), ip2int(CLIENT6))
            self.assertEqual(self.read_register("passthrough_dst6", cell), ip2int(VIP6))
            self.assertEqual(self.read_register("passthrough_src", cell), 0)
        self.defend()
        self.send(CLIENT_PORT, old)
        self.expect(SERVER_PORT, routed(old, SERVER_PORT))
        spoof = client_tcp("PA", 500, 600, sport=42013, src="2001:db9:1::1", payload=b"old")
        self.send(CLIENT_PORT, spoof)
        self.expect_nothing()
        self.assert_events({"PASSTHROUGH": 1, "ACK_INVALID": 1})


@group("ipv6")
@group("pending")
class Ipv6PendingCellSharedWithIpv4Test(Ipv6Test):
    """C4, D16: an IPv4 and an IPv6 handshake whose tuples share a pending cell (the
    crc16 index): the IPv6 ACK takes the cell over with its own tuple, the IPv4
    address cells zeroed (p4sim: read back), so the IPv4 flow's later segment is
    refused (ACK_INVALID) and the IPv6 one's validated through the cell (EARLY_DATA):
    a cell of one family never vouches for the other's tuple."""

    def runTest(self) -> None:
        self.insert("services", {"vip": VIP, "vport": VPORT, "proto": 6}, "set_service",
                    self.service.params(), priority=10)
        isn, opts = 0x7000, encode_options(1460, None, False, True)
        syn4 = client_tcp("S", isn, src=CLIENT_IP, dst=VIP, sport=41000,
                          options=client_syn_options(1460, None, False, 5))
        index, _ = pending_slot(syn4)
        prefix = ip2int(CLIENT6).to_bytes(16, "big") + ip2int(VIP6).to_bytes(16, "big")
        sport6 = next(p for p in range(1024, 65536)  # pending_slot's index, in bulk
                      if crc16_arc(prefix + struct.pack("!HH", p, VPORT)) % PENDING_SIZE
                      == index)
        self.assertEqual(pending_slot(client_tcp("S", 0, sport=sport6))[0], index)
        syn6 = client_tcp("S", isn, sport=sport6, options=client_syn_options(1460, None, False, 5))
        cookies = []
        for syn, fam in ((syn4, 4), (syn6, 6)):
            synack = self.synack_for(syn, opts)
            cookie, our_ts = synack[TCP].seq, option_value(synack, "Timestamp")[0]
            cookies.append((cookie, our_ts))
            src, dst = l3(syn).src, l3(syn).dst
            self.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1, src=src, dst=dst,
                                              sport=syn[TCP].sport,
                                              options=ts_option(6, our_ts)))
            d = self.get_digests(COOKIE_DIGEST, family=fam)[0]
            self.assertEqual((d["client_addr"], d["client_port"], d["cookie"]),
                             (ip2int(src), syn[TCP].sport, cookie))
            if self.registers_readable and fam == 4:
                self.assertEqual((self.read_register("pending_client", index),
                                  self.read_register("pending_client6", index)),
                                 (ip2int(CLIENT_IP), 0))
        if self.registers_readable:
            self.assertEqual([self.read_register(f"pending_{n}", index)
                              for n in ("client", "vip", "client6", "vip6", "ports")],
                             [0, 0, ip2int(CLIENT6), ip2int(VIP6), sport6 << 16 | VPORT])
        (cookie4, ts4), (cookie6, ts6) = cookies
        self.send(CLIENT_PORT, client_tcp("PA", isn + 11, cookie4 + 1, src=CLIENT_IP, dst=VIP,
                                          sport=41000, options=ts_option(7, ts4),
                                          payload=b"v4"))
        later6 = client_tcp("PA", isn + 11, cookie6 + 1, sport=sport6,
                            options=ts_option(7, ts6), payload=b"v6")
        self.send(CLIENT_PORT, later6)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], frame), (PUNT_COOKIE_DATA, bytes(later6)))
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_isn"], isn)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 2, "ACK_VALID": 2, "ACK_INVALID": 1,
                            "EARLY_DATA": 1})
