# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- ack_check      (TARGET=bmv2 for bmv2)
"""The ACK check (D5, C7): a valid cookie ACK yields a digest with exactly the
documented fields and nothing on the wire; cookies of the previous epoch pass, of
two epochs ago, forged or random do not; defer mode waits for data."""

from __future__ import annotations

import random

from ptf.testutils import group
from scapy.layers.inet import TCP
from synproxy_base import COOKIE_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_PORT,
    CLIENT_SPORT,
    EPOCH,
    KEY,
    PREV_EPOCH,
    PREV_KEY,
    PUNT_COOKIE_DATA,
    SERVICE_ID,
    SVC_DEFER,
    SVC_TS,
    SVC_WSCALE,
    VPORT,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    cookie_for,
    encode_options,
    family,
    flow_of,
    ip2int,
    option_value,
    ts_option,
    u32,
)

from controller import p4consts
from controller.cookie import check_cookie, mss_index

ROTATED_KEY = 0x1badb002cafef00d
OLDEST_KEY = 0x0123456789ABCDEF


def cookie_digest(isn: int, cookie: int, *, mss: int | None = None,
                  wscale: int = p4consts.COOKIE_WSCALE_NONE,
                  sack_ok: int = 0, ts_ok: int = 0, has_payload: int = 0, window: int = 64240,
                  tsval: int = 0, tsecr: int = 0, sport: int = CLIENT_SPORT) -> dict[str, int]:
    """cookie_ack_digest_t (or its _v6 twin) as p4src/README.md documents it, field
    by field; `mss` defaults to the family's largest table value."""
    mss = family().mss_table[3] if mss is None else mss
    return {"client_addr": ip2int(family().client_ip), "vip_addr": ip2int(family().vip),
            "client_port": sport,
            "vip_port": VPORT, "client_isn": u32(isn), "cookie": cookie, "mss": mss,
            "wscale": wscale, "sack_ok": sack_ok, "ts_ok": ts_ok, "has_payload": has_payload,
            "_pad0": 0, "client_window": window, "client_tsval": tsval, "client_tsecr": tsecr,
            "ingress_port": CLIENT_PORT, "service_id": SERVICE_ID, "old_slot": 0,
            "old_state": 0}


def ack_for(isn: int, cookie: int, **kwargs) -> object:  # client_tcp's
    """The client's ACK of our SYN/ACK: seq = isn + 1, ack = cookie + 1."""
    return client_tcp("A", u32(isn + 1), u32(cookie + 1), **kwargs)


@group("ack")
class ValidCookieAckDigestTest(SynproxyTest):
    """SYN, SYN/ACK, then the client's ACK: consumed (nothing on the wire) and
    reported in one digest whose every field is the documented one."""

    def runTest(self) -> None:
        isn = 0xDEADBEEF
        syn = client_tcp("S", isn, options=client_syn_options(1460, 7, True, 777))
        synack = self.synack_for(syn, encode_options(1460, 7, True, True))
        cookie, our_tsval = synack[TCP].seq, option_value(synack, "Timestamp")[0]
        self.send(CLIENT_PORT, ack_for(isn, cookie, window=502,
                                       options=ts_option(800, our_tsval)))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            isn, cookie, wscale=7, sack_ok=1, ts_ok=1, window=502, tsval=800,
            tsecr=our_tsval))
        self.expect_nothing()
        self.assert_no_packet_in()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1})


@group("ack")
class CookieOptionsDecodedInDigestTest(SynproxyTest):
    """The digest's mss/wscale/sack_ok/ts_ok are decoded from the cookie alone: an
    ACK without options still reports what the SYN negotiated."""

    def runTest(self) -> None:
        cases = [(None, None, False, None), (1300, 0, True, None), (1440, 14, False, 5),
                 (600, 3, True, 9)]
        for i, (mss, ws, sack, tsval) in enumerate(cases):
            isn, sport = 0x1000 * i, 46000 + i
            syn = client_tcp("S", isn, sport=sport, options=client_syn_options(mss, ws, sack,
                                                                               tsval))
            opts = encode_options(mss, ws, sack, tsval is not None)
            cookie = self.synack_for(syn, opts)[TCP].seq
            self.send(CLIENT_PORT, ack_for(isn, cookie, sport=sport))
            table = family().mss_table
            table_mss = table[mss_index(mss, table)]
            self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
                isn, cookie, mss=table_mss, wscale=p4consts.COOKIE_WSCALE_NONE if ws is None else ws,
                sack_ok=int(sack), ts_ok=int(tsval is not None), sport=sport))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 4, "SYNACK_SENT": 4, "ACK_VALID": 4})


