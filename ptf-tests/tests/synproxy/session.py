# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- session        (TARGET=bmv2 for bmv2)
"""Sessions installed as the controller installs them (D7, D8, C2, C4): the server
SYN through the pipeline, the server's SYN/ACK turned into two exact packets, the
registers and the digest it leaves, early and held data, NAT and transparent modes."""

from __future__ import annotations

from ptf.testutils import group
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether
from synproxy_base import COOKIE_DIGEST, EVENT_DIGEST, ipv6_variants
from synproxy_packets import (
    CLIENT_IP,
    CLIENT_PORT,
    PUNT_EARLY_DATA,
    ROUTER_MAC,
    RS_MAC,
    SERVER_PORT,
    SESSION,
    VIP,
    VPORT,
    client_syn_options,
    client_tcp,
    encode_options,
    family,
    ip2int,
    mac_bytes,
    option_value,
    routed,
    ts_option,
    u32,
)
from synproxy_session import Conn, SessionTest, translated_c2s, translated_s2c

from controller.synpkt import client_rst

ISN = 0xFFFFFF00  # client sequence numbers wrap during the tests
RS_ISN = 0x00000123
TS_BASE = 0x7FFFFFF0


@group("session")
class ServerSynNatTest(SessionTest):
    """The controller's server SYN (PacketOut flags 1) leaves towards the real
    server with VIP:vport rewritten to RS:rport, routed, checksums right; the
    session waits in SYN_SENT."""

    def runTest(self) -> None:
        c = self.new_conn(17, ISN, RS_ISN, TS_BASE)
        self.install(c)
        self.send_server_syn(c)
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual(self.read_state(17), SESSION["SYN_SENT"])
        self.assert_events({"TRANSLATED_C2S": 1})


@group("session")
class ServerSynAckTest(SessionTest):
    """The server's SYN/ACK: an ACK back to the server and a window update to the
    client (both exact), delta/tsoff/server window scale recorded, ESTABLISHED,
    and a session_event digest."""

    def runTest(self) -> None:
        c = self.new_conn(18, ISN, RS_ISN, TS_BASE, server_tsval=555)
        self.establish(c, server_wscale=9)
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual(self.read_register("session_delta", 18), c.delta)
            self.assertEqual(self.read_register("session_tsoff", 18), c.tsoff)
            self.assertEqual(self.read_register("session_server_wscale", 18), 9)
            self.assertEqual(self.read_state(18), SESSION["ESTABLISHED"])
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1})


@group("session")
class ServerSynAckWithoutTimestampsTest(SessionTest):
    """A server that declines timestamps: neither packet carries the option and
    tsoff is 0."""

    def runTest(self) -> None:
        c = self.new_conn(19, 5000, 0xFFFFFFF0, TS_BASE)
        self.establish(c, timestamps=False, server_wscale=None)
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual(self.read_register("session_tsoff", 19), 0)
            self.assertEqual(self.read_register("session_server_wscale", 19), 0)


@group("session")
class RetransmittedSynAckReAckedTest(SessionTest):
    """The server's SYN/ACK again (our ACK was lost): the ACK is resent, nothing
    goes to the client, no second digest."""

    def runTest(self) -> None:
        c = self.new_conn(20, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        synack = self.server_synack(c)
        self.send(SERVER_PORT, synack)
        self.expect(SERVER_PORT, self.expected_server_ack(c, synack))
        self.expect_nothing()
        self.assert_no_digest()
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1,
                            "SERVER_SYNACK_RETX": 1})


@group("session")
class FullHandshakeFromDigestTest(SessionTest):
    """End to end, with the session installed only from what the digest says
    (p4src/README.md "Installing a session"): SYN, SYN/ACK, ACK, digest, session,
    server SYN, server SYN/ACK, then data both ways, all exact."""

    def runTest(self) -> None:
        isn, sport = 0xFFFFFFF0, 41234
        syn = client_tcp("S", isn, sport=sport, options=client_syn_options(1460, 7, True, 900))
        synack = self.synack_for(syn, encode_options(1460, 7, True, True))
        cookie, our_ts = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        self.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1, sport=sport, window=502,
                                          options=ts_option(901, our_ts)))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["client_isn"], d["cookie"], d["client_tsecr"]),
                         (isn, cookie, our_ts))
        c = Conn(slot=21, isn=d["client_isn"], cookie=d["cookie"], rs_isn=0x80000000,
                 ts_base=d["client_tsecr"], client_tsval=d["client_tsval"], server_tsval=7,
                 sport=d["client_port"], client_window=d["client_window"],
                 win_shift=self.service.wscale if d["wscale"] != 15 else 0)
        self.establish(c)
        request = c.client("PA", options=ts_option(902, our_ts), payload=b"GET / HTTP/1.0\r\n")
        self.send(CLIENT_PORT, request)
        self.expect(SERVER_PORT, translated_c2s(request, c.delta, c.tsoff))
        reply = c.server("PA", data_acked=16, options=ts_option(8, 902), payload=b"200 OK")
        self.send(SERVER_PORT, reply)
        self.expect(CLIENT_PORT, translated_s2c(reply, c.delta, c.tsoff))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1,
                            "TRANSLATED_C2S": 2, "SESSION_ESTABLISHED": 1,
                            "TRANSLATED_S2C": 1})


