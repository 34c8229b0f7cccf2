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
both kernels use read with ss. The floods of test_e2e_flood.py run on this rig too
(spoofed from the benchmarking prefix 2001:2::/48, which the attacker's namespace
owns and blackholes).

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_ipv6.py   (root: namespaces)
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.e2e.flooding import delta
from tests.e2e.tcpopts import ALL, Options, transfer_each_way

pytestmark = pytest.mark.netns

MB = 1_000_000


@pytest.fixture
def rig(proxy6: Any) -> Any:
    """The dual-stack rig (tests/e2e/conftest.py, `proxy6`: a Proxy on the IPv6 VIP)."""
    return proxy6


def test_hosts_run_ipv6_without_dad_or_router_solicitations(rig: Any) -> None:
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
def test_proxied_ipv6_transfer_each_way_with_options(rig: Any, service: str,
                                                     sysctls: dict[str, str],
                                                     expected: Options, size: int) -> None:
    """Through the proxied IPv6 VIP: the switch answers the SYN with its cookie, the
    controller opens the server side over IPv6, and the bytes cross translated."""
    before = rig.events()
    transfer_each_way(rig, service, sysctls, expected, size)
    after = rig.events()
    # Both connections were proxied: a cookie each, validated, a session each.
    assert delta(before, after, "SYNACK_SENT") >= 2
    assert delta(before, after, "ACK_VALID") + delta(before, after, "REUSE_ACK") >= 2
    assert delta(before, after, "SESSION_ESTABLISHED") >= 2
    assert delta(before, after, "TRANSLATED_S2C") > 0
    assert delta(before, after, "TRANSLATED_C2S") > 0


def test_proxied_ipv6_servers_see_the_client_address(rig: Any) -> None:
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


def test_transparent_ipv6_service_on_the_servers_own_address(rig: Any) -> None:
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


def test_nat_ipv6_download_is_byte_exact_and_unproxied(rig: Any) -> None:
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


def test_nat_ipv6_upload_is_byte_exact(rig: Any) -> None:
    r = rig.client("post", "nat", size=1 * MB, seed=7)
    assert r["ok"], r


def test_both_families_side_by_side(rig: Any) -> None:
    """The IPv4 VIP's service runs beside the IPv6 ones on the same switch."""
    for service in ("web4", "web", "nat", "web4"):
        r = rig.client("get", service, size=300_000, seed=10 + len(service))
        assert r["ok"], (service, r)


def test_the_switch_answered_neighbour_solicitation(rig: Any) -> None:
    """The client resolved its IPv6 gateway by ND, and the switch answered with the
    gateway's MAC (the kernel holds the answer in its neighbour table)."""
    client = rig.topo.host("client")
    out = rig.net.exec("client", ["ip", "-6", "neigh", "show", client.gateway6]).stdout
    assert client.gateway_mac.lower() in out.lower(), out
    assert "FAILED" not in out and "INCOMPLETE" not in out


def test_status_shows_the_ipv6_service_and_its_buckets(rig: Any) -> None:
    st = rig.status()
    web, nat, web4 = (st["services"][n] for n in ("web", "nat", "web4"))
    assert web["vip"] == rig.topo.vip6 and web["mode"] == "on"
    assert nat["vip"] == rig.topo.vip6 and nat["mode"] == "off"
    assert web4["vip"] == rig.topo.vip
    shares = nat["nat_buckets"]
    want = {f"[{h.ip6}]:{rig.services['nat'].rs_port}" for h in rig.topo.real_servers}
    assert set(shares) == want and all(n > 0 for n in shares.values())
    assert set(web4["nat_buckets"]) == {f"{h.ip}:{rig.topo.rs_port}"
                                        for h in rig.topo.real_servers}
