"""Durable run-time changes: `synproxyctl save` writes the running config atomically
and a restart keeps what was changed at run time; a reload (SIGHUP or `synproxyctl
reload`) applies the file's services by difference without touching sessions.

Run: .venv/bin/python -m pytest -q tests/controller/test_durable.py
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scapy.layers.inet import TCP

from controller.config import ConfigError, load_config, parse_config
from controller.persist import diff_services, to_yaml
from tests.controller.ctlbench import (
    CLIENT_PORT,
    ROOT,
    RS2_IP,
    RS_PORT,
    SERVER_PORT,
    ControllerThread,
    client_tcp,
    config_text,
    handshake,
    load_cfg,
    server_tcp,
    wait_for,
)
from tests.controller.test_app_lifecycle import data_flows, establish, is_syn
from tests.controller.test_cli import ctl, synced

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("name", ["synproxy.yaml", "minimal.yaml"])
def test_written_config_loads_back_the_same(name: str, tmp_path: Path) -> None:
    cfg = load_config(ROOT / "examples" / name)
    text = to_yaml(dataclasses.replace(cfg, cookie=dataclasses.replace(
        cfg.cookie, key=bytes.fromhex("0011223344556677"))))
    back = parse_config(text, "saved.yaml")
    assert back.cookie.key == bytes.fromhex("0011223344556677")
    assert dataclasses.replace(back, path=cfg.path, cookie=cfg.cookie) == cfg
    assert {s.mode for s in back.services} == {s.mode for s in cfg.services}


def test_reload_adds_a_server_without_touching_sessions(artefacts: tuple[Path, Path], sock, switch,
                                                        tmp_path: Path) -> None:
    sessions = "sessions: {syn_timeout: 30, timeouts: {syn_sent: 60}}\n"
    text = config_text(*artefacts, sock, sessions=sessions)
    cfg = load_cfg(text, tmp_path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        assert ct.ctl is not None
        admin = ct.ctl.admin
        cookie = establish(switch, 100, 7000)
        entries = sorted(str(e) for e in switch.state.table("sessions").entries())
        assert entries and len(ct.ctl.view.table) == 1
        slot = next(iter(ct.ctl.view.table.by_slot.values()))

        Path(cfg.path).write_text(text.replace(
            "    - {address: 10.1.0.5, port: 8080}\n",
            f"    - {{address: 10.1.0.5, port: 8080}}\n"
            f"    - {{address: {RS2_IP}, port: {RS_PORT}}}\n"))
        result = ct.call(admin.reload)
        assert result["real_servers"] == ["web"] and result["added"] == []
        assert result["removed"] == [] and result["need_restart"] == []
        svc = ct.ctl.services[1]
        assert [r.address for r in svc.real_servers] == ["10.1.0.5", RS2_IP]
        # the session is the same object, its entries the same, its data still flows
        assert list(ct.ctl.view.table.by_slot.values()) == [slot]
        assert sorted(str(e) for e in switch.state.table("sessions").entries()) == entries
        assert data_flows(switch, 100, cookie, 7000, b"after reload")
        # new sessions use the new server too (wrr 1:1: one of the next two)
        dsts = set()
        for i in range(2):
            handshake(switch, 900 + i, sport=40100 + i)
            syn = switch.recv_tcp(SERVER_PORT, is_syn)
            assert syn is not None
            dsts.add(syn["IP"].dst)
        assert dsts == {"10.1.0.5", RS2_IP}

        # a bad file changes nothing and says where it is wrong
        Path(cfg.path).write_text(text.replace("port: 80\n", "prot: 80\n", 1))
        with pytest.raises(ConfigError, match="prot: unknown key"):
            ct.call(admin.reload)
        assert len(ct.ctl.services[1].real_servers) == 2
        # a changed section other than services is reported, not applied
        Path(cfg.path).write_text(text.replace("rotate_seconds: 3600", "rotate_seconds: 60"))
        result = ct.call(admin.reload)
        assert result["need_restart"] == ["cookie"] and result["real_servers"] == ["web"]
        assert len(ct.ctl.services[1].real_servers) == 1
    finally:
        ct.stop()


def test_diff_by_name() -> None:
    base = parse_config("services:\n"
                        " - {name: a, vip: 10.0.0.1, port: 80, real_servers: [{address: 10.1.0.1, port: 80}]}\n"
                        " - {name: b, vip: 10.0.0.1, port: 81, mode: auto, real_servers: [{address: 10.1.0.1, port: 81}]}\n")
    new = parse_config("services:\n"
                       " - {name: a, vip: 10.0.0.1, port: 80, real_servers: [{address: 10.1.0.2, port: 80}]}\n"
                       " - {name: c, vip: 10.0.0.1, port: 82, real_servers: [{address: 10.1.0.1, port: 82}]}\n")
    d = diff_services(list(base.services), new.services)
    assert [s.name for s in d.added] == ["c"] and d.removed == ["b"]
    assert [s.name for s in d.servers] == ["a"] and d.replaced == []
    moved = parse_config("services:\n"
                         " - {name: a, vip: 10.0.0.1, port: 80, mode: off, real_servers: [{address: 10.1.0.2, port: 80}]}\n")
    d = diff_services(list(new.services[:1]), moved.services)
    assert [s.name for s in d.replaced] == ["a"] and not d.servers
    checked = parse_config("services:\n"
                           " - {name: a, vip: 10.0.0.1, port: 80, scheduler: lc, health: {type: tcp},"
                           " real_servers: [{address: 10.1.0.2, port: 80}]}\n")
    d = diff_services(list(new.services[:1]), checked.services)
    assert [s.name for s in d.servers] == ["a"] and not d.replaced  # in place


def test_save_restart_and_sighup(artefacts: tuple[Path, Path], sock, switch, tmp_path: Path) -> None:
    ctl_sock = str(tmp_path / "ctl.sock")
    cfg = tmp_path / "synproxy.yaml"
    cfg.write_text("# the operator's comment\n"
                   + config_text(*artefacts, sock, control=f'control: {{socket: "{ctl_sock}"}}\n'))

    def start() -> subprocess.Popen[str]:
        p = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: synced(ctl_sock), 30), "controller did not sync"
        return p

    def status() -> dict:
        out = ctl("status", "--socket", ctl_sock, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def stop(p: subprocess.Popen[str]) -> str:
        p.send_signal(signal.SIGTERM)
        _o, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        return err

    proc = start()
    try:
        assert ctl("rs", "add", "web", f"{RS2_IP}:{RS_PORT}", "--weight", "3",
                   "--socket", ctl_sock).returncode == 0
        assert ctl("service", "add", "ssh", "--vip", "192.168.10.10", "--port", "22",
                   "--rs", f"{RS2_IP}:22", "--socket", ctl_sock).returncode == 0
        out = ctl("save", "--socket", ctl_sock)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {"path": str(cfg), "services": 2}
    finally:
        err = stop(proc)
    assert "event=config_saved" in err and "event=service_added service=ssh" in err
    saved = cfg.read_text()
    assert saved.startswith("# written by synproxyctl save") and "operator's comment" not in saved
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    proc = start()  # the restart keeps the run-time changes
    try:
        st = status()
        assert sorted(st["services"]) == ["ssh", "web"]
        assert [(r["address"], r["weight"]) for r in st["services"]["web"]["real_servers"]] \
            == [("10.1.0.5", 1), (RS2_IP, 3)]
        # An established session, then SIGHUP: the file's services, by difference (ssh
        # removed, a third real server for web); the session is not touched.
        cookie = handshake(switch, 300, sport=40300)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None
        rs = syn["IP"].dst  # whichever server wrr picked
        switch.send(SERVER_PORT, server_tcp("SA", 9000, 301, sport=40300, src=rs))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
        sessions = sorted(str(e) for e in switch.state.table("sessions").entries())
        assert len(sessions) == 2  # its two directions
        doc = yaml.safe_load(saved)
        doc["services"] = [s for s in doc["services"] if s["name"] != "ssh"]
        (web,) = doc["services"]
        web["real_servers"].append({"address": "10.1.0.7", "port": RS_PORT, "weight": 1})
        cfg.write_text(yaml.safe_dump(doc))
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: sorted(status()["services"]) == ["web"], 30)
        assert status()["synced"]
        assert [r["address"] for r in status()["services"]["web"]["real_servers"]] == [
            "10.1.0.5", RS2_IP, "10.1.0.7"]
        assert sorted(str(e) for e in switch.state.table("sessions").entries()) == sessions
        switch.send(CLIENT_PORT, client_tcp("PA", 301, cookie + 1, sport=40300,
                                            payload=b"after SIGHUP"))
        p = switch.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == b"after SIGHUP")
        assert p is not None and (p["IP"].dst, p[TCP].ack) == (rs, 9001)
    finally:
        err = stop(proc)
    assert "event=config_reloaded" in err and "removed=ssh" in err
