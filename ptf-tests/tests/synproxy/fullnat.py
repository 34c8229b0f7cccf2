# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- fullnat    (TARGET=bmv2 for bmv2)
"""FULLNAT sessions (D7, p4src/README.md "FULLNAT"): the client's address is replaced
by a local address of the proxy (laddr:lport) towards the real server, and put back
on the way to the client; the server SYN carries the client's port and address in
the TOA option (kind 254, length 8). Sequence and timestamp translation (D9) as in
NAT mode; checksums right; a packet to a local address without a session dropped
and counted (EV_DROP_FULLNAT_UNKNOWN)."""

from __future__ import annotations

import struct
from typing import Any

from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from synproxy_base import EVENT_DIGEST
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    ROUTER_MAC,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    VIP,
    VPORT,
    fresh,
    ip2int,
    mac_bytes,
    routed,
    server_tcp,
    ts_option,
    u32,
)
from synproxy_session import OPTS_ALL, Conn, SessionTest, translated_c2s, translated_s2c

from controller import entities, p4consts
from controller.cookie import decode_options
from controller.synpkt import TOA_KIND, TOA_LEN, Handshake, server_syn

LADDR = "10.0.2.200"  # a local address of the proxy, on the real servers' subnet
LPORT = 61000
ISN = 0xFFFFFF00
RS_ISN = 0x7FFFFFF0
TS_BASE = 0x10000000


class FullNatTest(SessionTest):
    """Sessions installed as the controller installs a FULLNAT service's: the
    client entry as in NAT mode, the server entry keyed on the server side's tuple
    (RS, laddr, rport, lport), the slot's `fullnat_sessions` entry, and the local
    address in `fullnat_local_addresses`."""

    def setUp(self) -> None:
        super().setUp()
        self.insert("fullnat_local_addresses", {"local_addr": LADDR}, "fullnat_local")

    def install(self, c: Conn, lport: int = LPORT, map_gen: int | None = None) -> None:
        c.gen = self.install_session(c.slot, **self._entry_args(c))
        # The NAT-mode server entry (RS -> client) is replaced by the FULLNAT one.
        client_entry, server_entry = self.session_entries(c.slot, gen=c.gen,
                                                          **self._entry_args(c))
        _table, match, action, params = server_entry
        self.free_one("sessions", match)
        self.insert("sessions", {"src_addr": c.rs_addr, "dst_addr": LADDR,
                                 "src_port": c.rs_port, "dst_port": lport}, action, params)
        self.insert("fullnat_sessions", {"slot": c.slot}, "fullnat_map",
                    {"client": ip2int(CLIENT_IP), "cport": c.sport,
                     "laddr": ip2int(LADDR), "lport": lport,
                     "gen": c.gen if map_gen is None else map_gen})

    def free_one(self, table: str, match: dict[str, Any]) -> None:
        delete = entities.update("DELETE", entities.table_entry(self.p4, table, match))
        self.client.write([delete])
        if delete in self._undo:
            self._undo.remove(delete)

    def fullnat_server(self, c: Conn, flags: str, data_sent: int = 0, data_acked: int = 0,
                       **kwargs: Any) -> Packet:
        """A real-server segment to laddr:lport, in the server's sequence space."""
        pkt = c.server(flags, data_sent, data_acked, **kwargs)
        pkt[IP].dst, pkt[TCP].dport = LADDR, LPORT
        return fresh(pkt)

    def send_server_syn(self, c: Conn, opts: int | None = None) -> None:
        """The controller's server SYN with the TOA option; it must leave from
        laddr:lport to RS:rport, the option intact (the client's port and address)."""
        frame = self.fullnat_syn_frame(c, OPTS_ALL if opts is None else opts)
        self.packet_out(frame)
        exp = Ether(frame)
        exp[IP].src, exp[TCP].sport = LADDR, LPORT
        exp[IP].dst, exp[TCP].dport = c.rs_addr, c.rs_port
        exp = routed(exp, SERVER_PORT)
        got = self.receive(SERVER_PORT)
        self.assert_packet(exp, got, "FULLNAT server SYN")
        raw = bytes(got[TCP])[20:got[TCP].dataofs * 4]
        toa = struct.pack("!BBH", TOA_KIND, TOA_LEN, c.sport) + bytes(
            int(x) for x in CLIENT_IP.split("."))
        self.assertIn(toa, raw, "the TOA option carries the client's port and address")

    def fullnat_syn_frame(self, c: Conn, opts: int) -> bytes:
        o = decode_options(opts)
        hs = Handshake(client_addr=ip2int(CLIENT_IP), vip_addr=ip2int(VIP),
                       client_port=c.sport, vip_port=VPORT, client_isn=c.isn,
                       cookie=c.cookie, mss=o.mss,
                       wscale=p4consts.COOKIE_WSCALE_NONE if o.wscale is None else o.wscale,
                       sack_ok=o.sack_ok, ts_ok=o.ts_ok, client_window=c.client_window,
                       client_tsval=c.client_tsval)
        return server_syn(hs, mac_bytes(ROUTER_MAC), toa=True)

    def establish_fullnat(self, c: Conn) -> None:
        """Install, server SYN, the server's SYN/ACK to laddr:lport: the ACK back to
        the server from laddr:lport, the window update to client:cport from the VIP."""
        self.install(c)
        self.send_server_syn(c)
        synack = self.server_synack(c)
        synack[IP].dst, synack[TCP].dport = LADDR, LPORT
        synack = fresh(synack)
        self.send(SERVER_PORT, synack)
        ack = self.expected_server_ack(c, synack)
        self.assertEqual((ack[IP].src, ack[TCP].sport, ack[IP].dst, ack[TCP].dport),
                         (LADDR, LPORT, c.rs_addr, c.rs_port))
        self.expect(SERVER_PORT, ack)
        wu = self.expected_window_update(c, synack)
        wu[IP].dst, wu[TCP].dport = CLIENT_IP, c.sport
        self.expect(CLIENT_PORT, fresh(wu))
        # A server-direction event names the flow by the destination it came to: the
        # local tuple, which the controller knows the session by too.
        self.assertEqual(self.get_digest(EVENT_DIGEST), {**self.session_event(
            c, "ESTABLISHED", state="ESTABLISHED"),
            "client_addr": ip2int(LADDR), "client_port": LPORT})


