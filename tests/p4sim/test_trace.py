"""`-L trace`: per-packet traces of the parser path, tables, actions and fates, and
trace hooks that exist in the generated code only when tracing.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_trace.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from p4sim.backend.common.trace import TRACE, Tracer
from p4sim.backend.harness import Harness
from p4sim.frontend import load
from tests.p4src.p4bench import (
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    FORWARDING,
    ROUTER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    SYNPROXY,
    Bench,
    add_routes,
    ip2int,
    protected,
)

pytestmark = pytest.mark.timeout(300)

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="module")
def forwarding_program():
    return load(FORWARDING)


@pytest.fixture(scope="module")
def synproxy_program():
    return load(SYNPROXY)


def traced(program, lines: list[str], cpu_port: int = CPU_PORT) -> Harness:
    return Harness(program, cpu_port=cpu_port, tracer=lambda p4info: Tracer(p4info, lines.append))


def steps(lines: list[str], packet: int) -> list[str]:
    """One packet's trace lines without the `[packet N] ` prefix."""
    prefix = f"[packet {packet}] "
    return [line[len(prefix):] for line in lines if line.startswith(prefix)]


def test_forwarding_routed_packet(forwarding_program) -> None:
    lines: list[str] = []
    h = traced(forwarding_program, lines)
    add_routes(h)
    pkt = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst="10.1.0.5") / TCP(
        dport=80, flags="S")
    out = Bench(h).process(CLIENT_PORT, pkt)
    assert [p for p, _ in out] == [SERVER_PORT]
    assert steps(lines, 1) == [
        "received on port 1, 54 bytes",
        "parser SynproxyParser: state start",
        "parser SynproxyParser: state parse_ethernet",
        "parser: extracted hdr.ethernet (14 bytes parsed)",
        "parser SynproxyParser: state parse_ipv4",
        "parser: extracted hdr.ipv4 (34 bytes parsed)",
        "parser SynproxyParser: state parse_ipv4_payload",
        "parser SynproxyParser: state parse_tcp",
        "parser: extracted hdr.tcp (54 bytes parsed)",
        "parser SynproxyParser: state next_tcp_option",
        "parser: accept",
        "control RouterIngress: start",
        "table RouterIngress.forwarding.router_macs: key {dst_mac=0x0000000000aa}",
        "table RouterIngress.forwarding.router_macs: hit -> action "
        "RouterIngress.forwarding.set_routed()",
        "table RouterIngress.forwarding.ipv4_routes: key {dst_addr=0x0a010005}",
        "table RouterIngress.forwarding.ipv4_routes: hit -> action "
        "RouterIngress.forwarding.route_to(port=2, src_mac=0x0000000000aa, "
        "dst_mac=0x000000000002)",
        "control RouterIngress: end",
        "control RouterEgress: start (egress port 2)",
        "control RouterEgress: end",
        f"fate: sent to port 2, {len(out[0][1])} bytes",
    ]


def test_forwarding_drops_say_why(forwarding_program) -> None:
    lines: list[str] = []
    h = traced(forwarding_program, lines)
    add_routes(h)
    bench = Bench(h)
    expired = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst="10.1.0.5",
                                                           ttl=1) / UDP()
    assert bench.process(CLIENT_PORT, expired) == []
    ttl = steps(lines, 1)
    assert ttl[-3:] == ["extern mark_to_drop()", "control RouterIngress: end",
                        "fate: dropped in ingress: mark_to_drop()"]
    short = bytes(expired)[:20]  # Ethernet and 6 bytes of IPv4
    assert bench.process(CLIENT_PORT, short) == []
    cut = steps(lines, 2)
    assert "parser: error PacketTooShort" in cut
    assert "parser: extracted hdr.ipv4 (34 bytes parsed)" not in cut
    # To the router's MAC but not followed by the parser: dropped, never bridged (D16).
    assert "table RouterIngress.forwarding.router_macs: hit -> action " \
        "RouterIngress.forwarding.set_routed()" in cut
    assert "extern mark_to_drop()" in cut
    assert cut[-1] == "fate: dropped in ingress: mark_to_drop() (parser error PacketTooShort)"


def test_forwarding_punt_is_a_packet_in(forwarding_program) -> None:
    lines: list[str] = []
    h = traced(forwarding_program, lines)
    add_routes(h)
    h.add_entry("ipv4_routes", [(ip2int("172.16.0.0"), 12)], "punt_route")
    pkt = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst="172.16.0.1") / UDP()
    ((port, data),) = Bench(h).process(CLIENT_PORT, pkt)
    assert port == CPU_PORT
    assert steps(lines, 1)[-1] == f"fate: sent to the CPU port {CPU_PORT} (PacketIn), " \
        f"{len(data)} bytes"


