"""The comparison topology: the same hosts as `topo.net`, but routed by a Linux router
namespace that protects the VIP with netfilter's own SYN proxy (`nft synproxy`).

    client ─┐                       ┌─ rs1 (10.0.10.10:8080)
    attacker┼── router namespace ───┼─ rs2 (10.0.11.10:8080)
            │   nft synproxy + DNAT │

Every host keeps its address, MAC, gateway and gateway MAC from the `Topology`, so
the client, the flood and the servers are started with exactly the arguments the P4
side uses; only the box in the middle changes.

How the router proxies (the pattern of the kernel's SYNPROXY documentation):

* `raw` prerouting: SYNs to VIP:vport are `notrack`, so a flood creates no conntrack
  entry at all.
* `filter` forward: packets to VIP:vport in `ct state invalid,untracked` (the
  untracked SYN, and the client's third ACK, which conntrack with
  `nf_conntrack_tcp_loose=0` refuses to pick up mid-stream) go to `synproxy`, which
  answers SYNs with a cookie SYN/ACK (MSS 1460, window scale 7, timestamps,
  SACK-permitted: the options the P4 service offers) and turns a valid cookie ACK
  into a SYN of its own towards the server; other invalid packets are dropped.
* The proxy's own SYN is locally generated, so the DNAT of VIP:vport to a real
  server (round robin, like the controller's) sits in both nat prerouting and nat
  output; conntrack then NATs and sequence-adjusts the rest of the connection.
* The VIP is not a local address of the router: a /32 route sends it towards the
  first real server, so SYNs take the forward path where the synproxy rule lives.

Over IPv6 (`family=6`, a dual-stack `Topology`) the same ruleset is written for the
`ip6` family against the IPv6 VIP and the servers' IPv6 addresses; the router's
interfaces get the hosts' IPv6 gateway addresses (static: no DAD, no router
advertisements) and forward IPv6, and 2001:2::/48 is routed back to the attacker.

One kernel quirk shapes the IPv6 setup: nft's synproxy expression checks a segment's
TCP checksum with the IPv4 helper (`nf_ip_checksum` in `nft_synproxy_do_eval`) for
either family, so over IPv6 a segment whose checksum the kernel must verify in
software (CHECKSUM_NONE: every veth frame here, and every AF_PACKET frame) fails the
check and is dropped unanswered; one whose checksum is still to be filled in
(CHECKSUM_PARTIAL, a local sender with transmit checksum offload) skips it. So for
`family=6` the hosts' own interfaces keep transmit checksum offload on (the
legitimate client's handshakes then get through, as from a host with a NIC), and
the flood's prebuilt frames are dropped by the proxy rather than answered with
cookies: its `answered` figure over IPv6 says so.

Sysctls are set only inside the router namespace: `ip_forward`, `rp_filter`,
`nf_conntrack_tcp_loose`, `tcp_syncookies` and `tcp_timestamps` are all per network
namespace on the kernels this runs on (the end-to-end test checks that the host's
values do not move). The conntrack hash size and `nf_conntrack_max`, which SYNPROXY
guides often raise, are machine-wide and are left alone: the flood's SYNs are
`notrack` and never fill the table.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .guard import nft_counters
from .net import NamespaceHosts, configure_host
from .netns import Lab, LabError, enable_ipv6, sh
from .topology import Topology

TABLE = "p4snft"

ROUTER_SYSCTLS = {
    # No reverse-path filter: a flood may share the client's link (as on an Internet
    # uplink, where strict RPF cannot tell a spoofed source); both proxies must see it.
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.ip_forward": "1",
    "net.netfilter.nf_conntrack_tcp_loose": "0",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.tcp_timestamps": "1",
}

# Columns of /proc/net/stat/synproxy (one hexadecimal row per CPU).
SYNPROXY_STATS = ("entries", "syn_received", "cookie_invalid", "cookie_valid", "cookie_retrans",
                  "conn_reopened")


@dataclass(frozen=True)
class SynproxyOptions:
    """What the proxy's SYN/ACK offers; the defaults match the P4 service's settings."""

    mss: int = 1460
    wscale: int = 7
    timestamp: bool = True
    sack_perm: bool = True

    def __post_init__(self) -> None:
        if not 536 <= self.mss <= 65535:
            raise ValueError(f"synproxy mss {self.mss} is outside 536..65535")
        if not 0 <= self.wscale <= 14:
            raise ValueError(f"synproxy wscale {self.wscale} is outside 0..14")

    def nft(self) -> str:
        words = [f"mss {self.mss}", f"wscale {self.wscale}"]
        words += ["timestamp"] if self.timestamp else []
        words += ["sack-perm"] if self.sack_perm else []
        return " ".join(words)


def ruleset(topo: Topology, options: SynproxyOptions | None = None, family: int = 4) -> str:
    """The router's nftables ruleset for `topo` (pure: text only, nothing applied);
    `family` 6: the `ip6` table for the IPv6 VIP and servers."""
    opts = options or SynproxyOptions()
    servers = topo.real_servers
    if not servers:
        raise ValueError("the topology has no real server to DNAT the VIP to")
    if family == 6 and not (topo.vip6 and all(h.address6 for h in servers)):
        raise ValueError("an IPv6 ruleset needs a dual-stack topology (an IPv6 VIP and servers)")
    vip, vport, rport = topo.vip_of(family), topo.vport, topo.rs_port
    ip = "ip6" if family == 6 else "ip"
    svc = f"{ip} daddr {vip} tcp dport {vport}"
    if len(servers) == 1:
        one = servers[0].ip_of(family)
        target = f"[{one}]:{rport}" if family == 6 else f"{one}:{rport}"
    else:
        pairs = ", ".join(f"{i} : {h.ip_of(family)}" for i, h in enumerate(servers))
        target = f"numgen inc mod {len(servers)} map {{ {pairs} }} : {rport}"
    return f"""
