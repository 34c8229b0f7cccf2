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
    return str(ipaddress.IPv4Address(v))


def buckets(switch: SwitchBench, sid: int = 1) -> dict[int, tuple[str, int]]:
    """bucket -> real server, as the switch holds them for service `sid`."""
    return {e.match[1]: (_ip(e.args[0]), e.args[1])
            for e in switch.state.table("nat_buckets").entries() if e.match[0] == sid}


def reverse(switch: SwitchBench) -> dict[tuple[str, int], tuple[str, int]]:
    return {(_ip(e.match[0]), e.match[1]): (_ip(e.args[0]), e.args[1])
            for e in switch.state.table("nat_reverse").entries()}


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


def test_a_restarted_controller_keeps_the_buckets(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    """C9: connections forwarded unproxied survive a controller restart: the new
    controller reads the rows back and keeps them."""
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        command(ct, {"cmd": "rs_add", "service": "web", "address": RS3_IP, "port": RS_PORT,
                     "weight": 2})
        held = buckets(switch)
    finally:
        ct.stop()
    # The config file has no RS3: its buckets go back to the others, nothing else moves.
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        assert wait_for(lambda: RS3_IP not in share(buckets(switch)), 5)
        after = buckets(switch)
        assert share(after) == {RS_IP: 48, RS2_IP: 16}
        assert all(held[b][0] == RS3_IP for b in after if after[b] != held[b])
        assert (RS3_IP, RS_PORT) not in reverse(switch)
        again = buckets(switch)
    finally:
        ct.stop()
    ct = start_controller(artefacts, sock, tmp_path, service=NAT_AUTO)
    try:
        assert buckets(switch) == again
    finally:
        ct.stop()
