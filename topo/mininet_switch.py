"""Mininet node classes for P4 switches: `P4SimSwitch` (this project's software
target) and `Bmv2Switch` (`simple_switch_grpc`), plus `P4Host`.

P4 developers know Mininet with bmv2: a switch node that starts the target on the
switch's interfaces and serves P4Runtime. These classes give the same experience on
both targets, with the same arguments:

    from topo.mininet_switch import switch_class
    net.addSwitch("s1", cls=switch_class("p4sim"), config="build/p4sim/synproxy/synproxy.p4sim",
                  p4info="build/p4sim/synproxy/p4info.txt")

* Ports: every link's switch-side interface becomes the P4 port with the number
  Mininet gave the link (`addLink(h, s, port2=N)` makes `s-ethN` port N), so the
  program's port numbers are those of the topology.
* P4Runtime is served on a unix socket under a per-switch temporary folder
  (`switch.grpc_address`): Mininet switches run in the root namespace, where a TCP
  port could collide with anything else on the machine, and a socket path reaches
  the switch from any namespace.
* `start()` returns once the target answers gRPC (polled, never a fixed sleep) and
  raises with the end of the switch's log if it exits instead; `stop()` stops the
  process it started by its PID (SIGTERM, then SIGKILL), never by a name.
* Interfaces get checksum offloads and IPv6 turned off, as the namespace runner does
  (`topo/netns.py`), so the P4 program sees real checksums and no router
  solicitations.

Mininet itself comes from Debian; `topo/mininet_loader.py` explains how the venv
loads it. Importing this module raises `mininet_loader.MininetMissing` without it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from controller import p4consts

from . import mininet_loader, targets
from .netns import LabError

mininet_loader.load()

from mininet.node import Host, Switch  # noqa: E402

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes with the terminating NUL
OFFLOADS = ("tx", "rx", "tso", "gso", "gro")


class P4SwitchError(RuntimeError):
    """The switch cannot be created or started (missing binary, exited at start...)."""


def _quiet_offloads_cmd(ifname: str) -> str:
    return "ethtool -K {} {} >/dev/null 2>&1".format(ifname, " ".join(f"{o} off" for o in OFFLOADS))


class P4Switch(Switch):
    """What both targets share; subclasses say how to build the command line."""

    target = ""
    binary = ""

    def __init__(self, name: str, config: str | Path | None = None,
                 p4info: str | Path | None = None, device_id: int = 0,
                 cpu_port: int = p4consts.CPU_PORT, log_level: str = "warn", workdir: str | Path | None = None,
                 start_timeout: float = 60.0, pcap_dir: str | Path | None = None,
                 **params: Any) -> None:
        """config: the device config to start with (p4sim's `.p4sim`, bmv2's JSON), or
        None to start empty (`--no-p4`) and let the controller push the pipeline.
        p4info: its P4Info (p4sim only; bmv2 gets it from the controller).
        device_id: P4Runtime device id (default 0, what P4Runtime tools assume; each
        switch has a gRPC server of its own, so the ids need not differ).
        workdir: where the socket and the log go (default: a temporary folder that
        stop() removes).
        pcap_dir: an existing folder for the target's per-interface captures
        (`--pcap`: `<interface>_in.pcap` and `_out.pcap`), as the p4lang tutorials'
        `pcap_dump`; None: no captures."""
        super().__init__(name, **params)
        self.config = Path(config) if config is not None else None
        self.p4info = Path(p4info) if p4info is not None else None
        self.pcap_dir = Path(pcap_dir) if pcap_dir is not None else None
        self.device_id = device_id
        self.cpu_port = cpu_port
        self.log_level = log_level
        self.start_timeout = start_timeout
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self.workdir: Path | None = None
        self._own_workdir = False
        self.proc: subprocess.Popen[bytes] | None = None
        for path in (self.config, self.p4info):
            if path is not None and not path.is_file():
                self.terminate()  # the node's shell is already running
                raise P4SwitchError(f"{name}: no such file: {path}")

    @classmethod
    def setup(cls) -> None:
        """Mininet calls this before the first node of the class is made."""
        super().setup()
        if cls.target and (why := targets.missing(cls.target, compile=False)) is not None:
            raise P4SwitchError(why)

    # ------------------------------------------------------------------ addresses

    @property
    def socket_path(self) -> Path:
        if self.workdir is None:
            raise P4SwitchError(f"{self.name} is not started: it has no gRPC address yet")
        return self.workdir / f"{self.name}-grpc.sock"

    @property
    def grpc_address(self) -> str:
        return f"unix:{self.socket_path}"

    @property
    def log_path(self) -> Path:
        if self.workdir is None:
            raise P4SwitchError(f"{self.name} is not started: it has no log yet")
        return self.workdir / f"{self.name}.log"

    def port_map(self) -> dict[int, str]:
        """P4 port number -> interface name, in port order (the loopback control
        interface Mininet gives root-namespace switches is not a port)."""
        control = getattr(self, "controlIntf", None)
        return {port: intf.name for port, intf in sorted(self.intfs.items())
                if intf is not control and intf.name != "lo"}

    def command(self, ports: dict[int, str]) -> list[str]:
        """The target's command line (topo.targets.SwitchSpec) on these ports."""
        return targets.SwitchSpec(
            self.target, ports, self.grpc_address, cpu_port=self.cpu_port,
            device_id=self.device_id, log_level=self.log_level, config=self.config,
            p4info=self.p4info, options=self.target_options()).command()

    def target_options(self) -> list[str]:
        return ["--pcap", str(self.pcap_dir)] if self.pcap_dir is not None else []

    # ------------------------------------------------------------------ life cycle

    def start(self, controllers: list[Any]) -> None:  # no OpenFlow controller
        if self.running():
            return
        ports = self.port_map()
        if not ports:
            raise P4SwitchError(f"{self.name} has no links: nothing to switch")
        self._make_workdir()
        for ifname in ports.values():
            self.cmd(_quiet_offloads_cmd(ifname))
            self.cmd(f"sysctl -qw net.ipv6.conf.{ifname}.disable_ipv6=1")
        cmd = self.command(ports)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        with open(self.log_path, "ab") as log:
            # Node.popen runs it in the switch's namespaces through `mnexec -da`: detached
            # into a session of its own, so its PID is also its process group.
            self.proc = self.popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop_target()
            raise

    def _make_workdir(self) -> None:
        if self._workdir_arg is not None:
            self._workdir_arg.mkdir(parents=True, exist_ok=True)
            self.workdir = self._workdir_arg
        elif self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"p4mn-{self.name}-"))
            self._own_workdir = True
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise P4SwitchError(f"socket path too long for a unix socket: {self.socket_path}")

    def _wait_ready(self) -> None:
        assert self.proc is not None
        try:
            targets.wait_ready(self.proc, self.grpc_address, self.start_timeout, self.log_path,
                               what=f"{self.name} ({self.target})")
        except LabError as e:
            raise P4SwitchError(str(e)) from None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def connected(self) -> bool:
        """Mininet's readiness question: is the target up and serving P4Runtime?"""
        return self.running() and self.socket_path.exists()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except (OSError, P4SwitchError):
            return ""

    def stop_target(self, timeout: float = 10.0) -> None:
        """Stop the switch process (by its PID), leave the interfaces. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        targets.stop(proc, timeout)
        if self.workdir is not None:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()

    def stop(self, deleteIntfs: bool = True) -> None:  # noqa: N803 - Mininet's signature
        """Stop the target, delete the switch's interfaces, remove the temporary folder."""
        self.stop_target()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir, self._own_workdir = None, False
        super().stop(deleteIntfs)


