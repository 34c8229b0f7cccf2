"""Real Linux IPv6 TCP through the switch (D13). A client downloads and uploads byte
for byte from and to real servers over IPv6:

    port  service  family  mode  real servers    what it exercises
    80    web      6       on    rs1, rs2 :8080  the proxied path: the switch's cookie
                                                 SYN/ACK, the controller's digest, the
                                                 sessions_v6 entries, its IPv6 server
                                                 SYN, the server's SYN/ACK, translation
    81    nat      6       off   rs1, rs2 :8081  unproxied NAT by bucket (nat_buckets_v6 /
                                                 nat_reverse_v6), no cookie
    82    nosack   6       on    rs1 :8082       SYN/ACK without SACK-permitted
    83    nots     6       on    rs2 :8083       SYN/ACK without timestamps
    84    ws2      6       on    rs1 :8084       SYN/ACK window scale 2 (the server's is
                                                 larger: the switch rescales)
    80    web4     4       off   rs1, rs2 :8080  the IPv4 VIP beside them on one switch
    8088  own      6       on    rs1 itself      transparent: the VIP is rs1's own IPv6
                                                 address, proxied without NAT; rs1's
                                                 neighbour solicitations from it are
                                                 answered (it is no martian source)

The switch answers the hosts' neighbour solicitations for its gateway addresses and
the VIP (nd_replies). The hosts have static addresses from the documentation prefix
2001:db8::/32 on their /64s, inside their namespaces only, with DAD and router
solicitations off (topo/netns.py). The proxied services' transfers are checked with
each of window scaling, SACK and timestamps turned off by the client (the
net.ipv4.tcp_* sysctls govern IPv6 TCP too) or by the service's SYN/ACK, the options
both kernels use read with ss; a SYN flood spoofed from the benchmarking prefix 2001:2::/48 (which the
attacker's namespace owns and blackholes) reaches no server while the client is
served.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_ipv6.py   (root: namespaces)
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import COOKIE_KEY, SYN_RETRIES, Proxy, Svc
from tests.e2e.flooding import (
    Background,
    assert_nothing_spoofed_reached_a_server,
    delta,
    wait_counted,
)
from tests.e2e.tcpopts import ALL, Options, both_sides
from topo.demo import start_controller, start_services, wait_service_ready
from topo.net import Net
from topo.netns import Lab, sh, wait_for
from topo.topology import SPOOF_RANGE6, default_topology

pytestmark = pytest.mark.netns

MB = 1_000_000
RATE = 300  # spoofed SYNs per second

SERVICES6 = {s.name: s for s in (
    Svc("web", 80, ("rs1", "rs2"), 8080),
    Svc("nat", 81, ("rs1", "rs2"), 8081, {"mode": "off"}),
    Svc("web4", 80, ("rs1", "rs2"), 8080, {"mode": "off"}),
    Svc("nosack", 82, ("rs1",), 8082, {"synack": {"sack": False}}),
    Svc("nots", 83, ("rs2",), 8083, {"synack": {"timestamps": False}}),
    Svc("ws2", 84, ("rs1",), 8084, {"synack": {"wscale": 2}}),
    # Transparent: the "VIP" is rs1's own IPv6 address, proxied, no NAT.
    Svc("own", 8088, ("rs1",), 8088, transparent=True),
)}
# The IPv6 servers the rig starts beside web's (topo.demo.start_services).
LISTENING6 = ("nat", "nosack", "nots", "ws2", "own")


class Rig(Proxy):
    """The conftest's Proxy on a dual-stack topology, its services on the IPv6 VIP
    (but web4, on the IPv4 one)."""

    services = SERVICES6
    family = 6

    def vip_of(self, service: str) -> str:
        return self.topo.vip if service == "web4" else super().vip_of(service)

    def extra_config(self) -> dict:
        t = self.topo
        services = []
        for s in SERVICES6.values():
            if s.name == "web":
                continue  # the first service, topo.net.controller_config's
            entry = {"name": s.name, "vip": self.vip_of(s.name), "port": s.port,
                     "mode": "on", **s.settings}
            if s.transparent:
                entry["nat"] = False
            else:
                family = 4 if s.name == "web4" else 6
                entry["real_servers"] = [{"address": t.host(h).ip_of(family),
                                          "port": s.rs_port} for h in s.servers]
            services.append(entry)
        return {"services": services, "cookie": dict(self.cookie),
                "sessions": {"syn_retries": SYN_RETRIES, "syn_timeout": 1.0},
                "control": {"socket": self.socket, **self.heartbeat}}

    def start_controller(self) -> None:
        self.ctl = start_controller(self.net, self.topo, extra=self.extra_config(),
                                    mode="on", family=6)
        self.wait_synced()


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    if os.geteuid() != 0:
        pytest.fail("end-to-end tests need root (network namespaces)", pytrace=False)
    topo = default_topology(ipv6=True)
    lab = Lab(prefix="e6", tag=f"v{os.getpid() % 100000}")
    net = Net(topo, log_level="error", lab=lab, register_access=False).start()
    try:
        start_services(net, topo)
        for svc in (SERVICES6[n] for n in LISTENING6):
            for h in svc.servers:
                net.popen(h, [sys.executable, "-m", "topo.httpd", "--bind", "::", "--port",
                              str(svc.rs_port), "--name", h],
                          log=f"{h}-{svc.rs_port}-httpd.log")
                wait_for(lambda h=h, p=svc.rs_port: f":{p} " in sh(
                    ["ss", "-ltnH"], netns=net.ns[h]).stdout, 30,
                    what=f"{h} listening on {svc.rs_port}")
        r = Rig(net, topo)
        r.cookie = {"key": COOKIE_KEY, "rotate_seconds": 600}
        r.start_controller()
        wait_service_ready(net, topo, family=6)
        yield r
    finally:
        net.close()
        shutil.rmtree(net.workdir, ignore_errors=True)


def attacker_rx(rig: Rig) -> int:
    """Frames the attacker's interface received."""
    path = f"/sys/class/net/{rig.net.ifname['attacker']}/statistics/rx_packets"
    return int(rig.net.exec("attacker", ["cat", path]).stdout)


