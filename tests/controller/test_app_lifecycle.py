"""Controller life cycle against p4sim: pipeline push only when needed, restart
without loss (C9), primary/backup by election id (C1), a lost stream, bad configs,
and the operator socket (C10).

Run: .venv/bin/python -m pytest -q tests/controller/test_app_lifecycle.py
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from scapy.layers.inet import TCP

from controller.config import ConfigError, load_config
from controller.control import request
from tests.controller.ctlbench import (
    CLIENT_PORT,
    RS2_IP,
    SERVER_PORT,
    ControllerThread,
    SwitchBench,
    client_tcp,
    config_text,
    handshake,
    load_cfg,
    server_tcp,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)


def is_syn(p) -> bool:
    return p[TCP].flags == "S"


def establish(sw: SwitchBench, isn: int, rs_isn: int, sport: int = 40000) -> int:
    cookie = handshake(sw, isn, sport)
    assert sw.recv_tcp(SERVER_PORT, is_syn) is not None
    sw.send(SERVER_PORT, server_tcp("SA", rs_isn, isn + 1, sport=sport))
    assert sw.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
    return cookie


def data_flows(sw: SwitchBench, isn: int, cookie: int, rs_isn: int, tag: bytes) -> bool:
    sw.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=tag))
    p = sw.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == tag, timeout=3)
    return p is not None and p[TCP].ack == rs_isn + 1


def test_restart_keeps_sessions_and_pipeline(artefacts: tuple[Path, Path], sock, switch, tmp_path: Path) -> None:
    sessions = "sessions: {syn_timeout: 30, timeouts: {syn_sent: 60}}\n"
    cfg = load_cfg(config_text(*artefacts, sock, sessions=sessions), tmp_path)
    ct = ControllerThread(cfg)
    ct.wait_synced()
    cookie = establish(switch, 100, 7000)
    handshake(switch, 500, sport=40001)  # a second session, left in SYN_SENT
    assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
    epoch = ct.ctl.view.keys.state.epoch
    ct.stop()
    state_before = switch.state
    ct2 = ControllerThread(cfg)
    try:
        ct2.wait_synced()
        assert switch.state is state_before, "the pipeline was pushed again"
        t = ct2.ctl.view.table
        assert len(t) == 2 and sorted(s.state for s in t.by_slot.values()) == [1, 2]
        assert ct2.ctl.view.keys.state.epoch == epoch
        assert t.free_slots == t.capacity - 2
        assert data_flows(switch, 100, cookie, 7000, b"after restart")
        # A new session does not take a restored slot.
        handshake(switch, 900, sport=40002)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        assert wait_for(lambda: len(ct2.ctl.view.table) == 3)
        assert len({s.slot for s in ct2.ctl.view.table.by_slot.values()}) == 3
    finally:
        ct2.stop()


def test_backup_waits_and_takes_over(artefacts: tuple[Path, Path], sock, switch, tmp_path: Path) -> None:
    primary = ControllerThread(load_cfg(config_text(*artefacts, sock, election_id=10), tmp_path))
    primary.wait_synced()
    cookie = establish(switch, 100, 7000)
    (tmp_path / "b").mkdir()
    backup = ControllerThread(load_cfg(config_text(*artefacts, sock, election_id=5),
                                       tmp_path / "b"))
    try:
        assert wait_for(lambda: backup.ctl.link.conn is not None and not backup.ctl.link.is_primary, 5)
        assert not wait_for(lambda: backup.ctl.synced.is_set(), 0.5)
        assert primary.ctl.link.is_primary
        primary.stop()
        backup.wait_synced(10)
        assert backup.ctl.link.is_primary and len(backup.ctl.view.table) == 1
        assert data_flows(switch, 100, cookie, 7000, b"after takeover")
    finally:
        primary.stop()
        backup.stop()


def test_lost_stream_reconnects_and_pushes_to_a_fresh_switch(artefacts: tuple[Path, Path], sock, tmp_path) -> None:
    sw = SwitchBench(sock)
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path))
    try:
        ct.wait_synced()
        sw.stop()
        assert wait_for(lambda: not ct.ctl.synced.is_set(), 10)
        sw = SwitchBench(sock)
        ct.wait_synced(20)
        assert ct.ctl.stats["reconnects"] >= 1
        establish(sw, 100, 7000)  # keys, services and routes are back
    finally:
        ct.stop()
        sw.stop()


def test_a_different_pipeline_is_replaced(artefacts: tuple[Path, Path], sock, switch, tmp_path: Path) -> None:
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path))
    ct.wait_synced()
    establish(switch, 100, 7000)
    ct.stop()
    first = switch.state
    # Same P4Info, another device config (as after editing the program): pushed again.
    p4info, devcfg = artefacts
    doc = json.loads(devcfg.read_text())
    doc["filename"] = "elsewhere/synproxy.p4"
    other = tmp_path / "other.p4sim"
    other.write_text(json.dumps(doc))
    (tmp_path / "b").mkdir()
    ct2 = ControllerThread(load_cfg(config_text(p4info, other, sock), tmp_path / "b"))
    try:
        ct2.wait_synced()
        assert switch.state is not first
        assert len(ct2.ctl.view.table) == 0
    finally:
        ct2.stop()


def test_runtime_service_and_real_server_changes(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    ctl_sock = str(tmp_path / "ctl.sock")
    control = f"control: {{socket: \"{ctl_sock}\"}}\n"
    cfg = load_cfg(config_text(*artefacts, sock, control=control), tmp_path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        from controller.control import ControlServer

        server = ControlServer(ct.ctl, ctl_sock)
        ct.call(server.start)
        status = request(ctl_sock, {"cmd": "status"})
        assert status["primary"] and status["services"]["web"]["id"] == 1
        # Replace the real server: the next session goes to the new one.
        request(ctl_sock, {"cmd": "rs_add", "service": "web", "address": RS2_IP, "port": 8080})
        request(ctl_sock, {"cmd": "rs_remove", "service": "web", "address": "10.1.0.5",
                           "port": 8080})
        handshake(switch, 100)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn["IP"].dst == RS2_IP
        sessions = request(ctl_sock, {"cmd": "sessions"})
        assert sessions[0]["rs"] == f"{RS2_IP}:8080" and sessions[0]["state"] == "syn_sent"
        with pytest.raises(RuntimeError, match="not a real server"):
            request(ctl_sock, {"cmd": "rs_weight", "service": "web", "address": "10.9.9.9",
                               "port": 1, "weight": 3})
        # A new service at run time answers SYNs with cookies.
        request(ctl_sock, {"cmd": "service_add", "service": {
            "name": "ssh", "vip": "192.168.10.10", "port": 22,
            "real_servers": [{"address": RS2_IP, "port": 22}]}})
        switch.drain(CLIENT_PORT)
        pkt = client_tcp("S", 1, sport=555)
        pkt["TCP"].dport = 22
        switch.send(CLIENT_PORT, pkt)
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA") is not None
        with pytest.raises(RuntimeError, match="vip"):
            request(ctl_sock, {"cmd": "service_add", "service": {"name": "x", "vip": "nope",
                                                                 "port": 1}})
        request(ctl_sock, {"cmd": "service_remove", "name": "ssh"})
        switch.send(CLIENT_PORT, pkt)
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA", 0.5) is None
        counters = request(ctl_sock, {"cmd": "counters"})
        assert counters["global"]["1"] >= 2 and counters["by_name"]["syn_in"] >= 2
        assert counters["services"]["web"]["2"] >= 1  # SYNACK_SENT
        with pytest.raises(RuntimeError, match="unknown command"):
            request(ctl_sock, {"cmd": "reboot"})
        ct.call(server.close)
    finally:
        ct.stop()


@pytest.mark.parametrize("text, where", [
    ("switch: {election_id: 0}\n", "switch.election_id"),
    ("control: {log_format: xml}\n", "control.log_format"),
    ("control: {state_poll_seconds: -1}\n", "control.state_poll_seconds"),
    ("sessions: {reuse: {closed: true}}\n", "sessions.reuse.closed"),
])
def test_bad_config_files_name_the_line_and_field(tmp_path: Path, text: str, where: str):
    p = tmp_path / "bad.yaml"
    p.write_text("# a comment\n" + text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:2: {where}")


def test_cli_reports_bad_config_and_missing_socket(tmp_path: Path, capsys) -> None:
    from controller.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        services:
          - {name: web, vip: 10.0.0.300, port: 80}
        """))
    assert main(["run", "--config", str(bad)]) == 2
    assert "bad.yaml:2: services[0].vip" in capsys.readouterr().err
    assert main(["status", "--socket", str(tmp_path / "none.sock")]) == 1
    assert "synproxyctl:" in capsys.readouterr().err


def test_restored_pending_session_resets_the_client(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    sessions = "sessions: {syn_timeout: 30, timeouts: {syn_sent: 0.5}}\n"
    cfg = load_cfg(config_text(*artefacts, sock, sessions=sessions), tmp_path)
    ct = ControllerThread(cfg)
    ct.wait_synced()
    cookie = handshake(switch, 100)
    assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
    ct.stop()
    ct2 = ControllerThread(cfg)
    try:
        ct2.wait_synced()
        rst = switch.recv_tcp(CLIENT_PORT, lambda p: "R" in str(p[TCP].flags), timeout=10)
        assert rst is not None and rst[TCP].seq == cookie + 1
        assert wait_for(lambda: len(ct2.ctl.view.table) == 0)
        assert wait_for(lambda: list(switch.state.table("sessions").entries()) == [])
    finally:
        ct2.stop()
