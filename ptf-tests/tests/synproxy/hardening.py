# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- hardening      (TARGET=bmv2 for bmv2)
"""D16, never a reflector, tried as an attacker would: the pending-handshake memory
(C4) takes no other 4-tuple for its own (not even ones that collided under the old
CRC index and tag), outlives neither the key that validated it nor its lifetime
(across clock wraps); IPv4 version != 4 is malformed; martian sources and group
source MACs get no answer; VLAN-tagged traffic is defended like untagged traffic,
and what the parser cannot follow is dropped, never bridged."""

from __future__ import annotations

import ipaddress
import random
import struct
import zlib

from crc_collisions import old_index_and_tag, spoofed_pairs
from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether
from synproxy_base import COOKIE_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    CLIENT_SPORT,
    ETHERTYPE_QINQ,
    ETHERTYPE_VLAN,
    FLOW_FILTER_SIZE,
    KEY,
    OTHER_IP,
    OTHER_MAC,
    OTHER_PORT,
    PROXY_AUTO,
    PUNT_COOKIE_DATA,
    ROUTER_MAC,
    RS_IP,
    SERVER_PORT,
    VIP,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    cookie_for,
    expected_synack,
    family,
    fresh,
    ip2int,
    option_value,
    routed,
    tcp_packet,
    ts_option,
    u32,
    with_tags,
)
from synproxy_session import SessionTest, translated_c2s

from controller.cookie import encode_options
from controller.install import MARTIAN_DEFAULTS

ISN = 0x7FFFFFF0
OPTS = encode_options(1460, 7, True, True)
KEY2, KEY3 = 0x1122334455667788, 0x99AABBCCDDEEFF00
EPOCH = 0x000123  # synproxy_packets.EPOCH; the ring moves on by one per rotation
# The old 32-bit pending stamp counted 1.024 ms units: it wrapped every 2^42 us.
TSVAL_WRAP_US = 1 << 42
CLOCK_48_US = 1 << 48   # the ingress clock's own period (8.9 years)


def dotted(addr: int) -> str:
    return str(ipaddress.IPv4Address(addr))


class HandshakeTest(SynproxyTest):
    """Helpers: a handshake up to the validated ACK (no session installed), and the
    segments of that client that follow it."""

    def handshake(self, src: str | None = None, sport: int = CLIENT_SPORT,
                  tags: tuple[tuple[int, int], ...] = ()) -> tuple[int, int]:
        """SYN, the exact SYN/ACK, the ACK and its digest; returns (cookie, TSval).
        `src` defaults to the family's client."""
        src = src or family().client_ip
        syn = client_tcp("S", ISN, src=src, sport=sport,
                         options=client_syn_options(1460, 7, True, 50))
        self.send(CLIENT_PORT, with_tags(syn, tags))
        got = self.receive(CLIENT_PORT)
        tsval = option_value(got, "Timestamp")[0]
        self.assert_packet(with_tags(expected_synack(syn, OPTS, self.service, tsval), tags),
                           got, "SYN/ACK")
        cookie = got[TCP].seq
        ack = client_tcp("A", u32(ISN + 1), u32(cookie + 1), src=src, sport=sport,
                         window=502, options=ts_option(51, tsval))
        self.send(CLIENT_PORT, with_tags(ack, tags))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["client_addr"], d["client_port"], d["client_isn"], d["cookie"]),
                         (ip2int(src), sport, ISN, cookie))
        return cookie, tsval

    def later(self, cookie: int, tsval: int, offset: int, *, src: str | None = None,
              sport: int = CLIENT_SPORT, payload: bytes = b"more") -> Ether:
        """A later data segment of the request (seq != ISN + 1), acking our SYN/ACK."""
        return client_tcp("PA", u32(ISN + 1 + offset), u32(cookie + 1), src=src, sport=sport,
                          window=502, options=ts_option(52 + offset, tsval), payload=payload)

    def assert_punted_with_isn(self, seg: Ether) -> None:
        """C4: the segment is validated through its pending entry: PacketIn
        COOKIE_DATA, untouched, and a digest with the handshake's ISN."""
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], frame), (PUNT_COOKIE_DATA, bytes(seg)))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["client_isn"], d["has_payload"]), (ISN, 1))

    def assert_refused(self) -> None:
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