def client_address(record: dict) -> str:
    """The address of a session record's client ("[addr]:port" or "addr:port")."""
    host = record["client"].rsplit(":", 1)[0]
    return host.strip("[]")


def test_hosts_run_ipv6_without_dad_or_router_solicitations(rig: Rig) -> None:
    for h in rig.topo.hosts:
        ifname = rig.net.ifname[h.name]
        for knob in ("accept_dad", "router_solicitations"):
            out = rig.net.exec(h.name, ["sysctl", "-n", f"net.ipv6.conf.{ifname}.{knob}"])
            assert out.stdout.strip() == "0", (h.name, knob)
        addrs = rig.net.exec(h.name, ["ip", "-6", "-o", "addr", "show", "dev", ifname]).stdout
        assert h.address6 in addrs and "tentative" not in addrs and "dadfailed" not in addrs


# (id, service, client sysctls, the options both kernels must show, bytes each way)
CASES = [
    ("all-options", "web", {}, ALL, 2 * MB),
    ("client-no-wscale", "web", {"net.ipv4.tcp_window_scaling": "0"},
     Options(wscale=False, sack=True, ts=True), 1 * MB),
    ("client-no-sack", "web", {"net.ipv4.tcp_sack": "0"},
     Options(wscale=True, sack=False, ts=True), 1 * MB),
    ("client-no-timestamps", "web", {"net.ipv4.tcp_timestamps": "0"},
     Options(wscale=True, sack=True, ts=False), 1 * MB),
    ("client-no-options", "web", {"net.ipv4.tcp_window_scaling": "0",
                                  "net.ipv4.tcp_sack": "0", "net.ipv4.tcp_timestamps": "0"},
     Options(wscale=False, sack=False, ts=False), 1 * MB),
    ("synack-no-sack", "nosack", {}, Options(wscale=True, sack=False, ts=True), 1 * MB),
    ("synack-no-timestamps", "nots", {}, Options(wscale=True, sack=True, ts=False), 1 * MB),
    # a small scale the real server does not share: the switch rescales its windows
    ("synack-wscale-2", "ws2", {}, ALL, 1 * MB),
]