@group("session")
class EarlyDataPuntedTest(SessionTest):
    """Client data while the server handshake is pending goes to the controller
    (PacketIn EARLY_DATA with the slot, untranslated); a pure ACK is dropped."""

    def runTest(self) -> None:
        c = self.new_conn(22, ISN, RS_ISN, TS_BASE)
        self.install(c)
        data = c.client("PA", payload=b"early bird")
        self.send(CLIENT_PORT, data)
        meta, frame = self.get_packet_in()
        self.assertEqual(meta, {"ingress_port": CLIENT_PORT, "_pad0": 0,
                                "reason": PUNT_EARLY_DATA, "slot": 22})
        self.assertEqual(frame, bytes(data))
        self.send(CLIENT_PORT, c.client("A"))
        self.assert_events({"EARLY_DATA": 1, "DROP_HANDSHAKE": 1})
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual(self.read_state(22), SESSION["SYN_SENT"])


@group("session")
class HeldDataReinjectedTest(SessionTest):
    """Held client data re-injected after ESTABLISHED (PacketOut flags 1) is
    translated like any client segment."""

    def runTest(self) -> None:
        c = self.new_conn(23, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        data = c.client("PA", options=ts_option(1001, TS_BASE), payload=b"held")
        self.packet_out(data)
        self.expect(SERVER_PORT, translated_c2s(data, c.delta, c.tsoff))
        self.expect_nothing()


@group("session")
class ClientSynOnLiveSessionDroppedTest(SessionTest):
    """A client SYN on an established 4-tuple is dropped (DROP_HANDSHAKE)."""

    def runTest(self) -> None:
        c = self.new_conn(24, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        self.send(CLIENT_PORT, client_tcp("S", ISN, options=client_syn_options()))
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1,
                            "SYN_IN": 1, "DROP_HANDSHAKE": 1})
        self.expect_nothing()


@group("session")
class TransparentModeTest(SessionTest):
    """Transparent (routed) mode: the session names the VIP itself, so no address
    or port is rewritten; sequence numbers still are."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": SERVER_PORT, "src_mac": ROUTER_MAC, "dst_mac": RS_MAC})
        c = self.new_conn(25, 0x10, 0xFFFFFF80, TS_BASE, rs_addr=VIP, rs_port=VPORT)
        self.establish(c)
        data = c.client("PA", data_acked=0x100, options=ts_option(2000, TS_BASE + 3),
                        payload=b"q")
        self.send(CLIENT_PORT, data)
        self.expect(SERVER_PORT, translated_c2s(data, c.delta, c.tsoff, VIP, VPORT))
        reply = c.server("PA", data_sent=0x100, data_acked=1, options=ts_option(600, 2000),
                         payload=b"r")
        self.send(SERVER_PORT, reply)
        self.expect(CLIENT_PORT, translated_s2c(reply, c.delta, c.tsoff))
        self.expect_nothing()


class _ServerWindowTest(SessionTest):
    """Base (no runTest): a server's window through a session whose server scale
    meets the scale offered to the client (`win_shift`)."""

    def window_reaches_client(self, slot: int, *, win_shift: int, server_wscale: int,
                              window: int, expected: int) -> None:
        c = self.new_conn(slot, ISN, RS_ISN, TS_BASE, win_shift=win_shift)
        self.establish(c, server_wscale=server_wscale)
        pkt = c.server("A", window=window)
        self.send(SERVER_PORT, pkt)
        self.expect(CLIENT_PORT, translated_s2c(pkt, c.delta, c.tsoff, window=expected))
        self.expect_nothing()


@group("session")
class ServerWindowRescaledTest(_ServerWindowTest):
    """A server whose window scale (9) differs from the one offered to the client
    (7): its windows reach the client multiplied by 2^(9-7)."""

    def runTest(self) -> None:
        self.window_reaches_client(26, win_shift=7, server_wscale=9, window=1000,
                                   expected=4000)


@group("session")
class SessionServiceCountedTest(SessionTest):
    """Session traffic counts under the session's service id."""

    def runTest(self) -> None:
        c = self.new_conn(27, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        for i in range(3):
            ack = c.client("A", data_acked=i, options=ts_option(1001 + i, TS_BASE))
            self.send(CLIENT_PORT, ack)
            self.expect(SERVER_PORT, translated_c2s(ack, c.delta, c.tsoff))
            data = c.server("PA", data_sent=i, options=ts_option(556 + i, 1001 + i),
                            payload=b"x")
            self.send(SERVER_PORT, data)
            self.expect(CLIENT_PORT, translated_s2c(data, c.delta, c.tsoff))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 4, "TRANSLATED_S2C": 3,
                            "SESSION_ESTABLISHED": 1})
        self.assert_no_digest()


