"""`make bench` side by side: this project's SYN proxy against Linux's `nft synproxy`,
protecting the same servers, with the same SYN/ACK options, under the same traffic,
measured in the same run.

    .venv/bin/python -m bench compare          (root: network namespaces)
    .venv/bin/python -m bench.compare --rates 0,1000,8000 --seconds 4 --flood-from attacker

For each system (`bench.nft_systems`: the P4 switch on p4sim, on bmv2 too when
`simple_switch_grpc` is on PATH, and an nft-synproxy router namespace) and for a
series of flood rates (0, then doubling until the system saturates, bounded in time
and count), one point is measured: a bounded spoofed SYN flood from 198.18.0.0/15
(over IPv6, on a dual-stack topology, from 2001:2::/48: `--families`) (`topo.flood`) runs while a real client makes hash-checked HTTP downloads through
the VIP (`topo.workload`) and an open-loop probe opens connections at a fixed rate
(`bench.nft_connect`: the downloads are closed-loop, so a crawling proxy shows few
slow successes rather than failures; the probe's attempts fail instead). A point
records the legitimate success rates (downloads; probe connections), connect time
p50/p99, download throughput (MB/s of hash-checked bytes), the spoofed SYNs that
reached a real server (nftables counters on the servers, `topo.guard`: must be 0 for
both), the proxy's own counters, and CPU: the switch's and controller's CPU seconds
for the P4 side; machine-wide busy and softirq seconds for both (the kernel proxy's
softirq work cannot be attributed to its namespace, and the machine-wide figure also
holds the client, the servers and the flood generator).

The flood enters on the legitimate client's own link (spoofed sources, replies routed
to the attacker's blackhole), as on a shared Internet uplink. From a port of its own
(`--flood-from attacker`) it flatters p4sim: the switch serves its ports in turn, a
batch from each ready port per round, so a flood on another port costs the client's
port little even when most flood SYNs go unanswered (seen: 4000 SYN/s offered, a
quarter answered, every legitimate download fine).

A system is saturated at a point when fewer than 95% of legitimate downloads or probe
connections succeed, either's connect p99 exceeds one second (a lost SYN: the
client's first retransmission), it
answers fewer than 90% of the SYNs offered (flood and legitimate: unanswered SYNs are
lost at random, legitimate ones too), or its download rate falls below a quarter of
its own rate without a flood (the client is closed-loop: a crawling proxy shows few,
slow, successful downloads rather than failures). A point where the proxy met all of
that but the flood generator offered less than 80% of the asked rate is marked
generator-limited: the proxy held what it got, and the series ends there. Results: a
table on stdout, bench/out/compare.csv, bench/out/compare.png and
bench/out/compare.txt, which also holds the figures of the per-component benchmarks
run first.

Where this project stands against the kernel, and why
-----------------------------------------------------
With p4sim's native back end (the target's default), one run on a 2-core VM shared with
other work (load average 3-5), flood on the client's link, 250 kB downloads, 2
clients, probe connections at 20/s (with the Python back end, P4SIM_BACKEND=python,
the same benchmark held 1,000-2,000 SYN/s: the interpreter was the ceiling):

                                  p4sim + controller    nft synproxy (kernel)
  flood held (criteria above)       63,936 SYN/s: all     63,888 SYN/s: all the
                                    the generator could   generator could offer
                                    offer, 100% of        100% of downloads and
                                    downloads and probes  probes
  connect p50, no flood / 64k       0.34 / 1.7 ms         0.12 / 0.12 ms
  first byte p50 / p99, no flood    15 / 45 ms            4.9 / 81 ms (2-4.5 / 15-47
                                    (14-26 / 35-113 over  over the flooded points)
                                    the flooded points)
  download rate, no flood / 64k     11.2 / 5.8 MB/s       13.0 / 10.7 MB/s
  switch + controller CPU           3.0 s per 6 s point   n/a (softirq, not
                                    idle, 6.4 s at 64k    separable)
  spoofed SYNs at the servers       0                     0

So both hold every flood this generator makes, and the switch answers the handshake
as fast as the kernel does within a fraction of a millisecond; what remains behind is
what crosses the controller and what runs on the same two cores:

* Time to the first byte is ~10 ms longer: every legitimate connection crosses the
  controller once (digest, session install over P4Runtime, server SYN as a PacketOut,
  the server's SYN/ACK, window update), user-space gRPC on both ends. netfilter
  creates its conntrack entry in place. On a hardware target the same path remains,
  so it is the figure to work on (controller/README.md: the setup rate and latency).
* Transfer rate under a flood is lower: p4sim's packet loop shares the two cores with
  the flood generator, the client and the servers, and the flood SYNs it answers are
  user-space work; the kernel's proxy runs in softirq context.
* Both are bounded here by the machine: the generator reaches ~64k SYN/s, so neither
  was saturated; each run prints its own table for the machine at hand.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from topo import guard
from topo.demo import pct
from topo.netns import command, sigterm_as_interrupt, wait_for
from topo.nft import SynproxyOptions
from topo.topology import Topology, default_topology

from .nft_systems import NftSystem, P4System, system_cpu

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable

RATES = (0, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000)
SUCCESS_FLOOR = 0.95
ANSWERED_FLOOR = 0.9
GOODPUT_FLOOR = 0.25  # of the same system's download rate without a flood
CONNECT_P99_CEILING_MS = 1000.0
GENERATOR_FLOOR = 0.8
FLOOD_DISTINCT = 1024  # spoofed flows cycled: enough for stateless cookies, quick to build
FLOOD_MARGIN_S = 3.0  # the flood outlasts the workload by this much (its start-up, drain)


class System(Protocol):
    topo: Topology
    family: int  # the VIP's: 4 or 6

    net: Any  # Net or NftNet: the same host surface (ns, ifname, exec, popen, workdir)

    @property
    def name(self) -> str: ...

    @property
    def describe(self) -> str: ...

    def start(self) -> None: ...
    def proxy_cpu_seconds(self) -> float | None: ...
    def counters(self) -> dict[str, int]: ...
    def close(self) -> None: ...


@dataclass
class Point:
    """One system at one flood rate."""

    system: str
    rate: int  # asked spoofed SYN/s
    flood_sent: int
    flood_pps: float  # what the generator achieved
    requests: int
    ok: int
    success: float
    connect_p50_ms: float
    connect_p99_ms: float
    first_byte_p50_ms: float  # connect start -> first byte of the answer (downloads)
    first_byte_p99_ms: float
    mbytes_per_s: float
    conn_attempts: int  # open-loop probe
    conn_success: float
    conn_p99_ms: float
    spoofed_syn_at_servers: int
    proxy_syn_in: int
    proxy_cookies_sent: int
    proxy_valid_acks: int
    syn_answered: float  # cookie SYN/ACKs sent / SYNs offered (flood + legitimate attempts)
    proxy_cpu_s: float  # NaN where not separable (kernel)
    system_cpu_s: float
    system_softirq_s: float
    window_s: float
    verdict: str  # ok / saturated / generator-limited

    @property
    def system_cpu_pct(self) -> float:
        """Machine-wide busy time as a share of one core."""
        return 100 * self.system_cpu_s / self.window_s if self.window_s else math.nan


@dataclass(frozen=True)
class Load:
    seconds: float = 6.0  # legitimate workload per point
    size: int = 250_000  # bytes per download
    concurrency: int = 2
    timeout: float = 3.0  # per download (connect + transfer), and per probe connection
    probe_rate: float = 20.0  # open-loop connection attempts per second (bench.nft_connect)
    # Where the flood enters: "client" (the legitimate client's own link, as on a shared
    # uplink) or "attacker" (a port of its own). See the module docstring.
    flood_from: str = "client"

    def __post_init__(self) -> None:
        if self.flood_from not in ("client", "attacker"):
            raise ValueError(f"flood_from must be 'client' or 'attacker', not {self.flood_from!r}")
        if not 1 <= self.seconds <= 120 or self.concurrency < 1 or self.size < 1:
            raise ValueError("load: seconds must be 1..120, concurrency and size positive")
        if not 0 < self.probe_rate <= 200:
            raise ValueError("load: probe_rate must be in (0, 200] connections/s")


def verdict(p: Point, baseline: Point | None = None) -> str:
    """"saturated" if the proxy failed a criterion at the flood it actually got; else
    "generator-limited" if that flood fell short of the asked rate (the proxy held what
    it got, and the series cannot go higher); else "ok". `baseline`: the same system
    without a flood, if measured."""
    if baseline is not None and p.mbytes_per_s < GOODPUT_FLOOR * baseline.mbytes_per_s:
        # The client's downloads are closed-loop: when each one crawls, few are even tried,
        # and a handful of slow successes must not read as "held".
        return "saturated"
    if p.success < SUCCESS_FLOOR or not p.connect_p99_ms <= CONNECT_P99_CEILING_MS:
        return "saturated"
    if p.conn_success < SUCCESS_FLOOR or not p.conn_p99_ms <= CONNECT_P99_CEILING_MS:
        return "saturated"  # open-loop attempts fail or need a SYN retransmission
    if p.rate and p.syn_answered < ANSWERED_FLOOR:
        return "saturated"  # SYNs go unanswered: legitimate ones are lost at random too
    if p.rate and p.flood_pps < GENERATOR_FLOOR * p.rate:
        return "generator-limited"
    return "ok"


def _spoofed(system: System) -> int:
    return sum(guard.read(system.net.ns[rs.name]).get("spoofed_syn", 0)
               for rs in system.topo.real_servers)


def _last_json(path: Path, what: str) -> dict:
    """The JSON line a bench tool printed last (its result); a clear error if none."""
    text = path.read_text() if path.exists() else ""
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{what} reported nothing: {text[-1500:]}")
    return json.loads(lines[-1])


def _tx_packets(net: Any, host: str) -> int:
    path = f"/sys/class/net/{net.ifname[host]}/statistics/tx_packets"
    return int(net.exec(host, ["cat", path]).stdout)


def measure(system: System, rate: int, load: Load, tag: str,
            baseline: Point | None = None) -> Point:
    """One point: a bounded flood at `rate` around a bounded legitimate workload."""
    net, topo = system.net, system.topo
    vip = topo.vip_of(getattr(system, "family", 4))
    entry = topo.host(load.flood_from)
    spoofed0, counters0 = _spoofed(system), system.counters()
    flood = None
    flood_log = f"flood-{tag}.json"
    if rate:
        span = load.seconds + FLOOD_MARGIN_S
        tx0 = _tx_packets(net, entry.name)
        flood = net.popen(entry.name, [
            PY, "-m", "topo.flood", "--iface", net.ifname[entry.name], "--src-mac", entry.mac,
            "--dst-mac", entry.gateway_mac, "--vip", vip, "--port", str(topo.vport),
            "--kind", "syn", "--rate", str(rate), "--seconds", str(span),
            "--count", str(int(rate * span) + 1), "--distinct", str(FLOOD_DISTINCT)],
            log=flood_log)
        # The generator builds its frames first (seconds on a busy machine): the legitimate
        # workload starts only once spoofed SYNs are leaving, so it really runs under the flood.
        wait_for(lambda: flood.poll() is not None
                 or _tx_packets(net, entry.name) - tx0 >= max(10, rate // 20),
                 60, interval=0.05, what="the flood to start")
    # CPU is measured from here: the flood at speed (not its start-up) and the workload.
    cpu0, proxy0 = system_cpu(), system.proxy_cpu_seconds()
    t0 = time.monotonic()
    probe_log = f"probe-{tag}.json"
    probe = net.popen("client", [
        PY, "-m", "bench.nft_connect", "--vip", vip, "--port", str(topo.vport),
        "--rate", str(load.probe_rate), "--seconds", str(load.seconds),
        "--timeout", str(load.timeout)], log=probe_log)
    out = net.exec("client", [
        PY, "-m", "topo.workload", "--vip", vip, "--port", str(topo.vport),
        "--size", str(load.size), "--seconds", str(load.seconds),
        "--concurrency", str(load.concurrency), "--timeout", str(load.timeout)],
        check=False, timeout=load.seconds + 4 * load.timeout + 30).stdout
    sent, flood_pps = 0, 0.0
    if flood is not None:
        flood.wait(timeout=load.seconds + 60)
        result = _last_json(net.workdir / flood_log, "the flood generator")
        sent, flood_pps = result["sent"], result["sent"] / max(result["seconds"], 1e-3)
    probe.wait(timeout=load.seconds + load.timeout + 60)
    conn = _last_json(net.workdir / probe_log, "the connection probe")
    window = time.monotonic() - t0
    cpu, proxy = system_cpu() - cpu0, system.proxy_cpu_seconds()
    counters = system.counters()
    records = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    ok = [r for r in records if r["ok"]]
    connects = [r["connect_ms"] for r in ok]
    first_bytes = [r["first_byte_ms"] for r in ok]
    busy = max((r["t"] + r["total_ms"] / 1000 for r in records), default=load.seconds)
    p = Point(
        system=system.name, rate=rate, flood_sent=sent, flood_pps=round(flood_pps, 1),
        requests=len(records), ok=len(ok),
        success=len(ok) / len(records) if records else math.nan,
        connect_p50_ms=pct(connects, 50), connect_p99_ms=pct(connects, 99),
        first_byte_p50_ms=pct(first_bytes, 50), first_byte_p99_ms=pct(first_bytes, 99),
        mbytes_per_s=len(ok) * load.size / 1e6 / max(busy, 1e-3),
        conn_attempts=conn["attempts"],
        conn_success=conn["connected"] / conn["attempts"] if conn["attempts"] else math.nan,
        conn_p99_ms=pct(conn["connect_ms"], 99) if conn["connected"] else math.nan,
        spoofed_syn_at_servers=_spoofed(system) - spoofed0,
        proxy_syn_in=counters["syn_in"] - counters0["syn_in"],
        proxy_cookies_sent=counters["cookies_sent"] - counters0["cookies_sent"],
        proxy_valid_acks=counters["valid_acks"] - counters0["valid_acks"],
        syn_answered=((counters["cookies_sent"] - counters0["cookies_sent"])
                      / max(sent + len(records) + conn["attempts"], 1)),
        proxy_cpu_s=(proxy - proxy0) if proxy is not None and proxy0 is not None else math.nan,
        system_cpu_s=cpu.busy, system_softirq_s=cpu.softirq, window_s=window, verdict="")
    p.verdict = verdict(p, baseline)
    return p


def series(system: System, rates: Iterable[int], load: Load, budget_s: float,
           emit: Callable[[Point], None]) -> list[Point]:
    """Rising rates until the system saturates or the generator falls short (that point
    included), or the time budget runs out."""
    points: list[Point] = []
    start = time.monotonic()
    for i, rate in enumerate(rates):
        if points and time.monotonic() - start > budget_s:
            print(f"  {system.name}: time budget of {budget_s:.0f} s spent; stopping at "
                  f"{points[-1].rate} SYN/s", flush=True)
            break
        baseline = points[0] if points and points[0].rate == 0 else None
        p = measure(system, rate, load, tag=f"{i}-{rate}", baseline=baseline)
        points.append(p)
        emit(p)
        if p.verdict != "ok":
            break
    return points


HEADER = (f"{'system':<13} {'SYN/s':>6} {'achieved':>9} {'ok/req':>9} {'success':>7} "
          f"{'p50(ms)':>8} {'p99(ms)':>8} {'ttfb50':>7} {'ttfb99':>7} {'MB/s':>7} {'conn_ok':>7} {'conn99':>8} "
          f"{'spoofed':>7} {'answered':>8} {'proxyCPU':>8} {'sysCPU':>7} {'softirq':>7} verdict")


LEGEND = """\
  SYN/s asked and achieved by the flood generator; ok/req, success, p50/p99 connect,
  ttfb50/ttfb99 (ms from the start of the connect to the answer's first byte: the
  handshake the proxy answers alone, plus the server side it opens) and MB/s of the
  hash-checked legitimate downloads (closed loop); conn_ok and conn99: success and
  p99 connect time (ms) of open-loop legitimate connection attempts; spoofed: spoofed SYNs that reached a real server
  (must be 0); answered: cookie SYN/ACKs sent per SYN offered; proxyCPU: CPU seconds of the
  switch and controller processes (/proc/<pid>/stat), n/a for nft, whose softirq work cannot
  be told apart from the rest of the machine; sysCPU and softirq: machine-wide busy and
  softirq CPU seconds (/proc/stat, all CPUs) over the point, client, servers and flood
  generator included."""


def row(p: Point) -> str:
    cpu = "n/a" if math.isnan(p.proxy_cpu_s) else f"{p.proxy_cpu_s:.2f}"
    okreq = f"{p.ok}/{p.requests}"
    return (f"{p.system:<13} {p.rate:>6} {p.flood_pps:>9.0f} {okreq:>9} {p.success:>7.1%} "
            f"{p.connect_p50_ms:>8.2f} {p.connect_p99_ms:>8.2f} {p.first_byte_p50_ms:>7.2f} "
            f"{p.first_byte_p99_ms:>7.2f} {p.mbytes_per_s:>7.2f} "
            f"{p.conn_success:>7.1%} {p.conn_p99_ms:>8.2f} {p.spoofed_syn_at_servers:>7} {p.syn_answered:>8.1%} {cpu:>8} "
            f"{p.system_cpu_s:>7.2f} {p.system_softirq_s:>7.2f} {p.verdict}")


def write_csv(points: list[Point], path: Path) -> None:
    names = [f.name for f in fields(Point)] + ["system_cpu_pct"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for p in points:
            w.writerow([*(getattr(p, n) for n in names[:-1]), round(p.system_cpu_pct, 1)])


def plot(points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = ((axes[0][0], "legitimate connections completed (%, open loop)",
               lambda p: 100 * p.conn_success),
              (axes[0][1], "connect time (ms): downloads p50 / p99, probe p99; first byte p50", None),
              (axes[1][0], "hash-checked download MB/s", lambda p: p.mbytes_per_s),
              (axes[1][1], "CPU (% of one core)", None))
    systems = list(dict.fromkeys(p.system for p in points))
    for i, name in enumerate(systems):
        pts = [p for p in points if p.system == name]
        x = [p.rate for p in pts]
        color = f"C{i}"
        for ax, _, fn in panels:
            if fn is not None:
                ax.plot(x, [fn(p) for p in pts], "o-", color=color, label=name)
                broke = [p for p in pts if p.verdict != "ok"]
                ax.plot([p.rate for p in broke], [fn(p) for p in broke], "x", color="black",
                        markersize=11, label=f"{name}: {broke[0].verdict}" if broke else None)
        ax = axes[0][1]
        ax.plot(x, [p.connect_p50_ms for p in pts], "o-", color=color, label=f"{name} p50")
        ax.plot(x, [p.connect_p99_ms for p in pts], "s--", color=color, label=f"{name} p99")
        ax.plot(x, [p.conn_p99_ms for p in pts], "d:", color=color,
                label=f"{name} p99, open-loop probe")
        ax.plot(x, [p.first_byte_p50_ms for p in pts], "v-.", color=color,
                label=f"{name} first byte p50")
        ax = axes[1][1]
        ax.plot(x, [p.system_cpu_pct for p in pts], "o-", color=color,
                label=f"{name}: whole machine")
        ax.plot(x, [100 * p.system_softirq_s / p.window_s for p in pts], "^:", color=color,
                label=f"{name}: softirq, whole machine")
        if not all(math.isnan(p.proxy_cpu_s) for p in pts):
            ax.plot(x, [100 * p.proxy_cpu_s / p.window_s for p in pts], "s--", color=color,
                    label=f"{name}: switch + controller")
    for ax, title, _ in panels:
        ax.set_title(title)
        ax.set_xscale("symlog", linthresh=250)
        ax.set_xlabel("spoofed SYN/s asked")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylim(0, 105)
    axes[0][1].set_yscale("log")
    fig.suptitle("SYN proxy under a spoofed SYN flood: this project vs nft synproxy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(points: list[Point]) -> list[str]:
    """Per system: the highest flood held (as achieved, not as asked), the first point
    that broke it, and the ratio to the kernel's."""
    lines = []
    held: dict[str, float] = {}
    for name in dict.fromkeys(p.system for p in points):
        pts = [p for p in points if p.system == name]
        held[name] = max((p.flood_pps for p in pts if p.verdict != "saturated"), default=0.0)
        bad = [p for p in pts if p.verdict != "ok"]
        base = next((p for p in pts if p.rate == 0), None)
        end = (f"{bad[0].verdict} at {bad[0].rate} SYN/s asked ({bad[0].flood_pps:.0f}/s "
               f"achieved, {bad[0].conn_success:.0%} of connections (p99 "
               f"{bad[0].conn_p99_ms:.0f} ms) and {bad[0].success:.0%} of downloads "
               f"({bad[0].mbytes_per_s:.2f} MB/s) ok, {bad[0].syn_answered:.0%} of SYNs "
               "answered)"
               if bad else "not saturated within the series")
        idle = (f"; no flood: connect p50 {base.connect_p50_ms:.2f} ms, first byte p50 "
                f"{base.first_byte_p50_ms:.2f} / p99 {base.first_byte_p99_ms:.2f} ms, "
                f"{base.mbytes_per_s:.2f} MB/s") if base else ""
        spoofed = sum(p.spoofed_syn_at_servers for p in pts)
        lines.append(f"{name}: held {held[name]:.0f} spoofed SYN/s; {end}{idle}; "
                     f"spoofed SYNs at the servers over all points: {spoofed}")
    for name, rate in held.items():
        # each P4 system against the kernel over the same address family
        v6 = name.endswith("6")
        nft = held.get("nft-synproxy6" if v6 else "nft-synproxy")
        if not name.startswith("nft-") and nft:
            lines.append(f"{name} held {rate:.0f} SYN/s where nft synproxy"
                         f"{' over IPv6' if v6 else ''} held at least {nft:.0f} "
                         f"(x{nft / max(rate, 1):.0f}; see this module's docstring for why)")
    return lines


