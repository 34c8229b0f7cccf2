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
