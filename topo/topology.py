"""Topologies as data: hosts, the switch port each hangs off, addresses, the VIP.

The default topology is the demo's: a client, an attacker and two real servers,
each on its own switch port and /24, the switch routing between them and owning
the VIP. The attacker's namespace also owns the test-only range 198.18.0.0/15 from
which it spoofs, and the switch routes that range back to it, so no reply to a
spoofed SYN ever leaves the run's own namespaces.

With `ipv6=True` (D13) every host also has an IPv6 address on a /64 of its own
(2001:db8:<subnet>::<id>, the documentation prefix), the switch an IPv6 gateway
address on each and the IPv6 VIP 2001:db8::100, and the attacker owns the
benchmarking prefix 2001:2::/48 (RFC 5180) to spoof from, routed back to it as the
IPv4 range is.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from controller import p4consts

SPOOF_RANGE = "198.18.0.0/15"
SPOOF_RANGE6 = "2001:2::/48"
VIP6 = "2001:db8::100"


@dataclass(frozen=True)
class Host:
    name: str  # role: client, attacker, rs1, ...
    port: int  # switch port number
    address: str  # "10.0.1.10/24"
    mac: str
    gateway: str  # the switch's address on this subnet
    gateway_mac: str
    extra_routes: tuple[str, ...] = ()  # prefixes the switch routes to this host
    owns: tuple[str, ...] = ()  # extra prefixes this host's namespace holds (spoof range)
    address6: str = ""  # "2001:db8:1::10/64"; empty: no IPv6
    gateway6: str = ""

    @property
    def ip6(self) -> str:
        return str(ipaddress.IPv6Interface(self.address6).ip) if self.address6 else ""

    @property
    def subnet6(self) -> str:
        return str(ipaddress.IPv6Interface(self.address6).network) if self.address6 else ""

    def ip_of(self, family: int) -> str:
        """The host's address of `family` (4 or 6)."""
        return self.ip6 if family == 6 else self.ip

    @property
    def ip(self) -> str:
        return str(ipaddress.IPv4Interface(self.address).ip)

    @property
    def subnet(self) -> str:
        return str(ipaddress.IPv4Interface(self.address).network)


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...]
    vip: str = "10.0.0.100"
    vip6: str = ""  # the IPv6 VIP; empty: an IPv4-only topology
    vport: int = 80
    rs_port: int = 8080
    cpu_port: int = p4consts.CPU_PORT
    extra: dict[str, str] = field(default_factory=dict)

    def vip_of(self, family: int) -> str:
        return self.vip6 if family == 6 else self.vip

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(f"no host '{name}' in the topology")

    @property
    def real_servers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.name.startswith("rs"))


def _host(name: str, port: int, subnet: int, host_id: int = 10, ipv6: bool = False,
          **kw: object) -> Host:
    v6: dict[str, str] = {}
    if ipv6:  # the IPv4 address's digits, read as hex groups: 10.0.1.10 -> 2001:db8:1::10
        v6 = {"address6": f"2001:db8:{subnet}::{host_id}/64", "gateway6": f"2001:db8:{subnet}::1"}
    return Host(name=name, port=port, address=f"10.0.{subnet}.{host_id}/24",
                mac=f"02:00:00:00:{subnet:02x}:{host_id:02x}", gateway=f"10.0.{subnet}.1",
                gateway_mac=f"02:00:00:00:{subnet:02x}:01", **v6, **kw)  # type: ignore[arg-type]


def default_topology(real_servers: int = 2, ipv6: bool = False) -> Topology:
    """client (port 0), attacker (port 1), rs1.. (ports 2..); dual-stack with `ipv6`."""
    spoof = (SPOOF_RANGE, SPOOF_RANGE6) if ipv6 else (SPOOF_RANGE,)
    hosts = [
        _host("client", 0, 1, ipv6=ipv6),
        _host("attacker", 1, 3, ipv6=ipv6, extra_routes=spoof, owns=spoof),
    ]
    hosts += [_host(f"rs{i + 1}", 2 + i, 10 + i, ipv6=ipv6) for i in range(real_servers)]
    return Topology(hosts=tuple(hosts), vip6=VIP6 if ipv6 else "")
