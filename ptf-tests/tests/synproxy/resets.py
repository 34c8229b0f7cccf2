# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- resets         (TARGET=bmv2 for bmv2)
"""Resets during the server handshake (D10) and FIN/RST state tracking on
established sessions (D11, C5), each change reported in a session_event digest
(state after the packet, the entries' gen)."""

from __future__ import annotations

from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from synproxy_base import COOKIE_DIGEST, EVENT_DIGEST, ipv6_variants
from synproxy_packets import (
    CLIENT_PORT,
    RS_PORT,
    SERVER_PORT,
    SESSION,
    VPORT,
    client_syn_options,
    client_tcp,
    encode_options,
    family,
    fresh,
    l3,
    routed,
    ts_option,
    u32,
)
from synproxy_session import Conn, SessionTest, translated_c2s, translated_s2c

ISN = 0xFFFFFFFE
RS_ISN = 0x7FFFFFFF
TS_BASE = 0x12345678


def bare_reset(pkt: Packet, **tcp_fields: int | str) -> Packet:
    """`pkt` cut to its IP and TCP headers (no IP options, TCP options or data),
    with RST alone, ack 0, window 0, and `tcp_fields` changed."""
    out = Ether(bytes(pkt))
    tcp = out[TCP]
    l3(out).remove_payload()
    if IP in out:
        out[IP].options = []
        out[IP].ihl = None
    out = out / TCP(sport=tcp.sport, dport=tcp.dport, seq=tcp.seq, ack=0, flags="R",
                    window=0, urgptr=0)
    for name, value in tcp_fields.items():
        setattr(out[TCP], name, value)
    return fresh(out)


@group("reset")
class ServerRstDuringHandshakeTest(SessionTest):
    """The server refuses: the client gets a RST from the VIP with seq = cookie + 1
    (routed, no payload), the session is CLOSE, the controller is told."""

    def runTest(self) -> None:
        c = self.new_conn(60, ISN, RS_ISN, TS_BASE)
        self.install(c)
        rst = c.server("RA", options=ts_option(1, 2), payload=b"diagnostic")
        rst[TCP].seq = 0
        self.send(SERVER_PORT, rst)
        exp = routed(bare_reset(rst, sport=VPORT, seq=u32(c.cookie + 1)), CLIENT_PORT)
        l3(exp).src = family().vip
        self.expect(CLIENT_PORT, fresh(exp))
        self.expect_nothing()
        self.assertEqual(self.get_digest(EVENT_DIGEST),
                         self.session_event(c, "SERVER_RESET", delta=0, tsoff=0,
                                            state="CLOSE"))
        self.assert_events({"SERVER_RESET": 1})


class _ClientAbortTest(SessionTest):
    """Base (no runTest, so ptf does not run it): the client gives up with `flags`
    while the server handshake is pending."""

    flags = "R"

    def client_aborts(self) -> Conn:
        c = self.new_conn(61, ISN, RS_ISN, TS_BASE)
        self.install(c)
        pkt = c.client(self.flags, options=ts_option(5, TS_BASE), payload=b"bye")
        self.send(CLIENT_PORT, pkt)
        exp = routed(bare_reset(pkt, dport=RS_PORT), SERVER_PORT)
        l3(exp).dst = family().rs_ip
        self.expect(SERVER_PORT, fresh(exp))
        self.expect_nothing()
        self.assertEqual(self.get_digest(EVENT_DIGEST),
                         self.session_event(c, "CLIENT_ABORT", delta=0, tsoff=0,
                                            state="CLOSE"))
        self.assert_events({"CLIENT_ABORT": 1})
        return c


@group("reset")
class ClientRstDuringHandshakeTest(_ClientAbortTest):
    """Client RST while SYN_SENT: RST to the server (seq as the client's), CLOSE."""

    flags = "R"

    def runTest(self) -> None:
        self.client_aborts()


@group("reset")
class ClientFinDuringHandshakeTest(_ClientAbortTest):
    """Client FIN while SYN_SENT: the server is reset too (no half-open server)."""

    flags = "FA"

    def runTest(self) -> None:
        self.client_aborts()


class _TeardownTest(SessionTest):
    """Base: an established session, then segments whose states are checked."""

    def established(self, slot: int) -> Conn:
        c = self.new_conn(slot, ISN, RS_ISN, TS_BASE)
        self.establish(c)
        return c

    def client_says(self, c: Conn, flags: str, state: str | None, sent: int = 0,
                    acked: int = 0) -> None:
        """A translated client segment; `state`: the change it reports (None: none)."""
        pkt = c.client(flags, data_sent=sent, data_acked=acked)
        self.send(CLIENT_PORT, pkt)
        self.expect(SERVER_PORT, translated_c2s(pkt, c.delta, c.tsoff))
        self.expect_state_event(c, state)

    def server_says(self, c: Conn, flags: str, state: str | None, sent: int = 0,
                    acked: int = 0) -> None:
        pkt = c.server(flags, data_sent=sent, data_acked=acked)
        self.send(SERVER_PORT, pkt)
        self.expect(CLIENT_PORT, translated_s2c(pkt, c.delta, c.tsoff))
        self.expect_state_event(c, state)

    def expect_state_event(self, c: Conn, state: str | None) -> None:
        if state is None:
            self.assert_no_digest()
        else:
            self.assertEqual(self.get_digest(EVENT_DIGEST),
                             self.session_event(c, "STATE", state=state))


