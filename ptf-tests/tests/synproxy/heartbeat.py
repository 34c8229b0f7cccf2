# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- heartbeat   (TARGET=bmv2 for bmv2)
"""The controller-down policy (control/heartbeat.p4): the `controller_heartbeat`
default action carries the controller's instance, its clock (the beat, ticks of
1.024 ms) and the allowed silence; past it, a fail-open service is not proxied (its
SYNs routed as in mode off, NAT services through their buckets) and a fail-closed
one answers the cookie-validated ACK with a RST; sessions keep working in both;
a fresh beat brings proxying back. The controller's silence is made with p4sim's
test clock, or, on a target without one, by waiting past a limit of 200 ticks."""

from __future__ import annotations

import itertools
import random
import time

from nat_passthrough import NatTest, bucket_of, server_of, to_server
from ptf.testutils import group
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from synproxy_base import COOKIE_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_PORT,
    OTHER_MAC,
    OTHER_PORT,
    ROUTER_MAC,
    SERVER_PORT,
    SVC_SACK,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    family,
    fresh,
    option_value,
    routed,
    ts_option,
    u32,
)
from synproxy_session import SessionTest, translated_c2s, translated_s2c

from controller import p4consts
from controller.cookie import encode_options

SVC_NAT, SVC_FAIL_CLOSED = p4consts.SVC_FLAG_NAT, p4consts.SVC_FLAG_FAIL_CLOSED
FLAGS = SVC_SACK | SVC_TS | SVC_WSCALE
OPTS = encode_options(1460, 7, True, True)
TICK_US = 1024
# One instance per test: a new instance is taken afresh by the switch, so no test sees
# the offset an earlier one left in the registers.
_instances = itertools.count(random.randrange(1, 1 << 30))


class HeartbeatTest(SynproxyTest):
    """A heartbeat with a limit of LIMIT ticks; `beat(t)` writes the controller's clock
    t ticks after the first beat, `silence()` moves the switch's clock (or waits)
    past the limit."""

    service = ServiceSettings(flags=FLAGS)

    def setUp(self) -> None:
        super().setUp()
        self.test_clock = self.target == "p4sim" and bool(self._clock_file())
        # With the test clock a limit far above the test's own running time; without
        # it, a fifth of a second, waited out (a step that must find the controller
        # alive writes a fresh beat first: beat_now).
        self.limit = 1000 if self.test_clock else 200
        self.instance = next(_instances) & 0xFFFFFFFF
        self.base = random.randrange(1 << 32)
        self.started = time.monotonic()
        self.advanced = 0  # ticks the test clock was moved on
        self.beat(0)

    def _clock_file(self) -> str:
        import ptf.testutils as tu
        return tu.test_param_get("clock_file") or ""

    def beat(self, ticks: int, instance: int | None = None) -> None:
        self.set_default("controller_heartbeat", "set_heartbeat", {
            "instance": self.instance if instance is None else instance,
            "beat": u32(self.base + ticks), "limit": self.limit})

    def silence(self, limits: int = 3) -> None:
        """The switch's clock past `limits` times the limit."""
        ticks = limits * self.limit
        if self.test_clock:
            self.advance_clock(ticks * TICK_US)
            self.advanced += ticks
        else:
            time.sleep(ticks * TICK_US / 1e6 + 0.05)

    def beat_now(self) -> None:
        """A beat as a live controller writes it: its clock now (the time the test ran,
        plus what the test clock was moved), so the switch finds it fresh."""
        elapsed = int((time.monotonic() - self.started) * 1e6) // TICK_US
        self.beat(elapsed + self.advanced)

    def handshake_ack(self, isn: int, sport: int) -> tuple[Ether, Ether]:
        """SYN (its SYN/ACK checked byte for byte), then the client's valid ACK."""
        syn = client_tcp("S", isn, sport=sport, options=client_syn_options(1460, 7, True, 77))
        synack = self.synack_for(syn, OPTS)
        ack = client_tcp("A", u32(isn + 1), u32(synack[TCP].seq + 1), sport=sport,
                         options=ts_option(78, option_value(synack, "Timestamp")[0]))
        return synack, ack


def refusal(ack: Ether, ttl: int = 64) -> Ether:
    """The fail-closed answer to a validated ACK: a RST from the VIP back out of the
    client's port, seq = the ACK's ack, no ACK, window 0, no options."""
    ip: Packet
    if IPv6 in ack:  # D13: hop limit for TTL, flow label 0, no ECN
        ip = IPv6(src=family().vip, dst=ack[IPv6].src, hlim=ttl, fl=0, tc=0)
    else:
        ip = IP(src=VIP, dst=ack[IP].src, ttl=ttl, id=0, flags="DF")
    return fresh(Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ip
                 / TCP(sport=ack[TCP].dport, dport=ack[TCP].sport, flags="R",
                       seq=ack[TCP].ack, ack=0, window=0))


