"""The default topology in Mininet, with the SYN proxy on a P4 switch (`make mininet`).

    .venv/bin/python -m topo.mininet_topo [--target p4sim|bmv2] [--cli]

1. Compile the synproxy program for the target (as `topo/net.py` does) and build the
   default topology of `topo/topology.py` in Mininet: client, attacker, rs1, rs2 on
   switch ports 0..3, with their addresses, MACs and gateways, around one
   `P4SimSwitch` (or `Bmv2Switch`) named s1.
2. Start the real servers' HTTP service (`topo/httpd.py`) on rs1 and rs2, and the
   controller (`python -m controller run --config F`, config from
   `topo.net.controller_config`); wait until it has synced with the switch.
3. With `--cli`, drop into the Mininet CLI (try `client <python> -m topo.workload
   --vip 10.0.0.100 --count 3`); without, run a self-check: hash-checked downloads
   from the VIP in the client host, through the proxy. Exit 0 if all succeeded.
4. Stop everything it started, by PID, and let Mininet delete its hosts and links
   (no `mn -c`: that cleans by broad name match, including what others run).

Mininet's global start-up (`Mininet.init`) is skipped on purpose: besides checking
for root, which this module does itself, it raises machine-wide sysctls (TCP buffer
sizes, ARP cache limits) that every namespace created afterwards would inherit, so
running Mininet would change other programs' TCP behaviour on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import mininet_loader, targets
from .net import SwitchArtifacts, artifacts, controller_config
from .netns import Lab, LabError, command, wait_for
from .topology import Topology, default_topology

try:
    mininet_loader.load()
except mininet_loader.MininetMissing as _missing:
    if __name__ == "__main__":
        sys.exit(f"error: {_missing}")
    raise

from mininet.net import Mininet
from mininet.topo import Topo

from .mininet_switch import P4Host, P4Switch, switch_class, target_missing

PY = sys.executable


class SynproxyTopo(Topo):
    """A `topology.Topology` as a Mininet Topo: one P4 switch, one host per `Host`,
    each on the switch port the topology gives it."""

    def build(self, topology: Topology | None = None, switch: str = "s1",  # type: ignore[override]
              switch_cls: type[P4Switch] | None = None,
              switch_opts: dict[str, Any] | None = None) -> None:
        topology = topology or default_topology()
        sw = self.addSwitch(switch, cls=switch_cls or switch_class("p4sim"),
                            cpu_port=topology.cpu_port, **(switch_opts or {}))
        for h in topology.hosts:
            self.addHost(h.name, cls=P4Host, ip=h.address, mac=h.mac,
                         defaultRoute=f"via {h.gateway}", blackhole=h.owns)
            self.addLink(h.name, sw, port1=0, port2=h.port, addr1=h.mac)


@dataclass
class MininetSynproxy:
    """The default topology in Mininet with the synproxy program and its controller.
    A context manager: everything it started goes on exit, also after a failure."""

    target: str = "p4sim"
    program: str = "synproxy"
    topology: Topology = field(default_factory=default_topology)
    switch_name: str = "s1"
    log_level: str = "warn"
    pcap_dir: Path | None = None  # the switch's per-interface captures (--pcap)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="p4mn-")))
    keep_workdir: bool = False
    net: Any = None
    art: SwitchArtifacts | None = None
    lab: Lab = field(default_factory=lambda: Lab(prefix="mn"))
    controller: subprocess.Popen[bytes] | None = None

    @property
    def switch(self) -> P4Switch:
        sw: P4Switch = self.net[self.switch_name]
        return sw

    @property
    def control_socket(self) -> Path:
        return self.workdir / "control.sock"

    # ------------------------------------------------------------------ start

    def start(self, controller: bool = True) -> MininetSynproxy:
        try:
            self._start_net()
            self.start_services()
            if controller:
                self.start_controller()
        except BaseException:
            self.close()
            raise
        return self

    def _start_net(self) -> None:
        if os.geteuid() != 0:
            raise LabError("Mininet needs root (network namespaces, veths, raw sockets)")
        if reason := target_missing(self.target):
            raise LabError(reason)
        self.art = artifacts(self.program, self.target)
        opts: dict[str, Any] = {"config": self.art.device_config, "log_level": self.log_level,
                                "workdir": self.workdir, "pcap_dir": self.pcap_dir}
        if self.target == "p4sim":
            opts["p4info"] = self.art.p4info
        topo = SynproxyTopo(topology=self.topology, switch=self.switch_name,
                            switch_cls=switch_class(self.target), switch_opts=opts)
        Mininet.inited = True  # skip Mininet.init(): see the module docstring
        self.net = Mininet(topo=topo, controller=None, build=False)
        self.net.start()  # builds hosts, links and the switch; returns once gRPC answers

    def start_services(self) -> None:
        """The real servers' HTTP service on every real server; back once they listen."""
        port = self.topology.rs_port
        for rs in self.topology.real_servers:
            self.host_popen(rs.name, [PY, "-m", "topo.httpd", "--port", str(port),
                                      "--name", rs.name], log=f"{rs.name}-httpd.log")
        for rs in self.topology.real_servers:
            host = self.net[rs.name]
            wait_for(lambda h=host: f":{port} " in h.cmd("ss -ltnH"), 30,
                     what=f"{rs.name} listening on {port}")

    def controller_config(self, **service: object) -> dict[str, Any]:
        assert self.art is not None
        cfg = controller_config(self.topology, self.switch, self.art, **service)
        cfg["switch"]["device_id"] = self.switch.device_id
        cfg["control"] = {"socket": str(self.control_socket)}
        return cfg

    def start_controller(self, timeout: float = 90) -> None:
        """Start the controller for the running switch and wait until it has synced."""
        path = self.workdir / "controller.yaml"
        path.write_text(yaml.safe_dump(self.controller_config(mode="on"), sort_keys=False))
        self.controller = self.lab.popen([PY, "-m", "controller", "run", "--config", str(path)],
                                         log_path=str(self.workdir / "controller.log"))
        wait_for(self._controller_synced, timeout, interval=0.2,
                 what="the controller to sync with the switch")

    def _controller_synced(self) -> bool:
        from controller.control import request

        if self.controller is not None and self.controller.poll() is not None:
            raise LabError(f"the controller exited:\n{self.controller_log()[-3000:]}")
        try:
            return bool(request(str(self.control_socket), {"cmd": "status"}).get("synced"))
        except (OSError, RuntimeError, ValueError):
            return False

    def controller_log(self) -> str:
        path = self.workdir / "controller.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ hosts

    def host_popen(self, host: str, cmd: list[str], log: str | None = None
                   ) -> subprocess.Popen[bytes]:
        """A background process in a Mininet host, stopped (by PID) by close()."""
        out = open(self.workdir / log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc: subprocess.Popen[bytes] = self.net[host].popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        self.lab.processes.append(proc)  # `mnexec -d`: its PID is its process group
        return proc

    def host_run(self, host: str, cmd: list[str], timeout: float = 60) -> tuple[int, str, str]:
        """Run a command in a Mininet host; (exit code, stdout, stderr)."""
        proc = self.net[host].popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        self.lab.processes.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.lab.stop(proc)
            raise LabError(f"`{' '.join(cmd)}` in {host} took more than {timeout}s") from None
        finally:
            if proc in self.lab.processes and proc.poll() is not None:
                self.lab.processes.remove(proc)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def fetch(self, size: int, host: str = "client", timeout: float = 10) -> dict[str, Any]:
        """One download from the VIP in a Mininet host (`topo.workload`, which checks
        the body's SHA-256); its JSON record."""
        code, out, err = self.host_run(host, [
            PY, "-m", "topo.workload", "--vip", self.topology.vip,
            "--port", str(self.topology.vport), "--size", str(size), "--count", "1",
            "--concurrency", "1", "--seconds", str(timeout), "--timeout", str(timeout)],
            timeout=timeout * 3 + 30)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if code != 0 or not lines:
            return {"ok": False, "error": f"workload exited {code}: {err.strip()[-1000:]}"}
        record: dict[str, Any] = json.loads(lines[-1])
        return record

    def self_check(self, sizes: tuple[int, ...] = (1000, 300_000, 2_000_000)) -> list[dict]:
        """Hash-checked downloads of each size from the client through the proxy."""
        return [self.fetch(size) for size in sizes]

    def events(self) -> dict[str, int]:
        """The switch's global event counters by name, read through the controller."""
        from controller.control import request

        from .demo import EVENTS

        counts = request(str(self.control_socket), {"cmd": "counters"})["global"]
        return {EVENTS[int(k)]: int(v) for k, v in counts.items() if int(k) in EVENTS}

    # ------------------------------------------------------------------ stop

    def close(self) -> None:
        """Stop the controller and host processes (by PID), the switch, then the hosts
        and links (Mininet's own stop); remove the work folder unless kept."""
        self.lab.close()
        self.controller = None
        if self.net is not None:
            for sw in self.net.switches:
                if isinstance(sw, P4Switch):
                    sw.stop_target()  # before its interfaces go, not after
            self.net.stop()
            self.net = None
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MininetSynproxy:
        return self.start() if self.net is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _print_hints(run: MininetSynproxy) -> None:
    t = run.topology
    print(f"\nSYN proxy on {run.switch_name} ({run.target}); P4Runtime at "
          f"{run.switch.grpc_address}")
    print(f"controller log: {run.workdir / 'controller.log'}, switch log: {run.switch.log_path}")
    print("hosts: " + ", ".join(f"{h.name} {h.ip} (port {h.port})" for h in t.hosts))
    print(f"try:  client {PY} -m topo.workload --vip {t.vip} --port {t.vport} --count 3")
    print(f"      client curl -s -o /dev/null -w '%{{http_code}}\\n' "
          f"http://{t.vip}:{t.vport}/blob/100000\n")


def run(args: argparse.Namespace) -> int:
    from mininet.cli import CLI
    from mininet.log import setLogLevel

    setLogLevel("info" if args.cli else "warning")
    if args.pcap is not None:
        args.pcap.mkdir(parents=True, exist_ok=True)
    with MininetSynproxy(target=args.target, log_level=args.log_level, switch_name=args.switch,
                         pcap_dir=args.pcap,
                         keep_workdir=args.keep) as mn:
        if args.cli:
            _print_hints(mn)
            CLI(mn.net)
            return 0
        t0 = time.monotonic()
        records = mn.self_check()
        for r in records:
            print(json.dumps(r))
        ev = mn.events()
        ok = sum(1 for r in records if r.get("ok"))
        print(f"mininet self-check on {args.target}: {ok}/{len(records)} hash-checked downloads "
              f"from {mn.topology.vip} through the proxy in {time.monotonic() - t0:.1f}s; "
              f"switch: SYN/ACKs sent {ev.get('SYNACK_SENT', 0)}, valid cookie ACKs "
              f"{ev.get('ACK_VALID', 0)}, sessions established "
              f"{ev.get('SESSION_ESTABLISHED', 0)}")
        if ok != len(records):
            print(mn.controller_log()[-3000:], file=sys.stderr)
        return 0 if ok == len(records) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m topo.mininet_topo",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=("p4sim", "bmv2"), default="p4sim")
    ap.add_argument("--cli", action="store_true", help="open the Mininet CLI instead of the "
                    "self-check")
    ap.add_argument("--log-level", default="warn",
                    choices=("trace", "debug", "info", "warn", "error", "critical", "off"),
                    help="the switch's log level")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, config)")
    ap.add_argument("--pcap", type=Path, metavar="DIR",
                    help="write the switch's per-interface pcap files to DIR (made if missing)")
    ap.add_argument("--switch", default="s1", metavar="NAME",
                    help="the switch's name; its interfaces are NAME-eth<port> (default s1)")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9]{0,8}", args.switch) or not args.switch[-1].isdigit():
        ap.error(f"--switch {args.switch!r}: lower-case letters and digits, ending in a digit "
                 "(Mininet's datapath id), at most 9 characters (interface names)")
    if args.target == "bmv2":
        if missing := targets.missing_binaries("bmv2"):
            print(f"SKIPPED: --target bmv2 needs {' and '.join(missing)} on PATH; "
                  "nothing was started")
            return 0
    return command("error", lambda: run(args),
                   interrupted="everything this run started has been stopped")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
