"""synproxy.p4, C8 for NAT services (control/nat.p4): connections that SynProxy forwards
unproxied (undefended, or from before the defence) are NATed statelessly to the
real server of their bucket; the server's answers are NATed back to the VIP. The
packet cases are in the PTF suite (ptf-tests/tests/synproxy/nat_passthrough.py, run in
process and over veths); here, what only this rig reaches: the P4Info's bucket width,
and sessions and filter cells set in the registers by hand.

Run: .venv/bin/python -m pytest -q tests/p4src/test_nat_unproxied.py
"""

from __future__ import annotations

import zlib

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from p4sim.backend.harness import Harness
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_PORT,
    CPU_PORT,
    EV,
    PROXY_AUTO,
    ROUTER_MAC,
    RS_IP,
    RS_PORT,
    SERVER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    SVC_OFFERS,
    VIP,
    VPORT,
    Bench,
    add_routes,
    csum_ok,
    ip2int,
)

SVC_NAT = p4consts.SVC_FLAG_NAT
NAT_BUCKETS = p4consts.NAT_BUCKETS
RS2_IP = "10.1.0.6"


def rs_of(bucket: int) -> str:
    """The test's assignment: even buckets to RS_IP, odd ones to RS2_IP."""
    return RS_IP if bucket % 2 == 0 else RS2_IP


@pytest.fixture
def nat(synproxy_program) -> Bench:
    """An auto NAT service (not defended), every bucket filled, reverse entries for
    both real servers."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    add_routes(h)
    b = Bench(h)
    b.set_keys()
    b.add_service(mode=PROXY_AUTO, flags=SVC_OFFERS | SVC_NAT)
    for bucket in range(NAT_BUCKETS):
        h.add_entry("nat_buckets", [SERVICE_ID, bucket], "nat_to", [ip2int(rs_of(bucket)), RS_PORT])
    for rs in (RS_IP, RS2_IP):
        h.add_entry("nat_reverse", [ip2int(rs), RS_PORT], "nat_from", [ip2int(VIP), VPORT])
    return b


def _one(out: list[tuple[int, bytes]], port: int) -> Ether:
    assert [p for p, _ in out] == [port], out
    assert csum_ok(out[0][1]), Ether(out[0][1]).show(dump=True)
    return Ether(out[0][1])


def _answer(rs: str, sport: int, flags: str, seq: int, ack: int, payload: bytes = b"") -> Ether:
    return (Ether(src=SERVER_MAC, dst=ROUTER_MAC) / IP(src=rs, dst=CLIENT_IP, id=9)
            / TCP(sport=RS_PORT, dport=sport, flags=flags, seq=seq, ack=ack, window=65160,
                  options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]) / payload)


def test_bucket_key_width_sets_the_bucket_count(synproxy_program) -> None:
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    table = h._find(h.p4info.tables, "nat_buckets", "table")
    widths = {m.name: m.bitwidth for m in table.match_fields}
    assert widths == {"service_id": 16, "bucket": NAT_BUCKETS.bit_length() - 1}


def test_session_traffic_never_uses_the_nat_tables(nat: Bench) -> None:
    """A proxied connection's server segments hit their session, not nat_reverse."""
    nat.defend()
    nat.install_session(9, cookie=0x1000, sport=40007, state=p4consts.SESSION_ESTABLISHED)
    nat.set_register("session_delta", 9, 0x10)
    out = nat.process(SERVER_PORT, _answer(RS_IP, 40007, "A", 0x2000, 1001))
    p = _one(out, CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport, p[TCP].seq) == (VIP, VPORT, 0x2000 - 0x10)
    assert nat.event("TRANSLATED_S2C") == (1, 1)
    reverse = nat.h.table("nat_reverse")
    assert all(e.packets == 0 for e in reverse.entries())
    out = nat.process(CLIENT_PORT, nat.client_tcp("A", 1001, 0x1001, sport=40007))
    p = _one(out, SERVER_PORT)
    assert (p[IP].dst, p[TCP].ack) == (RS_IP, 0x1011)
    assert nat.event("TRANSLATED_C2S") == (1, 1)
    buckets = nat.h.table("nat_buckets")
    assert all(e.packets == 0 for e in buckets.entries())


def test_evs_fit_the_per_service_counter() -> None:
    assert EV["DROP_NO_SERVER"] < 32


def test_a_service_always_proxied_passes_nothing_unproxied(nat: Bench) -> None:
    """The passthrough filter is shared by every service; a bit set by some auto
    service's flow does not let a mode-on service's segment through unproxied (it
    would reach no server: mode on has no buckets)."""
    nat.h.table("services").clear()
    nat.add_service(mode=p4consts.PROXY_MODE_ON, flags=SVC_OFFERS | SVC_NAT)
    ack = nat.client_tcp("A", 1001, 5555, sport=40020)
    data = (ip2int(CLIENT_IP).to_bytes(4, "big") + ip2int(VIP).to_bytes(4, "big")
            + (40020).to_bytes(2, "big") + VPORT.to_bytes(2, "big"))
    nat.set_register("passthrough_flows", zlib.crc32(data) % p4consts.FLOW_FILTER_SIZE, 1)
    assert nat.process(CLIENT_PORT, ack) == []
    assert nat.event("ACK_INVALID") == (1, 1)  # checked as a cookie, like any other ACK
    assert nat.event("PASSTHROUGH") == (0, 0)
    assert nat.event("DROP_NO_SERVER") == (0, 0)
