"""Auto defence (C8) with real traffic: the `auto` service is not proxied until its SYN
rate crosses the threshold; a SYN flood switches the defence on, a download that
began before it keeps going (the switch remembers flows seen while undefended), a
new connection during the flood is proxied, and after a quiet period the defence
goes off again. Every spoofed SYN either got a cookie from the switch or was passed
before the defence was on: the server saw exactly the ones passed.

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


def active(proxy: Any) -> bool:
    return bool(proxy.status()["services"]["auto"]["defense_active"])


def test_flood_switches_the_defence_on_and_quiet_switches_it_off(proxy) -> None:
    wait_for(lambda: not active(proxy), 60, interval=0.5, what="the auto defence off")
    with proxy.paused_client("get", "auto", size=4_000_000, seed=51, pause_at=200_000) as pc:
        # The download is established, undefended; from here on every SYN to the
        # service is the flood's or the one new connection's below.
        before, guard0 = proxy.events(), proxy.guard()
        flood: dict[str, Any] = {}
        flooder = threading.Thread(
            target=lambda: flood.update(proxy.flood("syn", 200, count=1200, service="auto")),
            daemon=True)
        flooder.start()
        pc.go()
        wait_for(lambda: active(proxy), 120, interval=0.2, what="the auto defence on")
        # ... and the switch has it: flood SYNs get cookies now.
        wait_for(lambda: delta(before, proxy.events(), "SYNACK_SENT") > 0, 60, interval=0.2,
                 what="cookies for the flood")
        during = proxy.client("whoami", "auto")
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
    # The server saw exactly the spoofed SYNs passed before the defence was on.
    (rs,) = proxy.services["auto"].servers
    wait_for(lambda: proxy.guard()[rs]["spoofed_syn"] - guard0[rs]["spoofed_syn"] >= passed,
             60, interval=0.2, what="the passed SYNs at the server")
    assert proxy.guard()[rs]["spoofed_syn"] - guard0[rs]["spoofed_syn"] == passed

    wait_for(lambda: not active(proxy), 120, interval=0.5, what="the defence off when quiet")
    later = proxy.client("whoami", "auto")
    assert later["ok"], later


def test_nat_service_in_auto_mode_serves_or_is_refused(proxy) -> None:
    """An operator adding an auto NAT service at run time either gets a clear refusal
    or a service that works while undefended."""
    from controller.control import request

    rs = proxy.topo.host("rs2")
    httpd = proxy.net.popen("rs2", [sys.executable, "-m", "topo.httpd", "--port", "8089",
                                    "--name", "rs2"], log="rs2-8089-httpd.log")
    spec = {"name": "autonat", "vip": proxy.topo.vip, "port": 89, "mode": "auto",
            "real_servers": [{"address": rs.ip, "port": 8089}]}
    try:
        wait_for(lambda: ":8089 " in proxy.net.exec("rs2", ["ss", "-ltnH"]).stdout, 30,
                 what="rs2 listening on 8089")
        try:
            request(proxy.socket, {"cmd": "service_add", "service": spec})
        except RuntimeError as e:
            assert "nat" in str(e).lower() or "auto" in str(e).lower(), e
            return  # refused, with a reason the operator can act on
        try:
            assert not active_of(proxy, "autonat")
            out = proxy.net.exec("client", [
                sys.executable, "-m", "topo.tcpclient", "--vip", proxy.topo.vip,
                "--port", "89", "--timeout", "8", "whoami"], check=False, timeout=120).stdout
            r = json.loads(out.strip().splitlines()[-1])
            assert r["ok"], r
        finally:
            request(proxy.socket, {"cmd": "service_remove", "name": "autonat"})
    finally:
        proxy.net.lab.stop(httpd)


def active_of(proxy: Any, name: str) -> bool:
    return bool(proxy.status()["services"][name]["defense_active"])
