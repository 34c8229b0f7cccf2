# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- pending        (TARGET=bmv2 for bmv2)
"""Pending handshakes (C4): when the controller lags, the later segments of a
client's request reach the switch before its session exists. They carry
seq != ISN + 1, so the cookie check alone would refuse them; the pending-handshake
entry left by the validated ACK vouches for them (digest with the real ISN,
PacketIn COOKIE_DATA, EARLY_DATA counted). Forged ones are still refused, and the
server SYN/ACK that establishes the session clears the entry."""

from __future__ import annotations

import struct

from crc_collisions import crc16_arc
from ptf.testutils import group
from scapy.layers.inet import TCP
from scapy.packet import Packet
from synproxy_base import COOKIE_DIGEST, EVENT_DIGEST, ipv6_variants
from synproxy_packets import (
    CLIENT_PORT,
    CLIENT_SPORT,
    PENDING_SIZE,
    PUNT_COOKIE_DATA,
    PUNT_EARLY_DATA,
    SERVER_PORT,
    SERVICE_ID,
    SESSION,
    SVC_DEFER,
    SVC_TS,
    SVC_WSCALE,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    encode_options,
    family,
    ip2int,
    option_value,
    pending_slot,
    ts_option,
    u32,
)
from synproxy_session import Conn, SessionTest, translated_c2s

ISN = 0xFFFFFFF8  # the request's sequence numbers wrap around 2^32
REQUEST = (b"POST /upload HTTP/1.1\r\n", b"Content-Length: 10\r\n\r\n", b"0123456789")


def cookie_digest(isn: int, cookie: int, tsecr: int, *, window: int, tsval: int,
                  has_payload: int, sport: int = CLIENT_SPORT, old_slot: int = 0,
                  old_state: int = 0) -> dict[str, int]:
    """cookie_ack_digest_t (or its _v6 twin) as p4src/README.md documents it, for a
    handshake whose SYN offered MSS 1460, window scale 7, SACK and timestamps."""
    return {"client_addr": ip2int(family().client_ip), "vip_addr": ip2int(family().vip),
            "client_port": sport, "vip_port": VPORT, "client_isn": u32(isn),
            "cookie": cookie, "mss": family().mss_table[3],
            "wscale": 7, "sack_ok": 1, "ts_ok": 1, "has_payload": has_payload, "_pad0": 0,
            "client_window": window, "client_tsval": tsval, "client_tsecr": tsecr,
            "ingress_port": CLIENT_PORT, "service_id": SERVICE_ID, "old_slot": old_slot,
            "old_state": old_state}


class PendingTest(SessionTest):
    """A handshake up to the client's ACK, with no session installed."""

    def syn(self, isn: int = ISN, sport: int = CLIENT_SPORT) -> tuple[int, int]:
        """SYN and the exact SYN/ACK; (cookie, TSval)."""
        syn = client_tcp("S", isn, sport=sport, options=client_syn_options(1460, 7, True, 50))
        synack = self.synack_for(syn, encode_options(1460, 7, True, True))
        return synack[TCP].seq, option_value(synack, "Timestamp")[0]

    def handshake(self, isn: int = ISN, sport: int = CLIENT_SPORT) -> tuple[int, int]:
        """SYN, the exact SYN/ACK, the client's ACK and its digest; (cookie, TSval)."""
        cookie, our_ts = self.syn(isn, sport)
        self.send(CLIENT_PORT, client_tcp("A", u32(isn + 1), u32(cookie + 1), sport=sport,
                                          window=502, options=ts_option(51, our_ts)))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            isn, cookie, our_ts, window=502, tsval=51, has_payload=0, sport=sport))
        return cookie, our_ts

    def later(self, cookie: int, our_ts: int, offset: int, payload: bytes, *,
              sport: int = CLIENT_SPORT, tsval: int = 60) -> Packet:
        """A data segment `offset` bytes into the request, acking our SYN/ACK."""
        return client_tcp("PA", u32(ISN + 1 + offset), u32(cookie + 1), sport=sport,
                          window=502, options=ts_option(tsval, our_ts), payload=payload)

    def assert_punted(self, seg: Packet, cookie: int, our_ts: int, *, tsval: int = 60,
                      sport: int = CLIENT_SPORT) -> None:
        """The segment comes to the controller untouched (PacketIn COOKIE_DATA, slot
        0) with a digest carrying the handshake's ISN (not seq - 1)."""
        meta, frame = self.get_packet_in()
        self.assertEqual(meta, {"ingress_port": CLIENT_PORT, "_pad0": 0,
                                "reason": PUNT_COOKIE_DATA, "slot": 0})
        self.assertEqual(frame, bytes(seg))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            ISN, cookie, our_ts, window=502, tsval=tsval, has_payload=1, sport=sport))


