"""The end-to-end rig: real Linux TCP stacks in namespaces, p4sim, the controller.

One topology (client, attacker, rs1, rs2 around the switch) is brought up once for
the whole session, because startup costs seconds. The controller serves several
services on the same VIP, one per behaviour under test, each with real-server ports
of its own (two services that shared a real server port could map two client
connections onto one server-side 4-tuple):

    port  service  real servers       what it exercises
    80    web      rs1, rs2 :8080     default SYN/ACK (window 0, wscale 7, SACK, TS)
    81    nosack   rs1 :8081          SYN/ACK without SACK-permitted
    82    nots     rs2 :8082          SYN/ACK without timestamps
    83    ws2      rs1 :8083          SYN/ACK window scale 2 (the server's is larger)
    84    defer    rs2 :8084          defer (session starts with the first data)
    85    early    rs1 :8085          SYN/ACK window open, slow server: data comes first
    86    down     rs1 :8086          nothing listens: the server answers RST
    87    dead     rs2 :8087          the server's namespace drops it: no answer at all
    8088  auto     rs1 itself         auto defence, transparent: the "VIP" is rs1's own
                                      address, routed to it while not proxied
    90    natauto  rs1, rs2 :8090     auto defence, NAT: the switch's bucket table sends
                                      unproxied connections to a real server
    91    closed   rs2 :8091          controller_down: closed (the default, spelt out)
    92    open     rs1, rs2 :8092     controller_down: open: NATed by the buckets while
                                      the controller is gone
    93    fullnat  rs2 :8093          FULLNAT (D7): rs2 sees the local address .250 of
                                      its subnet, the client only in the TOA option

The `early` server's namespace drops every other SYN (the first of each connection), so
its handshake waits for the controller's retry and the client's request surely arrives
while it is pending. Tests compare counters read before and after what they do, so they
do not depend on each other's traffic. The controller runs with a fixed cookie key, two
server-SYN retries one second apart, an operator socket the tests query, and a heartbeat
limit (`Proxy.heartbeat`) longer than any test keeps the controller frozen, so that only
the controller-down tests, which restart it with a short one, see it counted gone. The switch
refuses P4Runtime register access (`p4sim --no-register-access`), as bmv2 does.

`proxy6` is the same Proxy on a dual-stack topology of its own (D13): its services on
the IPv6 VIP with the servers' IPv6 addresses, an IPv4 one beside them (the table is
in test_e2e_ipv6.py); the flood tests take either rig.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from controller.control import request
from topo import guard
from topo.demo import read_events, read_meter, start_controller, start_services, wait_service_ready
from topo.net import Net
from topo.netns import Lab, LabError, sh, wait_for
from topo.topology import Topology, default_topology

PY = sys.executable
COOKIE_KEY = "0f1e2d3c4b5a6978"
SYN_RETRIES = 2
NFT_TABLE = "e2e"


@dataclass(frozen=True)
class Svc:
    name: str
    port: int
    servers: tuple[str, ...]  # host names
    rs_port: int
    settings: dict[str, Any] = field(default_factory=dict)
    transparent: bool = False  # no NAT: the service address is its one server's own
    fullnat: bool = False  # D7: local address .250 of the (one) server's subnet


SERVICES = {s.name: s for s in (
    Svc("web", 80, ("rs1", "rs2"), 8080),
    Svc("nosack", 81, ("rs1",), 8081, {"synack": {"sack": False}}),
    Svc("nots", 82, ("rs2",), 8082, {"synack": {"timestamps": False}}),
    Svc("ws2", 83, ("rs1",), 8083, {"synack": {"wscale": 2}}),
    Svc("defer", 84, ("rs2",), 8084, {"defer": True, "synack": {"window": 65535}}),
    Svc("early", 85, ("rs1",), 8085, {"synack": {"window": 65535}}),
    Svc("down", 86, ("rs1",), 8086),
    Svc("dead", 87, ("rs2",), 8087),
    # Auto defence, routed: while not proxied the traffic goes to the server's address.
    Svc("auto", 8088, ("rs1",), 8088, {"mode": "auto", "auto": {
        "syn_rate_on": 60, "syn_rate_off": 20, "quiet_seconds": 5}}, transparent=True),
    # Auto defence, NAT: while not proxied the switch NATs by bucket (C8).
    Svc("natauto", 90, ("rs1", "rs2"), 8090, {"mode": "auto", "auto": {
        "syn_rate_on": 60, "syn_rate_off": 20, "quiet_seconds": 5}}),
    # With the controller gone, new handshakes are refused (RST) rather than passed.
    Svc("closed", 91, ("rs2",), 8091, {"controller_down": "closed"}),
    # ... or passed to the servers unproxied, as mode off (NAT through the buckets).
    Svc("open", 92, ("rs1", "rs2"), 8092, {"controller_down": "open"}),
    # D7: the client's address replaced by a local address of the switch.
    Svc("fullnat", 93, ("rs2",), 8093, fullnat=True),
)}
# Services whose servers the rig starts (topo.demo.start_services starts web's).
LISTENING = ("nosack", "nots", "ws2", "defer", "early", "auto", "natauto", "closed",
             "open", "fullnat")
FULLNAT_PORTS = (40000, 40999)
# The rig's heartbeat: a limit no freeze of the controller in the tests comes near.
HEARTBEAT = {"heartbeat_seconds": 0.5, "heartbeat_limit_seconds": 60.0}


def _missing_tools() -> list[str]:
    return [t for t in ("ip", "nft", "ss", "nstat", "sysctl") if shutil.which(t) is None]


def prerequisites_missing() -> str | None:
    """Why end-to-end tests cannot run here, or None. `make deps` installs the tools
    and CI runs as root, so a missing prerequisite is a broken set-up: it fails the
    tests (only a missing optional bmv2 is a reason to skip)."""
    if os.geteuid() != 0:
        return "end-to-end tests need root (network namespaces)"
    if missing := _missing_tools():
        return f"end-to-end tests need {', '.join(missing)} (make deps installs them)"
    return None


@pytest.fixture(autouse=True)
def _e2e_prerequisites() -> None:
    if why := prerequisites_missing():
        pytest.fail(why, pytrace=False)


@pytest.fixture(scope="session")
def rig_prerequisites() -> None:
    if why := prerequisites_missing():
        pytest.fail(why, pytrace=False)


class Proxy:
    """The running system and the handles a test needs on it."""

    services = SERVICES
    syn_retries = SYN_RETRIES
    family = 4  # the address family of the services' VIPs and real servers

    def __init__(self, net: Net, topo: Topology,
                 service_names: tuple[str, ...] | None = None) -> None:
        self.net, self.topo = net, topo
        # the services configured (default: all of SERVICES; web is always one)
        self.service_names = tuple(SERVICES) if service_names is None else service_names
        self.socket = str(net.workdir / "control.sock")
        self.ctl: subprocess.Popen | None = None
        self.cookie: dict[str, Any] = {"key": COOKIE_KEY, "rotate_seconds": 600}
        self.heartbeat: dict[str, float] = dict(HEARTBEAT)

    # ------------------------------------------------------------------ controller

    def vip_of(self, service: str) -> str:
        s = self.services[service]
        if s.transparent:
            return self.topo.host(s.servers[0]).ip_of(self.family)
        return self.topo.vip_of(self.family)

    def port_of(self, service: str) -> int:
        return self.services[service].port

    def local_address(self, service: str) -> str:
        """D7: a FULLNAT service's local address, .250 of its server's subnet."""
        (h,) = SERVICES[service].servers
        net = ipaddress.IPv4Network(self.topo.host(h).subnet)
        return str(net.network_address + 250)

    def extra_config(self) -> dict[str, Any]:
        extra_services = []
        for s in SERVICES.values():
            if s.name == "web" or s.name not in self.service_names:
                continue
            if s.transparent:
                extra_services.append({"name": s.name, "vip": self.vip_of(s.name),
                                       "port": s.port, "nat": False, **s.settings})
                continue
            rs = [{"address": self.topo.host(h).ip, "port": s.rs_port} for h in s.servers]
            settings = dict(s.settings)
            if s.fullnat:
                settings["fullnat"] = {"local_addresses": [self.local_address(s.name)],
                                       "port_min": FULLNAT_PORTS[0],
                                       "port_max": FULLNAT_PORTS[1]}
            extra_services.append({"name": s.name, "vip": self.topo.vip, "port": s.port,
                                   "mode": "on", "real_servers": rs, **settings})
        return {"services": extra_services, "cookie": dict(self.cookie),
                "sessions": {"syn_retries": SYN_RETRIES, "syn_timeout": 1.0},
                "control": {"socket": self.socket, **self.heartbeat}}

    def start_controller(self) -> None:
        self.ctl = start_controller(self.net, self.topo, extra=self.extra_config(), mode="on")
        self.wait_synced()

    def kill_controller(self) -> None:
        """SIGKILL, not a clean stop: nothing gets the chance to tidy up."""
        assert self.ctl is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.ctl.pid, signal.SIGKILL)
        self.ctl.wait(timeout=30)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)  # a killed server leaves its socket file behind

    @contextlib.contextmanager
    def controller_stopped(self) -> Iterator[None]:
        """The controller frozen (SIGSTOP) for the block, as if it were swamped: the
        switch carries on alone, digests and punted packets queue up."""
        assert self.ctl is not None
        os.killpg(self.ctl.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.ctl.pid, signal.SIGCONT)

    def wait_synced(self, timeout: float = 90) -> None:
        def synced() -> bool:
            if self.ctl is not None and self.ctl.poll() is not None:
                raise LabError(f"the controller exited:\n{self.controller_log()[-3000:]}")
            try:
                return bool(self.status().get("synced"))
            except (OSError, RuntimeError, ValueError):
                return False

        wait_for(synced, timeout, interval=0.2, what="the controller to sync with the switch")

    def controller_log(self) -> str:
        path = self.net.workdir / "controller.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def status(self) -> dict[str, Any]:
        return request(self.socket, {"cmd": "status"})

    def sessions(self) -> list[dict[str, Any]]:
        return request(self.socket, {"cmd": "sessions", "limit": 100000})

    # ------------------------------------------------------------------ observing

    def events(self) -> dict[str, int]:
        """The switch's global event counters (read-only P4Runtime client)."""
        return read_events(self.net)

    def service_events(self, service: str) -> dict[str, int]:
        """One service's event counters on the switch, by name as `events()` names
        them (the controller's `counters`, never zeroed by the tests)."""
        per = request(self.socket, {"cmd": "counters"})["services_by_name"].get(service, {})
        return {name.upper(): n for name, n in per.items()}

    def service_id(self, service: str) -> int:
        return int(self.status()["services"][service]["id"])

    def meter(self, name: str, index: int) -> tuple[int, int, int, int] | None:
        """A meter cell's (cir, cburst, pir, pburst) as the switch holds it, or None
        (unconfigured: everything green)."""
        return read_meter(self.net, name, index)

    def guard(self) -> dict[str, dict[str, int]]:
        return {rs.name: guard.read(self.net.ns[rs.name]) for rs in self.topo.real_servers}

    def dead_syns(self) -> int:
        """SYNs the `dead` service's server namespace swallowed."""
        (h,) = self.services["dead"].servers
        out = sh(["nft", "-j", "list", "counter", "inet", NFT_TABLE, "dead_syns"],
                 netns=self.net.ns[h]).stdout
        for item in json.loads(out).get("nftables", []):
            if "counter" in item:
                return int(item["counter"]["packets"])
        raise AssertionError(f"no counter in {out!r}")

    def ss(self, host: str) -> str:
        """Open TCP connections with their info (-i) and options (-o: this ss prints
        `ts` and `sack` only with it): established, and closing with data still queued
        (a server that wrote its whole answer and closed while the paused client has
        not read it: FIN-WAIT-1; the client holding the server's FIN: CLOSE-WAIT)."""
        states = [a for st in ("established", "fin-wait-1", "fin-wait-2", "close-wait")
                  for a in ("state", st)]
        return self.net.exec(host, ["ss", "-tnio", *states]).stdout

    # ------------------------------------------------------------------ clients

    def client_cmd(self, op: str, service: str = "web", **kw: Any) -> list[str]:
        cmd = [PY, "-m", "topo.tcpclient", "--vip", self.vip_of(service),
               "--port", str(self.port_of(service))]
        for opt in ("bind_port", "timeout", "pause_at", "delay_request", "abort_at"):
            if kw.get(opt) is not None:
                cmd += [f"--{opt.replace('_', '-')}", str(kw[opt])]
        cmd.append(op)
        for opt in ("size", "seed"):
            if kw.get(opt) is not None:
                cmd += [f"--{opt}", str(kw[opt])]
        return cmd

    def client(self, op: str, service: str = "web", **kw: Any) -> dict[str, Any]:
        """One exchange from the client namespace; the result record."""
        out = self.net.exec("client", self.client_cmd(op, service, **kw), check=False,
                            timeout=kw.get("timeout", 30) * 4 + 60)
        return _last_json(out.stdout, out.stderr)

    @contextlib.contextmanager
    def background_client(self, op: str, service: str = "web",
                          **kw: Any) -> Iterator[PausedClient]:
        """A client running beside the test (`finish()` waits for its result); with
        `pause_at`, stopped in the middle of its transfer until `go()`."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.net.ns["client"],
                                 *self.client_cmd(op, service, **kw)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        pc = PausedClient(proc)
        try:
            if kw.get("pause_at") is not None:
                pc.wait_paused()
            yield pc
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def paused_client(self, op: str, service: str = "web", *, pause_at: int,
                      **kw: Any) -> contextlib.AbstractContextManager[PausedClient]:
        """A client stopped in the middle of its transfer (`--pause-at`)."""
        return self.background_client(op, service, pause_at=pause_at, **kw)

    def workload(self, count: int, concurrency: int, size: int, service: str = "web",
                 timeout: float = 30) -> list[dict[str, Any]]:
        """Many hash-checked downloads in parallel (topo.workload); one record each."""
        out = self.net.exec("client", [
            PY, "-m", "topo.workload", "--vip", self.vip_of(service),
            "--port", str(self.port_of(service)), "--size", str(size), "--count", str(count),
            "--concurrency", str(concurrency), "--seconds", "600",
            "--timeout", str(timeout)], timeout=900).stdout
        return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]

    @contextlib.contextmanager
    def client_sysctls(self, values: dict[str, str]) -> Iterator[None]:
        """Set sysctls inside the client's namespace only; restore them afterwards."""
        old = {k: self.net.exec("client", ["sysctl", "-n", k]).stdout.strip() for k in values}
        try:
            for k, v in values.items():
                self.net.exec("client", ["sysctl", "-qw", f"{k}={v}"])
            yield
        finally:
            for k, v in old.items():
                self.net.exec("client", ["sysctl", "-qw", f"{k}={v}"])

    # ------------------------------------------------------------------ attacker

    def flood(self, kind: str, rate: float, count: int, service: str = "web",
              source: str | None = None) -> dict[str, Any]:
        """A bounded spoofed flood from the attacker (topo.flood); its report. `source`:
        a prefix of the spoof range to send from (default: all of it, of the family of
        the service's VIP)."""
        attacker = self.topo.host("attacker")
        seconds = count / rate + 30
        out = self.net.exec("attacker", [
            PY, "-m", "topo.flood", "--iface", self.net.ifname["attacker"],
            "--src-mac", attacker.mac, "--dst-mac", attacker.gateway_mac,
            "--vip", self.vip_of(service), "--port", str(self.port_of(service)),
            "--kind", kind,
            "--rate", str(rate), "--seconds", str(seconds), "--count", str(count),
            *(["--source", source] if source else [])],
            timeout=seconds + 120).stdout
        return json.loads(out.strip().splitlines()[-1])