@pytest.mark.parametrize(("service", "sysctls", "expected", "size"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_proxied_ipv6_transfer_each_way_with_options(rig: Rig, service: str,
                                                     sysctls: dict[str, str],
                                                     expected: Options, size: int) -> None:
    """Through the proxied IPv6 VIP: the switch answers the SYN with its cookie, the
    controller opens the server side over IPv6, and the bytes cross translated."""
    before = rig.events()
    with rig.client_sysctls(sysctls):
        with rig.paused_client("get", service, size=size, seed=size + 1,
                               pause_at=size // 4) as pc:
            client_opts, server_opts, server = both_sides(rig, pc.local_port)
            down = pc.resume()
        assert down["ok"], down
        assert down["bytes"] == size and down["server"] == server
        assert client_opts == expected, f"client side: {client_opts}"
        assert server_opts == expected, f"server side ({server}): {server_opts}"

        with rig.paused_client("post", service, size=size, seed=size + 2,
                               pause_at=size // 4) as pc:
            client_opts, server_opts, server = both_sides(rig, pc.local_port)
            up = pc.resume()
        assert up["ok"], up  # the server's SHA-256 of what it received matches
        assert up["server"] == server
        assert client_opts == expected and server_opts == expected
    after = rig.events()
    # Both connections were proxied: a cookie each, validated, a session each.
    assert delta(before, after, "SYNACK_SENT") >= 2
    assert delta(before, after, "ACK_VALID") + delta(before, after, "REUSE_ACK") >= 2
    assert delta(before, after, "SESSION_ESTABLISHED") >= 2
    assert delta(before, after, "TRANSLATED_S2C") > 0
    assert delta(before, after, "TRANSLATED_C2S") > 0


def test_proxied_ipv6_servers_see_the_client_address(rig: Rig) -> None:
    """The proxy does not hide the client: each server answers the address it saw,
    the client's IPv6 address; both servers take turns."""
    client_ip = rig.topo.host("client").ip6
    seen = set()
    for _ in range(4):
        r = rig.client("whoami")
        assert r["ok"], r
        name, addr = r["body"].split()
        assert ipaddress.ip_address(addr) == ipaddress.ip_address(client_ip)
        assert name == r["server"]
        seen.add(name)
    assert seen == {"rs1", "rs2"}


def test_transparent_ipv6_service_on_the_servers_own_address(rig: Rig) -> None:
    """A proxied transparent IPv6 service, its VIP rs1's own address: the cookie
    handshake, then the server side opened to rs1 itself, whose answers come from
    the VIP; rs1 resolved its gateway by ND from that address (the switch answers
    its solicitations: the address is rs1's, not a martian source)."""
    before = rig.events()
    for seed, size in ((31, 1 * MB), (32, 100_000)):
        r = rig.client("get", "own", size=size, seed=seed)
        assert r["ok"], r
        assert r["server"] == "rs1" and r["bytes"] == size
    up = rig.client("post", "own", size=500_000, seed=33)
    assert up["ok"], up
    after = rig.events()
    assert delta(before, after, "SYNACK_SENT") >= 3
    assert delta(before, after, "SESSION_ESTABLISHED") >= 3
    rs1 = rig.topo.host("rs1")
    out = rig.net.exec("rs1", ["ip", "-6", "neigh", "show", rs1.gateway6]).stdout
    assert rs1.gateway_mac.lower() in out.lower(), out
    assert "FAILED" not in out and "INCOMPLETE" not in out


def test_ipv6_syn_flood_reaches_no_server(rig: Rig) -> None:
    """A SYN flood spoofed from 2001:2::/48 at the proxied IPv6 VIP: every SYN gets a
    cookie and nothing more, no server sees a spoofed packet, the client is served,
    and the only sessions are the client's."""
    before, guard0 = rig.events(), rig.guard()
    rx0 = attacker_rx(rig)
    legit = Background(rig, count=12)
    flood = rig.flood("syn", RATE, count=900)
    records = legit.result()
    assert flood["sent"] == 900
    after = wait_counted(rig, before, ("SYN_IN",), flood["sent"] + len(records))
    # The cookies went back to where the spoofed prefix is routed: the attacker's
    # own namespace (which blackholes them), not elsewhere.
    wait_for(lambda: attacker_rx(rig) - rx0 >= flood["sent"], 60, interval=0.5,
             what="the flood's SYN/ACKs at the attacker")

    assert delta(before, after, "SYNACK_SENT") >= flood["sent"]
    assert delta(before, after, "ACK_VALID") <= len(records)
    assert_nothing_spoofed_reached_a_server(rig, guard0)
    spoof = ipaddress.ip_network(SPOOF_RANGE6)
    clients = {client_address(s) for s in rig.sessions()}
    assert not any(ipaddress.ip_address(c) in spoof for c in clients), clients
    assert clients <= {rig.topo.host("client").ip6}

    assert len(records) == 12
    failed = [r for r in records if not r["ok"]]
    assert not failed, failed[:5]


def test_nat_ipv6_download_is_byte_exact_and_unproxied(rig: Rig) -> None:
    """Several downloads through the mode-off NAT service, each checked against its
    blob: the NAT spreads them over both real servers (a connection's 4-tuple picks
    its bucket), and no cookie is sent for any of them."""
    before = rig.events()
    servers = set()
    for seed in range(6):
        r = rig.client("get", "nat", size=2 * MB if seed == 0 else 200_000, seed=seed)
        assert r["ok"], r
        servers.add(r["server"])
    assert servers == {h.name for h in rig.topo.real_servers}
    after = rig.events()
    assert delta(before, after, "SYNACK_SENT") == 0
    assert delta(before, after, "SYN_PASSED") >= 6


def test_nat_ipv6_upload_is_byte_exact(rig: Rig) -> None:
    r = rig.client("post", "nat", size=1 * MB, seed=7)
    assert r["ok"], r


def test_both_families_side_by_side(rig: Rig) -> None:
    """The IPv4 VIP's service runs beside the IPv6 ones on the same switch."""
    for service in ("web4", "web", "nat", "web4"):
        r = rig.client("get", service, size=300_000, seed=10 + len(service))
        assert r["ok"], (service, r)


def test_the_switch_answered_neighbour_solicitation(rig: Rig) -> None:
    """The client resolved its IPv6 gateway by ND, and the switch answered with the
    gateway's MAC (the kernel holds the answer in its neighbour table)."""
    client = rig.topo.host("client")
    out = rig.net.exec("client", ["ip", "-6", "neigh", "show", client.gateway6]).stdout
    assert client.gateway_mac.lower() in out.lower(), out
    assert "FAILED" not in out and "INCOMPLETE" not in out


def test_status_shows_the_ipv6_service_and_its_buckets(rig: Rig) -> None:
    st = rig.status()
    web, nat, web4 = (st["services"][n] for n in ("web", "nat", "web4"))
    assert web["vip"] == rig.topo.vip6 and web["mode"] == "on"
    assert nat["vip"] == rig.topo.vip6 and nat["mode"] == "off"
    assert web4["vip"] == rig.topo.vip
    shares = nat["nat_buckets"]
    want = {f"[{h.ip6}]:{SERVICES6['nat'].rs_port}" for h in rig.topo.real_servers}
    assert set(shares) == want and all(n > 0 for n in shares.values())
    assert set(web4["nat_buckets"]) == {f"{h.ip}:{rig.topo.rs_port}"
                                        for h in rig.topo.real_servers}
