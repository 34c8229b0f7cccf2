"""The demo's --family check runs the controller's own config check before anything
starts: IPv4 passes, IPv6 is refused with the controller's error naming the field."""

from __future__ import annotations

from topo import demo
from topo.topology import default_topology


def test_ipv4_demo_config_passes_the_controllers_check() -> None:
    assert demo.family_refused(default_topology(), 4) is None


def test_ipv6_demo_is_refused_with_the_field_while_ipv6_entries_are_not_installed() -> None:
    why = demo.family_refused(default_topology(ipv6=True), 6)
    assert why is not None
    assert why.startswith("interfaces[0].address6: 2001:db8:1::1/64 is IPv6")
    assert "IPv4 entries only" in why
