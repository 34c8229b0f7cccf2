"""Bring a Topology up in network namespaces, with the switch running in its own.

This is the plain namespace runner used by the demo, the end-to-end tests and the
benchmarks (Mininet is not needed: see the README). Each host gets a namespace with
one veth to the switch namespace, its address, a default route via the switch and
nothing else: no namespace has a route off the machine. The switch (p4sim, or bmv2's
simple_switch_grpc with target="bmv2") serves P4Runtime on a unix socket.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import targets
from .netns import Lab, enable_ipv6, sh
from .topology import Host, Topology

#: A compiled program (P4Info and device config), as topo.targets builds it.
SwitchArtifacts = targets.Artifacts


#: The architectures a Net runs: v1model (p4src/v1model), or tna (p4src/tna: p4sim
#: only, on its Python back end, the one with a TNA pipeline).
ARCHES = ("v1model", "tna")


def artifacts(program: str, target_name: str = "p4sim", arch: str = "v1model",
              cpu_port: int = targets.p4consts.CPU_PORT) -> SwitchArtifacts:
    """Build (if it changed) and return the program's P4Info and device config. The
    TNA program is compiled with the switch's CPU port (-DCPU_PORT): its packet-in and
    packet-out port is a constant of the program, not a target option."""
    if arch not in ARCHES:
        raise ValueError(f"unknown architecture '{arch}' (expected one of: {', '.join(ARCHES)})")
    if arch == "v1model":
        return targets.build_program(program, target_name)
    if target_name != "p4sim":
        raise ValueError(f"the {arch} program runs on p4sim only, not {target_name}")
    return targets.build_program(program, target_name, arch=arch, defines=[
        "-I", str(targets.ROOT / "p4src"), f"-DCPU_PORT={cpu_port}"])


def configure_host(h: Host, ns: str, ifname: str) -> None:
    """Give a host's namespace its interface's MAC and address, a default route via its
    gateway, and a blackhole for each prefix it owns; the same for IPv6 when the host
    has an IPv6 address (static: no DAD, no router solicitations or advertisements)."""
    sh(["ip", "link", "set", ifname, "address", h.mac], netns=ns)
    sh(["ip", "addr", "add", h.address, "dev", ifname], netns=ns)
    sh(["ip", "route", "add", "default", "via", h.gateway, "dev", ifname], netns=ns)
    if h.address6:
        enable_ipv6(ns, ifname)
        sh(["ip", "-6", "addr", "add", h.address6, "dev", ifname, "nodad"], netns=ns)
        sh(["ip", "-6", "route", "add", "default", "via", h.gateway6, "dev", ifname], netns=ns)
    for prefix in h.owns:
        # Replies to spoofed sources come back here and stop here.
        sh(["ip", "-6" if ":" in prefix else "-4", "route", "add", "blackhole", prefix],
           netns=ns)


class NamespaceHosts:
    """Commands in the hosts' namespaces, and teardown: what `Net` and `topo.nft.NftNet`
    share (each provides `ns`, `lab` and `workdir`)."""

    ns: dict[str, str]
    lab: Lab
    workdir: Path

    def exec(self, host: str, cmd: list[str], check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return sh(cmd, netns=self.ns[host], check=check, timeout=timeout)

    def popen(self, host: str, cmd: list[str], log: str | None = None) -> subprocess.Popen:
        return self.lab.popen(cmd, netns=self.ns[host],
                              log_path=str(self.workdir / log) if log else None)

    def close(self) -> None:
        self.lab.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Net(NamespaceHosts):
    """A running topology. Use as a context manager; everything goes on exit."""

    topo: Topology
    target: str = "p4sim"
    program: str = "synproxy"
    arch: str = "v1model"  # or "tna": p4src/tna/<program>.p4 (p4sim only)
    log_level: str = "warn"
    # p4sim only: False refuses P4Runtime register reads and writes, as bmv2 does
    register_access: bool = True
    lab: Lab = field(default_factory=lambda: Lab(prefix="sp"))
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="p4synproxy-")))
    ns: dict[str, str] = field(default_factory=dict)
    ifname: dict[str, str] = field(default_factory=dict)  # host -> its interface
    switch_proc: subprocess.Popen | None = None

    @property
    def grpc_address(self) -> str:
        return f"unix:{self.workdir}/switch.sock"

    def start(self, with_program: bool = True) -> Net:
        try:
            self._build()
            self._start_switch(with_program)
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        self.ns["switch"] = self.lab.add_ns("sw")
        for h in self.topo.hosts:
            ns = self.lab.add_ns(h.name[:6])
            self.ns[h.name] = ns
            host_if, sw_if = f"{self.lab.tag}h{h.port}", f"{self.lab.tag}s{h.port}"
            self.lab.veth(ns, host_if, self.ns["switch"], sw_if)
            self.ifname[h.name] = host_if
            configure_host(h, ns, host_if)

    def artifacts(self) -> SwitchArtifacts:
        """This Net's program, built for its target, architecture and CPU port."""
        return artifacts(self.program, self.target, self.arch, self.topo.cpu_port)

    def _start_switch(self, with_program: bool) -> None:
        art = self.artifacts() if with_program and self.target == "p4sim" else None
        options = [] if self.register_access or self.target != "p4sim" \
            else ["--no-register-access"]
        if self.arch == "tna":
            options += ["--backend", "python"]
        spec = targets.SwitchSpec(
            self.target, {h.port: f"{self.lab.tag}s{h.port}" for h in self.topo.hosts},
            self.grpc_address, cpu_port=self.topo.cpu_port, log_level=self.log_level,
            config=art.device_config if art else None, p4info=art.p4info if art else None,
            options=options)
        log = self.workdir / "switch.log"
        self.switch_proc = targets.start(
            spec, lambda cmd: self.lab.popen(cmd, netns=self.ns["switch"], log_path=str(log)),
            log, timeout=60, what="the switch")

    def __enter__(self) -> Net:
        return self.start() if not self.ns else self


