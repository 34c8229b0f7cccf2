"""The systems `bench.compare` puts side by side, behind one small interface, and the
CPU accounting it reports for them.

* `P4System`: the default topology through this project's switch (p4sim, or bmv2
  when asked) running p4src/v1model/synproxy.p4, driven by the controller; started
  the way the demo starts it (`topo.demo`), so the comparison measures what a user
  runs.
* `NftSystem`: the same hosts through a router namespace running `nft synproxy`
  (`topo.nft`).

CPU: for the P4 side the proxy is two user-space processes (the switch and the
controller), so their CPU seconds are read from /proc/<pid>/stat (every process of
their session, children included). The kernel's SYN proxy runs in softirq context on
whatever CPU received the packet, which cannot be attributed to the router namespace;
for both systems the machine-wide busy and softirq time from /proc/stat is recorded
too, and it includes the client, the servers and the flood generator.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from p4sim.backend.backends import default_backend
from topo import demo
from topo.net import Net
from topo.nft import NftNet, SynproxyOptions
from topo.topology import Topology, default_topology

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2:].split()


def session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of every live process in `session` (and of their waited-for
    children). Processes started by `Lab.popen` lead their own session, so the session id
    is the PID `popen` returned."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        f = _stat_fields(int(entry))
        # After the name: state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12)
        # cutime(13) cstime(14).
        if f is None or len(f) < 15 or int(f[3]) != session:
            continue
        total += sum(int(x) for x in f[11:15])
    return total / CLK_TCK


@dataclass(frozen=True)
class SystemCpu:
    """Machine-wide CPU time from /proc/stat, in seconds (all CPUs summed)."""

    busy: float
    softirq: float
    total: float

    def __sub__(self, other: SystemCpu) -> SystemCpu:
        return SystemCpu(self.busy - other.busy, self.softirq - other.softirq,
                         self.total - other.total)


def parse_proc_stat(text: str) -> SystemCpu:
    """The aggregate `cpu` line: busy = user+nice+system+irq+softirq+steal (idle and iowait
    excluded; guest time is already inside user)."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            v = [int(x) for x in parts[1:9]] + [0] * max(0, 9 - len(parts))
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            busy = user + nice + system + irq + softirq + steal
            return SystemCpu(busy / CLK_TCK, softirq / CLK_TCK, (busy + idle + iowait) / CLK_TCK)
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


def system_cpu() -> SystemCpu:
    return parse_proc_stat(Path("/proc/stat").read_text())


@dataclass
class P4System:
    """This project's SYN proxy: switch + controller, protecting the default topology."""

    target: str = "p4sim"
    topo: Topology = field(default_factory=default_topology)
    family: int = 4  # 6: over IPv6 (give a dual-stack topology: default_topology(ipv6=True))
    # The SYN/ACK options, given to the controller's service so that both systems offer
    # the same ones by construction.
    options: SynproxyOptions = field(default_factory=SynproxyOptions)
    net: Net | None = None
    controller: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"p4-{self.target}{'6' if self.family == 6 else ''}"

    @property
    def describe(self) -> str:
        o = self.options
        target = self.target
        if target == "p4sim":  # the back end the switch picks ($P4SIM_BACKEND, else native)
            target = f"p4sim ({default_backend(target=True)} back end)"
        over = f"over IPv6: VIP {self.topo.vip6}, floods from 2001:2::/48; " \
            if self.family == 6 else ""
        return (f"{target} running p4src/v1model/synproxy.p4 + the P4Runtime controller "
                f"({over}mode on, SYN/ACK mss {o.mss} wscale {o.wscale}"
                f"{' timestamps' if o.timestamp else ''}{' sack' if o.sack_perm else ''}, "
                "NAT round robin to rs1/rs2)")

    def start(self) -> None:
        self.net = Net(self.topo, target=self.target, log_level="error").start()
        try:
            demo.start_services(self.net, self.topo)
            o = self.options
            synack = {"mss": o.mss, "wscale": o.wscale, "sack": o.sack_perm,
                      "timestamps": o.timestamp}
            self.controller = demo.start_controller(self.net, self.topo, mode="on",
                                                    synack=synack, family=self.family)
            demo.wait_service_ready(self.net, self.topo, family=self.family)
        except BaseException:
            self.close()
            raise

    def proxy_cpu_seconds(self) -> float | None:
        assert self.net is not None and self.controller is not None
        switch = self.net.switch_proc
        assert isinstance(switch, subprocess.Popen)
        return session_cpu_seconds(switch.pid) + session_cpu_seconds(self.controller.pid)

    def counters(self) -> dict[str, int]:
        """SYNs that met the proxy, cookie SYN/ACKs it sent, valid cookie ACKs it saw."""
        assert self.net is not None
        ev = demo.read_events(self.net)
        return {"syn_in": ev.get("SYN_IN", 0), "cookies_sent": ev.get("SYNACK_SENT", 0),
                # A valid cookie ACK on a 4-tuple still closing from an earlier
                # connection (the client's ports wrap) is counted as REUSE_ACK.
                "valid_acks": ev.get("ACK_VALID", 0) + ev.get("REUSE_ACK", 0)}

    def close(self) -> None:
        if self.net is not None:
            self.net.close()


@dataclass
class NftSystem:
    """Linux's netfilter SYN proxy in a router namespace, protecting the same hosts."""

    topo: Topology = field(default_factory=default_topology)
    options: SynproxyOptions = field(default_factory=SynproxyOptions)
    net: NftNet | None = None
    name: str = "nft-synproxy"
    family: int = 4  # 6: over IPv6 (give a dual-stack topology: default_topology(ipv6=True))

    @property
    def describe(self) -> str:
        o = self.options
        over = f"IPv6 (VIP {self.topo.vip6}, floods from 2001:2::/48), " if self.family == 6 \
            else ""
        return (f"router namespace, {over}nft synproxy mss {o.mss} wscale {o.wscale}"
                f"{' timestamp' if o.timestamp else ''}{' sack-perm' if o.sack_perm else ''}, "
                "DNAT round robin to rs1/rs2")

    def start(self) -> None:
        self.net = NftNet(self.topo, self.options, family=self.family).start()
        try:
            demo.start_services(self.net, self.topo)
            demo.wait_service_ready(self.net, self.topo, family=self.family)
        except BaseException:
            self.close()
            raise

    def proxy_cpu_seconds(self) -> float | None:
        return None  # softirq work in the router namespace is not separable: see the docstring

    def counters(self) -> dict[str, int]:
        assert self.net is not None
        c = self.net.counters()
        return {"syn_in": c.get("syn_in", 0), "cookies_sent": c.get("synack_out", 0),
                "valid_acks": c.get("cookie_valid", 0)}

    def close(self) -> None:
        if self.net is not None:
            self.net.close()
