"""Auto defence (C8) with real traffic: an auto service is not proxied until its SYN
rate crosses the threshold; a SYN flood switches the defence on, a download that
began before it keeps going (the switch remembers flows seen while undefended), a
new connection during the flood is proxied, and after a quiet period the defence
goes off again. Every spoofed SYN either got a cookie from the switch or was passed
before the defence was on: the servers saw exactly the ones passed. The same for a
transparent service (`auto`) and a NAT one (`natauto`, NATed by the switch's
buckets while undefended).

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_auto.py   (root: namespaces)
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import pytest

from topo.netns import wait_for

pytestmark = pytest.mark.netns


def delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


def active(proxy: Any, service: str = "auto") -> bool:
    return bool(proxy.status()["services"][service]["defense_active"])


def flood_during_download(proxy: Any, service: str) -> None:
    """A download opened while `service` is undefended, a bounded spoofed SYN flood
    that switches the defence on, a new connection while it is on: the download
    finishes intact, the new connection is proxied, and every SYN was either passed
    (before the defence) or answered with a cookie; the real servers saw exactly
    the spoofed SYNs passed."""
    wait_for(lambda: not active(proxy, service), 60, interval=0.5,
             what=f"the {service} defence off")
    servers = proxy.services[service].servers
    with proxy.paused_client("get", service, size=4_000_000, seed=51, pause_at=200_000) as pc:
        # The download is established, undefended; from here on every SYN to the
        # service is the flood's or the one new connection's below.
        before, guard0 = proxy.events(), proxy.guard()
        flood: dict[str, Any] = {}
        flooder = threading.Thread(
            target=lambda: flood.update(proxy.flood("syn", 200, count=1200, service=service)),
            daemon=True)
        flooder.start()
        pc.go()
        wait_for(lambda: active(proxy, service), 120, interval=0.2,
                 what=f"the {service} defence on")
        # ... and the switch has it: flood SYNs get cookies now.
        wait_for(lambda: delta(before, proxy.events(), "SYNACK_SENT") > 0, 60, interval=0.2,
                 what="cookies for the flood")
        during = proxy.client("whoami", service)
        flooder.join(timeout=300)
        transfer = pc.finish()
    assert not flooder.is_alive() and flood["sent"] == 1200
    assert transfer["ok"], transfer  # undisturbed by the defence coming on
    assert during["ok"], during

    after: dict[str, int] = {}

    def all_counted() -> bool:
        after.update(proxy.events())
        return delta(before, after, "SYN_IN") >= flood["sent"] + 1

    wait_for(all_counted, 120, interval=0.5, what="every SYN counted at the switch")
    passed = delta(before, after, "SYN_PASSED")
    cookies = delta(before, after, "SYNACK_SENT")
    # Each SYN was passed or answered (the new client's SYN may have been resent).
    assert passed + cookies == delta(before, after, "SYN_IN")
    assert cookies > 1  # the defence answered flood SYNs, and the new client's
    assert delta(before, after, "ACK_VALID") >= 1  # ... which was proxied
    assert delta(before, after, "DROP_NO_SERVER") == 0

    # The servers saw exactly the spoofed SYNs passed before the defence was on.
    def spoofed() -> int:
        now = proxy.guard()
        return sum(now[rs]["spoofed_syn"] - guard0[rs]["spoofed_syn"] for rs in servers)

    wait_for(lambda: spoofed() >= passed, 60, interval=0.2, what="the passed SYNs at the server")
    assert spoofed() == passed


def test_flood_switches_the_defence_on_and_quiet_switches_it_off(proxy) -> None:
    flood_during_download(proxy, "auto")
    wait_for(lambda: not active(proxy), 120, interval=0.5, what="the defence off when quiet")
    later = proxy.client("whoami", "auto")
    assert later["ok"], later


def test_nat_auto_service_serves_calm_and_proxies_under_flood(proxy) -> None:
    """C8 for a NAT service: while calm the switch NATs connections to a real server
    by bucket (the proxy is not involved: no session is installed), under a flood it
    proxies, and a download from before the flood stays intact."""
    wait_for(lambda: not active(proxy, "natauto"), 60, interval=0.5,
             what="the natauto defence off")
    before = proxy.events()
    seen = {proxy.client("whoami", "natauto")["server"] for _ in range(6)}
    after = proxy.events()
    assert seen <= set(proxy.services["natauto"].servers) and seen, seen
    assert delta(before, after, "SYN_PASSED") >= 6  # unproxied: the servers answered
    assert delta(before, after, "ACK_VALID") == 0  # no cookie, no session
    flood_during_download(proxy, "natauto")
    wait_for(lambda: not active(proxy, "natauto"), 120, interval=0.5,
             what="the natauto defence off when quiet")
    later = proxy.client("whoami", "natauto")
    assert later["ok"], later


def test_nat_service_added_in_auto_mode_serves_while_undefended(proxy) -> None:
    """An operator adding an auto NAT service at run time gets a service that works
    while undefended: the switch NATs its connections to the real server."""
    from controller.control import request

    rs = proxy.topo.host("rs2")
    httpd = proxy.net.popen("rs2", [sys.executable, "-m", "topo.httpd", "--port", "8089",
                                    "--name", "rs2"], log="rs2-8089-httpd.log")
    spec = {"name": "autonat", "vip": proxy.topo.vip, "port": 89, "mode": "auto",
            "real_servers": [{"address": rs.ip, "port": 8089}]}
    try:
        wait_for(lambda: ":8089 " in proxy.net.exec("rs2", ["ss", "-ltnH"]).stdout, 30,
                 what="rs2 listening on 8089")
        request(proxy.socket, {"cmd": "service_add", "service": spec})
        try:
            assert not active_of(proxy, "autonat")
            out = proxy.net.exec("client", [
                sys.executable, "-m", "topo.tcpclient", "--vip", proxy.topo.vip,
                "--port", "89", "--timeout", "8", "whoami"], check=False, timeout=120).stdout
            r = json.loads(out.strip().splitlines()[-1])
            assert r["ok"] and r["server"] == "rs2", r
        finally:
            request(proxy.socket, {"cmd": "service_remove", "name": "autonat"})
    finally:
        proxy.net.lab.stop(httpd)


def active_of(proxy: Any, name: str) -> bool:
    return bool(proxy.status()["services"][name]["defense_active"])