table {ip} {TABLE} {{
    counter syn_in {{ }}
    counter proxied {{ }}
    counter synack_out {{ }}
    counter invalid_drop {{ }}
    chain rawpre {{
        type filter hook prerouting priority raw; policy accept;
        {svc} tcp flags & (fin | syn | rst | ack) == syn counter name syn_in notrack
    }}
    chain forwarding {{
        type filter hook forward priority filter; policy accept;
        {svc} ct state invalid,untracked counter name proxied synproxy {opts.nft()}
        ct state invalid counter name invalid_drop drop
    }}
    chain localout {{
        type filter hook output priority filter; policy accept;
        {ip} saddr {vip} tcp sport {vport} tcp flags & (syn | ack) == syn | ack counter name synack_out
    }}
    chain natpre {{
        type nat hook prerouting priority dstnat; policy accept;
        {svc} dnat to {target}
    }}
    chain natout {{
        type nat hook output priority -100; policy accept;
        {svc} dnat to {target}
    }}
}}
"""


def read_counters(netns: str, family: int = 4) -> dict[str, int]:
    """Packet counts of the ruleset's named counters in `netns`."""
    return nft_counters(netns, "ip6" if family == 6 else "ip", TABLE)


def parse_synproxy_stats(text: str) -> dict[str, int]:
    """Sum the per-CPU rows of /proc/net/stat/synproxy (hexadecimal columns)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0][: len(SYNPROXY_STATS)] != list(SYNPROXY_STATS):
        raise ValueError(f"unexpected /proc/net/stat/synproxy header: {lines[:1]}")
    names = lines[0]
    totals = dict.fromkeys(names, 0)
    for row in lines[1:]:
        if len(row) != len(names):
            raise ValueError(f"malformed /proc/net/stat/synproxy row: {row}")
        for name, value in zip(names, row, strict=True):
            totals[name] += int(value, 16)
    return totals


def read_synproxy_stats(netns: str) -> dict[str, int]:
    """The kernel's SYN proxy statistics of one namespace (syn_received, cookie_valid...)."""
    return parse_synproxy_stats(sh(["cat", "/proc/net/stat/synproxy"], netns=netns).stdout)