@group("ack")
class PreviousEpochAcceptedTest(SynproxyTest):
    """C7: a handshake in flight survives one key rotation (new key, epoch + 1, the
    old pair kept as previous)."""

    def runTest(self) -> None:
        syn = client_tcp("S", 4242, options=client_syn_options(1460, None, False, None))
        cookie = self.synack_for(syn, encode_options(1460, None, False, False))[TCP].seq
        self.set_keys(key=ROTATED_KEY, epoch=EPOCH + 1, prev_key=KEY, prev_epoch=EPOCH)
        self.send(CLIENT_PORT, ack_for(4242, cookie))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(4242, cookie))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1})


@group("ack")
class TwoEpochsAgoRejectedTest(SynproxyTest):
    """A cookie minted two rotations ago is refused, dropped and counted; a cookie
    of the key before (PREV_KEY, PREV_EPOCH) is refused once it has rotated out."""

    def runTest(self) -> None:
        # Not the ISN of the test above: on bmv2 (no register access to clean up) its
        # validated ACK leaves a pending entry (C4) for this flow and that cookie.
        syn = client_tcp("S", 4343, options=client_syn_options(1460, None, False, None))
        cookie = self.synack_for(syn, encode_options(1460, None, False, False))[TCP].seq
        self.set_keys(key=ROTATED_KEY, epoch=EPOCH + 1, prev_key=KEY, prev_epoch=EPOCH)
        self.set_keys(key=OLDEST_KEY, epoch=EPOCH + 2, prev_key=ROTATED_KEY,
                      prev_epoch=EPOCH + 1)
        self.send(CLIENT_PORT, ack_for(4343, cookie))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_INVALID": 1})
        self.assert_no_digest()
        self.expect_nothing()


@group("ack")
class PreviousKeyCookieAcceptedTest(SynproxyTest):
    """A cookie of the configured previous pair (PREV_KEY, PREV_EPOCH), minted by
    the reference, validates: E selects the pair."""

    def runTest(self) -> None:
        syn = client_tcp("S", 99)
        opts = encode_options(1300, 2, True, False)
        cookie = cookie_for(syn, opts, key=PREV_KEY, epoch=PREV_EPOCH)
        self.send(CLIENT_PORT, ack_for(99, cookie))
        self.assertEqual(self.get_digest(COOKIE_DIGEST),
                         cookie_digest(99, cookie, mss=1300, wscale=2, sack_ok=1))
        self.expect_nothing()
        self.assert_events({"ACK_VALID": 1})


@group("ack")
class ForgedAckRejectedTest(SynproxyTest):
    """Cookies that are almost right are refused: a flipped MAC bit, E bit or
    OPTS bit, another key, another flow's or ISN's cookie."""

    def runTest(self) -> None:
        syn = client_tcp("S", 5000)
        opts = encode_options(1460, 7, True, True)
        good = cookie_for(syn, opts)
        forged = [good ^ 0x80000000, good ^ 0x00000200, good ^ 0x100, good ^ 0x01, good ^ 0x40,
                  good ^ 0x3C, cookie_for(syn, opts, key=KEY ^ 1),
                  cookie_for(client_tcp("S", 5001), opts),
                  cookie_for(client_tcp("S", 5000, sport=CLIENT_SPORT + 1), opts)]
        keys = [(KEY, EPOCH), (PREV_KEY, PREV_EPOCH)]
        for cookie in forged:
            self.assertIsNone(check_cookie(keys, flow_of(syn), 5000, cookie))
            self.send(CLIENT_PORT, ack_for(5000, cookie))
        self.assert_events({"ACK_INVALID": len(forged)})
        self.assert_no_digest()
        self.expect_nothing()


@group("ack")
class RandomAckFloodTest(SynproxyTest):
    """1000 random ACKs to the VIP (random source port, seq, ack): none accepted,
    nothing out, no digest, ACK_INVALID counted 1000 times."""

    def runTest(self) -> None:
        rng = random.Random(0x5EED)
        keys = [(KEY, EPOCH), (PREV_KEY, PREV_EPOCH)]
        pkts = []
        for _ in range(1000):
            sport, seq, ack = rng.randrange(1024, 65536), rng.getrandbits(32), rng.getrandbits(32)
            pkt = client_tcp("A", seq, ack, sport=sport)
            # The reference agrees that none of them is a cookie (so the test means it).
            self.assertIsNone(check_cookie(keys, flow_of(pkt), u32(seq - 1), u32(ack - 1)))
            pkts.append(pkt)
        self.send_and_drain(CLIENT_PORT, pkts, "ACK_INVALID")
        self.assert_events({"ACK_INVALID": 1000})
        self.assert_no_digest()
        self.assert_no_packet_in()
        self.expect_nothing()