def test_synproxy_syn_gets_a_synack(synproxy_program) -> None:
    lines: list[str] = []
    h = traced(synproxy_program, lines)
    bench = protected(h)
    ((port, data),) = bench.process(CLIENT_PORT, bench.client_tcp(
        "S", 1000, options=[("MSS", 1460)]))
    assert port == CLIENT_PORT and Ether(data)[TCP].flags == "SA"
    got = steps(lines, 1)
    parser = [s for s in got if s.startswith("parser")]
    assert parser == [
        "parser SynproxyParser: state start",
        "parser SynproxyParser: state parse_ethernet",
        "parser: extracted hdr.ethernet (14 bytes parsed)",
        "parser SynproxyParser: state parse_ipv4",
        "parser: extracted hdr.ipv4 (34 bytes parsed)",
        "parser SynproxyParser: state parse_ipv4_payload",
        "parser SynproxyParser: state parse_tcp",
        "parser: extracted hdr.tcp (54 bytes parsed)",
        "parser SynproxyParser: state next_tcp_option",
        "parser SynproxyParser: state parse_tcp_option",
        "parser SynproxyParser: state parse_tcp_opt_tlv",
        "parser SynproxyParser: state parse_tcp_opt_mss",
        "parser: extracted hdr.tcp_options.next.mss (58 bytes parsed)",
        "parser SynproxyParser: state next_tcp_option",
        "parser: accept",
    ]
    tables = [s for s in got if s.startswith("table")]
    assert tables[:4] == [
        "table SynproxyIngress.services.services: key {vip=0xc0a80a0a, vport=80, proto=6}",
        "table SynproxyIngress.services.services: hit -> action SynproxyIngress.services."
        f"set_service(service_id={SERVICE_ID}, mode=1, flags=7, mss=1460, wscale=7, window=0, "
        "ttl=64)",
        "table SynproxyIngress.session_lookup.sessions: key {src_addr=0x0a000001, "
        "dst_addr=0xc0a80a0a, src_port=40000, dst_port=80}",
        "table SynproxyIngress.session_lookup.sessions: miss -> default action "
        "SynproxyIngress.session_lookup.no_session()",
    ]
    assert got[-1] == f"fate: sent to port {CLIENT_PORT}, {len(data)} bytes"


def test_clone_digest_and_copies() -> None:
    lines: list[str] = []
    h = traced(load(PROGRAMS / "replicate.p4"), lines, cpu_port=510)
    dst = 0x0A0B0C0D0E0F
    h.add_entry("dispatch", [(dst, (1 << 48) - 1)], "mirror_and_forward", [2], priority=1)
    h.add_clone_session(5, [(4, 1)])
    frame = dst.to_bytes(6, "big") + bytes.fromhex("020000000001") + b"\x08\x00" + bytes(46)
    out = h.process(1, frame)
    assert sorted(p for p, _ in out) == [2, 4]
    got = steps(lines, 1)
    assert "ingress clone to session 5: copies to port(s) 4" in got
    digest = [s for s in got if s.startswith("digest")]
    assert digest == ["digest learn_t (2199023255553, 1)"]  # src MAC, ingress port
    fates = [s for s in got if s.startswith("fate")]
    assert sorted(fates) == sorted(f"fate: sent to port {p}, {len(d)} bytes" for p, d in out)


def test_hooks_exist_only_when_tracing(forwarding_program) -> None:
    plain = Harness(forwarding_program, cpu_port=CPU_PORT)
    assert plain.pipeline.tracer is None
    assert "_tr." not in plain.pipeline.source
    tracing = traced(forwarding_program, [])
    for hook in ("_tr.state(", "_tr.extract(", "_tr.table(", "_tr.extern('mark_to_drop')"):
        assert hook in tracing.pipeline.source, hook


def test_trace_logger_turns_tracing_on(forwarding_program, caplog) -> None:
    """What `p4sim -L trace --log-console` does: the `p4sim.trace` logger at TRACE when
    the pipeline loads compiles it with hooks, and the lines go to the log."""
    with caplog.at_level(TRACE, logger="p4sim.trace"):
        h = Harness(forwarding_program, cpu_port=CPU_PORT)
        assert h.pipeline.tracer is not None
        h.process(CLIENT_PORT, bytes(20))
    messages = [r.getMessage() for r in caplog.records if r.name == "p4sim.trace"]
    assert messages[0] == "[packet 1] received on port 1, 20 bytes"
    assert all(r.levelno == TRACE for r in caplog.records if r.name == "p4sim.trace")
    with caplog.at_level(logging.DEBUG, logger="p4sim.trace"):
        assert Harness(forwarding_program, cpu_port=CPU_PORT).pipeline.tracer is None


def test_resubmit_and_a_directly_called_action() -> None:
    lines: list[str] = []
    h = traced(load(PROGRAMS / "replicate.p4"), lines, cpu_port=510)
    dst = 0x0A0B0C0D0E01
    h.add_entry("dispatch", [(dst, (1 << 48) - 1)], "again", [], priority=1)
    frame = dst.to_bytes(6, "big") + bytes.fromhex("020000000001") + b"\x08\x00" + bytes(46)
    out = h.process(3, frame)
    assert [p for p, _ in out] == [1]
    got = steps(lines, 1)
    assert "table RepIngress.dispatch: hit -> action RepIngress.again()" in got
    first, second = got.index("fate: resubmitted"), got.index(
        "received on port 3, 60 bytes (resubmitted)")
    assert first < second
    assert "action RepIngress.to_port (called directly)" in got[second:]
    assert got[-1] == f"fate: sent to port 1, {len(out[0][1])} bytes"
    assert steps(lines, 2) == []  # a resubmitted pass is the same packet
