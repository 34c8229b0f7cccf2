"""Controller figures (DESIGN §7): session setup rate and added handshake latency.

* `setup_rate_fake`: the controller against a fake P4Runtime switch that only accepts
  writes (controller/testing/fakeswitch.py), first in the same process, then in its own
  (no shared GIL): validated-handshake digests in, server SYN PacketOuts out. What the
  controller alone sustains.
* `setup_p4sim`: the controller against p4sim running synproxy.p4 in-process (memory
  ports, P4Runtime over a unix socket) and the controller in its own process
  (`synproxyctl run`): the setup rate for a burst of valid client
  ACKs, then, one connection at a time, the added latency client ACK in -> server SYN
  out and server SYN/ACK in -> client window update out, p50/p99 (out: when the
  switch sent it, `StampedPort`).

    .venv/bin/python -m bench controller_fake controller_p4sim
"""

from __future__ import annotations

import asyncio
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from controller.config import parse_config
from controller.control import request
from controller.cookie import Flow, encode_options, make_cookie
from controller.install import ip
from controller.p4info import P4InfoIndex, load_p4info
from controller.testing.fakeswitch import FakeSwitch
from controller.testing.thread import ControllerThread
from controller.testing.topology import (
    CLIENT_IP,
    CLIENT_MAC,
    KEY_HEX,
    MAC1,
    MAC2,
    RS_IP,
    SERVER_MAC,
    VIP,
    config_text,
)
from p4sim.backend.backends import loader
from p4sim.ports import MemoryPort
from p4sim.switch import Switch

from .p4sim_bench import ROOT, compiled