@dataclass
class NftNet(NamespaceHosts):
    """A running nft-synproxy topology; same surface as `topo.net.Net` for the hosts
    (`ns`, `ifname`, `exec`, `popen`, `workdir`, `lab`). Use as a context manager."""

    topo: Topology
    options: SynproxyOptions = field(default_factory=SynproxyOptions)
    family: int = 4  # 6: the proxy protects the IPv6 VIP (a dual-stack topology)
    lab: Lab = field(default_factory=lambda: Lab(prefix="nf"))
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="p4synproxy-nft-")))
    ns: dict[str, str] = field(default_factory=dict)
    ifname: dict[str, str] = field(default_factory=dict)  # host -> its interface
    router_if: dict[str, str] = field(default_factory=dict)  # host -> router's interface to it

    @property
    def router(self) -> str:
        return self.ns["router"]

    def start(self) -> NftNet:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        router = self.ns["router"] = self.lab.add_ns("rt")
        for key, value in ROUTER_SYSCTLS.items():
            sh(["sysctl", "-qw", f"{key}={value}"], netns=router)
        dual = any(h.address6 for h in self.topo.hosts)
        for h in self.topo.hosts:
            ns = self.ns[h.name] = self.lab.add_ns(h.name[:6])
            host_if, rt_if = f"{self.lab.tag}h{h.port}", f"{self.lab.tag}r{h.port}"
            self.lab.veth(ns, host_if, router, rt_if)
            self.ifname[h.name], self.router_if[h.name] = host_if, rt_if
            configure_host(h, ns, host_if)
            if self.family == 6:  # see the module docstring: the IPv6 checksum quirk
                sh(["ethtool", "-K", host_if, "tx", "on"], netns=ns, check=False)
            sh(["ip", "link", "set", rt_if, "address", h.gateway_mac], netns=router)
            prefix = h.address.split("/")[1]
            sh(["ip", "addr", "add", f"{h.gateway}/{prefix}", "dev", rt_if], netns=router)
            if h.address6:
                enable_ipv6(router, rt_if)
                sh(["ip", "-6", "addr", "add", f"{h.gateway6}/64", "dev", rt_if, "nodad"],
                   netns=router)
            for extra in h.extra_routes:
                v6 = ":" in extra
                if v6 and not h.address6:
                    continue
                sh(["ip", "-6" if v6 else "-4", "route", "add", extra, "via",
                    h.ip6 if v6 else h.ip], netns=router)
        if dual:
            sh(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], netns=router)
        servers = self.topo.real_servers
        if not servers:
            raise LabError("the topology has no real server")
        # Forward (not local) delivery of the VIP: see the module docstring.
        sh(["ip", "route", "add", f"{self.topo.vip}/32", "via", servers[0].ip], netns=router)
        if self.topo.vip6 and servers[0].address6:
            sh(["ip", "-6", "route", "add", f"{self.topo.vip6}/128", "via", servers[0].ip6],
               netns=router)
        proc = subprocess.run(["ip", "netns", "exec", router, "nft", "-f", "-"],
                              input=ruleset(self.topo, self.options, self.family), text=True,
                              capture_output=True)
        if proc.returncode != 0:
            raise LabError(f"nft ruleset in {router}: {proc.stderr.strip()}")

    def counters(self) -> dict[str, int]:
        """Ruleset counters and kernel SYN proxy statistics of the router, in one dict."""
        return {**read_counters(self.router, self.family), **read_synproxy_stats(self.router)}

    def __enter__(self) -> NftNet:
        return self.start() if not self.ns else self