@group("pending")
class PendingSegmentsValidatedTest(PendingTest):
    """ACK, then three data segments at increasing seq before any session: each is
    punted untouched (PacketIn COOKIE_DATA, slot 0) with a digest carrying the real
    ISN, the segment's own window and TSval; none is ACK_INVALID."""

    def runTest(self) -> None:
        cookie, our_ts = self.handshake()
        sent = 0
        for i, chunk in enumerate(REQUEST):
            seg = client_tcp("PA", u32(ISN + 1 + sent), u32(cookie + 1), window=510 + i,
                             options=ts_option(52 + i, our_ts), payload=chunk)
            self.send(CLIENT_PORT, seg)
            meta, frame = self.get_packet_in()
            self.assertEqual(meta, {"ingress_port": CLIENT_PORT, "_pad0": 0,
                                    "reason": PUNT_COOKIE_DATA, "slot": 0})
            self.assertEqual(frame, bytes(seg))
            self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
                ISN, cookie, our_ts, window=510 + i, tsval=52 + i, has_payload=1))
            sent += len(chunk)
        self.expect_nothing()
        # The first segment passes the cookie check itself (ACK_VALID, as ever); the
        # two after it only the pending entry vouches for (EARLY_DATA).
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 2, "EARLY_DATA": 2})
        index, flow = pending_slot(client_tcp("A", 0))
        if self.registers_readable:
            self.assertEqual(self.pending_tuple(index), flow)
            self.assertEqual(self.read_register("pending_cookie", index), cookie)
            self.assertEqual(self.read_register("pending_isn", index), ISN)


@group("pending")
class PendingForgedAckRejectedTest(PendingTest):
    """The flow is pending (the entry is its own) but ack - 1 is not its cookie: the
    segment is a bad cookie, dropped, with no digest and no PacketIn."""

    def runTest(self) -> None:
        cookie, our_ts = self.handshake()
        for forged in (cookie + 1, cookie ^ 0x80000000, cookie ^ 0x100):
            self.send(CLIENT_PORT, client_tcp("PA", u32(ISN + 100), u32(forged + 1),
                                              options=ts_option(60, our_ts), payload=b"evil"))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1, "ACK_INVALID": 3})
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


@group("pending")
class PendingOtherFlowRejectedTest(PendingTest):
    """The right cookie from another client port: not that flow's entry, and not a
    cookie of that flow either."""

    def runTest(self) -> None:
        cookie, our_ts = self.handshake()
        self.send(CLIENT_PORT, client_tcp("PA", u32(ISN + 100), u32(cookie + 1),
                                          sport=CLIENT_SPORT + 1,
                                          options=ts_option(60, our_ts), payload=b"other"))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1, "ACK_INVALID": 1})
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


@group("pending")
class PendingClearedAtServerSynAckTest(PendingTest):
    """The session is installed from the digest and established by the server's
    SYN/ACK, which empties the pending slot. When the connection closes, a late
    segment still acknowledging only our SYN/ACK is translated to the server like
    any segment of it, not reported as a new connection (no REUSE_ACK, no digest
    beyond the FIN's state change)."""

    def runTest(self) -> None:
        cookie, our_ts = self.handshake()
        index, flow = pending_slot(client_tcp("A", 0))
        if self.registers_readable:
            self.assertEqual(self.pending_tuple(index), flow)
            self.assertNotEqual(self.read_register("pending_since", index), 0)
        c = Conn(slot=31, isn=ISN, cookie=cookie, rs_isn=0x40000000, ts_base=our_ts,
                 client_tsval=51, server_tsval=9)
        self.establish(c)
        if self.registers_readable:
            self.assertEqual(self.read_register("pending_since", index), 0)  # emptied
        fin = c.client("FA", data_sent=40, options=ts_option(69, our_ts))
        self.send(CLIENT_PORT, fin)
        self.expect(SERVER_PORT, translated_c2s(fin, c.delta, c.tsoff))
        self.assertEqual(self.get_digest(EVENT_DIGEST),
                         self.session_event(c, "STATE", state="FIN_WAIT"))
        late = c.client("A", data_sent=40, options=ts_option(70, our_ts))
        self.send(CLIENT_PORT, late)
        self.expect(SERVER_PORT, translated_c2s(late, c.delta, c.tsoff))
        self.assert_no_digest()
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1,
                            "TRANSLATED_C2S": 3, "SESSION_ESTABLISHED": 1})


