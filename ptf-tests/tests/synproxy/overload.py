# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- overload     (p4sim: test clock)
"""D15, the overload fallback (p4src/v1model/control/meters.p4): SYN meters per
service and per source prefix before a cookie is minted, the random early drop of a
SYN above a committed rate, and the meter on what goes to the controller. Each
test configures meter cells over P4Runtime (MeterConfig, packets per second), sends
SYNs back to back (far faster than the 1 packet/s refill of the rates used) and then
moves p4sim's test clock to show the bucket refilled. bmv2's clock cannot be moved,
so there these tests are skipped."""

from __future__ import annotations

import struct

from ptf.testutils import group
from scapy.layers.inet import TCP
from synproxy_base import COOKIE_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_PORT,
    SERVICE_ID,
    client_syn_options,
    client_tcp,
    encode_options,
    family,
    ip2int,
    is_v6,
)

from controller import p4consts
from controller.cookie import halfsiphash24

OPTS = encode_options(1460, 7, True, True)
PRF_K0, PRF_K1 = 0x11223344, 0x55667788
#: A second client in another /24 (IPv6: /64), spoofed-flood space (198.18.0.0/15,
#: 2001:2::/48).
OTHER_SRCS = {4: "198.18.7.9", 6: "2001:2:0:7::9"}


def source_cells(addr: str, k0: int = PRF_K0, k1: int = PRF_K1) -> tuple[int, int]:
    """The cells of source_syn_meter_a and _b for `addr`'s /24, or /64 for IPv6
    (meters.p4: HalfSipHash-2-4 over the 64-bit prefix's two words and the family
    byte)."""
    if is_v6(addr):
        prefix, fam = ip2int(addr) >> 64, 6
    else:
        prefix, fam = ip2int(addr) & 0xFFFFFF00, 4
    h = halfsiphash24(struct.pack("<2I", k0, k1),
                      struct.pack("<2IB", prefix >> 32, prefix & 0xFFFFFFFF, fam))
    size = p4consts.SOURCE_METER_SIZE
    return (h >> 16) % size, (h & 0xFFFF) % size


class OverloadTest(SynproxyTest):
    def setUp(self) -> None:
        super().setUp()
        self.require_test_clock()

    def syn(self, i: int, src: str | None = None):
        return client_tcp("S", 0x10000 + i, sport=30000 + i, src=src,
                          options=client_syn_options(1460, 7, True, 100 + i))

    def set_overload(self, early_drop: int = 0) -> None:
        self.set_default("overload_config", "set_overload",
                         {"key0": PRF_K0, "key1": PRF_K1, "early_drop": early_drop})

    def refill(self) -> None:
        """Ten seconds later: every bucket used here is full again."""
        self.advance_clock(10_000_000)


@group("overload")
class ServiceMeterDropsAboveItsRateTest(OverloadTest):
    """A service metered at 1 SYN/s with bursts of 2 (committed) and 3 (peak):
    three SYNs in a row get their exact SYN/ACKs (green, green, yellow), the next two
    are dropped and counted as DROP_SYN_SERVICE_RATE, nothing answered or reported;
    once the bucket refilled (test clock) a SYN is answered again. Another service's
    cell is not touched: the drops are the metered service's only."""

    def runTest(self) -> None:
        self.set_meter("service_syn_meter", SERVICE_ID, (1, 2, 1, 3))
        for i in range(3):
            self.synack_for(self.syn(i), OPTS)
        for i in range(3, 5):
            self.send(CLIENT_PORT, self.syn(i))
        self.expect_nothing()
        self.assert_no_digest()
        self.assert_events({"SYN_IN": 5, "SYNACK_SENT": 3, "DROP_SYN_SERVICE_RATE": 2})
        self.refill()
        self.synack_for(self.syn(9), OPTS)
        self.assert_events({"SYN_IN": 6, "SYNACK_SENT": 4, "DROP_SYN_SERVICE_RATE": 2})