def c2s(pkt: Packet, c: Conn) -> Packet:
    """A client segment as the real server gets it: D9's translation and NAT, and
    the source client:cport -> laddr:lport."""
    out = translated_c2s(pkt, c.delta, c.tsoff, c.rs_addr, c.rs_port)
    out[IP].src, out[TCP].sport = LADDR, LPORT
    return fresh(out)


def s2c(pkt: Packet, c: Conn) -> Packet:
    """A server segment as the client gets it: source back to VIP:vport (D9), the
    destination laddr:lport -> client:cport."""
    out = translated_s2c(pkt, c.delta, c.tsoff)
    out[IP].dst, out[TCP].dport = CLIENT_IP, c.sport
    return fresh(out)


@group("fullnat")
class FullNatHandshakeTest(FullNatTest):
    """The server SYN from laddr:lport with the TOA option, the server's SYN/ACK to
    laddr:lport answered from laddr:lport, the window update to the client."""

    def runTest(self) -> None:
        c = self.new_conn(60, ISN, RS_ISN, TS_BASE)
        before = self.snapshot()
        self.establish_fullnat(c)
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1}, since=before)


@group("fullnat")
class FullNatTranslationTest(FullNatTest):
    """Both directions of an established session translated exactly: addresses and
    ports on both sides, seq/ack and timestamps (across 2^32), checksums."""

    def runTest(self) -> None:
        c = self.new_conn(61, ISN, RS_ISN, TS_BASE, server_tsval=0xFFFFFFF0)
        self.establish_fullnat(c)
        before = self.snapshot()
        pkt = c.client("PA", data_sent=0x200, data_acked=0x40,
                       options=ts_option(2000, TS_BASE + 9), payload=b"GET / HTTP/1.0\r\n\r\n")
        self.send(CLIENT_PORT, pkt)
        exp = c2s(pkt, c)
        self.expect(SERVER_PORT, exp)
        self.assertEqual((exp[IP].src, exp[TCP].sport, exp[IP].dst, exp[TCP].dport),
                         (LADDR, LPORT, RS_IP, RS_PORT))
        self.assertEqual(exp[TCP].ack, u32(RS_ISN + 1 + 0x40))

        reply = self.fullnat_server(c, "PA", data_sent=0x40, data_acked=0x212,
                                    options=ts_option(0xFFFFFFF0 + 30, 2000),
                                    payload=b"HTTP/1.0 200 OK\r\n\r\n")
        self.send(SERVER_PORT, reply)
        exp = s2c(reply, c)
        self.expect(CLIENT_PORT, exp)
        self.assertEqual((exp[IP].src, exp[TCP].sport, exp[IP].dst, exp[TCP].dport),
                         (VIP, VPORT, CLIENT_IP, c.sport))
        self.assertEqual(exp[TCP].seq, u32(c.cookie + 1 + 0x40))
        self.assertEqual(dict(exp[TCP].options)["Timestamp"], (u32(TS_BASE + 30), 2000))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 1, "TRANSLATED_S2C": 1}, since=before)


