"""Topologies as data: hosts, the switch port each hangs off, addresses, the VIP.

The default topology is the demo's: a client, an attacker and two real servers,
each on its own switch port and /24, the switch routing between them and owning
the VIP. The attacker's namespace also owns the test-only range 198.18.0.0/15 from
which it spoofs, and the switch routes that range back to it, so no reply to a
spoofed SYN ever leaves the run's own namespaces.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from controller import p4consts

SPOOF_RANGE = "198.18.0.0/15"


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
    vport: int = 80
    rs_port: int = 8080
    cpu_port: int = p4consts.CPU_PORT
    extra: dict[str, str] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(f"no host '{name}' in the topology")

    @property
    def real_servers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.name.startswith("rs"))


def _host(name: str, port: int, subnet: int, host_id: int = 10, **kw: object) -> Host:
    return Host(name=name, port=port, address=f"10.0.{subnet}.{host_id}/24",
                mac=f"02:00:00:00:{subnet:02x}:{host_id:02x}", gateway=f"10.0.{subnet}.1",
                gateway_mac=f"02:00:00:00:{subnet:02x}:01", **kw)  # type: ignore[arg-type]


def default_topology(real_servers: int = 2) -> Topology:
    """client (port 0), attacker (port 1), rs1.. (ports 2..)."""
    hosts = [
        _host("client", 0, 1),
        _host("attacker", 1, 3, extra_routes=(SPOOF_RANGE,), owns=(SPOOF_RANGE,)),
    ]
    hosts += [_host(f"rs{i + 1}", 2 + i, 10 + i) for i in range(real_servers)]
    return Topology(hosts=tuple(hosts))
