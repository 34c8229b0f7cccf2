# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- nat_passthrough   (TARGET=bmv2 for bmv2)
"""C8 for NAT services (control/nat.p4): what SynProxy forwards unproxied (the service
not defended, or a flow from before the defence) is NATed to the real server of its
bucket, and the server's answers are NATed back to the VIP; a bucket without a server
is a counted drop; a transparent service is left alone."""

from __future__ import annotations

import struct
import zlib

from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet
from synproxy_base import SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_PORT,
    OTHER_MAC,
    OTHER_PORT,
    PROXY_AUTO,
    PROXY_OFF,
    ROUTER_MAC,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    SERVICE_ID,
    SVC_SACK,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    family,
    fresh,
    ip2int,
    l3,
    routed,
    server_tcp,
)

from controller import entities, p4consts

SVC_NAT = p4consts.SVC_FLAG_NAT
NAT_BUCKETS = p4consts.NAT_BUCKETS
RS2_IP = "10.0.2.6"  # on the servers' subnet, behind port 2 as RS_IP
RS2_IPS = {4: RS2_IP, 6: "2001:db8:2::6"}  # D13: the same in IPv6
NAT_AUTO = ServiceSettings(mode=PROXY_AUTO, flags=SVC_SACK | SVC_TS | SVC_WSCALE | SVC_NAT)


def bucket_of(pkt: Packet) -> int:
    """The flow's bucket: v1model's crc32 over client, VIP, client port, VIP port
    (IPv6: the full addresses), modulo NAT_BUCKETS."""
    width = 16 if IPv6 in pkt else 4
    data = (ip2int(l3(pkt).src).to_bytes(width, "big") + ip2int(l3(pkt).dst).to_bytes(width, "big")
            + struct.pack("!HH", pkt[TCP].sport, pkt[TCP].dport))
    return zlib.crc32(data) % NAT_BUCKETS


def servers() -> tuple[str, str]:
    """The two real servers of the family in use."""
    return family().rs_ip, RS2_IPS[family().version]


def server_of(bucket: int) -> str:
    """The tests' assignment: even buckets to the first server, odd ones to the
    second."""
    return servers()[bucket % 2]


def to_server(pkt: Packet, rs: str) -> Packet:
    """A client segment as the switch NATs and routes it to real server `rs`."""
    out = routed(pkt, SERVER_PORT)
    l3(out).dst, out[TCP].dport = rs, RS_PORT
    return fresh(out)


def from_vip(pkt: Packet) -> Packet:
    """A server segment as the switch NATs it back and routes it to the client."""
    out = routed(pkt, CLIENT_PORT)
    l3(out).src, out[TCP].sport = family().vip, VPORT
    return fresh(out)


class NatTest(SynproxyTest):
    """The protected service is NAT in mode auto (not defended); every bucket has a
    server, both servers a reverse entry."""

    service = NAT_AUTO

    def setUp(self) -> None:
        super().setUp()
        six = self.fam.suffix
        self.buckets_table = f"nat_buckets{six}"
        for b in range(NAT_BUCKETS):
            self.insert(self.buckets_table, {"service_id": SERVICE_ID, "bucket": b},
                        f"nat_to{six}", {"rs_addr": ip2int(server_of(b)), "rs_port": RS_PORT})
        for rs in servers():
            self.insert(f"nat_reverse{six}", {"src_addr": rs, "src_port": RS_PORT},
                        f"nat_from{six}", {"vip_addr": ip2int(self.fam.vip), "vip_port": VPORT})


@group("nat")
class UndefendedSynGoesToItsBucketServerTest(NatTest):
    """SYNs of several flows reach the servers of their buckets, options intact."""

    def runTest(self) -> None:
        seen = set()
        for sport in range(42000, 42008):
            syn = self.undefended(client_tcp("S", 1000 + sport, sport=sport,
                                             options=client_syn_options()))
            rs = server_of(bucket_of(syn))
            seen.add(rs)
            self.send(CLIENT_PORT, syn)
            self.expect(SERVER_PORT, to_server(syn, rs))
        self.assertEqual(seen, set(servers()))
        self.assert_events({"SYN_IN": 8, "SYN_PASSED": 8})


