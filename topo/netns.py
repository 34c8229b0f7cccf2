"""Network namespaces, veth pairs and processes for tests, the demo and benchmarks.

Everything a `Lab` creates it records, and `Lab.close()` removes exactly that: its
own namespaces, interfaces and processes (by PID), never anything matched by a
broad name. Names carry the creating process's PID so that parallel runs and
leftovers of a killed run never collide.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field


def stop_group(proc: subprocess.Popen, timeout: float = 5) -> None:
    """Stop a process started with start_new_session=True, and its children: SIGTERM
    to its process group (found by its PID), SIGKILL after `timeout` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


class LabError(RuntimeError):
    pass


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so that whatever the run
    started is still removed on the way out (a no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def command(name: str, body: Callable[[], int | None], *,
            errors: tuple[type[Exception], ...] = (LabError,),
            interrupted: str | None = None) -> int:
    """The exit status of a command-line entry point running `body`: its own (None: 0);
    1 with `name: error` on stderr for one of `errors`; with `interrupted` (what was
    cleaned up), a SIGTERM unwinds like Ctrl-C and either ends in 130 with that said.
    Never a traceback for what the operator can act on."""
    guard = sigterm_as_interrupt() if interrupted else contextlib.nullcontext()
    with guard:
        try:
            return body() or 0
        except KeyboardInterrupt:
            if interrupted is None:
                raise
            print(f"interrupted: {interrupted}", file=sys.stderr)
            return 130
        except errors as e:
            print(f"{name}: {e}", file=sys.stderr)
            return 1


def sh(cmd: Sequence[str], check: bool = True, netns: str | None = None,
       capture: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command (optionally inside a namespace); raise LabError with its stderr."""
    full = (["ip", "netns", "exec", netns] if netns else []) + list(cmd)
    proc = subprocess.run(full, capture_output=capture, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"`{shlex.join(full)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _short_tag() -> str:
    return f"{os.getpid() % 100000}"


def enable_ipv6(netns: str, ifname: str) -> None:
    """IPv6 on `ifname` in `netns` (every namespace starts with IPv6 off), without
    what would make a test depend on neighbour-discovery timing: no duplicate address
    detection, no router solicitations, no router advertisements accepted (the
    addresses and routes are static). Set before IPv6 comes on, so that not even the
    link-local address goes through DAD."""
    for key in ("all", "default", ifname):
        for knob, value in (("accept_dad", 0), ("dad_transmits", 0), ("accept_ra", 0),
                            ("router_solicitations", 0)):
            sh(["sysctl", "-qw", f"net.ipv6.conf.{key}.{knob}={value}"], netns=netns)
    for key in ("all", "default", ifname):
        sh(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=0"], netns=netns)


@dataclass
class Lab:
    """A set of namespaces, links and processes owned by one run."""

    prefix: str = "p4s"
    tag: str = field(default_factory=_short_tag)
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def ns_name(self, role: str) -> str:
        return f"{self.prefix}{self.tag}-{role}"

    def add_ns(self, role: str) -> str:
        """Create a namespace (loopback up, no route off the machine) and return its name."""
        name = self.ns_name(role)
        with contextlib.suppress(LabError):
            sh(["ip", "netns", "del", name])  # a leftover of a killed run with our PID
        sh(["ip", "netns", "add", name])
        self.namespaces.append(name)
        sh(["ip", "link", "set", "lo", "up"], netns=name)
        sh(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], netns=name)
        sh(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"], netns=name)
        return name

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str, mtu: int = 1500) -> None:
        """A veth pair with one end in each namespace (the same namespace is allowed).
        Offloads are turned off so that packets on the wire carry real checksums."""
        if len(if_a) > 15 or len(if_b) > 15:
            raise LabError(f"interface names too long: {if_a}, {if_b}")
        sh(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
            "netns", ns_b])
        for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
            sh(["ip", "link", "set", ifname, "mtu", str(mtu), "up"], netns=ns)
            sh(["ethtool", "-K", ifname, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                "gro", "off"], netns=ns, check=False)

    def popen(self, cmd: Sequence[str], netns: str | None = None, log_path: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a background process (in a namespace) that close() will stop."""
        full = (["ip", "netns", "exec", netns] if netns else []) + list(cmd)
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        self.processes.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 5) -> None:
        stop_group(proc, timeout)

    def close(self) -> None:
        """Stop our processes, then delete our namespaces (and with them their links)."""
        for proc in reversed(self.processes):
            self.stop(proc)
        self.processes.clear()
        for ns in reversed(self.namespaces):
            with contextlib.suppress(LabError):
                sh(["ip", "netns", "del", ns])
        self.namespaces.clear()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    """Poll `predicate` until it is true; raise LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def grpc_ready(address: str, timeout: float) -> None:
    """Wait until a gRPC server answers at `address` (from this namespace)."""
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise LabError(f"no gRPC server at {address} after {timeout}s") from None
    finally:
        channel.close()