@group("heartbeat")
class FreshHeartbeatProxiesTest(HeartbeatTest):
    """A heartbeat within its limit changes nothing: SYN/ACK, and the valid ACK
    reported to the controller (digest), for either policy."""

    def runTest(self) -> None:
        _synack, ack = self.handshake_ack(0x1000, 46000)
        self.send(CLIENT_PORT, ack)
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_port"], 46000)
        self.set_service(ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED), priority=20)
        self.beat_now()
        _synack, ack = self.handshake_ack(0x2000, 46001)
        self.send(CLIENT_PORT, ack)
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_port"], 46001)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 2, "ACK_VALID": 2})


@group("heartbeat")
class FailOpenRoutesSynsTest(HeartbeatTest):
    """Fail open: with the controller silent past the limit the SYN is routed to the
    VIP's next hop untouched (as mode off), counted CONTROLLER_DOWN_PASSED; a new
    beat (the controller's clock moved on as the switch's did) proxies again."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        self.synack_for(client_tcp("S", 10, sport=46010, options=client_syn_options()), OPTS)
        self.silence()
        syn = client_tcp("S", 11, sport=46011, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 1, "CONTROLLER_DOWN_PASSED": 1})
        self.beat_now()  # the controller is back
        self.synack_for(client_tcp("S", 12, sport=46012, options=client_syn_options()), OPTS)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 2, "CONTROLLER_DOWN_PASSED": 1})


@group("heartbeat")
class FailClosedResetsValidAckTest(HeartbeatTest):
    """Fail closed: the SYN still gets its SYN/ACK (nothing more is reflected than
    today), the validated ACK a RST with seq = cookie + 1 and no digest
    (CONTROLLER_DOWN_RESET); a forged ACK is dropped as always; a new controller (another
    instance) proxies again."""

    service = ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED, ttl=61)

    def runTest(self) -> None:
        self.synack_for(client_tcp("S", 9, sport=46019, options=client_syn_options()), OPTS)
        self.silence()
        synack, ack = self.handshake_ack(0x3000, 46020)
        self.send(CLIENT_PORT, ack)
        self.expect(CLIENT_PORT, refusal(ack, ttl=61))
        self.assertEqual(u32(synack[TCP].seq + 1), ack[TCP].ack)
        self.send(CLIENT_PORT, client_tcp("A", 0x3001, 0x12345678, sport=46021))
        self.expect_nothing()
        self.assert_no_digest()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 2, "CONTROLLER_DOWN_RESET": 1,
                            "ACK_INVALID": 1})
        self.beat(0, instance=next(_instances) & 0xFFFFFFFF)
        _synack, ack = self.handshake_ack(0x4000, 46022)
        self.send(CLIENT_PORT, ack)
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_port"], 46022)
        self.expect_nothing()


@group("heartbeat")
class SparseTrafficIsNotSilenceTest(HeartbeatTest):
    """The switch sees the beat only when a packet comes: after a long quiet spell in
    which the controller kept beating, the first SYN is proxied (the beat's clock
    accounts for the gap); a beat that stopped while the switch's clock went on past
    the limit is silence, even though the packet finds it changed since the last."""

    service = ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED)

    def runTest(self) -> None:
        self.require_test_clock()
        self.synack_for(client_tcp("S", 20, sport=46030, options=client_syn_options()), OPTS)
        self.advance_clock(50 * self.limit * TICK_US)
        self.beat(50 * self.limit)  # written just now, after 50 limits without packets
        _synack, ack = self.handshake_ack(0x5000, 46031)
        self.send(CLIENT_PORT, ack)
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_port"], 46031)
        self.beat(51 * self.limit)  # the controller's last beat; then it is gone
        self.advance_clock(5 * self.limit * TICK_US)
        synack, ack = self.handshake_ack(0x6000, 46032)
        self.send(CLIENT_PORT, ack)
        self.expect(CLIENT_PORT, refusal(ack))
        self.assert_no_digest()
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3, "ACK_VALID": 1,
                            "CONTROLLER_DOWN_RESET": 1})


@group("heartbeat")
class NoLimitNeverDownTest(HeartbeatTest):
    """A limit of 0 (the program's default, and a controller with the heartbeat off)
    never counts the controller as gone."""

    service = ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED)

    def runTest(self) -> None:
        limit, self.limit = self.limit, 0
        self.beat(0)
        self.limit = limit
        self.silence()
        _synack, ack = self.handshake_ack(0x7000, 46040)
        self.send(CLIENT_PORT, ack)
        self.assertEqual(self.get_digest(COOKIE_DIGEST)["client_port"], 46040)
        self.expect_nothing()


class SessionsSurviveTest(SessionTest, HeartbeatTest):
    """An established session keeps being translated with the controller gone."""

    def check_session(self) -> None:
        c = self.new_conn(90, 0x11110000, 0x22220000, 0x01000000)
        self.establish(c)
        self.synack_for(client_tcp("S", 89, sport=46059, options=client_syn_options()), OPTS)
        self.silence()
        data = c.client("PA", options=ts_option(1001, c.ts_base), payload=b"GET /")
        self.send(CLIENT_PORT, data)
        self.expect(SERVER_PORT, translated_c2s(data, c.delta, c.tsoff))
        answer = c.server("PA", options=ts_option(c.server_tsval + 1, 1001), payload=b"200")
        self.send(SERVER_PORT, answer)
        self.expect(CLIENT_PORT, translated_s2c(answer, c.delta, c.tsoff))
        if self.service.flags & SVC_FAIL_CLOSED:  # new connections meanwhile refused
            _synack, ack = self.handshake_ack(0x8000, 46060)
            self.send(CLIENT_PORT, ack)
            self.expect(CLIENT_PORT, refusal(ack))
        self.expect_nothing()


@group("heartbeat")
class SessionSurvivesFailOpenTest(SessionsSurviveTest):
    def runTest(self) -> None:
        self.check_session()


@group("heartbeat")
class SessionSurvivesFailClosedTest(SessionsSurviveTest):
    service = ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED)

    def runTest(self) -> None:
        self.check_session()


@group("heartbeat")
class FailOpenNatThroughBucketsTest(NatTest, HeartbeatTest):
    """A NAT service in mode on that fails open: its SYNs go to their buckets' servers
    (C8) while the controller is gone."""

    service = ServiceSettings(flags=FLAGS | SVC_NAT)

    def runTest(self) -> None:
        self.synack_for(client_tcp("S", 29, sport=46049, options=client_syn_options()), OPTS)
        self.silence()
        syn = client_tcp("S", 30, sport=46050, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(SERVER_PORT, to_server(syn, server_of(bucket_of(syn))))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 1, "CONTROLLER_DOWN_PASSED": 1})


@group("heartbeat")
class FailOpenFlowsSurviveTheReturnTest(HeartbeatTest):
    """A connection opened while the service failed open has no session and no cookie:
    when the controller comes back its segments are still routed (the flow filter,
    as for an auto service's flows from before the defence, PASSTHROUGH), while a
    segment of a tuple never seen is not (ACK_INVALID). A service that fails closed
    was never undefended: the filter is not consulted for it."""

    def runTest(self) -> None:
        self.insert("ipv4_routes", {"dst_addr": f"{VIP}/32"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})
        self.synack_for(client_tcp("S", 40, sport=46070, options=client_syn_options()), OPTS)
        self.silence()
        syn = client_tcp("S", 41, sport=46071, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        ack = client_tcp("A", 42, 0x9000, sport=46071)
        self.send(CLIENT_PORT, ack)  # the handshake's ACK, passed and marking the flow
        self.expect(OTHER_PORT, routed(ack, OTHER_PORT))
        self.beat_now()  # the controller is back: proxied again
        data = client_tcp("PA", 42, 0x9000, sport=46071, payload=b"GET /")
        self.send(CLIENT_PORT, data)
        self.expect(OTHER_PORT, routed(data, OTHER_PORT))
        self.send(CLIENT_PORT, client_tcp("PA", 42, 0x9000, sport=46072, payload=b"GET /"))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 1, "CONTROLLER_DOWN_PASSED": 1,
                            "PASSTHROUGH": 1, "ACK_INVALID": 1})
        # Fail closed: the same flow's segment is not looked up, so not passed.
        self.set_service(ServiceSettings(flags=FLAGS | SVC_FAIL_CLOSED), priority=20)
        self.send(CLIENT_PORT, data)
        self.expect_nothing()
        self.assert_events({"SYN_IN": 2, "SYNACK_SENT": 1, "CONTROLLER_DOWN_PASSED": 1,
                            "PASSTHROUGH": 1, "ACK_INVALID": 2})


# D13: the same heartbeat policies over IPv6 (the fail-closed RST built in IPv6).
globals().update(ipv6_variants(
    FreshHeartbeatProxiesTest, FailClosedResetsValidAckTest, SparseTrafficIsNotSilenceTest,
    NoLimitNeverDownTest, SessionSurvivesFailOpenTest, SessionSurvivesFailClosedTest))
