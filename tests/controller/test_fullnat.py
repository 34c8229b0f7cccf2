"""FULLNAT services (D7): the config, the local tuple of each session (allocation,
exhaustion, release only once the switch forgot the session, read-back), the server
SYN's TOA option, and the controller against p4sim running synproxy.p4: the server
sees only the local address, the client only the VIP.

Run: .venv/bin/python -m pytest -q tests/controller/test_fullnat.py
"""

from __future__ import annotations

import struct
import textwrap
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

from controller import tables
from controller.config import ConfigError, FullNat, Sessions, parse_config
from controller.fullnat import LocalPorts
from controller.install import ip
from controller.sessions import SessionTable, State
from controller.synpkt import TOA_KIND, Handshake, checksum, server_syn, toa_option
from controller.testing.samples import metric_value
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_PORT,
    MAC2,
    RS_IP,
    RS_PORT,
    SERVER_MAC,
    SERVER_PORT,
    VIP,
    VPORT,
    ControllerThread,
    SwitchBench,
    client_tcp,
    handshake,
    start_controller,
    wait_for,
)

LADDR, LADDR2 = "10.1.0.200", "10.1.0.201"
RS = (ip(RS_IP), RS_PORT)

# ----------------------------------------------------------------------------- config

BASE = textwrap.dedent("""\
    interfaces:
      - {port: 1, mac: "02:00:00:00:00:01", address: 10.0.0.254/24}
      - {port: 2, mac: "02:00:00:00:00:02", address: 10.1.0.254/24}
    services:
      - name: web
        vip: 192.168.10.10
        port: 80
        %s
        real_servers: [{address: 10.1.0.5, port: 8080}]
    """)


def svc_config(extra: str) -> str:
    """BASE with `extra` as the service's keys from line 8 (later lines indented by 4)."""
    return BASE % textwrap.dedent(extra).strip()


def test_config_reads_a_fullnat_service() -> None:
    cfg = parse_config(svc_config("""\
        fullnat: {local_addresses: [10.1.0.200, 10.1.0.201], port_min: 2000, port_max: 2999}"""))
    s = cfg.services[0]
    assert s.fullnat == FullNat(("10.1.0.200", "10.1.0.201"), 2000, 2999)
    assert s.forwarding == "fullnat" and s.fullnat.size == 2000
    assert parse_config(svc_config("nat: false")).services[0].forwarding == "transparent"
    assert parse_config(svc_config("mode: auto")).services[0].forwarding == "nat"