def _config(p4info: Path, devcfg: Path, sock: str) -> str:
    """The controller's config for the benchmarks: the tests' topology, one service
    proxied in mode on."""
    return config_text(p4info, devcfg, sock, sessions="sessions: {syn_timeout: 30}\n")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def setup_rate_fake(n: int = 20000) -> None:
    """Both layouts: the fake in this process (sharing the GIL), then in its own."""
    _fake_in_process(n // 2)
    _fake_separate_process(n)


def _fake_in_process(n: int) -> None:
    p4info, devcfg = compiled("synproxy")
    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/fake.sock"
        fake = FakeSwitch()
        fake.start(f"unix:{sock}")
        ct = ControllerThread(parse_config(_config(p4info, devcfg, sock), f"{tmp}/c.yaml"))
        try:
            ct.wait_synced()
            did = P4InfoIndex(load_p4info(p4info)).get("digests",
                                                       "cookie_ack_digest_t").preamble.id
            dt = fake.time_setups(did, n)
            print(f"controller vs accept-only switch, same process: {n} sessions in {dt:.2f} s"
                  f" = {n / dt:,.0f} sessions/s")
        finally:
            ct.stop()
            fake.stop()


def _fake_separate_process(n: int) -> None:
    p4info, devcfg = compiled("synproxy")
    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/fake.sock"
        fake = subprocess.Popen([sys.executable, "-m", "controller.testing.fakeswitch",
                                 f"unix:{sock}"], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert fake.stdin is not None and fake.stdout is not None
        ct = None
        try:
            if fake.stdout.readline().strip() != "ready":
                raise RuntimeError("the fake switch did not start")
            ct = ControllerThread(parse_config(_config(p4info, devcfg, sock), f"{tmp}/c.yaml"))
            ct.wait_synced()
            did = P4InfoIndex(load_p4info(p4info)).get("digests",
                                                       "cookie_ack_digest_t").preamble.id
            rss = _rss()
            fake.stdin.write(f"go {n} {did}\n")
            fake.stdin.flush()
            _done, dt_text, writes_text = fake.stdout.readline().split()
            dt, writes = float(dt_text), int(writes_text)
            grown = _rss() - rss
            print(f"controller vs accept-only switch, own process: {n} sessions in {dt:.2f} s = "
                  f"{n / dt:,.0f} sessions/s ({writes} writes, "
                  f"{n / max(writes, 1):.0f} sessions per write)")
            print(f"controller memory: {grown / n:,.0f} bytes per session "
                  f"(resident set grown by {grown / 1e6:.1f} MB for {n} sessions)")
            ct.stop()
            ct = None
            for direct in (True, False):
                rate = asyncio.run(_stream_ceiling(sock, n, direct))
                how = ("call.write per message, as the controller sends" if direct
                       else "a request iterator")
                print(f"reference: bare gRPC (aio) StreamChannel to the same switch, PacketOuts "
                      f"only, {how}: {rate:,.0f} messages/s (one per session: the ceiling)")
        finally:
            if ct is not None:
                ct.stop()
            fake.stdin.close()
            fake.wait(10)


def _rss() -> int:
    """This process's resident set, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _stream_ceiling(sock: str, n: int, direct: bool = True) -> float:
    """PacketOuts per second one grpc.aio StreamChannel carries to `sock` when nothing
    else is done: every session costs one, so this bounds the session rate. `direct`:
    one `call.write` each (the controller's way), else through a request iterator."""
    import grpc
    from p4.v1 import p4runtime_pb2 as pb
    from p4.v1 import p4runtime_pb2_grpc

    msg = pb.StreamMessageRequest()
    msg.packet.payload = bytes(60)
    msg.packet.metadata.add(metadata_id=1, value=b"\0")
    sent = 0

    async def requests() -> AsyncIterator[pb.StreamMessageRequest]:
        nonlocal sent
        for _ in range(n):
            sent += 1
            yield msg

    async with grpc.aio.insecure_channel(f"unix:{sock}") as ch:
        if direct:
            call = p4runtime_pb2_grpc.P4RuntimeStub(ch).StreamChannel()
            t0 = time.perf_counter()
            for _ in range(n):
                await call.write(msg)
            dt = time.perf_counter() - t0
            call.cancel()
            return n / dt
        call = p4runtime_pb2_grpc.P4RuntimeStub(ch).StreamChannel(requests())
        t0 = time.perf_counter()
        while sent < n:
            await asyncio.sleep(0.001)
        dt = time.perf_counter() - t0
        call.cancel()
    return n / dt


def _ack(flow: Flow, isn: int, opts: int, epoch: int = 1) -> bytes:
    key = int.from_bytes(bytes.fromhex(KEY_HEX), "little")
    cookie = make_cookie(key, epoch, flow, isn, opts)
    src = ".".join(str(b) for b in flow.saddr.to_bytes(4, "big"))  # the flow's own client
    return bytes(Ether(src=CLIENT_MAC, dst=MAC1) / IP(src=src, dst=VIP)
                 / TCP(sport=flow.sport, dport=80, flags="A", seq=isn + 1,
                       ack=(cookie + 1) & 0xFFFFFFFF, window=502))


class StampedPort(MemoryPort):
    """A memory port that notes when the switch sent each packet: the latency is the
    switch's, not the time this process's reading thread takes to get the GIL back
    from p4sim's threads (a packet on a real port is on the wire by then)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.stamped: queue.Queue[tuple[float, bytes]] = queue.Queue()

    def send(self, packet: bytes) -> None:
        self.stamped.put((time.perf_counter(), packet))


_TCP_FLAGS = {"S": 0x02, "A": 0x10, "SA": 0x12}


def _tcp_flags(frame: bytes) -> int | None:
    """The TCP flags of an untagged IPv4 frame, read in place: dissecting every frame
    with scapy in this process would take the GIL from the switch being measured."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    at = 14 + (frame[14] & 0x0F) * 4 + 13
    return frame[at] if len(frame) > at else None


def _next_tcp(port: StampedPort, flags: str, timeout: float = 10.0) -> tuple[float, bytes]:
    """When the next TCP segment with exactly `flags` left `port`, and the frame."""
    want = _TCP_FLAGS[flags]
    deadline = time.perf_counter() + timeout
    while True:
        t, data = port.stamped.get(timeout=max(0.0, deadline - time.perf_counter()))
        if _tcp_flags(data) == want:
            return t, data


def _wait_synced(ctl_sock: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the controller exited with {proc.returncode}")
        try:
            if request(ctl_sock, {"cmd": "status"}, timeout=2)["synced"]:
                return
        except (OSError, RuntimeError):
            pass
        time.sleep(0.05)
    raise RuntimeError("the controller did not sync")


def setup_p4sim(burst: int = 2000, sequential: int = 200) -> None:
    """p4sim in this process (memory ports), the controller in its own (`synproxyctl
    run`), as in production: the two do not share a GIL. On the native back end (the
    target's default), then on the Python one."""
    for backend in ("c", "python"):
        _setup_p4sim(backend, burst, sequential)


@contextmanager
def switch_and_controller(backend: str, log_level: str = "warning",
                          edit_config: Callable[[str], str] = lambda text: text,
                          module: str = "controller", env: dict[str, str] | None = None,
                          ) -> Iterator[tuple[dict[int, StampedPort], subprocess.Popen[str]]]:
    """synproxy.p4 on p4sim in this process (stamped memory ports 1 and 2, `backend`), the
    controller in its own (`python -m MODULE run`, in environment `env`, its config
    `_config` passed through `edit_config`), synced; on the way out the controller is
    stopped by its PID and the switch with it."""
    p4info, devcfg = compiled("synproxy")
    with tempfile.TemporaryDirectory() as tmp:
        sock, ctl_sock = f"{tmp}/sw.sock", f"{tmp}/ctl.sock"
        cfg_path = Path(tmp) / "c.yaml"
        cfg_path.write_text(edit_config(_config(p4info, devcfg, sock))
                            + f'control: {{socket: "{ctl_sock}"}}\n')
        ports = {1: StampedPort(1), 2: StampedPort(2)}
        sw = Switch(list(ports.values()), cpu_port=p4consts.CPU_PORT, loader=loader(backend))
        sw.start(f"unix:{sock}")
        ctl = subprocess.Popen([sys.executable, "-m", *module.split(), "run", "--config",
                                str(cfg_path), "--log-level", log_level], cwd=ROOT, text=True,
                               env=env)
        try:
            _wait_synced(ctl_sock, ctl)
            yield ports, ctl
        finally:
            ctl.send_signal(signal.SIGTERM)
            try:
                ctl.wait(10)
            except subprocess.TimeoutExpired:
                ctl.kill()
            sw.stop()


def _setup_p4sim(backend: str, burst: int, sequential: int) -> None:
    with switch_and_controller(backend) as (ports, _ctl):
        try:
            opts = encode_options(1460, 7, True, False)
            client, vip = ip(CLIENT_IP), ip(VIP)
            # Burst: valid third ACKs for `burst` connections, injected at once.
            acks = [_ack(Flow(client, vip, 10000 + i, 80), 1000 * i, opts) for i in range(burst)]
            t0 = time.perf_counter()
            for a in acks:
                ports[1].inject(a)
            last = t0
            for _ in range(burst):
                last, _p = _next_tcp(ports[2], "S", 60)
            dt = last - t0
            print(f"p4sim ({backend} back end) + controller: {burst} sessions in {dt:.2f} s = "
                  f"{burst / dt:,.0f} "
                  "sessions/s (client ACK in -> server SYN out)")
            # Sequential: one connection at a time, latency per step.
            syn_lat, upd_lat = [], []
            for i in range(sequential):
                flow = Flow(client, vip, 30000 + i, 80)
                isn = 7 + i
                t0 = time.perf_counter()
                ports[1].inject(_ack(flow, isn, opts))
                t1, _syn = _next_tcp(ports[2], "S")
                syn_lat.append(t1 - t0)
                synack = bytes(Ether(src=SERVER_MAC, dst=MAC2) / IP(src=RS_IP, dst=CLIENT_IP)
                               / TCP(sport=8080, dport=flow.sport, flags="SA", seq=5,
                                     ack=isn + 1, window=65160))
                t2 = time.perf_counter()
                ports[2].inject(synack)
                t3, _upd = _next_tcp(ports[1], "A")
                upd_lat.append(t3 - t2)
            for name, lat in (("client ACK -> server SYN", syn_lat),
                              ("server SYN/ACK -> window update", upd_lat)):
                print(f"{backend} back end, {name}: p50 {statistics.median(lat) * 1e3:.2f} ms, "
                      f"p99 {_pct(lat, 0.99) * 1e3:.2f} ms ({len(lat)} connections)")
        except queue.Empty:
            print(f"p4sim ({backend} back end) + controller: timed out waiting for packets")


__all__ = ["setup_rate_fake", "setup_p4sim", "switch_and_controller"]
