"""The demo's --family check runs the controller's own config check before anything
starts: IPv4 and IPv6 configs pass it."""

from __future__ import annotations

from topo import demo
from topo.topology import default_topology


def test_ipv4_demo_config_passes_the_controllers_check() -> None:
    assert demo.family_refused(default_topology(), 4) is None


def test_ipv6_demo_config_passes_the_controllers_check() -> None:
    """The controller installs IPv6 entries (D13): the dual-stack config passes."""
    assert demo.family_refused(default_topology(ipv6=True), 6) is None