@group("ack")
class AckWithDataDigestAndPacketInTest(SynproxyTest):
    """A valid cookie ACK carrying data: digest (has_payload 1) and the segment,
    untouched, to the controller as PacketIn COOKIE_DATA (C4)."""

    def runTest(self) -> None:
        syn = client_tcp("S", 10, options=client_syn_options(1460, None, False, None))
        cookie = self.synack_for(syn, encode_options(1460, None, False, False))[TCP].seq
        ack = ack_for(10, cookie, payload=b"GET / HTTP/1.0\r\n\r\n")
        self.send(CLIENT_PORT, ack)
        meta, frame = self.get_packet_in()
        self.assertEqual(meta, {"ingress_port": CLIENT_PORT, "_pad0": 0,
                                "reason": PUNT_COOKIE_DATA, "slot": 0})
        self.assertEqual(frame, bytes(ack))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(10, cookie,
                                                                       has_payload=1))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1})


class _DeferTest(SynproxyTest):
    """Base (no runTest): the service defers (no SACK, so none in the cookie)."""

    service = ServiceSettings(flags=SVC_TS | SVC_WSCALE | SVC_DEFER, window=64240)

    def handshake_start(self) -> tuple[int, int]:
        """SYN (ISN 77) and the exact SYN/ACK; returns (cookie, our TSval)."""
        syn = client_tcp("S", 77, options=client_syn_options(1460, 7, False, 3))
        synack = self.synack_for(syn, encode_options(1460, 7, False, True))
        self.assertEqual(synack[TCP].window, 64240)  # defer needs the client to talk
        return synack[TCP].seq, option_value(synack, "Timestamp")[0]


@group("ack")
class DeferPureAckDroppedTest(_DeferTest):
    """Defer on: a valid pure ACK is dropped without a digest (DROP_DEFER)."""

    def runTest(self) -> None:
        cookie, tsecr = self.handshake_start()
        self.send(CLIENT_PORT, ack_for(77, cookie, options=ts_option(4, tsecr)))
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "DROP_DEFER": 1})
        self.assert_no_digest()
        self.expect_nothing()


@group("ack")
class DeferDataAckDigestAndPacketInTest(_DeferTest):
    """Defer on: the first ACK with data yields the digest and the PacketIn."""

    def runTest(self) -> None:
        cookie, tsecr = self.handshake_start()
        data = ack_for(77, cookie, options=ts_option(4, tsecr), payload=b"hello")
        self.send(CLIENT_PORT, data)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], meta["ingress_port"], frame),
                         (PUNT_COOKIE_DATA, CLIENT_PORT, bytes(data)))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(
            77, cookie, wscale=7, ts_ok=1, has_payload=1, tsval=4, tsecr=tsecr))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1})


@group("ack")
class RotationMintsNewEpochTest(SynproxyTest):
    """After a rotation, SYN/ACKs carry cookies of the new key and epoch (E bit
    flipped), and those validate."""

    def runTest(self) -> None:
        self.set_keys(key=ROTATED_KEY, epoch=EPOCH + 1, prev_key=KEY, prev_epoch=EPOCH)
        syn = client_tcp("S", 31, options=client_syn_options(1460, None, False, None))
        cookie = self.synack_for(syn, encode_options(1460, None, False, False),
                                 key=ROTATED_KEY, epoch=EPOCH + 1)[TCP].seq
        self.assertEqual((cookie >> 8) & 1, (EPOCH + 1) & 1)
        self.send(CLIENT_PORT, ack_for(31, cookie))
        self.assertEqual(self.get_digest(COOKIE_DIGEST), cookie_digest(31, cookie))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1, "ACK_VALID": 1})


# D13: the same checks over IPv6 (cookie over the full addresses, _v6 digest).
globals().update(ipv6_variants(
    ValidCookieAckDigestTest, CookieOptionsDecodedInDigestTest, PreviousEpochAcceptedTest,
    TwoEpochsAgoRejectedTest, PreviousKeyCookieAcceptedTest, ForgedAckRejectedTest,
    AckWithDataDigestAndPacketInTest, DeferPureAckDroppedTest,
    DeferDataAckDigestAndPacketInTest, RotationMintsNewEpochTest))