# ----------------------------------------------------------------------------- pending (C4)


@group("hardening")
@group("pending")
class PendingCollidingTuplesRefusedTest(HandshakeTest):
    """For three genuine pending entries, a spoofed tuple (198.18.0.0/15) that has the
    same slot index and the same tag under the old crc16/crc32 memory (found by
    linear algebra over GF(2), checked here) sends the genuine cookie + 1, with data
    at a later seq and as a pure ACK from ISN + 1: all refused as invalid ACKs, no
    digest, nothing sent. The genuine flows' own later segments still pass (C4)."""

    def runTest(self) -> None:
        vip = ip2int(VIP)
        spoofed = [(ip2int(f"198.18.{k}.1"), 41000 + k) for k in range(3)]
        pairs = spoofed_pairs(vip, VPORT, spoofed)
        handshakes = []
        for (g_addr, g_port), (s_addr, s_port) in pairs:
            self.assertNotEqual((g_addr, g_port), (s_addr, s_port))
            self.assertEqual(old_index_and_tag(g_addr, vip, g_port, VPORT),
                             old_index_and_tag(s_addr, vip, s_port, VPORT),
                             "the spoofed tuple must collide under the old index and tag")
            cookie, tsval = self.handshake(dotted(g_addr), g_port)
            handshakes.append((g_addr, g_port, cookie, tsval))
            self.send(CLIENT_PORT, self.later(cookie, tsval, 100, src=dotted(s_addr),
                                              sport=s_port, payload=b"forged"))
            self.send(CLIENT_PORT, client_tcp("A", u32(ISN + 1), u32(cookie + 1),
                                              src=dotted(s_addr), sport=s_port,
                                              options=ts_option(60, tsval)))
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3, "ACK_VALID": 3, "ACK_INVALID": 6})
        self.assert_refused()
        g_addr, g_port, cookie, tsval = handshakes[0]
        seg = self.later(cookie, tsval, 10, src=dotted(g_addr), sport=g_port)
        self.send(CLIENT_PORT, seg)
        self.assert_punted_with_isn(seg)
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3, "ACK_VALID": 3, "ACK_INVALID": 6,
                            "EARLY_DATA": 1})


@group("hardening")
@group("pending")
class PendingEntryDiesWithItsKeyTest(HandshakeTest):
    """An entry validated under a key is honoured while that key is in the ring
    (one rotation: it is the previous key) and refused once a second rotation has
    removed it, long before its lifetime is over."""

    def runTest(self) -> None:
        cookie, tsval = self.handshake()
        self.set_keys(key=KEY2, epoch=EPOCH + 1, prev_key=KEY, prev_epoch=EPOCH)
        seg = self.later(cookie, tsval, 10)
        self.send(CLIENT_PORT, seg)
        self.assert_punted_with_isn(seg)
        self.set_keys(key=KEY3, epoch=EPOCH + 2, prev_key=KEY2, prev_epoch=EPOCH + 1)
        self.send(CLIENT_PORT, self.later(cookie, tsval, 20))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1, "EARLY_DATA": 1,
                            "ACK_INVALID": 1})
        self.assert_refused()


