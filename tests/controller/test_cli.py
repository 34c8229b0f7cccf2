"""`synproxyctl run` as an operator starts it: a process serving its control socket and
Prometheus metrics, logging key=value lines, driven by `synproxyctl` commands, and
stopping cleanly on SIGTERM.

Run: .venv/bin/python -m pytest -q tests/controller/test_cli.py
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from controller.cli import build_parser, request_of
from controller.control import request
from tests.controller.ctlbench import ROOT, config_text, wait_for

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def synced(path: str) -> bool:
    try:
        return bool(request(path, {"cmd": "status"}, timeout=2)["synced"])
    except (OSError, RuntimeError):
        return False


def test_run_status_service_metrics_and_stop(artefacts: tuple[Path, Path], sock, switch, tmp_path: Path) -> None:
    ctl_sock = str(tmp_path / "ctl.sock")
    port = free_port()
    cfg = tmp_path / "synproxy.yaml"
    cfg.write_text(config_text(*artefacts, sock, control=f'control: {{socket: "{ctl_sock}"}}\n')
                   + f'metrics: {{listen: "127.0.0.1:{port}"}}\n')
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: synced(ctl_sock), 30), "controller did not sync"
        out = ctl("status", "--config", str(cfg), "--json")
        assert out.returncode == 0, out.stderr
        status = json.loads(out.stdout)
        assert status["primary"] and status["services"]["web"]["vip"] == "192.168.10.10"
        out = ctl("service", "add", "ssh", "--vip", "192.168.10.10", "--port", "22",
                  "--rs", "10.1.0.6:22:2", "--socket", ctl_sock)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["id"] == 2
        out = ctl("rs", "weight", "ssh", "10.1.0.6:22", "5", "--socket", ctl_sock)
        assert json.loads(out.stdout)["real_servers"] == ["10.1.0.6:22/5"]
        # IPv6 (D13): a service on an IPv6 VIP, its real servers in brackets
        out = ctl("service", "add", "web6", "--vip", "2001:DB8::100", "--port", "80",
                  "--rs", "[2001:db8:2::10]:8080", "--socket", ctl_sock)
        assert out.returncode == 0, out.stderr
        out = ctl("rs", "add", "web6", "[2001:db8:2::11]:8080", "--weight", "3",
                  "--socket", ctl_sock)
        assert json.loads(out.stdout)["real_servers"] == ["[2001:db8:2::10]:8080/1",
                                                          "[2001:db8:2::11]:8080/3"]
        out = ctl("rs", "add", "web6", "10.1.0.7:8080", "--socket", ctl_sock)
        assert out.returncode == 2 and "is IPv4 but the VIP 2001:db8::100 is IPv6" in out.stderr
        out = ctl("status", "--socket", ctl_sock)
        assert "[2001:db8::100]:80" in out.stdout and "[2001:db8:2::11]:8080" in out.stdout
        out = ctl("service", "remove", "web6", "--socket", ctl_sock)
        assert out.returncode == 0, out.stderr
        out = ctl("rs", "remove", "web", "10.9.9.9:80", "--socket", ctl_sock)
        assert out.returncode == 2 and "not a real server" in out.stderr  # a bad argument
        out = ctl("sessions", "--socket", ctl_sock)
        assert json.loads(out.stdout) == []
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"synproxy_primary 1.0" in body
        assert b"synproxy_sessions_created_total" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    lines = [ln for ln in err.splitlines() if "event=synced" in ln]
    assert lines and lines[0].startswith("ts=") and "level=info" in lines[0]
    assert not Path(ctl_sock).exists()


def test_command_requests() -> None:
    p = build_parser()
    req = request_of(p.parse_args(["service", "add", "x", "--vip", "1.2.3.4", "--port", "80",
                                   "--transparent", "--socket", "s"]))
    assert req["service"]["nat"] is False and req["service"]["real_servers"] == []
    req = request_of(p.parse_args(["rs", "add", "x", "1.2.3.4:80", "--weight", "3",
                                   "--socket", "s"]))
    assert req == {"cmd": "rs_add", "service": "x", "address": "1.2.3.4", "port": 80,
                   "weight": 3}
    with pytest.raises(SystemExit):
        request_of(p.parse_args(["rs", "remove", "x", "1.2.3.4", "--socket", "s"]))
    # IPv6: the VIP as written, a real server in brackets (with a weight after it).
    req = request_of(p.parse_args(["service", "add", "x", "--vip", "2001:DB8::100",
                                   "--port", "80", "--rs", "[2001:db8:a::10]:8080:2",
                                   "--socket", "s"]))
    assert req["service"]["vip"] == "2001:db8::100"
    assert req["service"]["real_servers"] == [{"address": "2001:db8:a::10", "port": 8080,
                                               "weight": 2}]
    req = request_of(p.parse_args(["rs", "remove", "x", "[2001:db8:a::10]:8080",
                                   "--socket", "s"]))
    assert (req["address"], req["port"]) == ("2001:db8:a::10", 8080)


def test_json_logs(capsys) -> None:
    import logging

    from controller.logs import JsonFormatter

    rec = logging.LogRecord("controller", logging.INFO, "f", 1, "event=synced pushed=%s n=%d",
                            (True, 3), None)
    doc = json.loads(JsonFormatter().format(rec))
    assert doc["event"] == "synced" and doc["pushed"] == "True" and doc["n"] == "3"
    rec = logging.LogRecord("controller", logging.INFO, "f", 1, "free text here", (), None)
    assert json.loads(JsonFormatter().format(rec))["msg"] == "free text here"


def test_run_reports_missing_or_wrong_artefacts(artefacts: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    from controller.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text(tmp_path / "none.txt", artefacts[1], str(tmp_path / "s")))
    assert main(["run", "--config", str(cfg)]) == 2
    assert "switch.p4info: cannot load" in capsys.readouterr().err
    other = tmp_path / "p4info.txt"
    other.write_text('pkg_info { arch: "v1model" }\n')
    cfg.write_text(config_text(other, artefacts[1], str(tmp_path / "s")))
    assert main(["run", "--config", str(cfg)]) == 2
    assert "not the synproxy program" in capsys.readouterr().err


def test_event_names_follow_the_p4_program() -> None:
    from controller.admin import EVENT_NAMES
    from tests.p4src.p4bench import EV

    assert EVENT_NAMES == {code: name.lower() for name, code in EV.items() if code}