@group("session")
class StraySegmentDuringHandshakeDroppedTest(SessionTest):
    """While SYN_SENT, a server segment that is neither SYN/ACK nor RST is dropped
    (DROP_HANDSHAKE): there is no delta to translate it with yet."""

    def runTest(self) -> None:
        c = self.new_conn(28, ISN, RS_ISN, TS_BASE)
        self.install(c)
        self.send(SERVER_PORT, c.server("PA", payload=b"too soon"))
        self.send(SERVER_PORT, c.server("A"))
        self.assert_events({"DROP_HANDSHAKE": 2})
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual(self.read_state(28), SESSION["SYN_SENT"])


@group("session")
class ControllerResetOutsideSessionRoutedTest(SessionTest):
    """C3: the controller's RST to a client whose server never answered (PacketOut
    flags 1, from VIP:vport, seq = cookie + 1) matches no session and is routed
    like any frame, untouched by the proxy."""

    def runTest(self) -> None:
        c = self.new_conn(29, ISN, RS_ISN, TS_BASE)
        frame = client_rst(ip2int(CLIENT_IP), c.sport, ip2int(VIP), VPORT, c.cookie, c.isn,
                           mac_bytes(ROUTER_MAC))
        self.packet_out(frame)
        self.expect(CLIENT_PORT, routed(Ether(frame), CLIENT_PORT))
        self.expect_nothing()
        self.assert_events({})


@group("session")
class DirectPacketOutTest(SessionTest):
    """PacketOut flags 0: the frame leaves by the named port, byte for byte, even a
    SYN to the protected VIP (it does not run the proxy)."""

    def runTest(self) -> None:
        syn = client_tcp("S", 1, options=client_syn_options())
        self.packet_out(syn, pipeline=False, port=SERVER_PORT)
        self.expect(SERVER_PORT, syn)
        self.expect_nothing()


@group("session")
class ServerSynMinimalOptionsTest(SessionTest):
    """A handshake that negotiated nothing (MSS 536, no WS/SACK/TS): the server SYN
    carries only the MSS, and the whole session works without timestamps."""

    def runTest(self) -> None:
        opts = encode_options(None, None, False, False)
        c = self.new_conn(30, 0x7FFFFFFF, 0xFFFFFFFF, 0, opts=opts, win_shift=0)
        self.install(c)
        self.send_server_syn(c, opts)
        synack = self.server_synack(c, wscale=None, timestamps=False)
        c.server_tsval = c.ts_base
        self.send(SERVER_PORT, synack)
        self.expect(SERVER_PORT, self.expected_server_ack(c, synack))
        self.expect(CLIENT_PORT, self.expected_window_update(c, synack))
        data = c.client("PA", payload=b"x" * 100)
        self.send(CLIENT_PORT, data)
        self.expect(SERVER_PORT, translated_c2s(data, c.delta, 0))
        self.expect_nothing()


@group("session")
class TwoSessionsIndependentTest(SessionTest):
    """Two sessions from one client (two source ports, two slots): each segment is
    translated with its own session's delta and tsoff."""

    def runTest(self) -> None:
        a = self.new_conn(31, 0x1000, 0x90000000, 0x100, sport=50001, server_tsval=1)
        b = self.new_conn(32, 0x2000, 0x10000000, 0x200000, sport=50002, server_tsval=7)
        self.establish(a)
        self.establish(b)
        for c in (b, a, b):
            pkt = c.client("PA", data_acked=3, options=ts_option(5, c.ts_base),
                           payload=b"hi")
            self.send(CLIENT_PORT, pkt)
            self.expect(SERVER_PORT, translated_c2s(pkt, c.delta, c.tsoff))
            reply = c.server("A", data_sent=3, data_acked=2, options=ts_option(9, 5))
            self.send(SERVER_PORT, reply)
            self.expect(CLIENT_PORT, translated_s2c(reply, c.delta, c.tsoff))
        self.expect_nothing()
        self.assertNotEqual(a.delta, b.delta)