@group("hardening")
@group("pending")
class PendingExpiredAcrossClockWrapTest(HandshakeTest):
    """An entry past its lifetime stays refused while p4sim's clock is moved across
    the wrap of the old 32-bit stamp (2^42 us) and on across the wrap of the 48-bit
    ingress clock itself, one ACK-checked segment at each step (the data plane sees
    time pass as a switch under traffic would). A handshake after the wraps still
    gets its later segments validated. p4sim only: bmv2's clock cannot be moved."""

    def runTest(self) -> None:
        self.require_test_clock()
        cookie, tsval = self.handshake()
        # Cumulative: 2^42, 2^46, 2^47, 2^47 + 2^46, then 2^48 + 1 s (the 48-bit
        # clock back where it was, plus one second: well inside a lifetime of 10 s).
        steps = [TSVAL_WRAP_US, (1 << 46) - TSVAL_WRAP_US, 1 << 46, 1 << 46,
                 CLOCK_48_US - (1 << 47) - (1 << 46) + 1_000_000]
        self.assertEqual(sum(steps), CLOCK_48_US + 1_000_000)
        base = self.snapshot()["ACK_INVALID"][0]
        for i, step in enumerate(steps):
            self.advance_clock(step)
            self.send(CLIENT_PORT, self.later(cookie, tsval, 10 * (i + 1)))
            # The switch must see this step before the clock moves on: polled, so
            # that no segment is stamped with a later step's time.
            self.wait_until(lambda n=i: self.snapshot()["ACK_INVALID"][0] > base + n,
                            f"the segment of step {i} to be refused")
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1,
                            "ACK_INVALID": len(steps)})
        self.assert_refused()
        cookie2, tsval2 = self.handshake(sport=CLIENT_SPORT + 1)
        seg = self.later(cookie2, tsval2, 10, sport=CLIENT_SPORT + 1)
        self.send(CLIENT_PORT, seg)
        self.assert_punted_with_isn(seg)


# ----------------------------------------------------------------------------- flow filter (C8)


def filter_cell(src: int, sport: int) -> int:
    """The `passthrough_flows` index of a client -> VIP:VPORT flow (crc32)."""
    return zlib.crc32(struct.pack("!IIHH", src, ip2int(VIP), sport, VPORT)) % FLOW_FILTER_SIZE