class Tee(io.TextIOBase):
    """Writes to the real stdout and keeps a copy for the report file."""

    def __init__(self, real: io.TextIOBase) -> None:
        self.real, self.copy = real, io.StringIO()

    def write(self, s: str) -> int:
        self.real.write(s)
        self.real.flush()
        return self.copy.write(s)


def run_components(components: dict[str, Callable[[], object]]) -> None:
    for name, fn in components.items():
        print(f"-- component: {name}", flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a broken component must not hide the comparison
            print(f"{name}: FAILED: {e}", flush=True)


def machine() -> str:
    """What the figures were taken on; the load average tells whether other work shared it."""
    import os
    import platform

    nft = subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"machine: {os.cpu_count()} CPUs, Linux {platform.release()}, {nft or 'nft ?'}; "
            f"load average at start {load} (all CPU figures share the machine with the client, "
            "the servers, the flood generator and anything else running)")


def systems(options: SynproxyOptions | None = None,
            families: Iterable[int] = (4, 6)) -> list[System]:
    """Every system this machine can run, all offering the same SYN/ACK options: the
    IPv4 ones, then the same over IPv6 (on a dual-stack topology)."""
    opts = options or SynproxyOptions()
    bmv2 = bool(shutil.which("simple_switch_grpc") and shutil.which("p4c-bm2-ss"))
    found: list[System] = []
    for family in (4, 6):
        if family not in families:
            continue
        topo = default_topology(ipv6=family == 6)
        found.append(P4System("p4sim", topo=topo, options=opts, family=family))
        if bmv2:
            found.append(P4System("bmv2", topo=topo, options=opts, family=family))
        found.append(NftSystem(topo=topo, options=opts, family=family,
                               name="nft-synproxy6" if family == 6 else "nft-synproxy"))
    return found


