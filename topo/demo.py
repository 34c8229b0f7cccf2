"""The demo (`make demo`): a real client downloads through the SYN proxy while a
bounded spoofed SYN flood hits the VIP.

    .venv/bin/python -m topo.demo [--flood-rate 800] [--seconds 30] [--target p4sim]
                                  [--family 4|6] [--out DIR]

With `--family 6` the topology is dual-stack, the service is on the IPv6 VIP
(2001:db8::100) with the servers' IPv6 addresses, the client downloads over IPv6 and
the flood is spoofed from 2001:2::/48 (routed back into the attacker's namespace).

1. Bring the default topology up (client, attacker, rs1, rs2, the switch).
2. Start the real servers' HTTP service and the spoof counters on them.
3. Start the controller with a config written for this topology.
4. Run the client workload for the whole run; the flood runs in the middle third.
5. Print the report (success rate and connect times before/during the flood, SYNs
   absorbed, sessions, drops by reason, spoofed SYNs that reached a server — must be
   0), save a PNG of flood rate against legitimate success over time.
6. Tear everything down, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

from controller import p4consts

from . import guard, targets
from .net import NamespaceHosts, Net, controller_config
from .netns import LabError, command, wait_for
from .topology import SPOOF_RANGE, SPOOF_RANGE6, Topology, default_topology

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "topo" / "out"
BIN = Path(sys.executable).parent

# The switch's event counters by name: the EV_* constants generated from the P4 source
# (controller/p4consts.py), so that a new event is read without a list to keep.
EVENTS = {code: name for name, code in p4consts.EVENTS.items() if code != p4consts.EV_NONE}


def start_services(net: NamespaceHosts, topo: Topology) -> None:
    """The real servers' HTTP service (IPv4; and IPv6 on a dual-stack topology, as a
    second IPv6-only server on the same port) and their spoofed-source counters."""
    for rs in topo.real_servers:
        net.popen(rs.name, [str(BIN / "python"), "-m", "topo.httpd", "--port", str(topo.rs_port),
                            "--name", rs.name], log=f"{rs.name}-httpd.log")
        if rs.address6:
            net.popen(rs.name, [str(BIN / "python"), "-m", "topo.httpd", "--bind", "::",
                                "--port", str(topo.rs_port), "--name", rs.name],
                      log=f"{rs.name}-httpd6.log")
        guard.install(net.ns[rs.name])


def start_controller(net: Net, topo: Topology, extra: dict | None = None,
                     **service: object):
    """Write the config and start the controller. `extra` holds more top-level config
    sections (cookie, sessions, control, ...); its `services` are added to the first."""
    art = net.artifacts()
    cfg = controller_config(topo, net, art, **service)
    for key, value in (extra or {}).items():
        cfg[key] = cfg[key] + list(value) if key == "services" else value
    path = net.workdir / "controller.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return net.lab.popen([str(BIN / "python"), "-m", "controller", "run", "--config", str(path)],
                         log_path=str(net.workdir / "controller.log"))


def wait_service_ready(net: NamespaceHosts, topo: Topology, timeout: float = 60,
                       family: int = 4) -> None:
    """Poll with real downloads (to the VIP of `family`) until one gets through the proxy."""
    def one_ok() -> bool:
        out = net.exec("client", [str(BIN / "python"), "-m", "topo.workload",
                                  "--vip", topo.vip_of(family),
                                  "--port", str(topo.vport), "--size", "1000", "--count", "1",
                                  "--concurrency", "1", "--seconds", "3", "--timeout", "2"],
                       check=False, timeout=20).stdout
        return any(json.loads(ln).get("ok") for ln in out.splitlines() if ln.strip())

    wait_for(one_ok, timeout, interval=0.5, what="a first download through the proxy")


def read_events(net: Net) -> dict[str, int]:
    from p4.v1 import p4runtime_pb2

    from controller import entities
    from controller.client import P4RuntimeClient
    from controller.p4info import P4InfoIndex

    with P4RuntimeClient(net.grpc_address, election_id=0) as c:
        c.connect(require_primary=False)
        p4 = P4InfoIndex(c.get_p4info())
        ent = p4runtime_pb2.Entity()
        ent.counter_entry.CopyFrom(entities.counter_entry(p4, "global_events"))
        out = {}
        for e in c.read([ent]):
            idx = e.counter_entry.index.index
            if idx in EVENTS:
                out[EVENTS[idx]] = e.counter_entry.data.packet_count
        return out


def read_meter(net: Net, name: str, index: int) -> tuple[int, int, int, int] | None:
    """Meter `name`'s cell `index` as the switch holds it: (cir, cburst, pir, pburst),
    or None when unconfigured (read-only P4Runtime client)."""
    from p4.v1 import p4runtime_pb2

    from controller import entities
    from controller.client import P4RuntimeClient
    from controller.p4info import P4InfoIndex

    with P4RuntimeClient(net.grpc_address, election_id=0) as c:
        c.connect(require_primary=False)
        p4 = P4InfoIndex(c.get_p4info())
        ent = p4runtime_pb2.Entity()
        ent.meter_entry.CopyFrom(entities.meter_entry(p4, name, index))
        for e in c.read([ent]):
            me = e.meter_entry
            if me.index.index == index and me.HasField("config"):
                cf = me.config
                return int(cf.cir), int(cf.cburst), int(cf.pir), int(cf.pburst)
        return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summarise(records: list[dict], lo: float, hi: float) -> dict:
    sel = [r for r in records if lo <= r["t"] < hi]
    ok = [r for r in sel if r["ok"]]
    conn = [r["connect_ms"] for r in ok if "connect_ms" in r]
    return {"requests": len(sel), "ok": len(ok),
            "success": (len(ok) / len(sel)) if sel else float("nan"),
            "connect_p50_ms": pct(conn, 50), "connect_p99_ms": pct(conn, 99),
            "connect_mean_ms": statistics.fmean(conn) if conn else float("nan")}


def plot(records: list[dict], flood: dict, flood_start: float, seconds: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = int(seconds) + 1
    tries, oks = [0] * n, [0] * n
    for r in records:
        i = min(int(r["t"]), n - 1)
        tries[i] += 1
        oks[i] += r["ok"]
    rate = [0] * n
    for i, c in enumerate(flood.get("per_second", [])):
        j = int(flood_start) + i
        if j < n:
            rate[j] = c
    fig, ax1 = plt.subplots(figsize=(9, 4.5))
    ax1.fill_between(range(n), rate, step="post", alpha=0.3, color="tab:red", label="flood (SYN/s)")
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("spoofed SYNs per second", color="tab:red")
    ax2 = ax1.twinx()
    succ = [100 * o / t if t else float("nan") for o, t in zip(oks, tries, strict=True)]
    ax2.plot(range(n), succ, "o-", color="tab:blue", label="legitimate success (%)")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("legitimate downloads OK (%)", color="tab:blue")
    ax1.set_title("SYN proxy under a spoofed SYN flood")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def family_refused(topo: Topology, family: int) -> str | None:
    """Why the controller would refuse this topology's config for `family` (its own
    check, run before anything starts), or None."""
    from controller.config import ConfigError, check_program, parse_config
    from controller.limits import ProgramLimits

    class _Unstarted:
        grpc_address = "unix:/nonexistent"

    placeholder = targets.Artifacts(Path("p4info.txt"), Path("prog.p4sim"))
    cfg = controller_config(topo, _Unstarted(), placeholder, family=family, mode="on")
    try:
        check_program(parse_config(yaml.safe_dump(cfg, sort_keys=False), "<demo>"),
                      ProgramLimits())
    except ConfigError as e:
        return str(e).split(": ", 1)[-1]
    return None


def run(args: argparse.Namespace) -> int:
    family = args.family
    topo = default_topology(ipv6=family == 6)
    if (why := family_refused(topo, family)) is not None:
        print(f"topo.demo: --family {family} cannot run: {why}", file=sys.stderr)
        return 2
    vip = topo.vip_of(family)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    third = args.seconds / 3
    with Net(topo, target=args.target, log_level="error") as net:
        start_services(net, topo)
        ctl = start_controller(net, topo, mode="on", family=family)
        try:
            wait_service_ready(net, topo, family=family)
        except LabError:
            print((net.workdir / "controller.log").read_text()[-3000:], file=sys.stderr)
            raise
        attacker = topo.host("attacker")
        t0 = time.monotonic()
        work = net.popen("client", [str(BIN / "python"), "-m", "topo.workload", "--vip", vip,
                                    "--port", str(topo.vport), "--size", str(args.size),
                                    "--seconds", str(args.seconds),
                                    "--concurrency", str(args.concurrency)], log="workload.jsonl")
        time.sleep(third)
        flood_start = time.monotonic() - t0
        fl = net.exec("attacker", [str(BIN / "python"), "-m", "topo.flood",
                                   "--iface", net.ifname["attacker"], "--src-mac", attacker.mac,
                                   "--dst-mac", attacker.gateway_mac, "--vip", vip,
                                   "--port", str(topo.vport), "--kind", "syn",
                                   "--rate", str(args.flood_rate), "--seconds", str(third),
                                   "--count", str(int(args.flood_rate * third) + 1)],
                      timeout=third + 120)
        flood = json.loads(fl.stdout.strip().splitlines()[-1])
        work.wait(timeout=args.seconds + 60)
        records = [json.loads(ln) for ln in (net.workdir / "workload.jsonl").read_text().splitlines()
                   if ln.strip().startswith("{")]
        events = read_events(net)
        spoofed = {rs.name: guard.read(net.ns[rs.name]) for rs in topo.real_servers}
        net.lab.stop(ctl)
        before = summarise(records, 0, flood_start)
        during = summarise(records, flood_start, flood_start + third)
        after = summarise(records, flood_start + third, args.seconds + 1)
        png = out / "demo.png"
        plot(records, flood, flood_start, args.seconds, png)
        report = {"flood": {"sent": flood["sent"], "rate": args.flood_rate,
                            "from": SPOOF_RANGE6 if family == 6 else SPOOF_RANGE},
                  "before": before, "during": during, "after": after,
                  "switch_events": events, "servers": spoofed}
        (out / "demo-report.json").write_text(json.dumps(report, indent=2))
        print_report(report, png)
        total_spoofed = sum(c.get("spoofed_syn", 0) for c in spoofed.values())
        return 0 if total_spoofed == 0 and during["ok"] > 0 else 1


# What each drop reason of the switch's event counters means (EV_DROP_* in
# p4src/common/defines.p4), as the report names them.
DROP_REASONS = {
    "no_session": "a segment of no known session (a flood's stray ACKs, RSTs)",
    "defer": "a deferred-service ACK without data (the session starts with data)",
    "udp": "UDP to a protected VIP:port",
    "fragment": "an IP fragment to a protected VIP",
    "malformed": "a TCP header the switch refuses (bad offset, flags)",
    "handshake": "a stray segment while the server handshake is pending",
    "policy": "another protocol to a protected VIP (denied)",
    "no_key": "a SYN before the controller set a cookie key",
    "no_server": "an unproxied NAT connection with no bucket (no healthy server)",
    "martian": "a martian source address to a VIP",
    "group_mac": "a group (multicast/broadcast) source MAC",
    "unparsed": "a frame the parser cannot follow",
    "syn_source_rate": "a SYN above its source prefix's meter (D15)",
    "syn_service_rate": "a SYN above its service's meter (D15)",
    "syn_early": "a SYN above the committed rate, random early drop (D15)",
    "controller_rate": "a digest or PacketIn above the controller's meter (D15)",
    "icmp": "ICMP to a VIP dropped by its policy, or an echo not answerable (D15)",
    "icmp_truncated": "an ICMP header shorter than 8 bytes to a VIP",
    "icmp_rate": "an echo request above the answer meter (D15)",
    "ipsec": "AH or ESP to a VIP dropped by its policy (D15)",
    "fullnat_unknown": "to a FULLNAT local address, no session (D7)",
}


def print_report(r: dict, png: Path) -> None:
    def line(name: str, s: dict) -> str:
        return (f"  {name:<14} {s['ok']:>4}/{s['requests']:<4} ok ({100 * s['success']:5.1f}%)   "
                f"connect p50 {s['connect_p50_ms']:7.2f} ms  p99 {s['connect_p99_ms']:7.2f} ms")

    ev = r["switch_events"]
    print("\n== SYN proxy demo report")
    print(f"flood: {r['flood']['sent']} spoofed SYNs at {r['flood']['rate']:.0f}/s "
          f"from {r['flood'].get('from', SPOOF_RANGE)}")
    print("legitimate downloads (hash-checked):")
    print(line("before flood", r["before"]))
    print(line("during flood", r["during"]))
    print(line("after flood", r["after"]))
    print(f"switch: SYNs in {ev.get('SYN_IN', 0)}, SYN/ACKs (cookies) sent "
          f"{ev.get('SYNACK_SENT', 0)}, valid cookie ACKs "
          f"{ev.get('ACK_VALID', 0) + ev.get('REUSE_ACK', 0)} ({ev.get('REUSE_ACK', 0)} of them "
          f"on a closing session of the same ports), "
          f"sessions established {ev.get('SESSION_ESTABLISHED', 0)}")
    drops = {k[5:].lower(): v for k, v in ev.items() if k.startswith("DROP_") and v}
    print(f"invalid cookie ACKs dropped: {ev.get('ACK_INVALID', 0)} "
          "(synproxy_cookie_acks_total{result=\"invalid\"})")
    print("drops by reason (synproxy_switch_drops_total{reason}; other reasons 0):"
          + ("" if drops else " none"))
    for reason, n in sorted(drops.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:<12} {n:>7}  {DROP_REASONS.get(reason, '')}")
    for name, c in r["servers"].items():
        print(f"{name}: SYNs seen {c.get('syn', 0)}, spoofed SYNs seen {c.get('spoofed_syn', 0)}"
              f" (must be 0), any spoofed packet {c.get('spoofed_any', 0)}")
    print(f"plot: {png}")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m topo.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=("p4sim", "bmv2"), default="p4sim")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--flood-rate", type=float, default=800.0, help="spoofed SYNs per second")
    ap.add_argument("--size", type=int, default=200_000, help="bytes per download")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--family", type=int, choices=(4, 6), default=4,
                    help="the VIP's address family (6: a dual-stack topology, the flood "
                         "from 2001:2::/48)")
    ap.add_argument("--out", default=str(OUT),
                    help="where the plot and demo-report.json go (default topo/out)")
    args = ap.parse_args()
    if not 6 <= args.seconds <= 300 or not 0 < args.flood_rate <= 100_000:
        ap.error("--seconds must be 6..300 and --flood-rate 1..100000 (floods are bounded)")
    return command("topo.demo", lambda: run(args), errors=(),
                   interrupted="everything the demo started has been removed")


if __name__ == "__main__":
    sys.exit(main())