@group("session")
class ServerWindowRescaleSaturatesTest(_ServerWindowTest):
    """A server scale of 14 against an offered 0: the rescaled window saturates at
    65535 instead of wrapping."""

    def runTest(self) -> None:
        self.window_reaches_client(33, win_shift=0, server_wscale=14, window=5,
                                   expected=0xFFFF)


@group("session")
class ServerWindowUntouchedWhenScalesMatchTest(_ServerWindowTest):
    """A server whose window scale (7) is the one offered to the client (7): its
    windows reach the client as they are."""

    def runTest(self) -> None:
        self.window_reaches_client(34, win_shift=7, server_wscale=7, window=1234,
                                   expected=1234)


@group("session")
class FullConnectionTest(SessionTest):
    """A whole connection with the session installed from the digest alone: a client
    offering window scale 9 (the digest says so, the server SYN carries it), the
    server handshake, a request and its answer, then both FINs and the last ACK, each
    change of state reported under the entries' gen."""

    def runTest(self) -> None:
        isn = 0xFFFFFFF0  # the request's sequence numbers wrap around 2^32
        opts = encode_options(1460, 9, True, True)
        syn = client_tcp("S", isn, options=client_syn_options(1460, 9, True, 7000))
        synack = self.synack_for(syn, opts)
        cookie, our_ts = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        self.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1, window=1000,
                                          options=ts_option(7001, our_ts)))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["mss"], d["wscale"], d["sack_ok"], d["ts_ok"]),
                         (family().mss_table[3], 9, 1, 1))
        c = Conn(slot=3, isn=d["client_isn"], cookie=d["cookie"], rs_isn=0x40000000,
                 ts_base=d["client_tsecr"], client_tsval=d["client_tsval"], server_tsval=100,
                 sport=d["client_port"], client_window=d["client_window"],
                 win_shift=self.service.wscale)
        self.install(c)
        self.assertEqual(option_value(Ether(self.server_syn_frame(c, opts)), "WScale"), 9)
        self.send_server_syn(c, opts)
        self.establish(c, install=False, server_syn=False)
        request = c.client("PA", options=ts_option(7002, u32(our_ts + 3)), payload=b"GET /")
        self.send(CLIENT_PORT, request)
        self.expect(SERVER_PORT, translated_c2s(request, c.delta, c.tsoff))
        reply = c.server("PA", data_acked=5, options=ts_option(104, 7002), payload=b"200 OK")
        self.send(SERVER_PORT, reply)
        self.expect(CLIENT_PORT, translated_s2c(reply, c.delta, c.tsoff))
        fin = c.client("FA", data_sent=5, data_acked=6)
        server_fin = c.server("FA", data_sent=6, data_acked=6)
        last = c.client("A", data_sent=6, data_acked=7)
        for port, pkt, out_port, out, state in (
                (CLIENT_PORT, fin, SERVER_PORT, translated_c2s(fin, c.delta, c.tsoff),
                 "FIN_WAIT"),
                (SERVER_PORT, server_fin, CLIENT_PORT,
                 translated_s2c(server_fin, c.delta, c.tsoff), "LAST_ACK"),
                (CLIENT_PORT, last, SERVER_PORT, translated_c2s(last, c.delta, c.tsoff),
                 "TIME_WAIT")):
            self.send(port, pkt)
            self.expect(out_port, out)
            self.assertEqual(self.get_digest(EVENT_DIGEST),
                             self.session_event(c, "STATE", state=state))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1,
                            "TRANSLATED_C2S": 4, "SESSION_ESTABLISHED": 1,
                            "TRANSLATED_S2C": 2})


# D13: the same sessions over IPv6 (sessions_v6, the _v6 digests, the server's
# SYN/ACK answered in IPv6).
globals().update(ipv6_variants(
    ServerSynNatTest, ServerSynAckTest, ServerSynAckWithoutTimestampsTest,
    RetransmittedSynAckReAckedTest, FullHandshakeFromDigestTest, EarlyDataPuntedTest,
    HeldDataReinjectedTest, ClientSynOnLiveSessionDroppedTest, ServerWindowRescaledTest,
    SessionServiceCountedTest, StraySegmentDuringHandshakeDroppedTest,
    TwoSessionsIndependentTest, FullConnectionTest))