@group("pending")
class PendingReuseSegmentsTest(PendingTest):
    """C5 with C4: a new connection on a closing session's 4-tuple; its ACK and its
    second data segment (before the controller restarted the session) are both
    reported with old_slot/old_state and the new connection's ISN."""

    def runTest(self) -> None:
        old = self.new_conn(32, 0x1000, 0x2000, 0x3000)
        self.establish(old)
        rst = old.client("RA")   # the old connection ends: its session goes to CLOSE
        self.send(CLIENT_PORT, rst)
        self.expect(SERVER_PORT, translated_c2s(rst, old.delta, old.tsoff))
        self.assertEqual(self.get_digest(EVENT_DIGEST),
                         self.session_event(old, "STATE", state="CLOSE"))
        syn = client_tcp("S", ISN, options=client_syn_options(1460, 7, True, 50))
        synack = self.synack_for(syn, encode_options(1460, 7, True, True))
        cookie, our_ts = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        self.send(CLIENT_PORT, client_tcp("A", u32(ISN + 1), u32(cookie + 1), window=502,
                                          options=ts_option(51, our_ts)))
        closed = SESSION["CLOSE"]
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            ISN, cookie, our_ts, window=502, tsval=51, has_payload=0, old_slot=32,
            old_state=closed))
        seg = client_tcp("PA", u32(ISN + 1 + 20), u32(cookie + 1), window=502,
                         options=ts_option(52, our_ts), payload=b"second")
        self.send(CLIENT_PORT, seg)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], meta["slot"], frame),
                         (PUNT_COOKIE_DATA, 0, bytes(seg)))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            ISN, cookie, our_ts, window=502, tsval=52, has_payload=1, old_slot=32,
            old_state=closed))
        self.expect_nothing()
        # The old connection: its server SYN and its RST translated, its SYN/ACK.
        self.assert_events({"TRANSLATED_C2S": 2, "SESSION_ESTABLISHED": 1,
                            "SYN_IN": 1, "SYNACK_SENT": 1, "REUSE_ACK": 1, "EARLY_DATA": 1})


@group("pending")
class PendingDataFirstTest(PendingTest):
    """No pure ACK (it was lost): the first data segment passes the cookie check
    itself (ACK_VALID), the next one the pending entry it left (EARLY_DATA); both
    are reported with the real ISN."""

    def runTest(self) -> None:
        cookie, our_ts = self.syn()
        for i, (offset, chunk) in enumerate(((0, b"abcd"), (4, b"efgh"))):
            seg = self.later(cookie, our_ts, offset, chunk, tsval=60 + i)
            self.send(CLIENT_PORT, seg)
            self.assert_punted(seg, cookie, our_ts, tsval=60 + i)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1, "EARLY_DATA": 1})


@group("pending")
class PendingNeedsAValidatedAckTest(PendingTest):
    """A later segment (seq != ISN + 1) of a handshake whose ACK never came: no
    pending entry vouches for it, and the cookie check refuses it. On a port of its
    own: on bmv2 the registers outlive a test, and an earlier test's entry for the
    default tuple (same ISN, so the same cookie) may still be within its lifetime."""

    sport = CLIENT_SPORT + 50

    def runTest(self) -> None:
        cookie, our_ts = self.syn(sport=self.sport)
        self.send(CLIENT_PORT, self.later(cookie, our_ts, 4, b"efgh", sport=self.sport))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_INVALID": 1})
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