class RunningSwitch(Protocol):
    """What controller_config needs of the running switch: where it serves P4Runtime.
    A `Net` has it, and so has a Mininet P4 switch (`topo.mininet_switch`)."""

    @property
    def grpc_address(self) -> str: ...


def controller_config(topo: Topology, net: RunningSwitch, art: SwitchArtifacts,
                      **service: Any) -> dict:
    """The controller's YAML config (as a dict) for this topology and running switch
    (`net`: a `Net`, or anything else with the switch's `grpc_address`); keywords are
    the service's keys, but `family`: with `family=6` the service is on the IPv6 VIP
    with the servers' IPv6 addresses. A dual-stack topology's interfaces, neighbours
    and routes are dual-stack either way."""
    family = int(service.pop("family", 4))
    rs = [{"address": h.ip_of(family), "port": topo.rs_port, "weight": 1}
          for h in topo.real_servers]
    svc = {"name": "web", "vip": topo.vip_of(family), "port": topo.vport, "mode": "on",
           "real_servers": rs, **service}
    dual = [h for h in topo.hosts if h.address6]
    return {
        "switch": {"address": net.grpc_address, "p4info": str(art.p4info),
                   "device_config": str(art.device_config), "cpu_port": topo.cpu_port},
        "interfaces": [{"port": h.port, "mac": h.gateway_mac, "address": f"{h.gateway}/24",
                        **({"address6": f"{h.gateway6}/64"} if h.address6 else {})}
                       for h in topo.hosts],
        "neighbours": ([{"address": h.ip, "mac": h.mac, "port": h.port} for h in topo.hosts]
                       + [{"address": h.ip6, "mac": h.mac, "port": h.port} for h in dual]),
        "routes": ([{"prefix": h.subnet, "next_hop": h.ip} for h in topo.hosts]
                   + [{"prefix": h.subnet6, "next_hop": h.ip6} for h in dual]
                   + [{"prefix": p, "next_hop": h.ip6 if ":" in p else h.ip}
                      for h in topo.hosts for p in h.extra_routes]),
        "services": [svc],
    }
