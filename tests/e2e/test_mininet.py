"""The default topology in Mininet on P4SimSwitch, with the synproxy program and the
controller: a client in its Mininet host downloads from the VIP through the proxy
(hash-checked by topo.workload), and every host, process, namespace and interface the
run made is gone after it stops. A switch that cannot start says why and leaves
nothing behind either.

    .venv/bin/python -m pytest -q tests/e2e/test_mininet.py   (root; Debian's mininet)
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller import p4consts
from topo import mininet_loader
from topo.topology import default_topology


@pytest.fixture(autouse=True)
def _mininet_installed() -> None:
    """`make deps` installs Mininet: its absence is a broken set-up, not a skip."""
    if why := mininet_loader.missing():
        pytest.fail(why, pytrace=False)


# ---------------------------------------------------------------------- what a run leaves


@dataclass(frozen=True)
class Proc:
    pid: int
    start: str  # start time in clock ticks: tells a reused PID from ours

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, _start_time(pid))

    def alive(self) -> bool:
        try:
            return _start_time(self.pid) == self.start and _state(self.pid) != "Z"
        except OSError:
            return False


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields after "pid (comm) "


def _start_time(pid: int) -> str:
    return _stat_fields(pid)[19]


def _state(pid: int) -> str:
    return _stat_fields(pid)[0]


def _netns_inode(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _namespaces_in_use() -> set[int]:
    """The network namespaces any process on the machine is in right now."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.add(os.stat(entry / "ns" / "net").st_ino)
            except OSError:
                pass  # gone meanwhile, or a kernel thread
    return found


def _root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@dataclass
class Footprint:
    """Everything of a run that must go: processes, host namespaces, root interfaces,
    files."""

    processes: list[Proc]
    namespaces: set[int]
    links: set[str]
    paths: list[Path]

    def left(self) -> list[str]:
        in_use = _namespaces_in_use()
        links = _root_links()
        return ([f"process {p.pid}" for p in self.processes if p.alive()]
                + [f"network namespace {ns}" for ns in self.namespaces if ns in in_use]
                + [f"interface {name}" for name in self.links if name in links]
                + [f"file {p}" for p in self.paths if p.exists()])


def footprint(mn) -> Footprint:  # a running topo.mininet_topo.MininetSynproxy
    net, sw = mn.net, mn.switch
    procs = [Proc.of(n.pid) for n in (*net.hosts, *net.switches)]
    procs += [Proc.of(p.pid) for p in mn.lab.processes]  # controller, HTTP servers
    assert sw.proc is not None
    procs.append(Proc.of(sw.proc.pid))
    return Footprint(processes=procs,
                     namespaces={_netns_inode(h.pid) for h in net.hosts},
                     links=set(sw.port_map().values()),
                     paths=[sw.socket_path, mn.workdir])


def _switch_name() -> str:
    """A name of our own for the switch (its interfaces live in the root namespace)."""
    return f"s{os.getpid() % 100000}"


# ---------------------------------------------------------------------- tests