def compare(components: dict[str, Callable[[], object]] | None = None,
            rates: Iterable[int] = RATES, load: Load | None = None,
            budget_per_system_s: float = 150.0, out: Path = OUT,
            under_test: list[System] | None = None,
            families: Iterable[int] = (4, 6)) -> list[Point]:
    """The whole comparison; returns the points (also written under `out`).
    `under_test` defaults to every available system (`systems()`)."""
    load = load or Load()
    rates = tuple(rates)
    if any(not 0 <= r <= 100_000 for r in rates) or list(rates) != sorted(rates):
        raise ValueError(f"rates must rise and lie in 0..100000 SYN/s (floods are bounded): {rates}")
    out.mkdir(parents=True, exist_ok=True)
    tee = Tee(sys.stdout)  # type: ignore[arg-type]
    points: list[Point] = []
    failed: list[str] = []
    with contextlib.redirect_stdout(tee), sigterm_as_interrupt():
        if components:
            print("== per-component figures")
            run_components(components)
        print(machine())
        print("== side by side under a spoofed SYN flood "
              f"({load.concurrency} clients, {load.size} B downloads, {load.seconds:.0f} s "
              "per point)")
        for system in under_test if under_test is not None else systems(families=families):
            print(f"-- {system.name}: {system.describe}", flush=True)
            try:
                system.start()
                if not points:
                    print(LEGEND + "\n" + HEADER, flush=True)
                points += series(system, rates, load, budget_per_system_s,
                                 emit=lambda p: print(row(p), flush=True))
            except Exception as e:  # noqa: BLE001 - report and go on with the other system
                failed.append(system.name)
                print(f"{system.name}: FAILED: {e}", flush=True)
            finally:
                system.close()
        print("== summary")
        for line in summary(points):
            print(line)
        if points:
            write_csv(points, out / "compare.csv")
            plot(points, out / "compare.png")
            print(f"written: {out / 'compare.csv'}, {out / 'compare.png'}, "
                  f"{out / 'compare.txt'}")
    (out / "compare.txt").write_text(tee.copy.getvalue())
    if failed:
        raise RuntimeError(f"could not measure {', '.join(failed)} (see above); the other "
                           "figures were written")
    return points


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.compare",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default=",".join(map(str, RATES)),
                    help="rising spoofed SYN/s, comma-separated (0 = no flood)")
    ap.add_argument("--seconds", type=float, default=Load.seconds, help="workload per point")
    ap.add_argument("--size", type=int, default=Load.size, help="bytes per download")
    ap.add_argument("--flood-from", choices=("client", "attacker"), default=Load.flood_from)
    ap.add_argument("--budget", type=float, default=150.0, help="seconds per system, at most")
    ap.add_argument("--families", default="4,6", help="address families to compare "
                    "(4, 6 or 4,6: IPv6 on a dual-stack topology, floods from 2001:2::/48)")
    args = ap.parse_args()
    try:
        families = tuple(int(f) for f in args.families.split(","))
    except ValueError:
        families = ()
    if not families or any(f not in (4, 6) for f in families):
        ap.error(f"--families must be 4, 6 or 4,6, not {args.families!r}")
    if args.budget <= 0:
        ap.error("--budget must be positive")

    def run() -> None:
        try:
            rates = tuple(int(r) for r in args.rates.split(",") if r.strip())
            load = Load(seconds=args.seconds, size=args.size, flood_from=args.flood_from)
            compare(rates=rates, load=load, budget_per_system_s=args.budget,
                    families=families)
        except ValueError as e:
            ap.error(str(e))

    return command("compare", run, errors=(RuntimeError,),
                   interrupted="everything the comparison started has been removed")


if __name__ == "__main__":
    sys.exit(main())