@group("pending")
class PendingDeferredAckKeepsItsEntryTest(PendingTest):
    """Defer on: the valid pure ACK is dropped without a digest (DROP_DEFER) but
    leaves its pending entry, so a later data segment is validated through it."""

    service = ServiceSettings(flags=SVC_TS | SVC_WSCALE | SVC_DEFER, window=64240)

    def runTest(self) -> None:
        syn = client_tcp("S", ISN, options=client_syn_options(1460, 7, True, 50))
        synack = self.synack_for(syn, encode_options(1460, 7, False, True))
        cookie, our_ts = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        self.send(CLIENT_PORT, client_tcp("A", u32(ISN + 1), u32(cookie + 1), window=502,
                                          options=ts_option(51, our_ts)))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "DROP_DEFER": 1})
        self.assert_no_digest()
        seg = self.later(cookie, our_ts, 100, b"second")
        self.send(CLIENT_PORT, seg)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], meta["slot"], frame),
                         (PUNT_COOKIE_DATA, 0, bytes(seg)))
        d = self.get_digest(COOKIE_DIGEST)
        self.assertEqual((d["client_isn"], d["cookie"], d["has_payload"]), (ISN, cookie, 1))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "DROP_DEFER": 1,
                            "EARLY_DATA": 1})


def colliding_port(sport: int) -> int:
    """Another client port whose flow has the same pending-handshake slot (the
    index of `pending_slot`: crc16 over client, VIP and ports, computed here in bulk;
    IPv6: over the full addresses)."""
    addr_bytes = 16 if family().version == 6 else 4
    prefix = (ip2int(family().client_ip).to_bytes(addr_bytes, "big")
              + ip2int(family().vip).to_bytes(addr_bytes, "big"))

    def index(port: int) -> int:
        return crc16_arc(prefix + struct.pack("!HH", port, VPORT)) % PENDING_SIZE

    mine = index(sport)
    assert mine == pending_slot(client_tcp("A", 0, sport=sport))[0]
    return next(p for p in range(1024, 65536) if p != sport and index(p) == mine)


@group("pending")
class PendingSlotTakenOverTest(PendingTest):
    """Two handshakes whose flows share a slot: the later ACK owns it; the earlier
    flow's later segments then need the cookie check (and fail it), as without C4."""

    def runTest(self) -> None:
        other = colliding_port(CLIENT_SPORT)
        cookie_a, ts_a = self.handshake()
        cookie_b, ts_b = self.handshake(sport=other)
        seg_b = self.later(cookie_b, ts_b, 4, b"b2", sport=other)
        self.send(CLIENT_PORT, seg_b)
        self.assert_punted(seg_b, cookie_b, ts_b, sport=other)
        self.send(CLIENT_PORT, self.later(cookie_a, ts_a, 4, b"a2"))
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 2, "ACK_VALID": 2, "EARLY_DATA": 1,
                            "ACK_INVALID": 1})
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


@group("pending")
class PendingThenSessionInstalledTest(PendingTest):
    """Once the session exists the pending entry plays no part: in SYN_SENT a later
    segment is EARLY_DATA with the session's slot, and no new digest."""

    def runTest(self) -> None:
        cookie, our_ts = self.handshake()
        c = Conn(slot=33, isn=ISN, cookie=cookie, rs_isn=0x40000000, ts_base=our_ts,
                 client_tsval=51)
        self.install(c)
        seg = self.later(cookie, our_ts, 4, b"more")
        self.send(CLIENT_PORT, seg)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], meta["slot"], frame),
                         (PUNT_EARLY_DATA, 33, bytes(seg)))
        self.assert_no_digest()
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1, "EARLY_DATA": 1})


# D13: the same pending memory over IPv6 (pending_client6/vip6 hold the tuple).
globals().update(ipv6_variants(
    PendingSegmentsValidatedTest, PendingForgedAckRejectedTest, PendingOtherFlowRejectedTest,
    PendingClearedAtServerSynAckTest, PendingReuseSegmentsTest, PendingDataFirstTest,
    PendingNeedsAValidatedAckTest, PendingDeferredAckKeepsItsEntryTest,
    PendingSlotTakenOverTest, PendingThenSessionInstalledTest))