@group("nat")
class UndefendedDataGoesToItsBucketServerTest(NatTest):
    """Data keeps the flow's server; payload and sequence numbers untouched."""

    def runTest(self) -> None:
        data = self.undefended(client_tcp("PA", 5001, 7001, sport=42010,
                                          payload=b"GET / HTTP/1.1\r\n\r\n"))
        self.send(CLIENT_PORT, data)
        self.expect(SERVER_PORT, to_server(data, server_of(bucket_of(data))))


@group("nat")
class ServerAnswerComesFromTheVipTest(NatTest):
    """The real server's SYN/ACK and data leave with the VIP as source."""

    def runTest(self) -> None:
        for rs, flags, payload in zip(servers(), ("SA", "PA"), (b"", b"x" * 100), strict=True):
            answer = server_tcp(flags, 9000, 1001, dport=42011, src=rs, payload=payload)
            self.send(SERVER_PORT, answer)
            self.expect(CLIENT_PORT, from_vip(answer))


@group("nat")
class OtherServerPortIsNotTranslatedTest(NatTest):
    """A real server's segment from another port is routed as it is."""

    def runTest(self) -> None:
        answer = server_tcp("PA", 9000, 1001, dport=42012, sport=RS_PORT + 1, payload=b"y")
        self.send(SERVER_PORT, answer)
        self.expect(CLIENT_PORT, routed(answer, CLIENT_PORT))


@group("nat")
class PassthroughFlowKeepsItsServerTest(NatTest):
    """C8: a connection opened while the service was not defended is still NATed to
    its bucket's server once the defence is on (PASSTHROUGH); a new SYN gets a cookie."""

    def runTest(self) -> None:
        old = self.undefended(client_tcp("PA", 500, 600, sport=42013, payload=b"old"))
        rs = server_of(bucket_of(old))
        self.send(CLIENT_PORT, old)
        self.expect(SERVER_PORT, to_server(old, rs))
        self.defend()
        self.send(CLIENT_PORT, old)
        self.expect(SERVER_PORT, to_server(old, rs))
        answer = server_tcp("A", 601, 503, dport=42013, src=rs)
        self.send(SERVER_PORT, answer)
        self.expect(CLIENT_PORT, from_vip(answer))
        self.send(CLIENT_PORT, client_tcp("S", 77, sport=42014))
        reply = self.receive(CLIENT_PORT)
        self.assertEqual((reply[IP].src, reply[TCP].sport, reply[TCP].flags), (VIP, VPORT, "SA"))
        # Neither does the new connection's unvalidated data reach a server.
        self.send(CLIENT_PORT, client_tcp("PA", 78, 1, sport=42014, payload=b"x"))
        self.expect_nothing()
        self.assert_events({"PASSTHROUGH": 1, "SYN_IN": 1, "SYNACK_SENT": 1,
                            "ACK_INVALID": 1})


@group("nat")
class BucketWithoutServerIsCountedDropTest(SynproxyTest):
    """A NAT service whose bucket has no entry drops what it would pass unproxied
    (DROP_NO_SERVER), and counts its SYNs for the auto defence."""

    service = NAT_AUTO

    def runTest(self) -> None:
        self.send(CLIENT_PORT, self.undefended(client_tcp("S", 1, sport=42015)))
        self.send(CLIENT_PORT, self.undefended(client_tcp("PA", 2, 3, sport=42016,
                                                          payload=b"z")))
        self.expect_nothing()
        self.assert_events({"DROP_NO_SERVER": 2, "SYN_IN": 1})