@group("overload")
class SourceMeterCapsOnePrefixTest(OverloadTest):
    """Both cells of the client's /24 metered at a burst of 1: its second SYN is
    dropped as DROP_SYN_SOURCE_RATE; a client of another /24 (other cells) is still
    answered. The service meter is not charged for the dropped SYN: with a service
    burst of 2, the other prefix's SYN still gets through after it."""

    def runTest(self) -> None:
        self.set_overload()
        other_src = OTHER_SRCS[self.family]
        a, b = source_cells(family().client_ip)
        other = source_cells(other_src)
        self.assertTrue(a not in (other[0],) and b not in (other[1],),
                        "the test's prefixes share a cell: pick another OTHER_SRCS")
        self.set_meter("source_syn_meter_a", a, (1, 1, 1, 1))
        self.set_meter("source_syn_meter_b", b, (1, 1, 1, 1))
        self.set_meter("service_syn_meter", SERVICE_ID, (1, 2, 1, 2))
        self.synack_for(self.syn(0), OPTS)
        self.send(CLIENT_PORT, self.syn(1))
        self.expect_nothing()
        self.synack_for(self.syn(2, src=other_src), OPTS)
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 2, "DROP_SYN_SOURCE_RATE": 1})
        self.refill()
        self.synack_for(self.syn(3), OPTS)


@group("overload")
@group("hardening")
class SourceMeterOneSharedCellStarvesNobodyTest(OverloadTest):
    """An attacker whose flood shares one of a victim's two cells (here: cell a is
    exhausted, as a colliding prefix would leave it) does not starve the victim: a
    prefix is dropped only when both of its cells are red. Its SYNs are answered."""

    def runTest(self) -> None:
        self.set_overload()
        a, _b = source_cells(family().client_ip)
        self.set_meter("source_syn_meter_a", a, (1, 1, 1, 1))
        for i in range(4):
            self.synack_for(self.syn(i), OPTS)
        self.assert_events({"SYN_IN": 4, "SYNACK_SENT": 4})


@group("overload")
class SourceMetersOffWithoutKeyTest(OverloadTest):
    """Without overload_config (no PRF key) the source meters are not looked at:
    even every cell exhausted drops nothing."""

    def runTest(self) -> None:
        self.set_meter("source_syn_meter_a", None, (1, 1, 1, 1))
        self.set_meter("source_syn_meter_b", None, (1, 1, 1, 1))
        for i in range(3):
            self.synack_for(self.syn(i), OPTS)
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3})


@group("overload")
class EarlyDropAboveCommittedRateTest(OverloadTest):
    """early_drop 256/256: a SYN above the service's committed rate (yellow) is
    dropped as DROP_SYN_EARLY before the peak bucket is exhausted; below it (green)
    it is answered. early_drop 0: the same yellow SYN is answered."""

    def runTest(self) -> None:
        self.set_overload(early_drop=256)
        self.set_meter("service_syn_meter", SERVICE_ID, (1, 1, 1, 10))
        self.synack_for(self.syn(0), OPTS)
        self.send(CLIENT_PORT, self.syn(1))
        self.send(CLIENT_PORT, self.syn(2))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 1, "DROP_SYN_EARLY": 2})
        self.set_overload(early_drop=0)
        self.synack_for(self.syn(3), OPTS)
        self.assert_events({"SYN_IN": 4, "SYNACK_SENT": 2, "DROP_SYN_EARLY": 2})


@group("overload")
class ControllerMeterCapsCookieDigestsTest(OverloadTest):
    """The digest cell of controller_meter at a burst of 1: the first valid cookie
    ACK is reported (ACK_VALID, one digest), the second is dropped as
    DROP_CONTROLLER_RATE with no digest; after the refill one is reported again."""

    def runTest(self) -> None:
        self.set_meter("controller_meter", p4consts.METER_CELL_DIGEST, (1, 1, 1, 1))
        acks = []
        for i in range(3):
            syn = self.syn(i)
            cookie = self.synack_for(syn, OPTS)[TCP].seq
            acks.append(client_tcp("A", syn[TCP].seq + 1, cookie + 1, sport=syn[TCP].sport))
        self.send(CLIENT_PORT, acks[0])
        self.get_digest(COOKIE_DIGEST)
        self.send(CLIENT_PORT, acks[1])
        self.assert_no_digest()
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3, "ACK_VALID": 1,
                            "DROP_CONTROLLER_RATE": 1})
        self.refill()
        self.send(CLIENT_PORT, acks[2])
        self.get_digest(COOKIE_DIGEST)
        self.assert_events({"SYN_IN": 3, "SYNACK_SENT": 3, "ACK_VALID": 2,
                            "DROP_CONTROLLER_RATE": 1})


# D13: the same meters over IPv6 (the source prefix is the /64, family byte 6).
globals().update(ipv6_variants(
    ServiceMeterDropsAboveItsRateTest, SourceMeterCapsOnePrefixTest,
    SourceMeterOneSharedCellStarvesNobodyTest, SourceMetersOffWithoutKeyTest,
    EarlyDropAboveCommittedRateTest, ControllerMeterCapsCookieDigestsTest))
