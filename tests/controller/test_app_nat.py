"""The controller keeps the switch's unproxied-NAT tables (C8: nat_buckets, nat_reverse)
in step with its NAT services in auto/off mode: at start-up, after a restart, and on
run-time service and real-server changes.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_nat.py
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP

from controller import install
from controller.control import handle
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_PORT,
    RS2_IP,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    VIP,
    VPORT,
    ControllerThread,
    SwitchBench,
    client_tcp,
    server_tcp,
    start_controller,
    wait_for,
)

RS3_IP = "10.1.0.7"
NAT_AUTO = textwrap.dedent(f"""\
      - name: web
        vip: {VIP}
        port: {VPORT}
        mode: auto
        auto: {{syn_rate_on: 1000000, syn_rate_off: 1, quiet_seconds: 1}}
        real_servers:
          - {{address: {RS_IP}, port: {RS_PORT}, weight: 3}}
          - {{address: {RS2_IP}, port: {RS_PORT}, weight: 1}}
    """)


def _ip(v: int) -> str:
    return str(ipaddress.ip_address(v))


def buckets(switch: SwitchBench, sid: int = 1, v6: str = "") -> dict[int, tuple[str, int]]:
    """bucket -> real server, as the switch holds them for service `sid` (`v6`:
    "_v6" for an IPv6 service's, in nat_buckets_v6)."""
    return {e.match[1]: (_ip(e.args[0]), e.args[1])
            for e in switch.state.table("nat_buckets" + v6).entries() if e.match[0] == sid}


def reverse(switch: SwitchBench, v6: str = "") -> dict[tuple[str, int], tuple[str, int]]:
    return {(_ip(e.match[0]), e.match[1]): (_ip(e.args[0]), e.args[1])
            for e in switch.state.table("nat_reverse" + v6).entries()}


# The same service over IPv6 (D13): its rows are in the _v6 twins.
V6_ADDRS = {VIP: "2001:db8::100", RS_IP: "2001:db8:2::5", RS2_IP: "2001:db8:2::6",
            RS3_IP: "2001:db8:2::7"}


def family_of(family: int) -> tuple[str, dict[str, str], str]:
    """(NAT_AUTO, address map, table suffix) for `family`."""
    if family == 4:
        return NAT_AUTO, {a: a for a in V6_ADDRS}, ""
    text = NAT_AUTO
    for a, b in V6_ADDRS.items():
        text = text.replace(f" {a}", f' "{b}"').replace(f"{{address: {a},", f'{{address: "{b}",')
    return text, V6_ADDRS, "_v6"


def share(rows: dict[int, tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for addr, _port in rows.values():
        out[addr] = out.get(addr, 0) + 1
    return out


def command(ct: ControllerThread, req: dict[str, Any]) -> Any:
    assert ct.ctl is not None
    ctl = ct.ctl
    return ct.call(lambda: handle(ctl, req))


def test_startup_installs_buckets_reverse_entries_and_the_nat_flag(artefacts: tuple[Path, Path], sock, switch,
                                                                    tmp_path) -> None:
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        rows = buckets(switch)
        assert sorted(rows) == list(range(64))
        assert share(rows) == {RS_IP: 48, RS2_IP: 16}
        assert reverse(switch) == {(RS_IP, RS_PORT): (VIP, VPORT), (RS2_IP, RS_PORT): (VIP, VPORT)}
        status = command(ct, {"cmd": "status"})["services"]["web"]
        assert status["nat_buckets"] == {f"{RS_IP}:{RS_PORT}": 48, f"{RS2_IP}:{RS_PORT}": 16}
        (svc,) = [e for e in switch.state.table("services").entries() if len(e.args) == 7]
        flags = svc.args[2]  # set_service(service_id, mode, flags, ...)
        assert flags & install.SVC_NAT and svc.args[1] == install.MODE["auto"]
        # Undefended: the SYN reaches the real server of its bucket, the answer comes
        # back from the VIP.
        for sport in (41000, 41001, 41002, 41003):
            switch.send(CLIENT_PORT, client_tcp("S", 1000, sport=sport))
            syn = switch.recv_tcp(SERVER_PORT, lambda p, s=sport: p[TCP].sport == s)
            assert syn is not None and syn[TCP].flags == "S"
            assert (syn[IP].dst, syn[TCP].dport) in rows.values()
            switch.send(SERVER_PORT, server_tcp("SA", 5000, 1001, sport=sport, src=syn[IP].dst))
            back = switch.recv_tcp(CLIENT_PORT, lambda p, s=sport: p[TCP].dport == s)
            assert back is not None
            assert (back[IP].src, back[TCP].sport, back[IP].dst) == (VIP, VPORT, CLIENT_IP)
    finally:
        ct.stop()


def test_real_server_changes_move_only_that_servers_buckets(artefacts: tuple[Path, Path], sock, switch,
                                                            tmp_path) -> None:
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        before = buckets(switch)
        command(ct, {"cmd": "rs_add", "service": "web", "address": RS3_IP, "port": RS_PORT,
                     "weight": 4})
        added = buckets(switch)
        assert share(added) == {RS_IP: 24, RS2_IP: 8, RS3_IP: 32}
        assert all(added[b][0] == RS3_IP for b in added if added[b] != before[b])
        assert (RS3_IP, RS_PORT) in reverse(switch)
        command(ct, {"cmd": "rs_weight", "service": "web", "address": RS2_IP, "port": RS_PORT,
                     "weight": 0})
        drained = buckets(switch)
        assert RS2_IP not in share(drained)
        assert all(added[b][0] == RS2_IP for b in drained if drained[b] != added[b])
        assert (RS2_IP, RS_PORT) in reverse(switch)  # its connections still answer
        command(ct, {"cmd": "rs_remove", "service": "web", "address": RS3_IP, "port": RS_PORT})
        removed = buckets(switch)
        assert share(removed) == {RS_IP: 64}
        assert all(drained[b][0] == RS3_IP for b in removed if removed[b] != drained[b])
        assert (RS3_IP, RS_PORT) not in reverse(switch)
        with pytest.raises(ValueError, match="needs at least one real server"):
            for addr in (RS_IP, RS2_IP):
                command(ct, {"cmd": "rs_remove", "service": "web", "address": addr,
                             "port": RS_PORT})
    finally:
        ct.stop()


def test_services_added_and_removed_at_run_time(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        api = {"name": "api", "vip": "192.168.10.11", "port": 443, "mode": "off",
               "real_servers": [{"address": RS3_IP, "port": 8443}]}
        sid = command(ct, {"cmd": "service_add", "service": api})["id"]
        assert share(buckets(switch, sid)) == {RS3_IP: 64}
        assert reverse(switch)[(RS3_IP, 8443)] == ("192.168.10.11", 443)
        # A real server answering for two unproxied NAT services could not be told apart.
        clash = {**api, "name": "api2", "vip": "192.168.10.12",
                 "real_servers": [{"address": RS_IP, "port": RS_PORT}]}
        with pytest.raises(ValueError, match=f"{RS_IP}:{RS_PORT} already serves NAT service "
                                             "'web'"):
            command(ct, {"cmd": "service_add", "service": clash})
        with pytest.raises(ValueError, match="already serves NAT service 'api'"):
            command(ct, {"cmd": "rs_add", "service": "web", "address": RS3_IP, "port": 8443})
        # Proxied (mode on) and failing closed (the default) it may share the server: its
        # answers hit sessions. Failing open, it is NATed while the controller is gone.
        with pytest.raises(ValueError, match="already serves NAT service 'web'"):
            command(ct, {"cmd": "service_add",
                         "service": {**clash, "mode": "on", "controller_down": "open"}})
        command(ct, {"cmd": "service_add", "service": {**clash, "mode": "on"}})
        assert buckets(switch, 3) == {}
        command(ct, {"cmd": "service_remove", "name": "api"})
        assert buckets(switch, sid) == {}
        assert (RS3_IP, 8443) not in reverse(switch)
        assert len(buckets(switch, 1)) == 64
    finally:
        ct.stop()


@pytest.mark.parametrize("family", [4, 6])
def test_a_restarted_controller_keeps_the_buckets(artefacts: tuple[Path, Path], sock, switch,
                                                  tmp_path, family: int) -> None:
    """C9: connections forwarded unproxied survive a controller restart: the new
    controller reads the rows back and keeps them (IPv6's from the _v6 tables)."""
    service, a, v6 = family_of(family)
    rs, rs2, rs3 = a[RS_IP], a[RS2_IP], a[RS3_IP]
    ct = start_controller(artefacts, sock, tmp_path, service=service)
    try:
        command(ct, {"cmd": "rs_add", "service": "web", "address": rs3, "port": RS_PORT,
                     "weight": 2})
        held = buckets(switch, v6=v6)
        assert share(held)[rs3] > 0
        if v6:
            assert buckets(switch) == {} and reverse(switch) == {}
            assert reverse(switch, v6)[(rs3, RS_PORT)] == (a[VIP], VPORT)
    finally:
        ct.stop()
    # The config file has no RS3: its buckets go back to the others, nothing else moves.
    ct = start_controller(artefacts, sock, tmp_path, service=service)
    try:
        assert wait_for(lambda: rs3 not in share(buckets(switch, v6=v6)), 5)
        after = buckets(switch, v6=v6)
        assert share(after) == {rs: 48, rs2: 16}
        assert all(held[b][0] == rs3 for b in after if after[b] != held[b])
        assert (rs3, RS_PORT) not in reverse(switch, v6)
        again = buckets(switch, v6=v6)
    finally:
        ct.stop()
    ct = start_controller(artefacts, sock, tmp_path, service=service)
    try:
        assert buckets(switch, v6=v6) == again
    finally:
        ct.stop()