def test_download_through_the_proxy_then_nothing_left() -> None:
    from topo.mininet_topo import MininetSynproxy

    topo = default_topology()
    workdir = Path(tempfile.mkdtemp(prefix="p4mn-test-"))
    (workdir / "pcaps").mkdir()
    mn = MininetSynproxy(topology=topo, switch_name=_switch_name(), log_level="error",
                         workdir=workdir, pcap_dir=workdir / "pcaps")
    with mn:
        sw = mn.switch
        # The P4 ports are the topology's: s<N>-eth<port> for each host's port.
        assert sw.port_map() == {h.port: f"{sw.name}-eth{h.port}" for h in topo.hosts}
        for h in topo.hosts:
            node = mn.net[h.name]
            assert node.IP() == h.ip and node.MAC() == h.mac
        hosts_ns = {_netns_inode(h.pid) for h in mn.net.hosts}
        assert len(hosts_ns) == len(topo.hosts) and _netns_inode(os.getpid()) not in hosts_ns

        # `ping` is there in the hosts (Debian's iputils-ping), routed by the switch.
        rs1 = topo.host("rs1")
        ping = mn.net["client"].cmd(f"ping -c 1 -W 5 {rs1.ip}")
        assert " 1 received" in ping, ping
        # pcap_dir: the switch's captures of the client's port hold the echo request.
        from scapy.layers.inet import ICMP, IP
        from scapy.utils import rdpcap

        client_in = workdir / "pcaps" / f"{sw.name}-eth{topo.host('client').port}_in.pcap"
        echoes = [p for p in rdpcap(str(client_in)) if ICMP in p and p[ICMP].type == 8]
        assert [p[IP].dst for p in echoes] == [rs1.ip]
        before = mn.events()
        record = mn.fetch(300_000)
        assert record["ok"], f"{record}\n{mn.controller_log()[-3000:]}\n{sw.log_tail()}"
        assert record["server"] in {rs.name for rs in topo.real_servers}
        after = mn.events()
        # It went through the proxy: a cookie handshake and a session on the switch.
        for event in ("SYNACK_SENT", "ACK_VALID", "SESSION_ESTABLISHED"):
            assert after.get(event, 0) > before.get(event, 0), (event, before, after)
        fp = footprint(mn)
        assert all(p.alive() for p in fp.processes)
        assert fp.links <= _root_links() and all(p.exists() for p in fp.paths)
        assert fp.namespaces <= _namespaces_in_use()
    assert mn.net is None
    assert fp.left() == []


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_cli_entry_point_as_make_mininet_runs_it() -> None:
    """`python -m topo.mininet_topo --cli` (what `make mininet` runs), driven through
    the Mininet CLI's stdin: downloads from the client host, then `exit`."""
    import sys

    name = _switch_name()
    commands = (f"client {sys.executable} -m topo.workload --vip 10.0.0.100 --count 2 "
                "--concurrency 1 --size 100000 --seconds 30 --timeout 10\n"
                "client curl -s -o /dev/null -w 'http=%{http_code}\\n' "
                "http://10.0.0.100:80/blob/5000\nexit\n")
    proc = subprocess.run([sys.executable, "-m", "topo.mininet_topo", "--cli", "--switch", name,
                           "--log-level", "error"], input=commands, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    out = proc.stdout + proc.stderr  # Mininet's CLI writes host output to its log stream
    assert proc.returncode == 0, out[-3000:]
    assert out.count('{"ok": true') == 2 and "http=200" in out, out[-3000:]
    assert f"SYN proxy on {name} (p4sim)" in out
    links = _root_links()
    assert not [n for n in links if n.startswith(f"{name}-eth")]
    assert _processes_mentioning(f"{name}-grpc.sock") == []


def test_switch_that_cannot_start_says_why_and_leaves_nothing() -> None:
    from mininet.net import Mininet

    from topo.mininet_switch import P4Host, P4SimSwitch, P4SwitchError
    from topo.net import artifacts

    p4info = artifacts("synproxy").p4info  # a good P4Info: the device config is what is bad
    Mininet.inited = True  # no machine-wide sysctls (see topo.mininet_topo)
    workdir = Path(tempfile.mkdtemp(prefix="p4mn-test-"))
    bad = workdir / "bad.p4sim"
    bad.write_text("this is not a device config")
    net = Mininet(controller=None, build=False)
    try:
        h = net.addHost("h1", cls=P4Host, ip="10.9.0.1/24")
        sw = net.addSwitch(_switch_name(), cls=P4SimSwitch, config=bad, p4info=p4info,
                            workdir=workdir / "sw")
        net.addLink(h, sw, port2=3)
        with pytest.raises(P4SwitchError, match="exited at start") as err:
            net.start()
        assert "device config" in str(err.value) or "bad.p4sim" in str(err.value), err.value
        assert sw.proc is None and sw.port_map() == {3: f"{sw.name}-eth3"}
        gone = Footprint(processes=[Proc.of(h.pid), Proc.of(sw.pid)],
                         namespaces={_netns_inode(h.pid)}, links={f"{sw.name}-eth3"},
                         paths=[sw.socket_path])
    finally:
        net.stop()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    assert gone.left() == []


SHIM = """#!{python}
# Stands in for simple_switch_grpc: records its command line, then runs p4sim with it
# (p4sim's options are simple_switch_grpc's; only the `--` separator goes).
import os, sys
with open({args!r}, "w") as f:
    f.write("\\n".join(sys.argv[1:]))
os.execv({p4sim!r}, [{p4sim!r}] + [a for a in sys.argv[1:] if a != "--"])
"""


def test_bmv2_switch_command_line_and_life_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bmv2Switch, run against a stand-in `simple_switch_grpc` (bmv2 is not installed
    here): bmv2's options before `--`, the gRPC server's after; started, ready, stopped."""
    import sys

    from mininet.net import Mininet

    from topo.mininet_switch import Bmv2Switch, P4Host, switch_class
    from topo.netns import grpc_ready

    assert switch_class("bmv2") is Bmv2Switch
    Mininet.inited = True
    workdir = Path(tempfile.mkdtemp(prefix="p4mn-test-"))
    args_file = workdir / "args"
    shim = workdir / "bin" / "simple_switch_grpc"
    shim.parent.mkdir()
    shim.write_text(SHIM.format(python=sys.executable, args=str(args_file),
                                p4sim=str(Path(sys.executable).parent / "p4sim")))
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    net = Mininet(controller=None, build=False)
    try:
        h1 = net.addHost("h1", cls=P4Host, ip="10.9.0.1/24")
        h2 = net.addHost("h2", cls=P4Host, ip="10.9.0.2/24")
        sw = net.addSwitch(_switch_name(), cls=Bmv2Switch, device_id=7, log_level="error")
        net.addLink(h1, sw, port2=1)
        net.addLink(h2, sw, port2=5)
        net.start()
        assert sw.connected()
        grpc_ready(sw.grpc_address, 10)
        argv = args_file.read_text().split("\n")
        cut = argv.index("--")
        bmv2, grpc = argv[:cut], argv[cut + 1:]
        assert bmv2[0] == "--no-p4"
        assert [bmv2[i + 1] for i, a in enumerate(bmv2) if a == "-i"] == [
            f"1@{sw.name}-eth1", f"5@{sw.name}-eth5"]
        assert bmv2[bmv2.index("--device-id") + 1] == "7"
        assert int(bmv2[bmv2.index("--thrift-port") + 1]) > 0
        assert grpc == ["--grpc-server-addr", sw.grpc_address, "--cpu-port", str(p4consts.CPU_PORT)]
        gone = Footprint(processes=[Proc.of(sw.proc.pid), Proc.of(sw.pid)],
                         namespaces={_netns_inode(h1.pid), _netns_inode(h2.pid)},
                         links=set(sw.port_map().values()),
                         paths=[sw.socket_path, sw.workdir])
        assert gone.links == {f"{sw.name}-eth1", f"{sw.name}-eth5"}
    finally:
        for s in net.switches:
            s.stop_target()
        net.stop()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    assert gone.left() == []


def test_unknown_target_and_missing_files_are_clear_errors() -> None:
    from topo.mininet_switch import P4SimSwitch, P4SwitchError, switch_class

    assert switch_class("p4sim") is P4SimSwitch
    with pytest.raises(ValueError, match="unknown target 'tofino'"):
        switch_class("tofino")
    with pytest.raises(P4SwitchError, match="no such file"):
        P4SimSwitch(_switch_name(), config="/nonexistent/prog.p4sim")


def test_without_bmv2_the_bmv2_target_says_so(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from topo import mininet_topo
    from topo.mininet_switch import Bmv2Switch, P4SwitchError, target_missing

    with tempfile.TemporaryDirectory() as empty:
        monkeypatch.setenv("PATH", f"{empty}:/usr/sbin:/usr/bin:/sbin:/bin")  # no bmv2
        assert target_missing("p4sim") is None
        assert "simple_switch_grpc" in (target_missing("bmv2") or "")
        monkeypatch.setattr(Bmv2Switch, "isSetup", False)  # Mininet checks once per class
        with pytest.raises(P4SwitchError, match="needs `simple_switch_grpc` on PATH"):
            Bmv2Switch(_switch_name())
        assert mininet_topo.main(["--target", "bmv2"]) == 0
    assert capsys.readouterr().out.startswith("SKIPPED: --target bmv2 needs p4c-bm2-ss")


def test_loader_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no Mininet where it looks, the loader says what to install."""
    import sys

    saved = {k: v for k, v in sys.modules.items() if k == "mininet" or k.startswith("mininet.")}
    for k in saved:
        del sys.modules[k]
    try:
        with tempfile.TemporaryDirectory() as empty:
            monkeypatch.setenv("P4SYNPROXY_MININET_PATH", empty)
            monkeypatch.setattr(mininet_loader.importlib.util, "find_spec", lambda name: None)
            reason = mininet_loader.missing()
        assert reason is not None and "apt-get install -y mininet" in reason and empty in reason
    finally:
        sys.modules.update(saved)


def test_loading_mininet_leaves_the_logging_setup_alone() -> None:
    """Mininet replaces the process's Logger class on import; loading it through the
    project's loader must not change the loggers the project creates afterwards."""
    import logging

    from topo import mininet_loader

    mininet_loader.load()
    assert logging.getLoggerClass() is logging.Logger
    assert type(logging.getLogger("p4sim.after_mininet_test")) is logging.Logger
