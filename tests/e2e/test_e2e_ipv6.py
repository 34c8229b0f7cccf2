"""Real Linux IPv6 TCP through the switch (D13): a client downloads and uploads byte
for byte from and to real servers over IPv6, through the IPv6 VIP of a NAT service with the defence off
(mode off: the switch NATs each connection to a real server by its bucket,
nat_buckets_v6 / nat_reverse_v6), the switch answering the hosts' neighbour
solicitations for its gateway addresses and the VIP (nd_replies); an IPv4 service
runs beside it on the IPv4 VIP. The hosts have
static addresses from the documentation prefix 2001:db8::/32 on their /64s, inside
their namespaces only, with DAD and router solicitations off (topo/netns.py).

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_ipv6.py   (root: namespaces)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from controller.control import request
from topo.demo import read_events, start_controller, start_services, wait_service_ready
from topo.net import Net
from topo.netns import Lab, LabError, wait_for
from topo.topology import Topology, default_topology

pytestmark = pytest.mark.netns

PY = sys.executable
MB = 1_000_000


class Rig:
    def __init__(self, net: Net, topo: Topology) -> None:
        self.net, self.topo = net, topo
        self.socket = str(net.workdir / "control.sock")

    def status(self) -> dict[str, Any]:
        return request(self.socket, {"cmd": "status"})

    def get(self, size: int, seed: int, timeout: float = 30, op: str = "get",
            family: int = 6) -> dict[str, Any]:
        """One exchange (`op` get: a download, post: an upload), byte for byte."""
        out = self.net.exec("client", [
            PY, "-m", "topo.tcpclient", "--vip", self.topo.vip_of(family), "--port",
            str(self.topo.vport), "--timeout", str(timeout), op, "--size", str(size),
            "--seed", str(seed)], check=False, timeout=timeout * 4 + 60)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"the client printed no result: {out.stdout!r} {out.stderr[-2000:]!r}"
        return json.loads(lines[-1])


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    if os.geteuid() != 0:
        pytest.fail("end-to-end tests need root (network namespaces)", pytrace=False)
    topo = default_topology(ipv6=True)
    lab = Lab(prefix="e6", tag=f"v{os.getpid() % 100000}")
    net = Net(topo, log_level="error", lab=lab, register_access=False).start()
    try:
        start_services(net, topo)
        r = Rig(net, topo)
        # web: the IPv6 VIP; web4 beside it on the IPv4 VIP (the same servers' IPv4
        # addresses): one switch, both families
        web4 = {"name": "web4", "vip": topo.vip, "port": topo.vport, "mode": "off",
                "real_servers": [{"address": h.ip, "port": topo.rs_port}
                                 for h in topo.real_servers]}
        ctl = start_controller(net, topo, extra={"control": {"socket": r.socket},
                                                 "services": [web4]},
                               mode="off", family=6)

        def synced() -> bool:
            if ctl.poll() is not None:
                log = (net.workdir / "controller.log").read_text(errors="replace")
                raise LabError(f"the controller exited:\n{log[-3000:]}")
            try:
                return bool(r.status().get("synced"))
            except (OSError, RuntimeError, ValueError):
                return False

        wait_for(synced, 90, interval=0.2, what="the controller to sync with the switch")
        wait_service_ready(net, topo, family=6)
        yield r
    finally:
        net.close()
        shutil.rmtree(net.workdir, ignore_errors=True)


def test_hosts_run_ipv6_without_dad_or_router_solicitations(rig: Rig) -> None:
    for h in rig.topo.hosts:
        ifname = rig.net.ifname[h.name]
        for knob in ("accept_dad", "router_solicitations"):
            out = rig.net.exec(h.name, ["sysctl", "-n", f"net.ipv6.conf.{ifname}.{knob}"])
            assert out.stdout.strip() == "0", (h.name, knob)
        addrs = rig.net.exec(h.name, ["ip", "-6", "-o", "addr", "show", "dev", ifname]).stdout
        assert h.address6 in addrs and "tentative" not in addrs and "dadfailed" not in addrs


def test_ipv6_download_through_the_vip_is_byte_exact(rig: Rig) -> None:
    """Several downloads over IPv6, each checked against its blob: the NAT spreads
    them over both real servers (a connection's 4-tuple picks its bucket)."""
    before = read_events(rig.net)
    servers = set()
    for seed in range(6):
        r = rig.get(2 * MB if seed == 0 else 200_000, seed)
        assert r["ok"], r
        servers.add(r["server"])
    assert servers == {h.name for h in rig.topo.real_servers}
    after = read_events(rig.net)
    # passed unproxied: no cookie was sent for any of them
    assert after.get("synack_sent", 0) == before.get("synack_sent", 0)


def test_ipv6_upload_is_byte_exact(rig: Rig) -> None:
    r = rig.get(1 * MB, 7, op="post")
    assert r["ok"], r


def test_both_families_side_by_side(rig: Rig) -> None:
    """The IPv4 VIP's service runs beside the IPv6 one on the same switch."""
    for family in (4, 6, 4):
        r = rig.get(300_000, 10 + family, family=family)
        assert r["ok"], (family, r)


def test_the_switch_answered_neighbour_solicitation(rig: Rig) -> None:
    """The client resolved its IPv6 gateway by ND, and the switch answered with the
    gateway's MAC (the kernel holds the answer in its neighbour table)."""
    client = rig.topo.host("client")
    out = rig.net.exec("client", ["ip", "-6", "neigh", "show", client.gateway6]).stdout
    assert client.gateway_mac.lower() in out.lower(), out
    assert "FAILED" not in out and "INCOMPLETE" not in out


def test_status_shows_the_ipv6_service_and_its_buckets(rig: Rig) -> None:
    st = rig.status()
    web, web4 = st["services"]["web"], st["services"]["web4"]
    assert web["vip"] == rig.topo.vip6 and web["mode"] == "off"
    assert web4["vip"] == rig.topo.vip
    shares = web["nat_buckets"]
    want = {f"[{h.ip6}]:{rig.topo.rs_port}" for h in rig.topo.real_servers}
    assert set(shares) == want and all(n > 0 for n in shares.values())
    assert set(web4["nat_buckets"]) == {f"{h.ip}:{rig.topo.rs_port}"
                                        for h in rig.topo.real_servers}