@pytest.mark.parametrize(("extra", "line", "where", "message"), [
    ("fullnat: {port_min: 2000}", 8, "services[0].fullnat", "missing required key 'local_addresses'"),
    ("fullnat: {local_addresses: []}", 8, "services[0].fullnat.local_addresses",
     "at least one local address"),
    ("fullnat: {local_addresses: [10.1.0.200], port_min: 3000, port_max: 2000}", 8,
     "services[0].fullnat.port_min", "above port_max"),
    ("fullnat: {local_addresses: [10.1.0.200, 10.1.0.200]}", 8,
     "services[0].fullnat.local_addresses[1]", "listed twice"),
    ("fullnat: {local_addresses: ['2001:db8::5']}", 8,
     "services[0].fullnat.local_addresses[0]", "IPv4"),
    ("fullnat: {local_addresses: [10.1.0.254]}", 8,
     "services[0].fullnat.local_addresses[0]", "the address of interface 2"),
    ("fullnat: {local_addresses: [192.168.10.10]}", 8,
     "services[0].fullnat.local_addresses[0]", "the VIP of service 'web'"),
    ("fullnat: {local_addresses: [10.1.0.5]}", 8,
     "services[0].fullnat.local_addresses[0]", "a real server"),
    ("mode: auto\n    fullnat: {local_addresses: [10.1.0.200]}", 9, "services[0].fullnat",
     "mode: on and controller_down: closed"),
    ("controller_down: open\n    fullnat: {local_addresses: [10.1.0.200]}", 9,
     "services[0].fullnat", "mode: on and controller_down: closed"),
    ("nat: false\n    fullnat: {local_addresses: [10.1.0.200]}", 9, "services[0].fullnat",
     "nat: true"),
])
def test_config_refuses_what_fullnat_cannot_do(extra: str, line: int, where: str,
                                               message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(svc_config(extra), "f.yaml")
    assert (e.value.line, e.value.where) == (line, where)
    assert message in str(e.value)


def test_config_a_local_address_belongs_to_one_service() -> None:
    text = svc_config("fullnat: {local_addresses: [10.1.0.200]}") + textwrap.indent(textwrap.dedent("""\
          - name: other
            vip: 192.168.10.11
            port: 80
            fullnat:
              local_addresses: [10.1.0.201, 10.1.0.200]
            real_servers: [{address: 10.1.0.5, port: 8080}]
        """), "  ")
    with pytest.raises(ConfigError) as e:
        parse_config(text, "f.yaml")
    assert e.value.where == "services[1].fullnat.local_addresses[1]"
    assert e.value.line == 14
    assert "already a local address of service 'web'" in str(e.value)


# ----------------------------------------------------------------------------- local tuples


def test_local_ports_unique_per_server_and_exhaustion_counted() -> None:
    pool = FullNat((LADDR, LADDR2), 5000, 5002)  # six tuples per real server
    lp = LocalPorts()
    got = [lp.allocate(pool, *RS) for _ in range(6)]
    assert len(set(got)) == 6 and None not in got
    # Addresses interleaved: consecutive sessions use both.
    assert [g[0] for g in got[:2] if g] == [ip(LADDR), ip(LADDR2)]
    assert {p for g in got if g for p in [g[1]]} == {5000, 5001, 5002}
    assert lp.allocate(pool, *RS) is None
    assert lp.stats["exhausted"] == 1
    # Another real server (or port) has its own space: the same tuples are free there.
    assert lp.allocate(pool, ip(RS_IP), RS_PORT + 1) == got[0]
    # Given back, handed out again (and only that one).
    assert got[3] is not None
    lp.release(*got[3], *RS)
    assert lp.allocate(pool, *RS) == got[3]
    assert lp.allocate(pool, *RS) is None
    assert got[0] is not None
    assert not lp.claim(*got[0], *RS)  # read back twice: refused
    assert lp.in_use(RS) == 6


def test_session_table_keeps_the_tuple_until_the_slot_is_recycled() -> None:
    t = SessionTable(Sessions(max=8))
    pool = FullNat((LADDR,), 7000, 7000)  # one tuple
    local = t.local_ports.allocate(pool, *RS)
    assert local == (ip(LADDR), 7000)
    s = t.allocate((1, 2, 3, 4), service_id=1, rs_addr=RS[0], rs_port=RS[1], cookie=9,
                   client_isn=10, handshake=None, now=0.0, local=local)
    assert s is not None and (s.laddr, s.lport) == local
    t.release(s)
    # The switch may still hold the entries: the tuple is not free yet.
    assert t.local_ports.allocate(pool, *RS) is None
    t.recycle(s.slot)
    assert t.local_ports.allocate(pool, *RS) == local


def test_session_table_full_gives_the_tuple_back() -> None:
    t = SessionTable(Sessions(max=1))
    pool = FullNat((LADDR,), 7000, 7001)
    first = t.allocate((1, 2, 3, 4), service_id=1, rs_addr=RS[0], rs_port=RS[1], cookie=9,
                       client_isn=10, handshake=None, now=0.0,
                       local=t.local_ports.allocate(pool, *RS))
    assert first is not None
    local = t.local_ports.allocate(pool, *RS)
    assert t.allocate((1, 2, 5, 4), service_id=1, rs_addr=RS[0], rs_port=RS[1], cookie=9,
                      client_isn=10, handshake=None, now=0.0, local=local) is None
    assert t.local_ports.in_use(RS) == 1


def test_restart_in_place_to_another_server_gives_the_old_tuple_back() -> None:
    t = SessionTable(Sessions(max=4))
    pool = FullNat((LADDR,), 7000, 7000)
    s = t.allocate((1, 2, 3, 4), service_id=1, rs_addr=RS[0], rs_port=RS[1], cookie=9,
                   client_isn=10, handshake=None, now=0.0,
                   local=t.local_ports.allocate(pool, *RS))
    assert s is not None
    other = (RS[0] + 1, RS[1])
    t.restart(s, rs_addr=other[0], rs_port=other[1], cookie=11, client_isn=12, handshake=None,
              now=1.0, local=t.local_ports.allocate(pool, *other))
    assert (s.laddr, s.lport) == (ip(LADDR), 7000) and s.state == State.SYN_SENT
    assert t.local_ports.in_use(RS) == 0 and t.local_ports.in_use(other) == 1


# ----------------------------------------------------------------------------- TOA


def test_server_syn_carries_the_toa_option() -> None:
    h = Handshake(client_addr=ip(CLIENT_IP), vip_addr=ip(VIP), client_port=40001, vip_port=80,
                  client_isn=1000, cookie=77, mss=1460, wscale=7, sack_ok=True, ts_ok=True,
                  client_window=502, client_tsval=5)
    frame = server_syn(h, b"\x02" * 6, toa=True)
    plain = server_syn(h, b"\x02" * 6)
    tcp = frame[34:]
    doff = (tcp[12] >> 4) * 4
    assert doff == len(plain[34:]) + 8 == 20 + 20 + 8
    # kind 254, length 8, the client's port, its IPv4 address; network order.
    assert tcp[doff - 8:doff] == bytes([254, 8]) + struct.pack("!H", 40001) + bytes(
        [10, 0, 0, 1])
    assert toa_option(ip(CLIENT_IP), 40001) == tcp[doff - 8:doff] and TOA_KIND == 254
    # Both checksums hold over the longer header.
    assert checksum(frame[14:34]) == 0
    pseudo = struct.pack("!IIBBH", ip(CLIENT_IP), ip(VIP), 0, 6, len(tcp))
    assert checksum(pseudo + tcp) == 0
    with pytest.raises(ValueError):
        toa_option(1 << 100, 1)


# ----------------------------------------------------------------------------- on p4sim

pytestmark_app = pytest.mark.timeout(120)


def fullnat_service(port_min: int = 20000, port_max: int = 20009) -> str:
    return textwrap.dedent(f"""\
          - name: web
            vip: {VIP}
            port: {VPORT}
            mode: "on"
            synack: {{mss: 1460, wscale: 7, window: 0}}
            fullnat: {{local_addresses: [{LADDR}], port_min: {port_min}, port_max: {port_max}}}
            real_servers:
              - {{address: {RS_IP}, port: {RS_PORT}}}
        """)


def start(artefacts: tuple[Path, Path], sock: str, tmp_path: Path, **kw) -> ControllerThread:
    kw.setdefault("sessions", "sessions: {syn_timeout: 30}\n")
    return start_controller(artefacts, sock, tmp_path, service=fullnat_service(**kw.pop(
        "ports", {})), **kw)


def from_server(flags: str, seq: int, ack: int, lport: int, payload: bytes = b"") -> object:
    from scapy.layers.l2 import Ether
    return (Ether(src=SERVER_MAC, dst=MAC2) / IP(src=RS_IP, dst=LADDR)
            / TCP(sport=RS_PORT, dport=lport, flags=flags, seq=seq, ack=ack, window=65160)
            / payload)


def toa_of(p) -> bytes:
    raw = bytes(p[TCP])
    opts = raw[20:(raw[12] >> 4) * 4]
    i = opts.find(bytes([TOA_KIND, 8]))
    return opts[i:i + 8] if i >= 0 else b""


def fullnat_maps(switch: SwitchBench) -> dict[int, tuple]:
    return {e.match[0]: tuple(e.args) for e in switch.state.table("fullnat_sessions").entries()}


@pytestmark_app
def test_a_fullnat_connection_end_to_end(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        isn, rs_isn = 1000, 500000
        cookie = handshake(switch, isn, 40000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None
        # The server sees the local tuple only, and the client in the option.
        assert syn[IP].src == LADDR and syn[IP].dst == RS_IP and syn[TCP].dport == RS_PORT
        lport = syn[TCP].sport
        assert 20000 <= lport <= 20009
        assert toa_of(syn) == bytes([254, 8]) + struct.pack("!H", 40000) + bytes([10, 0, 0, 1])
        assert syn[TCP].seq == isn
        (s,) = ct.ctl.view.table.by_slot.values()
        assert (s.laddr, s.lport) == (ip(LADDR), lport)
        assert fullnat_maps(switch) == {s.slot: (ip(CLIENT_IP), 40000, ip(LADDR), lport, s.gen)}
        keys = {tuple(e.match) for e in switch.state.table("sessions").entries()}
        assert (ip(RS_IP), ip(LADDR), RS_PORT, lport) in keys
        # The server's SYN/ACK: the ACK back from the local tuple, the window update
        # to the client from the VIP; the ESTABLISHED digest found the session.
        switch.send(SERVER_PORT, from_server("SA", rs_isn, isn + 1, lport))
        ack = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "A")
        assert ack is not None and (ack[IP].src, ack[TCP].sport) == (LADDR, lport)
        wu = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A")
        assert wu is not None
        assert (wu[IP].src, wu[TCP].sport, wu[IP].dst, wu[TCP].dport) == (VIP, VPORT, CLIENT_IP,
                                                                          40000)
        assert wait_for(lambda: s.state == State.ESTABLISHED)
        # Data both ways.
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=b"GET /"))
        up = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "PA")
        assert up is not None and (up[IP].src, up[TCP].sport) == (LADDR, lport)
        assert up[TCP].ack == rs_isn + 1
        switch.send(SERVER_PORT, from_server("PA", rs_isn + 1, isn + 6, lport, b"200 OK"))
        down = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "PA")
        assert down is not None and (down[IP].dst, down[TCP].dport) == (CLIENT_IP, 40000)
        assert down[TCP].seq == cookie + 1
        # Status and the session listing name the mode and the local tuple.
        status = ct.call(lambda: ct.ctl.status())
        assert status["services"]["web"]["forwarding"] == "fullnat"
        (row,) = ct.call(lambda: ct.ctl.sessions())
        assert row["local"] == f"{LADDR}:{lport}"
        assert "on fullnat" in tables.status(status)
        assert wait_for(lambda: ct.call(lambda: metric_value(ct.ctl.metrics.fullnat_in_use))
                        == 1)
    finally:
        ct.stop()


