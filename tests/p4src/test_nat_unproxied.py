"""synproxy.p4, C8 for NAT services (control/nat.p4): connections that SynProxy forwards
unproxied (undefended, or from before the defence) are NATed statelessly to the
real server of their bucket; the server's answers are NATed back to the VIP.

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
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    EV,
    PROXY_AUTO,
    PROXY_OFF,
    ROUTER_MAC,
    RS_IP,
    RS_PORT,
    SERVER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    SVC_SACK,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    VPORT,
    Bench,
    add_routes,
    csum_ok,
    ip2int,
    mac2int,
)

SVC_NAT = p4consts.SVC_FLAG_NAT
NAT_BUCKETS = p4consts.NAT_BUCKETS
RS2_IP = "10.1.0.6"
FLAGS = SVC_SACK | SVC_TS | SVC_WSCALE


def bucket_of(sport: int, client: str = CLIENT_IP) -> int:
    """crc32 (v1model's, the standard CRC-32) of (client, VIP, cport, vport) mod
    NAT_BUCKETS."""
    data = (ip2int(client).to_bytes(4, "big") + ip2int(VIP).to_bytes(4, "big")
            + sport.to_bytes(2, "big") + VPORT.to_bytes(2, "big"))
    return zlib.crc32(data) % NAT_BUCKETS


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
    b.add_service(mode=PROXY_AUTO, flags=FLAGS | SVC_NAT)
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


def test_undefended_syn_and_data_go_to_the_bucket_server(nat: Bench) -> None:
    seen = set()
    for sport in range(40000, 40012):
        rs = rs_of(bucket_of(sport))
        seen.add(rs)
        syn = nat.client_tcp("S", 1000, sport=sport, options=[("MSS", 1460), ("SAckOK", b""),
                                                              ("Timestamp", (5, 0))])
        p = _one(nat.process(CLIENT_PORT, syn), SERVER_PORT)
        assert (p[IP].src, p[IP].dst, p[TCP].sport, p[TCP].dport) == (CLIENT_IP, rs, sport,
                                                                        RS_PORT)
        assert (p[Ether].src, p[Ether].dst, p[IP].ttl) == (ROUTER_MAC, SERVER_MAC, 63)
        assert (p[TCP].seq, p[TCP].flags) == (1000, "S")
        assert p[TCP].options == syn[TCP].options
        data = nat.client_tcp("PA", 1001, 5555, sport=sport, payload=b"GET / HTTP/1.0\r\n\r\n")
        p = _one(nat.process(CLIENT_PORT, data), SERVER_PORT)
        assert (p[IP].dst, p[TCP].dport, p[TCP].ack) == (rs, RS_PORT, 5555)
        assert bytes(p[TCP].payload) == b"GET / HTTP/1.0\r\n\r\n"
    assert seen == {RS_IP, RS2_IP}  # the flows spread over the buckets
    assert nat.event("SYN_PASSED") == (12, 12)
    assert nat.event("SYN_IN") == (12, 12)
    assert nat.event("DROP_NO_SERVER") == (0, 0)


def test_server_answer_goes_back_from_the_vip(nat: Bench) -> None:
    sport = 40001
    rs = rs_of(bucket_of(sport))
    out = nat.process(SERVER_PORT, _answer(rs, sport, "SA", 777, 1001))
    p = _one(out, CLIENT_PORT)
    assert (p[IP].src, p[IP].dst, p[TCP].sport, p[TCP].dport) == (VIP, CLIENT_IP, VPORT, sport)
    assert (p[Ether].dst, p[TCP].seq, p[TCP].ack, p[TCP].flags) == (CLIENT_MAC, 777, 1001, "SA")
    p = _one(nat.process(SERVER_PORT, _answer(rs, sport, "PA", 778, 1001, b"x" * 333)),
             CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport, bytes(p[TCP].payload)) == (VIP, VPORT, b"x" * 333)
    # Another source port of the server is not a NATed real server: routed as is.
    stray = _answer(rs, sport, "PA", 778, 1001)
    stray[TCP].sport = RS_PORT + 1
    p = _one(nat.process(SERVER_PORT, stray), CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport) == (rs, RS_PORT + 1)


def test_passthrough_flow_keeps_its_server_when_the_defence_switches_on(nat: Bench) -> None:
    """A connection opened while undefended (its flow bit set) goes on being NATed to
    the same server once the defence is on; a new connection is proxied."""
    old, new = 40002, 40003
    rs = rs_of(bucket_of(old))
    ack = nat.client_tcp("A", 1001, 5555, sport=old)
    assert _one(nat.process(CLIENT_PORT, ack), SERVER_PORT)[IP].dst == rs
    nat.defend()
    data = nat.client_tcp("PA", 1001, 5555, sport=old, payload=b"more")
    p = _one(nat.process(CLIENT_PORT, data), SERVER_PORT)
    assert (p[IP].dst, p[TCP].dport, bytes(p[TCP].payload)) == (rs, RS_PORT, b"more")
    assert nat.event("PASSTHROUGH") == (1, 1)
    p = _one(nat.process(SERVER_PORT, _answer(rs, old, "A", 778, 1005)), CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport) == (VIP, VPORT)
    # A new connection: the switch answers with a cookie, nothing reaches a server.
    syn = nat.client_tcp("S", 9000, sport=new, options=[("MSS", 1460)])
    p = _one(nat.process(CLIENT_PORT, syn), CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport, p[TCP].flags, p[TCP].ack) == (VIP, VPORT, "SA", 9001)
    # Neither does its unvalidated data.
    assert nat.process(CLIENT_PORT, nat.client_tcp("PA", 9001, 1, sport=new, payload=b"x")) == []


def test_bucket_without_server_is_a_counted_drop(nat: Bench) -> None:
    sport = 40004
    bucket = bucket_of(sport)
    nat.h.table("nat_buckets").delete((SERVICE_ID, bucket), 0)
    syn = nat.client_tcp("S", 1000, sport=sport)
    assert nat.process(CLIENT_PORT, syn) == []
    assert nat.event("DROP_NO_SERVER") == (1, 1)
    assert nat.event("SYN_IN") == (1, 1)  # the auto defence still sees the SYN
    assert nat.event("SYN_PASSED") == (0, 0)
    # Other buckets still work.
    other = next(s for s in range(40005, 40100) if bucket_of(s) != bucket)
    assert _one(nat.process(CLIENT_PORT, nat.client_tcp("S", 1, sport=other)), SERVER_PORT)


def test_off_mode_nat_service_is_natted_too(nat: Bench) -> None:
    nat.h.table("services").clear()
    nat.add_service(mode=PROXY_OFF, flags=FLAGS | SVC_NAT)
    sport = 40006
    p = _one(nat.process(CLIENT_PORT, nat.client_tcp("S", 1000, sport=sport)), SERVER_PORT)
    assert p[IP].dst == rs_of(bucket_of(sport))


def test_transparent_service_is_untouched(synproxy_program) -> None:
    """Without the NAT flag an unproxied segment goes to the VIP as addressed, even
    with bucket entries for its service id."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    add_routes(h)
    h.add_entry("ipv4_routes", [(ip2int(VIP), 32)], "route_to",
                [SERVER_PORT, mac2int(ROUTER_MAC), mac2int(SERVER_MAC)])
    b = Bench(h)
    b.set_keys()
    b.add_service(mode=PROXY_AUTO, flags=FLAGS)
    buckets = [h.add_entry("nat_buckets", [SERVICE_ID, i], "nat_to", [ip2int(RS_IP), RS_PORT])
               for i in range(NAT_BUCKETS)]
    reverse = h.add_entry("nat_reverse", [ip2int(RS_IP), RS_PORT], "nat_from",
                          [ip2int("192.168.10.99"), VPORT])
    syn = b.client_tcp("S", 1000)
    p = _one(b.process(CLIENT_PORT, syn), SERVER_PORT)
    assert (p[IP].dst, p[TCP].dport, p[TCP].chksum) == (VIP, VPORT, Ether(bytes(syn))[TCP].chksum)
    assert sum(e.packets for e in buckets) == 0
    # The server answers from the VIP (routed mode): no reverse entry matches it.
    answer = (Ether(src=SERVER_MAC, dst=ROUTER_MAC) / IP(src=VIP, dst=CLIENT_IP)
              / TCP(sport=VPORT, dport=40000, flags="SA", seq=5, ack=1001))
    p = _one(b.process(SERVER_PORT, answer), CLIENT_PORT)
    assert (p[IP].src, p[TCP].sport) == (VIP, VPORT)
    assert reverse.packets == 0


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


def test_one_clients_consecutive_ports_spread_over_every_bucket(nat: Bench) -> None:
    """A client opening connections from consecutive ports reaches every bucket (each
    bucket here NATs to a port of its own, so the port shows the bucket used)."""
    for bucket in range(NAT_BUCKETS):
        nat.h.table("nat_buckets").modify((SERVICE_ID, bucket), 0, nat.h.action_id("nat_to"),
                                          (ip2int(RS_IP), 9000 + bucket))
    used = []
    for sport in range(33000, 33000 + 4 * NAT_BUCKETS):
        p = _one(nat.process(CLIENT_PORT, nat.client_tcp("S", 1, sport=sport)), SERVER_PORT)
        assert p[TCP].dport - 9000 == bucket_of(sport)
        used.append(p[TCP].dport)
    assert sorted(set(used)) == list(range(9000, 9000 + NAT_BUCKETS))
    assert max(used.count(port) for port in set(used)) <= 8  # 4 on average


def test_a_service_always_proxied_passes_nothing_unproxied(nat: Bench) -> None:
    """The passthrough filter is shared by every service; a bit set by some auto
    service's flow does not let a mode-on service's segment through unproxied (it
    would reach no server: mode on has no buckets)."""
    nat.h.table("services").clear()
    nat.add_service(mode=p4consts.PROXY_MODE_ON, flags=FLAGS | SVC_NAT)
    ack = nat.client_tcp("A", 1001, 5555, sport=40020)
    data = (ip2int(CLIENT_IP).to_bytes(4, "big") + ip2int(VIP).to_bytes(4, "big")
            + (40020).to_bytes(2, "big") + VPORT.to_bytes(2, "big"))
    nat.set_register("passthrough_flows", zlib.crc32(data) % p4consts.FLOW_FILTER_SIZE, 1)
    assert nat.process(CLIENT_PORT, ack) == []
    assert nat.event("ACK_INVALID") == (1, 1)  # checked as a cookie, like any other ACK
    assert nat.event("PASSTHROUGH") == (0, 0)
    assert nat.event("DROP_NO_SERVER") == (0, 0)