class PausedClient:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.info: dict[str, Any] = {}

    def wait_paused(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the pause (or the end)
        try:
            self.info = json.loads(line)
        except ValueError:
            self.info = {}
        if not self.info.get("paused"):
            rest = self.proc.communicate(timeout=60)
            raise AssertionError(f"the client did not pause: {line}{rest[0]}{rest[1]}")

    @property
    def local_port(self) -> int:
        return int(self.info["local"])

    def go(self) -> None:
        """Let the transfer carry on (without waiting for it)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 300) -> dict[str, Any]:
        """Wait for the end of the exchange; its result record."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.proc.wait(timeout=timeout)
        return _last_json(out, err)

    def resume(self, timeout: float = 300) -> dict[str, Any]:
        self.go()
        return self.finish(timeout)


def _last_json(out: str, err: str) -> dict[str, Any]:
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError(f"the client printed no result: {out!r} {err[-2000:]!r}")
    return json.loads(lines[-1])


def _start_listeners(net: Net, topo: Topology) -> None:
    """The extra services' HTTP servers; the `early` server's lost SYNs and the `dead`
    server's black hole (nft in their own namespaces)."""
    for name in LISTENING:
        s = SERVICES[name]
        for h in s.servers:
            net.popen(h, [PY, "-m", "topo.httpd", "--port", str(s.rs_port), "--name", h],
                      log=f"{h}-{s.rs_port}-httpd.log")
    rules: dict[str, list[str]] = {}
    (early,), (dead,) = SERVICES["early"].servers, SERVICES["dead"].servers
    syn = "tcp flags & (syn | ack) == syn"
    rules.setdefault(early, []).append(
        f"tcp dport {SERVICES['early'].rs_port} {syn} numgen inc mod 2 == 0 drop")
    rules.setdefault(dead, []).extend([
        f"tcp dport {SERVICES['dead'].rs_port} {syn} counter name dead_syns",
        f"tcp dport {SERVICES['dead'].rs_port} drop"])
    for h, lines in rules.items():
        body = "\n".join(f"  {line}" for line in lines)
        ruleset = (f"table inet {NFT_TABLE} {{\n counter dead_syns {{ }}\n"
                   f" chain input {{\n  type filter hook prerouting priority -200; "
                   f"policy accept;\n{body}\n }}\n}}\n")
        proc = subprocess.run(["ip", "netns", "exec", net.ns[h], "nft", "-f", "-"],
                              input=ruleset, text=True, capture_output=True)
        if proc.returncode != 0:
            raise LabError(f"nft in {h}: {proc.stderr.strip()}")
    for name in ("web", *LISTENING):
        s = SERVICES[name]
        for h in s.servers:
            wait_for(lambda h=h, p=s.rs_port: f":{p} " in sh(
                ["ss", "-ltnH"], netns=net.ns[h]).stdout, 30,
                what=f"{h} listening on {s.rs_port}")


@pytest.fixture(scope="session")
def proxy(rig_prerequisites: None) -> Iterator[Proxy]:
    topo = default_topology()
    # A lab of our own name: other tests in this process build Nets with the default
    # names (PID-tagged), and a Net removes leftovers that carry its names.
    lab = Lab(prefix="e2e", tag=f"e{os.getpid() % 100000}")
    # The switch refuses P4Runtime register access, as bmv2 does: the controller must
    # run on table entries and digests alone.
    net = Net(topo, log_level="error", lab=lab, register_access=False).start()
    try:
        start_services(net, topo)
        _start_listeners(net, topo)
        p = Proxy(net, topo)
        p.start_controller()
        yield p
    finally:
        net.close()
        shutil.rmtree(net.workdir, ignore_errors=True)



@pytest.fixture(scope="session")
def tna_proxy(rig_prerequisites: None) -> Iterator[Proxy]:
    """The same rig with the TNA program (p4src/tna) on p4sim's Python back end, and
    the web service only (IPv4: the controller refuses IPv6 for a program without
    the IPv6 tables). That back end is slow: tests give it few connections and small
    floods."""
    topo = default_topology()
    lab = Lab(prefix="e2t", tag=f"t{os.getpid() % 100000}")
    net = Net(topo, arch="tna", log_level="error", lab=lab, register_access=False).start()
    try:
        start_services(net, topo)
        p = Proxy(net, topo, service_names=("web",))
        p.start_controller()
        yield p
    finally:
        net.close()
        shutil.rmtree(net.workdir, ignore_errors=True)


# The dual-stack rig (D13): the same Proxy, its services on the IPv6 VIP 2001:db8::100
# with the servers' IPv6 addresses (test_e2e_ipv6.py's docstring has the table), an
# IPv4 service beside them; the flood tests run on both rigs.
SERVICES6 = {s.name: s for s in (
    Svc("web", 80, ("rs1", "rs2"), 8080),
    Svc("nat", 81, ("rs1", "rs2"), 8081, {"mode": "off"}),
    Svc("web4", 80, ("rs1", "rs2"), 8080, {"mode": "off"}),
    Svc("nosack", 82, ("rs1",), 8082, {"synack": {"sack": False}}),
    Svc("nots", 83, ("rs2",), 8083, {"synack": {"timestamps": False}}),
    Svc("ws2", 84, ("rs1",), 8084, {"synack": {"wscale": 2}}),
    # Transparent: the "VIP" is rs1's own IPv6 address, proxied, no NAT.
    Svc("own", 8088, ("rs1",), 8088, transparent=True),
)}
# The IPv6 servers the rig starts beside web's (topo.demo.start_services).
LISTENING6 = ("nat", "nosack", "nots", "ws2", "own")


class Proxy6(Proxy):
    """The conftest's Proxy on a dual-stack topology, its services on the IPv6 VIP
    (but web4, on the IPv4 one)."""

    services = SERVICES6
    family = 6

    def vip_of(self, service: str) -> str:
        return self.topo.vip if service == "web4" else super().vip_of(service)

    def extra_config(self) -> dict:
        t = self.topo
        services = []
        for s in SERVICES6.values():
            if s.name == "web":
                continue  # the first service, topo.net.controller_config's
            entry = {"name": s.name, "vip": self.vip_of(s.name), "port": s.port,
                     "mode": "on", **s.settings}
            if s.transparent:
                entry["nat"] = False
            else:
                family = 4 if s.name == "web4" else 6
                entry["real_servers"] = [{"address": t.host(h).ip_of(family),
                                          "port": s.rs_port} for h in s.servers]
            services.append(entry)
        return {"services": services, "cookie": dict(self.cookie),
                "sessions": {"syn_retries": SYN_RETRIES, "syn_timeout": 1.0},
                "control": {"socket": self.socket, **self.heartbeat}}

    def start_controller(self) -> None:
        self.ctl = start_controller(self.net, self.topo, extra=self.extra_config(),
                                    mode="on", family=6)
        self.wait_synced()


@pytest.fixture(scope="session")
def proxy6(rig_prerequisites: None) -> Iterator[Proxy6]:
    topo = default_topology(ipv6=True)
    lab = Lab(prefix="e6", tag=f"v{os.getpid() % 100000}")
    net = Net(topo, log_level="error", lab=lab, register_access=False).start()
    try:
        start_services(net, topo)
        for svc in (SERVICES6[n] for n in LISTENING6):
            for h in svc.servers:
                net.popen(h, [sys.executable, "-m", "topo.httpd", "--bind", "::", "--port",
                              str(svc.rs_port), "--name", h],
                          log=f"{h}-{svc.rs_port}-httpd.log")
                wait_for(lambda h=h, p=svc.rs_port: f":{p} " in sh(
                    ["ss", "-ltnH"], netns=net.ns[h]).stdout, 30,
                    what=f"{h} listening on {svc.rs_port}")
        r = Proxy6(net, topo)
        r.start_controller()
        wait_service_ready(net, topo, family=6)
        yield r
    finally:
        net.close()
        shutil.rmtree(net.workdir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test on the rig gets the tails of the controller's and the switch's
    logs in its report: the workdir is gone once the session ends."""
    outcome = yield
    rep = outcome.get_result()
    p = next((v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Proxy)), None)
    if rep.when == "call" and rep.failed and isinstance(p, Proxy):
        rep.sections.append(("controller log (tail)", p.controller_log()[-4000:]))
        switch_log = p.net.workdir / "switch.log"
        if switch_log.exists():
            rep.sections.append(("switch log (tail)",
                                 switch_log.read_text(errors="replace")[-2000:]))