@pytestmark_app
def test_local_port_exhaustion_refuses_and_counts(artefacts: tuple[Path, Path], sock, switch,
                                                  tmp_path):
    ct = start(artefacts, sock, tmp_path, ports={"port_min": 30000, "port_max": 30000})
    try:
        handshake(switch, 1000, 40000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None and syn[TCP].sport == 30000
        # A second client connection: the only local port towards the server is taken.
        cookie = handshake(switch, 2000, 40001)
        rst = switch.recv_tcp(CLIENT_PORT, lambda p: "R" in str(p[TCP].flags)
                              and p[TCP].dport == 40001)
        assert rst is not None and rst[TCP].seq == cookie + 1
        assert switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S", timeout=0.5) is None
        assert ct.call(lambda: metric_value(ct.ctl.metrics.fullnat_exhausted, "web")) == 1
        assert ct.ctl.stats["fullnat_exhausted"] == 1
        assert len(ct.ctl.view.table) == 1
        # The first session's RST frees it; once the switch forgot it, its port serves
        # the next connection.
        (s,) = ct.ctl.view.table.by_slot.values()
        switch.send(SERVER_PORT, from_server("R", 0, 0, 30000))
        assert wait_for(lambda: len(ct.ctl.view.table) == 0)
        assert wait_for(lambda: ct.ctl.view.table.local_ports.in_use() == 0)
        assert fullnat_maps(switch) == {}
        handshake(switch, 3000, 40002)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S" and p[TCP].seq == 3000)
        assert syn is not None and syn[TCP].sport == 30000 and s.slot
    finally:
        ct.stop()


@pytestmark_app
def test_a_restarted_controller_reads_the_local_tuples_back(artefacts: tuple[Path, Path], sock,
                                                            switch, tmp_path):
    ct = start(artefacts, sock, tmp_path, ports={"port_min": 30000, "port_max": 30001})
    try:
        handshake(switch, 1000, 40000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None
        first = syn[TCP].sport
    finally:
        ct.stop()
    ct = start(artefacts, sock, tmp_path, ports={"port_min": 30000, "port_max": 30001})
    try:
        (s,) = ct.ctl.view.table.by_slot.values()
        assert (s.laddr, s.lport) == (ip(LADDR), first)
        assert ct.ctl.view.table.local_ports.in_use() == 1
        # The next connection gets the other port, never the restored one.
        handshake(switch, 2000, 40001)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S" and p[TCP].seq == 2000)
        assert syn is not None and syn[TCP].sport == 30001 - (first - 30000)
    finally:
        ct.stop()


@pytestmark_app
def test_read_back_drops_a_fullnat_session_whose_map_is_gone(artefacts: tuple[Path, Path], sock,
                                                             switch, tmp_path):
    """C9 for FULLNAT: a server entry keyed on a local tuple that no fullnat_sessions
    entry explains cannot be translated: the restarted controller deletes the session
    rather than adopt it (and frees nothing it never held)."""
    ct = start(artefacts, sock, tmp_path)
    try:
        handshake(switch, 1000, 40000)
        assert switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S") is not None
    finally:
        ct.stop()
    maps = switch.state.table("fullnat_sessions")
    (entry,) = list(maps.entries())
    maps.remove_entry(entry)
    ct = start(artefacts, sock, tmp_path)
    try:
        assert len(ct.ctl.view.table) == 0
        assert ct.ctl.view.table.local_ports.in_use() == 0
        assert wait_for(lambda: list(switch.state.table("sessions").entries()) == [])
    finally:
        ct.stop()


@pytestmark_app
def test_reuse_of_a_closing_fullnat_session_keeps_its_local_tuple(
        artefacts: tuple[Path, Path], sock, switch, tmp_path):
    """C5 in FULLNAT: a new connection on a closed session's 4-tuple restarts the slot
    in place; the real server stays, so does the local tuple (map and server entry
    modified, not moved), and the new server SYN carries the TOA again."""
    ct = start(artefacts, sock, tmp_path,
               sessions="sessions: {syn_timeout: 30, reuse: {close: true}}\n")
    try:
        cookie = handshake(switch, 100, 40000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None
        lport = syn[TCP].sport
        switch.send(SERVER_PORT, from_server("SA", 5000, 101, lport))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
        switch.send(CLIENT_PORT, client_tcp("R", 101, cookie + 1))  # -> CLOSE
        assert wait_for(lambda: switch.register("session_state", 1) == State.CLOSE)
        first_gen = ct.ctl.view.table.by_slot[1].gen
        switch.drain(SERVER_PORT)
        handshake(switch, 90000, 40000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S" and p[TCP].seq == 90000)
        assert syn is not None
        assert (syn[IP].src, syn[TCP].sport) == (LADDR, lport)
        assert toa_of(syn) == bytes([254, 8]) + struct.pack("!H", 40000) + bytes([10, 0, 0, 1])
        s = ct.ctl.view.table.by_slot[1]
        assert s.gen != first_gen and (s.laddr, s.lport) == (ip(LADDR), lport)
        assert ct.ctl.view.table.local_ports.in_use() == 1
        assert fullnat_maps(switch) == {1: (ip(CLIENT_IP), 40000, ip(LADDR), lport, s.gen)}
    finally:
        ct.stop()