class P4SimSwitch(P4Switch):
    """This project's software target (`p4sim`, command line of simple_switch_grpc)."""

    target = "p4sim"
    binary = targets.switch_binary("p4sim")


class Bmv2Switch(P4Switch):
    """bmv2's `simple_switch_grpc`, when it is installed: the same arguments."""

    target = "bmv2"
    binary = targets.switch_binary("bmv2")

    def __init__(self, name: str, thrift_port: int | None = None, **params: Any) -> None:
        """thrift_port: bmv2's Thrift server (default: a free port on this machine, so
        that several switches never collide on bmv2's default 9090)."""
        super().__init__(name, **params)
        self.thrift_port = thrift_port

    def target_options(self) -> list[str]:
        if self.thrift_port is None:
            self.thrift_port = _free_tcp_port()
        return ["--thrift-port", str(self.thrift_port), *super().target_options()]


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TARGETS: dict[str, type[P4Switch]] = {"p4sim": P4SimSwitch, "bmv2": Bmv2Switch}


def switch_class(target: str) -> type[P4Switch]:
    """The Mininet switch class for a target name ("p4sim" or "bmv2")."""
    try:
        return TARGETS[target]
    except KeyError:
        raise ValueError(f"unknown target '{target}' (expected one of: "
                         f"{', '.join(TARGETS)})") from None


def target_missing(target: str) -> str | None:
    """Why the target's switch cannot run here (its binary is absent), or None."""
    switch_class(target)
    return targets.missing(target, compile=False)


class P4Host(Host):
    """A Mininet host ready for a P4 switch: offloads and IPv6 off on its interface
    (real checksums on the wire, no stray router solicitations), and `blackhole`
    prefixes it owns (replies to addresses it spoofs end here)."""

    def config(self, blackhole: tuple[str, ...] = (), **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = super().config(**params)
        for key in ("all", "default", "lo"):
            self.cmd(f"sysctl -qw net.ipv6.conf.{key}.disable_ipv6=1")
        for intf in self.intfList():
            self.cmd(_quiet_offloads_cmd(intf.name))
        for prefix in blackhole:
            self.cmd(f"ip route replace blackhole {prefix}")
        return result
