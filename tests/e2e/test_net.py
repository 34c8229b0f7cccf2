"""The namespace runner brings a topology up and removes all of it again."""

import subprocess

from topo.net import Net
from topo.topology import default_topology


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def test_topology_up_and_down() -> None:
    topo = default_topology()
    net = Net(topo).start()
    try:
        ours = set(net.ns.values())
        assert ours <= netns_list()
        client = topo.host("client")
        addrs = net.exec("client", ["ip", "-4", "-o", "addr", "show"]).stdout
        assert client.address in addrs
        routes = net.exec("client", ["ip", "route"]).stdout
        assert f"default via {client.gateway}" in routes
        # No namespace has a route off the machine: only its subnet and the switch.
        assert all(("via" not in r) or client.gateway in r for r in routes.splitlines())
        attacker_routes = net.exec("attacker", ["ip", "route"]).stdout
        assert "blackhole 198.18.0.0/15" in attacker_routes
        assert net.switch_proc.poll() is None
    finally:
        net.close()
    assert not set(net.ns.values()) & netns_list()
    assert net.switch_proc.poll() is not None


def test_dual_stack_topology_without_neighbour_discovery_timing() -> None:
    """With IPv6, every host has its static IPv6 address (no DAD: never `tentative`),
    a default route via its IPv6 gateway, no router solicitations or advertisements;
    the attacker blackholes 2001:2::/48; the switch's namespace keeps IPv6 off, so the
    kernel sends nothing of its own from the switch's ports."""
    topo = default_topology(ipv6=True)
    assert topo.vip6 == "2001:db8::100"
    net = Net(topo).start(with_program=False)
    try:
        for h in topo.hosts:
            ifname = net.ifname[h.name]
            addrs = net.exec(h.name, ["ip", "-6", "-o", "addr", "show", "dev", ifname]).stdout
            assert h.address6 in addrs and "tentative" not in addrs, addrs
            routes = net.exec(h.name, ["ip", "-6", "route"]).stdout
            assert f"default via {h.gateway6}" in routes
            for knob, want in (("accept_dad", "0"), ("accept_ra", "0"),
                               ("router_solicitations", "0"), ("disable_ipv6", "0")):
                got = net.exec(h.name, ["sysctl", "-n", f"net.ipv6.conf.{ifname}.{knob}"])
                assert got.stdout.strip() == want, (h.name, knob)
            assert h.address in net.exec(h.name, ["ip", "-4", "-o", "addr", "show"]).stdout
        attacker6 = net.exec("attacker", ["ip", "-6", "route"]).stdout
        assert "blackhole 2001:2::/48" in attacker6
        sw = net.exec("switch", ["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"])
        assert sw.stdout.strip() == "1"
    finally:
        net.close()
    assert not set(net.ns.values()) & netns_list()