@group("nat")
class OneBucketWithoutServerTest(NatTest):
    """A bucket whose entry is gone drops its flows (DROP_NO_SERVER, the SYN still
    counted for the auto defence); the other buckets go on working."""

    def runTest(self) -> None:
        syn = self.undefended(client_tcp("S", 1000, sport=42019))
        bucket = bucket_of(syn)
        delete = entities.update("DELETE", entities.table_entry(
            self.p4, self.buckets_table, {"service_id": SERVICE_ID, "bucket": bucket}))
        self.client.write([delete])
        if delete in self._undo:
            self._undo.remove(delete)
        self.send(CLIENT_PORT, syn)
        other = next(self.undefended(client_tcp("S", 1, sport=s)) for s in range(42020, 42100)
                     if bucket_of(client_tcp("S", 1, sport=s)) != bucket)
        self.send(CLIENT_PORT, other)
        self.expect(SERVER_PORT, to_server(other, server_of(bucket_of(other))))
        self.expect_nothing()
        self.assert_events({"DROP_NO_SERVER": 1, "SYN_IN": 2, "SYN_PASSED": 1})


@group("nat")
class ConsecutivePortsSpreadOverEveryBucketTest(NatTest):
    """A client opening connections from consecutive ports reaches every bucket (each
    bucket here NATs to a port of its own, so the port shows the bucket used)."""

    def runTest(self) -> None:
        self.client.write([entities.update("MODIFY", entities.table_entry(
            self.p4, "nat_buckets", {"service_id": SERVICE_ID, "bucket": b}, "nat_to",
            {"rs_addr": RS_IP, "rs_port": 9000 + b})) for b in range(NAT_BUCKETS)])
        used = []
        for sport in range(33000, 33000 + 4 * NAT_BUCKETS):
            syn = self.undefended(client_tcp("S", 1, sport=sport))
            exp = to_server(syn, RS_IP)
            exp[TCP].dport = 9000 + bucket_of(syn)
            self.send(CLIENT_PORT, syn)
            self.expect(SERVER_PORT, fresh(exp))
            used.append(exp[TCP].dport)
        self.assertEqual(sorted(set(used)), list(range(9000, 9000 + NAT_BUCKETS)))
        self.assertLessEqual(max(used.count(port) for port in set(used)), 8)  # 4 on average
        self.expect_nothing()


@group("nat")
class OffModeNatServiceIsNattedTest(NatTest):
    """Mode off: never proxied, always NATed."""

    service = ServiceSettings(mode=PROXY_OFF, flags=NAT_AUTO.flags)

    def runTest(self) -> None:
        syn = self.undefended(client_tcp("S", 31, sport=42017))
        self.send(CLIENT_PORT, syn)
        self.expect(SERVER_PORT, to_server(syn, server_of(bucket_of(syn))))


@group("nat")
class TransparentServiceIsUntouchedTest(NatTest):
    """Without the NAT flag the segment goes to the VIP as addressed (routed), bucket
    entries for its service id or not."""

    service = ServiceSettings(mode=PROXY_AUTO)

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        syn = self.undefended(client_tcp("S", 41, sport=42018))
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        self.assertEqual(syn[IP].src, CLIENT_IP)
        # The server answers from the VIP (routed mode): no reverse entry matches it.
        answer = server_tcp("SA", 5, 42, dport=42018, src=VIP, sport=VPORT)
        self.send(SERVER_PORT, answer)
        self.expect(CLIENT_PORT, routed(answer, CLIENT_PORT))
        self.expect_nothing()
        # Neither NAT table was used: their entries' direct counters stay at zero.
        for table in ("nat_buckets", "nat_reverse"):
            for entry in self.table_entries(table):
                self.assertEqual(self.direct_counter(entry)[0], 0, table)


# D13: the same unproxied NAT over IPv6 (nat_buckets_v6, nat_reverse_v6).
globals().update(ipv6_variants(
    UndefendedSynGoesToItsBucketServerTest, UndefendedDataGoesToItsBucketServerTest,
    ServerAnswerComesFromTheVipTest, OtherServerPortIsNotTranslatedTest,
    BucketWithoutServerIsCountedDropTest, OneBucketWithoutServerTest,
    OffModeNatServiceIsNattedTest))