@group("hardening")
@group("nosession")
class PassthroughCellTakesNoOtherTupleTest(SynproxyTest):
    """C8's flow filter under an attacker: a spoofed flow marks its cell while the
    auto service is calm; once it is defended, that flow's own segments still pass
    (PASSTHROUGH), but segments of other tuples in the same cell (spoofed sources
    in 198.18.0.0/15, found by search) are ACK-checked and dropped: the cell holds
    the tuple, not just a bit."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        self.set_service(ServiceSettings(mode=PROXY_AUTO), priority=20)
        marker_addr, marker_port = ip2int("198.18.200.1"), 45000
        cell = filter_cell(marker_addr, marker_port)
        base = ip2int("198.18.0.0")
        twins = [a for a in range(base, base + (1 << 17))
                 if a != marker_addr and filter_cell(a, marker_port) == cell][:3]
        self.assertTrue(twins, "no colliding source in 198.18.0.0/15")
        marker = client_tcp("PA", 500, 600, src=dotted(marker_addr), sport=marker_port,
                            payload=b"mark")
        self.send(CLIENT_PORT, marker)
        self.expect(OTHER_PORT, routed(marker, OTHER_PORT))
        self.defend()
        for addr in twins:
            self.send(CLIENT_PORT, client_tcp("PA", 700, 800, src=dotted(addr),
                                              sport=marker_port, payload=b"aimed"))
        self.send(CLIENT_PORT, marker)
        self.expect(OTHER_PORT, routed(marker, OTHER_PORT))
        self.expect_nothing()
        self.assert_events({"PASSTHROUGH": 1, "ACK_INVALID": len(twins)})


# ----------------------------------------------------------------------------- IPv4 version


@group("hardening")
@group("malformed")
class IpVersionNot4DroppedTest(SynproxyTest):
    """SYNs to the VIP with IP version 0, 5, 6 and 15 (IPv4 ether type, checksums
    right): never answered, DROP_MALFORMED each. A version-5 packet to a plain host
    is not routed either."""

    def runTest(self) -> None:
        versions = (0, 5, 6, 15)
        for v in versions:
            syn = client_tcp("S", 1000 + v, options=client_syn_options())
            syn[IP].version = v
            self.send(CLIENT_PORT, fresh(syn))
        plain = client_tcp("S", 77, dst=OTHER_IP)
        plain[IP].version = 5
        self.send(CLIENT_PORT, fresh(plain))
        self.assert_events({"DROP_MALFORMED": len(versions)})
        self.expect_nothing()
        self.assert_no_digest()


# ----------------------------------------------------------------------------- martians


MARTIAN_SOURCES = ("0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1",
                   "239.255.255.250", "240.0.0.1", "255.255.255.255",
                   VIP,             # the VIP itself
                   "10.0.1.254",    # the switch's own address on the client subnet
                   "10.0.1.255")    # that subnet's directed broadcast
OWN_PREFIXES = (f"{VIP}/32", "10.0.1.254/32", "10.0.1.255/32")


@group("hardening")
@group("martian")
class MartianSourcesNotAnsweredTest(SynproxyTest):
    """With the controller's default martian prefixes and the switch's own addresses
    installed: a SYN from each martian class gets no SYN/ACK, and an ACK from
    127.0.0.1 carrying the right cookie for its flow gets no digest; each is
    DROP_MARTIAN. The same SYN from the real client is still answered."""

    def runTest(self) -> None:
        for prefix in (*MARTIAN_DEFAULTS, *OWN_PREFIXES):
            self.insert("martian_sources", {"src_addr": prefix}, "set_martian")
        for i, src in enumerate(MARTIAN_SOURCES):
            self.send(CLIENT_PORT, client_tcp("S", 5000 + i, src=src, sport=42000 + i,
                                              options=client_syn_options()))
        syn = client_tcp("S", 6000, src="127.0.0.1", options=client_syn_options())
        cookie = cookie_for(syn, encode_options(1460, 7, True, True))
        self.send(CLIENT_PORT, client_tcp("A", 6001, u32(cookie + 1), src="127.0.0.1",
                                          options=ts_option(1, 2)))
        self.assert_events({"DROP_MARTIAN": len(MARTIAN_SOURCES) + 1})
        self.expect_nothing()
        self.assert_no_digest()
        self.synack_for(client_tcp("S", 7000, options=client_syn_options()), OPTS)


@group("hardening")
@group("martian")
class GroupSourceMacNotAnsweredTest(SynproxyTest):
    """A SYN to the VIP from a group source MAC (broadcast, IPv4 and IPv6 multicast,
    any address with the I/G bit) would make the SYN/ACK reach a whole segment:
    never answered, DROP_GROUP_MAC each."""

    def runTest(self) -> None:
        macs = ("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01",
                "03:00:00:00:00:01")
        for i, mac in enumerate(macs):
            self.send(CLIENT_PORT, tcp_packet(src_mac=mac, dst_mac=ROUTER_MAC, src=CLIENT_IP,
                                              dst=VIP, sport=43000 + i, dport=VPORT,
                                              flags="S", seq=100 + i,
                                              options=client_syn_options()))
        self.assert_events({"DROP_GROUP_MAC": len(macs)})
        self.expect_nothing()


@group("hardening")
@group("martian")
class ArpFromGroupSenderNotAnsweredTest(SynproxyTest):
    """An ARP request for the VIP whose sender MAC, or Ethernet source, is a group
    address is not answered (the reply would go to a group): dropped, counted
    DROP_GROUP_MAC (globally: ARP has no service). The honest request is answered."""

    def runTest(self) -> None:
        bcast = "ff:ff:ff:ff:ff:ff"
        for eth_src, hwsrc in ((CLIENT_MAC, bcast), (CLIENT_MAC, "01:00:5e:00:00:fb"),
                               (bcast, CLIENT_MAC)):
            self.send(CLIENT_PORT, Ether(src=eth_src, dst=bcast) / ARP(
                op=1, hwsrc=hwsrc, psrc=CLIENT_IP, hwdst="00:00:00:00:00:00", pdst=VIP))
        self.assert_events({"DROP_GROUP_MAC": (3, 0)})
        self.expect_nothing()
        self.send(CLIENT_PORT, Ether(src=CLIENT_MAC, dst=bcast) / ARP(
            op=1, hwsrc=CLIENT_MAC, psrc=CLIENT_IP, hwdst="00:00:00:00:00:00", pdst=VIP))
        self.expect(CLIENT_PORT, Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ARP(
            op=2, hwsrc=ROUTER_MAC, psrc=VIP, hwdst=CLIENT_MAC, pdst=CLIENT_IP))
        self.expect_nothing()


@group("hardening")
@group("martian")
class MartianCheckOnlyForTrafficToAServiceTest(SynproxyTest):
    """A real server answering from the VIP (transparent mode) is not refused: the
    martian check is for packets to a VIP, and this one is routed as it came."""

    def runTest(self) -> None:
        self.insert("martian_sources", {"src_addr": f"{VIP}/32"}, "set_martian")
        from_vip = tcp_packet(src_mac=CLIENT_MAC, dst_mac=ROUTER_MAC, src=VIP, dst=RS_IP,
                              sport=VPORT, dport=1234, flags="A", seq=1, ack=2)
        self.send(CLIENT_PORT, from_vip)
        self.expect(SERVER_PORT, routed(from_vip, SERVER_PORT))
        self.expect_nothing()
        self.assert_events({})


# ----------------------------------------------------------------------------- VLAN


TAG_SETS = (((ETHERTYPE_VLAN, 100),),                                # 802.1Q, VID 100
            ((ETHERTYPE_VLAN, 0xA000 | 7),),                         # PCP 5, VID 7
            ((ETHERTYPE_QINQ, 10), (ETHERTYPE_VLAN, 20)))            # 802.1ad Q-in-Q


@group("hardening")
@group("vlan")
class TaggedHandshakeTest(HandshakeTest):
    """A SYN to the VIP with one 802.1Q tag, a priority-coded tag, or an 802.1ad +
    802.1Q pair gets the exact SYN/ACK with the cookie, carrying the same tags; the
    tagged ACK validates like an untagged one (digest, nothing forwarded)."""

    def runTest(self) -> None:
        for i, tags in enumerate(TAG_SETS):
            self.handshake(sport=CLIENT_SPORT + i, tags=tags)
        n = len(TAG_SETS)
        self.assert_events({"SYN_IN": n, "SYNACK_SENT": n, "ACK_VALID": n})
        self.expect_nothing()


@group("hardening")
@group("vlan")
class TaggedSynWithPayloadTest(SynproxyTest):
    """A Q-in-Q tagged SYN carrying data gets the exact SYN/ACK under both tags, cut to
    its headers: no payload, no trailing bytes."""

    def runTest(self) -> None:
        tags = TAG_SETS[2]
        syn = client_tcp("S", ISN, options=client_syn_options(1460, 7, True, 50),
                         payload=b"x" * 30)
        self.send(CLIENT_PORT, with_tags(syn, tags))
        got = self.receive(CLIENT_PORT)
        tsval = option_value(got, "Timestamp")[0]
        self.assert_packet(with_tags(expected_synack(syn, OPTS, self.service, tsval), tags),
                           got, "SYN/ACK")
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1})


@group("hardening")
@group("vlan")
class TaggedAckFloodReachesNoServerTest(SynproxyTest):
    """300 tagged segments without a session (spoofed sources in 198.18.0.0/15,
    random ports and numbers; ACKs, ACKs with data, RSTs; one tag or two): every one
    dropped and counted, not one reaches a server or any other port."""

    def runTest(self) -> None:
        rng = random.Random(0x7A66ED)
        acks, resets = [], []
        for i in range(300):
            flags = ("A", "PA", "R")[i % 3]
            seg = tcp_packet(src_mac=CLIENT_MAC, dst_mac=ROUTER_MAC,
                             src=dotted(ip2int("198.18.0.0") + rng.randrange(1 << 17)),
                             dst=VIP, sport=rng.randrange(1024, 65536), dport=VPORT,
                             flags=flags, seq=rng.randrange(1 << 32),
                             ack=rng.randrange(1 << 32),
                             payload=b"x" * 16 if flags == "PA" else b"")
            (resets if flags == "R" else acks).append(with_tags(seg, TAG_SETS[(i // 3) % 3]))
        self.send_and_drain(CLIENT_PORT, acks, "ACK_INVALID")
        self.send_and_drain(CLIENT_PORT, resets, "DROP_NO_SESSION")
        self.assert_events({"ACK_INVALID": len(acks), "DROP_NO_SESSION": len(resets)})
        self.expect_nothing()
        self.assert_no_digest()


@group("hardening")
@group("vlan")
class UnparsedFramesDroppedTest(SynproxyTest):
    """What the parser cannot follow is dropped and counted DROP_UNPARSED, never
    bridged: a SYN to the VIP under three tags, and frames to the router MAC that
    carry neither IPv4, IPv6 nor ARP (MPLS, tagged or not)."""

    def runTest(self) -> None:
        syn = client_tcp("S", 900, options=client_syn_options())
        three = ((ETHERTYPE_QINQ, 1), (ETHERTYPE_VLAN, 2), (ETHERTYPE_VLAN, 3))
        self.send(CLIENT_PORT, with_tags(syn, three))
        mpls = bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC, type=0x8847)) + bytes(40)
        self.send(CLIENT_PORT, mpls)
        self.send(CLIENT_PORT, with_tags(mpls, ((ETHERTYPE_VLAN, 100),)))
        self.assert_events({"DROP_UNPARSED": (3, 0)})
        self.expect_nothing()


# ----------------------------------------------------------------------------- sessions


@group("hardening")
@group("vlan")
class TaggedSessionTrafficTest(SessionTest):
    """A tagged client segment of an established session is translated like an
    untagged one and leaves towards the server under the same tag."""

    def runTest(self) -> None:
        c = self.new_conn(9, ISN, 0x30000000, 0x01000000)
        self.establish(c)
        seg = c.client("PA", options=ts_option(1001, c.ts_base), payload=b"GET /")
        tags = ((ETHERTYPE_VLAN, 100),)
        self.send(CLIENT_PORT, with_tags(seg, tags))
        self.expect(SERVER_PORT, with_tags(translated_c2s(seg, c.delta, c.tsoff), tags))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 2, "SESSION_ESTABLISHED": 1})


@group("hardening")
@group("malformed")
class IpVersionNot4InSessionDroppedTest(SessionTest):
    """A segment of an established session whose IP version is 6 (IPv4 ether type,
    checksums right) is dropped as malformed, not translated."""

    def runTest(self) -> None:
        c = self.new_conn(10, ISN, 0x30000000, 0x01000000)
        self.establish(c)
        seg = c.client("PA", options=ts_option(1001, c.ts_base), payload=b"GET /")
        seg[IP].version = 6
        self.send(CLIENT_PORT, fresh(seg))
        self.expect_nothing()
        self.assert_no_digest()
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1,
                            "DROP_MALFORMED": 1})


# D13: the same over IPv6 (a pending entry and its key; VLAN tags kept on what the
# switch sends back or forwards; frames it cannot follow).
globals().update(ipv6_variants(
    PendingEntryDiesWithItsKeyTest, TaggedHandshakeTest, TaggedSynWithPayloadTest,
    UnparsedFramesDroppedTest, TaggedSessionTrafficTest))