@group("fullnat")
class FullNatHeldDataTest(FullNatTest):
    """Client data while the server handshake is pending reaches the controller as the
    client sent it (PacketIn EARLY_DATA, no local tuple); re-injected once the session
    is up (PacketOut flags 1), it leaves from laddr:lport like any client segment."""

    def runTest(self) -> None:
        c = self.new_conn(65, ISN, RS_ISN, TS_BASE)
        self.install(c)
        self.send_server_syn(c)
        data = c.client("PA", options=ts_option(1001, TS_BASE), payload=b"held")
        self.send(CLIENT_PORT, data)
        meta, frame = self.get_packet_in()
        self.assertEqual(meta["reason"], p4consts.PUNT_EARLY_DATA)
        self.assertEqual(frame, bytes(data))
        synack = self.server_synack(c)
        synack[IP].dst, synack[TCP].dport = LADDR, LPORT
        self.send(SERVER_PORT, fresh(synack))
        self.receive(SERVER_PORT)  # the ACK to the server (FullNatHandshakeTest)
        self.receive(CLIENT_PORT)  # the window update
        self.get_digest(EVENT_DIGEST)
        self.packet_out(data)
        self.expect(SERVER_PORT, c2s(data, c))
        self.expect_nothing()


@group("fullnat")
class FullNatStaleMapTest(FullNatTest):
    """A map whose gen is not the session entries' (left from another incarnation of
    the slot) is not used: the server SYN leaves as in NAT mode, its client's own
    source untouched, and nothing is rewritten to the map's tuples."""

    def runTest(self) -> None:
        c = self.new_conn(66, ISN, RS_ISN, TS_BASE)
        self.install(c, map_gen=0xFFFFFFF0)
        frame = self.fullnat_syn_frame(c, OPTS_ALL)
        self.packet_out(frame)
        exp = Ether(frame)
        exp[IP].dst, exp[TCP].dport = c.rs_addr, c.rs_port
        self.expect(SERVER_PORT, routed(exp, SERVER_PORT))
        self.expect_nothing()


