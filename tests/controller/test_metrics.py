"""Prometheus, scraped over HTTP from a controller driving p4sim: the switch's event
counters per service and drop reason, sessions per real server, series gone with
their service or real server, `/healthz` apart from `/metrics`, any other path 404.

Run: .venv/bin/python -m pytest -q tests/controller/test_metrics.py
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from controller.control import handle
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    MAC1,
    ROOT,
    RS2_IP,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    VIP,
    ControllerThread,
    client_tcp,
    handshake,
    start_controller,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(base: str) -> Samples:
    code, body = get(base + "/metrics")
    assert code == 200
    out: Samples = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def families(base: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(get(base + "/metrics")[1])}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def names_with(samples: Samples, label: str, v: str) -> set[str]:
    return {name for name, labels in samples if (label, v) in labels}


def command(ct: ControllerThread, req: dict[str, Any]) -> Any:
    assert ct.ctl is not None
    ctl = ct.ctl
    return ct.call(lambda: handle(ctl, req))


def dashboard_metrics() -> set[str]:
    import json
    import re

    doc = json.loads((ROOT / "examples" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    return {m for e in exprs for m in re.findall(r"synproxy_[a-z0-9_]+", e)}


def test_switch_counters_per_service_and_reason(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    ct = start_controller(artefacts, sock, tmp_path)
    assert ct.ctl is not None
    server = ct.ctl.metrics.serve("127.0.0.1:0", ct.ctl.health)
    base = f"http://127.0.0.1:{server.port}"
    try:
        for sport in (41001, 41002, 41003):
            switch.send(CLIENT_PORT, client_tcp("S", 1000, sport=sport))
        handshake(switch, 5000, sport=41004)  # a 4th SYN, and its valid ACK
        assert wait_for(lambda: switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S"),
                        10), "no server SYN"
        switch.send(CLIENT_PORT, client_tcp("A", 7001, 0xDEAD, sport=41005))  # bad cookie
        switch.send(CLIENT_PORT, Ether(src=CLIENT_MAC, dst=MAC1) / IP(src=CLIENT_IP, dst=VIP)
                    / UDP(sport=5353, dport=80) / b"x")
        assert switch.wait_idle()

        s = scrape(base)
        assert value(s, "synproxy_switch_counters_up") == 1
        assert value(s, "synproxy_syns_received_total", service="web", family="ipv4") == 4
        assert value(s, "synproxy_cookies_sent_total", service="web", family="ipv4") == 4
        assert value(s, "synproxy_cookie_acks_total", service="web", family="ipv4", result="valid") == 1
        assert value(s, "synproxy_cookie_acks_total", service="web", family="ipv4", result="invalid") == 1
        assert value(s, "synproxy_drops_total", service="web", family="ipv4", reason="udp") == 1
        assert value(s, "synproxy_drops_total", service="web", family="ipv4", reason="martian") == 0
        assert value(s, "synproxy_service_events_total", service="web", family="ipv4", event="syn_in") == 4
        assert value(s, "synproxy_switch_drops_total", reason="udp") == 1
        assert value(s, "synproxy_switch_events_total", event="synack_sent") == 4
        rs = {"service": "web", "family": "ipv4", "real_server": f"{RS_IP}:{RS_PORT}"}
        assert value(s, "synproxy_real_server_sessions", **rs) == 1
        assert value(s, "synproxy_real_server_sessions_total", **rs) == 1
        assert value(s, "synproxy_real_server_weight", **rs) == 1

        # the operator's view agrees, by name
        counters = command(ct, {"cmd": "counters"})
        assert counters["services_by_name"]["web"]["syn_in"] == 4
        assert counters["by_name"]["drop_udp"] == 1
        status = command(ct, {"cmd": "status"})
        assert status["services"]["web"]["real_servers"][0]["sessions"] == 1

        # every series the example Grafana dashboard plots is one this scrape has
        # (a labelled gauge without series yet, as defence for no auto service: its family)
        exported = {name for name, _labels in s} | families(base)
        assert dashboard_metrics() <= exported, dashboard_metrics() - exported

        assert get(base + "/healthz") == (200, "ok: primary, synced\n")
        for path in ("/", "/metricsx", "/healthz/x", "/favicon.ico"):
            assert get(base + path)[0] == 404, path
    finally:
        ct.stop()
        server.close()


SSH = {"name": "ssh", "vip": VIP, "port": 22, "mode": "auto",
       "real_servers": [{"address": RS2_IP, "port": 22}]}


def test_series_go_with_their_service_and_real_server(artefacts: tuple[Path, Path], sock, switch,
                                                      tmp_path) -> None:
    ct = start_controller(artefacts, sock, tmp_path,
                          control="control: {auto_poll_seconds: 0.05}\n")
    assert ct.ctl is not None
    server = ct.ctl.metrics.serve("127.0.0.1:0", ct.ctl.health)
    base = f"http://127.0.0.1:{server.port}"
    try:
        command(ct, {"cmd": "service_add", "service": SSH})
        # the auto service's own gauge appears at its first poll
        assert wait_for(lambda: value(scrape(base), "synproxy_service_syn_rate", service="ssh",
                                          family="ipv4")
                        is not None, 30)
        s = scrape(base)
        assert value(s, "synproxy_syns_received_total", service="ssh", family="ipv4") == 0
        assert value(s, "synproxy_real_server_sessions", service="ssh", family="ipv4",
                     real_server=f"{RS2_IP}:22") == 0
        command(ct, {"cmd": "service_remove", "name": "ssh"})
        s = scrape(base)
        assert names_with(s, "service", "ssh") == set()
        assert value(s, "synproxy_syns_received_total", service="web", family="ipv4") == 0

        command(ct, {"cmd": "rs_add", "service": "web", "address": RS2_IP, "port": RS_PORT,
                     "weight": 2})
        rs2 = {"service": "web", "family": "ipv4", "real_server": f"{RS2_IP}:{RS_PORT}"}
        assert value(scrape(base), "synproxy_real_server_weight", **rs2) == 2
        command(ct, {"cmd": "rs_remove", "service": "web", "address": RS2_IP,
                     "port": RS_PORT})
        s = scrape(base)
        assert names_with(s, "real_server", f"{RS2_IP}:{RS_PORT}") == set()
        assert value(s, "synproxy_real_server_weight", service="web", family="ipv4",
                     real_server=f"{RS_IP}:{RS_PORT}") == 1

        switch.stop()  # the switch is gone: no switch series, and not healthy
        assert wait_for(lambda: get(base + "/healthz")[0] == 503, 30)
        s = scrape(base)
        assert value(s, "synproxy_switch_counters_up") == 0
        assert value(s, "synproxy_syns_received_total", service="web", family="ipv4") is None
        assert value(s, "synproxy_real_server_weight", service="web", family="ipv4",
                     real_server=f"{RS_IP}:{RS_PORT}") == 1
    finally:
        ct.stop()
        server.close()


def test_metrics_listen_in_use_is_a_startup_error(artefacts: tuple[Path, Path], sock, tmp_path, capsys) -> None:
    import socket

    from controller.cli import main
    from tests.controller.ctlbench import config_text

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "c.yaml"
        cfg.write_text(config_text(*artefacts, sock)
                       + f'metrics: {{listen: "127.0.0.1:{port}"}}\n')
        assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "c.yaml:" in err and f"metrics.listen: cannot serve 127.0.0.1:{port}" in err


def test_demo_report_names_every_drop_reason() -> None:
    from controller.admin import EVENT_NAMES
    from topo.demo import DROP_REASONS

    assert set(DROP_REASONS) == {n[5:] for n in EVENT_NAMES.values() if n.startswith("drop_")}


def test_auto_service_removed_while_its_rate_is_read(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    """The defence poll's read may be out when the operator removes the service: the
    answer is for a service no longer there, and is dropped (no error that would cost
    the connection, no series for the removed service)."""
    ct = start_controller(artefacts, sock, tmp_path)
    assert ct.ctl is not None
    ctl = ct.ctl
    try:
        sid = command(ct, {"cmd": "service_add", "service": SSH})["id"]

        class RemovedDuringRead:
            def __init__(self, conn: Any) -> None:
                self.conn = conn

            async def read(self, queries: Any) -> Any:
                answer = await self.conn.read(queries)
                ctl.services.remove(sid)
                ctl.metrics.forget_service("ssh")
                return answer

        ct.call(lambda: ctl.timers.poll_auto(cast(Any, RemovedDuringRead(ctl.link.conn))))
        samples = {s.labels.get("service") for s in ctl.metrics.syn_rate.collect()[0].samples}
        assert "ssh" not in samples
        assert ctl.synced.is_set()
    finally:
        ct.stop()