@group("teardown")
class ClientClosesFirstTest(_TeardownTest):
    """ESTABLISHED -client FIN-> FIN_WAIT -server FIN-> LAST_ACK -ACK-> TIME_WAIT,
    every segment translated and forwarded."""

    def runTest(self) -> None:
        c = self.established(62)
        self.client_says(c, "A", None)  # no change, no digest
        self.client_says(c, "FA", "FIN_WAIT")
        self.server_says(c, "FA", "LAST_ACK", acked=1)
        self.client_says(c, "A", "TIME_WAIT", sent=1, acked=1)
        self.expect_nothing()


@group("teardown")
class ServerClosesFirstTest(_TeardownTest):
    """ESTABLISHED -server FIN-> CLOSE_WAIT -client FIN-> LAST_ACK."""

    def runTest(self) -> None:
        c = self.established(63)
        self.server_says(c, "FA", "CLOSE_WAIT")
        self.client_says(c, "FA", "LAST_ACK", acked=1)
        self.expect_nothing()


@group("teardown")
class ClientRstClosesTest(_TeardownTest):
    """A client RST on an established session: forwarded (translated), CLOSE."""

    def runTest(self) -> None:
        c = self.established(64)
        self.client_says(c, "RA", "CLOSE")
        self.expect_nothing()


@group("teardown")
class ServerRstClosesTest(_TeardownTest):
    """A server RST on an established session: forwarded (translated), CLOSE."""

    def runTest(self) -> None:
        c = self.established(65)
        self.server_says(c, "R", "CLOSE")
        self.expect_nothing()


@group("teardown")
class ReuseAfterCloseTest(_TeardownTest):
    """C5: on a 4-tuple whose session is in TIME_WAIT a new SYN gets a cookie, and
    its valid ACK is reported with old_slot/old_state (REUSE_ACK) rather than
    forwarded; an ACK of the old connection is still translated."""

    def runTest(self) -> None:
        c = self.established(66)
        self.client_says(c, "FA", "FIN_WAIT")
        self.server_says(c, "FA", "LAST_ACK", acked=1)
        self.client_says(c, "A", "TIME_WAIT", sent=1, acked=1)
        syn = client_tcp("S", 424242, options=client_syn_options(1460, 7, True, None))
        cookie = self.synack_for(syn, encode_options(1460, 7, True, False))[TCP].seq
        self.send(CLIENT_PORT, client_tcp("A", 424243, u32(cookie + 1)))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["client_isn"], d["cookie"], d["old_slot"], d["old_state"]),
                         (424242, cookie, 66, SESSION["TIME_WAIT"]))
        self.client_says(c, "A", None, sent=1, acked=1)  # still TIME_WAIT
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 4, "TRANSLATED_S2C": 1,
                            "SESSION_ESTABLISHED": 1, "SYN_IN": 1, "SYNACK_SENT": 1,
                            "REUSE_ACK": 1})


@group("generation")
class FreedAfterAbortReinstalledTest(_ClientAbortTest):
    """Free = delete the entries (no register is touched): a slot the client's RST
    left in CLOSE, installed again with another gen, does not inherit the closed
    state; the server handshake establishes it under the new gen."""

    flags = "R"

    def runTest(self) -> None:
        old = self.client_aborts()
        self.free(old)
        new = self.new_conn(61, u32(ISN + 0x1000), RS_ISN, TS_BASE)
        self.establish(new)
        self.assertNotEqual(new.gen, old.gen)
        self.expect_nothing()
        self.assert_events({"CLIENT_ABORT": 1, "TRANSLATED_C2S": 1,
                            "SESSION_ESTABLISHED": 1})


@group("teardown")
class ServerClosesClientResetsTest(_TeardownTest):
    """ESTABLISHED -server FIN-> CLOSE_WAIT -client RST-> CLOSE, both forwarded
    (translated); each digest names the client's address and port, whichever side
    sent the segment."""

    def runTest(self) -> None:
        c = self.established(67)
        self.server_says(c, "FA", "CLOSE_WAIT")
        self.client_says(c, "RA", "CLOSE", acked=1)
        self.expect_nothing()


# D13: the same resets and state tracking over IPv6.
globals().update(ipv6_variants(
    ServerRstDuringHandshakeTest, ClientRstDuringHandshakeTest, ClientFinDuringHandshakeTest,
    ClientClosesFirstTest, ServerClosesFirstTest, ClientRstClosesTest, ServerRstClosesTest,
    ReuseAfterCloseTest, FreedAfterAbortReinstalledTest, ServerClosesClientResetsTest))
