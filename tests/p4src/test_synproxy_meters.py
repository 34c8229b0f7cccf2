"""synproxy.p4, D15 (overload fallback, p4src/v1model/control/meters.p4): the SYN
meters per service and per source prefix, the random early drop above a CIR, and the
meter on what goes to the controller, on the test's clock (meters refill only when it
moves). Meter configs are P4Runtime MeterConfigs (packets per second, packets).

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_meters.py
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from p4sim.device import MeterConfig
from tests.p4src.conftest import Clock
from tests.p4src.p4bench import CLIENT_MAC, CLIENT_PORT, ROUTER_MAC, SERVICE_ID, VIP, VPORT, Bench

SOURCE_CELLS = 1024  # SOURCE_METER_SIZE


def syn(src: str = "10.0.0.1", sport: int = 40000, isn: int = 1000) -> bytes:
    return bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=src, dst=VIP)
                 / TCP(sport=sport, dport=VPORT, flags="S", seq=isn, window=64240))


def answered(tb: Bench, pkt: bytes) -> bool:
    out = tb.process(CLIENT_PORT, pkt)
    return len(out) == 1 and Ether(out[0][1])[TCP].flags == "SA"


def service_meter(tb: Bench, cfg: MeterConfig) -> None:
    tb.h.meter("service_syn_meter").set_config(SERVICE_ID, cfg)


def source_meters(tb: Bench, cfg: MeterConfig, early_drop: int = 0) -> None:
    tb.h.set_default("overload_config", "set_overload", [0x01020304, 0x05060708, early_drop])
    for name in ("source_syn_meter_a", "source_syn_meter_b"):
        m = tb.h.meter(name)
        for i in range(m.size):
            m.set_config(i, cfg)


def test_unconfigured_meters_cap_nothing(tb: Bench) -> None:
    assert all(answered(tb, syn(sport=40000 + i)) for i in range(20))
    assert tb.event("DROP_SYN_SERVICE_RATE") == (0, 0)


def test_service_meter_drops_above_its_rate(tb: Bench, clock: Clock) -> None:
    service_meter(tb, MeterConfig(cir=1, cburst=2, pir=1, pburst=2))
    got = [answered(tb, syn(sport=40000 + i)) for i in range(4)]
    assert got == [True, True, False, False]
    assert tb.event("DROP_SYN_SERVICE_RATE") == (2, 2)
    assert tb.event("SYN_IN")[1] == 4          # every SYN still counts as in
    clock.advance(1.0)                            # one token back
    assert [answered(tb, syn(sport=41000 + i)) for i in range(2)] == [True, False]


def test_source_prefix_meter_spares_other_prefixes(tb: Bench, clock: Clock) -> None:
    source_meters(tb, MeterConfig(cir=1, cburst=1, pir=1, pburst=1))
    assert answered(tb, syn("10.0.0.1"))
    # The same /24 (another host in it) is over its cap: dropped as a source.
    assert not answered(tb, syn("10.0.0.77", sport=40001))
    assert tb.event("DROP_SYN_SOURCE_RATE") == (1, 1)
    # Other prefixes have cells of their own (two cells each: both must be red).
    assert answered(tb, syn("10.0.1.1"))
    assert answered(tb, syn("10.9.0.1"))
    clock.advance(1.0)
    assert answered(tb, syn("10.0.0.1", sport=40002))


def test_source_drop_does_not_spend_the_service_budget(tb: Bench) -> None:
    source_meters(tb, MeterConfig(cir=1, cburst=1, pir=1, pburst=1))
    service_meter(tb, MeterConfig(cir=2, cburst=2, pir=2, pburst=2))
    assert answered(tb, syn("10.0.0.1"))
    for i in range(10):   # a flood from one prefix: red at its source meter only
        assert not answered(tb, syn("10.0.0.1", sport=40100 + i))
    assert answered(tb, syn("10.0.5.1"))   # the service still has a token
    assert tb.event("DROP_SYN_SOURCE_RATE")[1] == 10
    assert tb.event("DROP_SYN_SERVICE_RATE")[1] == 0


def test_yellow_syns_pass_without_early_drop(tb: Bench) -> None:
    source_meters(tb, MeterConfig(cir=0, cburst=0, pir=0, pburst=0), early_drop=0)
    for name in ("source_syn_meter_a", "source_syn_meter_b"):
        for i in range(SOURCE_CELLS):
            tb.h.meter(name).set_config(i, None)   # sources unconfigured: green
    service_meter(tb, MeterConfig(cir=1, cburst=1, pir=10, pburst=10))
    assert [answered(tb, syn(sport=40000 + i)) for i in range(3)] == [True, True, True]


def test_yellow_syns_dropped_early(tb: Bench) -> None:
    tb.h.set_default("overload_config", "set_overload", [1, 2, 256])   # always
    service_meter(tb, MeterConfig(cir=1, cburst=1, pir=10, pburst=10))
    got = [answered(tb, syn(sport=40000 + i)) for i in range(3)]
    assert got == [True, False, False]          # green, then yellow: dropped
    assert tb.event("DROP_SYN_EARLY") == (2, 2)
    assert tb.event("DROP_SYN_SERVICE_RATE") == (0, 0)


def test_controller_meter_holds_back_digests(tb: Bench) -> None:
    out = tb.process(CLIENT_PORT, syn(isn=5000))
    cookie = Ether(out[0][1])[TCP].seq
    tb.h.meter("controller_meter").set_config(0, MeterConfig(cir=0, cburst=0, pir=0,
                                                             pburst=0))
    ack = bytes(Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst=VIP)
                / TCP(sport=40000, dport=VPORT, flags="A", seq=5001, ack=cookie + 1))
    assert tb.process(CLIENT_PORT, ack) == []
    assert tb.digests("cookie_ack_digest_t") == []
    assert tb.event("DROP_CONTROLLER_RATE") == (1, 1)
    # Within its rate the digest goes out as before.
    tb.h.meter("controller_meter").set_config(0, None)
    tb.process(CLIENT_PORT, ack)
    assert len(tb.digests("cookie_ack_digest_t")) == 1
    assert tb.event("ACK_VALID")[1] == 1
