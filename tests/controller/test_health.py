"""Real-server health checks (C12) against real HTTP servers on loopback: a stopped
server is taken out of scheduling and the switch's NAT buckets after `fall` failed
probes, and put back after `rise` good ones; the least-connection scheduler.

Run: .venv/bin/python -m pytest -q tests/controller/test_health.py
"""

from __future__ import annotations

import asyncio
import logging
import socket
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controller.config import HealthCheck, RealServer
from controller.health import probe
from controller.scheduler import LeastConnection
from tests.controller.ctlbench import VIP, start_controller, wait_for
from tests.controller.test_app_nat import buckets, share

pytestmark = pytest.mark.timeout(120)
FALL, RISE = 3, 2


class Ok(BaseHTTPRequestHandler):
    hosts: list[str] = []  # the Host header of every request

    def do_GET(self) -> None:
        Ok.hosts.append(self.headers.get("Host", ""))
        code = 200 if self.path == "/health" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Web:
    """An HTTP server on 127.0.0.1 (or `host`) in a thread; stop() closes its port."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.httpd = Server((host, port), Ok)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def test_probes_tcp_and_http() -> None:
    web = Web()
    try:
        http = HealthCheck(type="http", path="/health", timeout=5)
        assert asyncio.run(probe(http, "127.0.0.1", web.port)) is None
        wrong = HealthCheck(type="http", path="/nope", timeout=5)
        assert asyncio.run(probe(wrong, "127.0.0.1", web.port)) == \
            "HTTP status 404, expected 200"
        assert asyncio.run(probe(HealthCheck(timeout=5), "127.0.0.1", web.port)) is None
    finally:
        web.stop()
    err = asyncio.run(probe(HealthCheck(timeout=5), "127.0.0.1", web.port))
    assert err is not None and err.startswith("connect: ")


def test_http_probe_of_an_ipv6_server_names_it_in_brackets() -> None:
    """RFC 7230 5.4: an IPv6 literal in the Host header is bracketed (D13)."""
    web = Web(host="::1")
    try:
        http = HealthCheck(type="http", path="/health", timeout=5)
        Ok.hosts.clear()
        assert asyncio.run(probe(http, "::1", web.port)) is None
        assert Ok.hosts == ["[::1]"]
    finally:
        web.stop()


def test_stopped_server_out_after_fall_back_after_rise(artefacts, sock, switch, tmp_path,
                                                       caplog) -> None:
    caplog.set_level(logging.INFO, logger="controller.admin")
    one, two = Web(), Web()
    service = textwrap.dedent(f"""\
          - name: web
            vip: {VIP}
            port: 80
            mode: "off"
            scheduler: lc
            health: {{type: http, path: /health, interval: 0.05, timeout: 5,
                      rise: {RISE}, fall: {FALL}}}
            real_servers:
              - {{address: 127.0.0.1, port: {one.port}}}
              - {{address: 127.0.0.1, port: {two.port}}}
        """)
    ct = start_controller(artefacts, sock, tmp_path, service=service)
    assert ct.ctl is not None
    ctl = ct.ctl
    a, b = ("127.0.0.1", one.port), ("127.0.0.1", two.port)
    try:
        state = ctl.checks.state
        assert wait_for(lambda: (1, b) in state and state[(1, b)].probes >= 2, 30)
        assert state[(1, a)].up and state[(1, b)].up
        assert share(buckets(switch)) == {"127.0.0.1": 64}
        assert {v for v in buckets(switch).values()} == {a, b}

        at_stop = state[(1, b)].probes
        two.stop()
        assert wait_for(lambda: not state[(1, b)].up, 30), "not taken out"
        probe_no, up, streak = state[(1, b)].changes[-1]
        assert not up and streak == FALL
        assert probe_no - at_stop <= FALL + 1  # one probe may have been in flight
        assert wait_for(lambda: set(buckets(switch).values()) == {a}, 10)
        flows = [(0x0A000001, i, 0xC0A80A0A, 80) for i in range(8)]
        picks = ct.call(lambda: {ctl.services.pick(1, f) for f in flows})
        assert picks == {RealServer("127.0.0.1", one.port)}
        st = ct.call(ctl.status)
        assert [r["up"] for r in st["services"]["web"]["real_servers"]] == [True, False]
        assert state[(1, a)].up, "the other server stayed up"

        two = Web(two.port)  # back on the same port
        assert wait_for(lambda: state[(1, b)].up, 30), "not put back"
        probe_no2, up, streak = state[(1, b)].changes[-1]
        assert up and streak == RISE and probe_no2 > probe_no
        assert wait_for(lambda: set(buckets(switch).values()) == {a, b}, 10)
        lines = [r.getMessage() for r in caplog.records if "event=health_changed" in
                 r.getMessage()]
        assert len(lines) == 2 and "up=False" in lines[0] and "up=True" in lines[1]
        assert f"real_server=127.0.0.1:{two.port}" in lines[0]
    finally:
        ct.stop()
        one.stop()
        two.stop()


def test_least_connection_weighs_sessions_by_weight() -> None:
    servers = [RealServer("10.0.0.1", 80, 1), RealServer("10.0.0.2", 80, 3),
               RealServer("10.0.0.3", 80, 0)]
    load = {s.address: 0 for s in servers}
    lc = LeastConnection(servers, lambda s: load[s.address])
    picked = []
    for _ in range(8):
        s = lc.pick()
        assert s is not None
        load[s.address] += 1
        picked.append(s.address)
    assert picked.count("10.0.0.2") == 6 and picked.count("10.0.0.1") == 2
    assert "10.0.0.3" not in picked  # weight 0: drained
    load["10.0.0.2"] = 100  # its sessions stay: the light one gets the next ones
    assert lc.pick() == servers[0]