@group("fullnat")
class FullNatUnknownLocalTest(FullNatTest):
    """To a local address with no session: another local port, another server port,
    a segment for a session already freed, non-TCP: dropped, each counted
    FULLNAT_UNKNOWN (globally: it has no service); the session's own tuple still
    passes."""

    def runTest(self) -> None:
        c = self.new_conn(62, ISN, RS_ISN, TS_BASE)
        self.establish_fullnat(c)
        before = self.snapshot()
        strays = [
            self.fullnat_server(c, "A", data_acked=0),
            self.fullnat_server(c, "PA", payload=b"x"),
        ]
        strays[0][TCP].dport = LPORT + 1
        strays[1][TCP].sport = RS_PORT + 1
        strays = [fresh(p) for p in strays]
        other = server_tcp("S", 1234, src="10.0.2.99", sport=5555)
        other[IP].dst, other[TCP].dport = LADDR, LPORT
        strays.append(fresh(other))
        ping = Ether(src=CLIENT_MAC, dst=strays[0][Ether].dst) / IP(src=CLIENT_IP, dst=LADDR) / \
            b"\x08\x00\xf7\xff\x00\x00\x00\x00"
        strays.append(Ether(bytes(ping)))
        for p in strays:
            self.send(SERVER_PORT, p)
        self.expect_nothing()
        self.assert_events({"DROP_FULLNAT_UNKNOWN": (len(strays), 0)}, since=before)
        # The session's own tuple is not touched by the drop.
        ok = self.fullnat_server(c, "A", data_acked=0)
        self.send(SERVER_PORT, ok)
        self.expect(CLIENT_PORT, s2c(ok, c))
        # Freed: its segments are strays now.
        self.free_one("sessions", {"src_addr": c.rs_addr, "dst_addr": LADDR,
                                   "src_port": c.rs_port, "dst_port": LPORT})
        before = self.snapshot()
        self.send(SERVER_PORT, ok)
        self.expect_nothing()
        self.assert_events({"DROP_FULLNAT_UNKNOWN": (1, 0)}, since=before)


@group("fullnat")
class FullNatResetsTest(FullNatTest):
    """D10 in FULLNAT: the client's RST while the server handshake is pending goes to
    the server from laddr:lport; the server's RST in SYN_SENT reaches the client
    from the VIP at client:cport (no local address leaks to the client)."""

    def runTest(self) -> None:
        c = self.new_conn(63, ISN, RS_ISN, TS_BASE)
        self.install(c)
        self.send_server_syn(c)
        rst = c.client("R")
        self.send(CLIENT_PORT, rst)
        got = self.receive(SERVER_PORT)
        self.assertEqual((got[IP].src, got[TCP].sport, got[IP].dst, got[TCP].dport),
                         (LADDR, LPORT, RS_IP, RS_PORT))
        self.assertEqual(got[TCP].flags, "R")
        self.assertEqual(got[TCP].chksum, fresh(got)[TCP].chksum, "TCP checksum")
        self.get_digest(EVENT_DIGEST)

        d = self.new_conn(64, ISN + 7, RS_ISN, TS_BASE, sport=40001)
        self.install(d, lport=LPORT + 1)
        self.send_server_syn_to(d, LPORT + 1)
        srst = server_tcp("R", 0, dport=LPORT + 1)
        srst[IP].dst = LADDR
        self.send(SERVER_PORT, fresh(srst))
        got = self.receive(CLIENT_PORT)
        self.assertEqual((got[IP].src, got[TCP].sport, got[IP].dst, got[TCP].dport),
                         (VIP, VPORT, CLIENT_IP, d.sport))
        self.assertEqual(got[TCP].seq, u32(d.cookie + 1))
        self.assertEqual(got[TCP].chksum, fresh(got)[TCP].chksum, "TCP checksum")
        self.get_digest(EVENT_DIGEST)
        self.expect_nothing()

    def send_server_syn_to(self, c: Conn, lport: int) -> None:
        self.packet_out(self.fullnat_syn_frame(c, OPTS_ALL))
        got = self.receive(SERVER_PORT)
        self.assertEqual((got[IP].src, got[TCP].sport), (LADDR, lport))

