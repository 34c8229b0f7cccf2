"""Where the milliseconds of client ACK -> server SYN go, hop by hop (bench only).

The layout of `controller_p4sim` (p4sim in this process on memory ports, the
controller in its own), one connection at a time, with a timestamp at each hop on
both sides. The hooks wrap functions from the outside (nothing in p4sim or the
controller knows of them); both processes stamp with CLOCK_MONOTONIC
(`time.perf_counter_ns`), so their times compare. Per connection, each hop's first
stamp inside the connection's window counts; the figure is the median (and p90)
of the time from the previous hop.

    .venv/bin/python -m bench.latency_trace [--backend c|python] [-n 200]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAMPS: dict[str, list[int]] = defaultdict(list)
TRACE_ENV = "SYNPROXY_BENCH_TRACE"


def stamp(name: str) -> None:
    STAMPS[name].append(time.perf_counter_ns())


def _wrap(owner: Any, attr: str, before: str | None = None, after: str | None = None,
          when: Callable[..., bool] | None = None) -> None:
    fn = getattr(owner, attr)

    def wrapper(*args: Any, **kw: Any) -> Any:
        hit = when is None or when(*args, **kw)
        if hit and before:
            stamp(before)
        out = fn(*args, **kw)
        if hit and after:
            stamp(after)
        return out

    setattr(owner, attr, wrapper)


def _wrap_async(owner: Any, attr: str, before: str, after: str) -> None:
    fn = getattr(owner, attr)

    async def wrapper(*args: Any, **kw: Any) -> Any:
        stamp(before)
        try:
            return await fn(*args, **kw)
        finally:
            stamp(after)

    setattr(owner, attr, wrapper)


# ---------------------------------------------------------------- controller side

def hook_controller() -> None:
    from p4.v1 import p4runtime_pb2 as pb

    from controller import handshakes, link, p4rt

    _wrap(link.Link, "_dispatch", before="c.digest_in",
          when=lambda _self, _conn, msg: msg.WhichOneof("update") == "digest")
    _wrap(handshakes.Handshakes, "on_digest_list", before="c.digest_decoded")
    _wrap(handshakes.Handshakes, "_take_batch", before="c.batch_start", after="c.batch_built")
    _wrap_async(p4rt.Connection, "send_write", "c.write_sent", "c.write_returned")
    _wrap(link.Link, "packet_out", before="c.packet_out")

    def serialize(msg: pb.StreamMessageRequest) -> bytes:
        if msg.HasField("packet"):
            stamp("c.packet_out_serialised")
        return msg.SerializeToString()

    orig_open = p4rt.Connection.open_stream

    def open_stream(self: p4rt.Connection) -> None:
        # The stream's request serializer is ours (the channel method is wrapped for
        # the one call that makes the stream).
        make = self.channel.stream_stream

        def stream_stream(method: str, **kw: Any) -> Any:
            kw["request_serializer"] = serialize
            return make(method, **kw)

        self.channel.stream_stream = stream_stream  # type: ignore[method-assign]
        try:
            orig_open(self)
        finally:
            del self.channel.stream_stream

    p4rt.Connection.open_stream = open_stream  # type: ignore[method-assign]
    path = os.environ[TRACE_ENV]
    atexit.register(lambda: Path(path).write_text(json.dumps(STAMPS)))


def run_controller(argv: list[str]) -> int:
    hook_controller()
    from controller.cli import main

    return main(argv)


# ---------------------------------------------------------------- p4sim side

def hook_p4sim() -> None:
    from p4.v1 import p4runtime_pb2 as pb

    from p4sim import server, switch
    from p4sim.device import digests

    _wrap(digests.DigestEngine, "push", before="s.digest_pushed")
    orig_poll = digests.DigestEngine.poll

    def poll(self: digests.DigestEngine) -> Any:
        out = orig_poll(self)
        if out[0]:
            stamp("s.digest_list_made")
        return out

    digests.DigestEngine.poll = poll  # type: ignore[method-assign]
    orig_ser = server._serialize

    def serialize(msg: Any) -> bytes:
        if isinstance(msg, pb.StreamMessageResponse) and msg.HasField("digest"):
            stamp("s.digest_serialised")
        return orig_ser(msg)

    server._serialize = serialize
    _wrap_async(server._Servicer, "Write", "s.write_in", "s.write_answered")
    # `_write` where the server has it: both its inline and its worker path call it.
    applies = "_write" if hasattr(server.P4RuntimeServer, "_write") else "write"
    _wrap(server.P4RuntimeServer, applies, before="s.write_apply", after="s.write_applied")
    _wrap(server.P4RuntimeServer, "handle_stream_message", before="s.packet_out_in",
          when=lambda _s, _st, req: req.WhichOneof("update") == "packet")
    _wrap(switch.Switch, "_process", before="s.packet_out_pipeline",
          when=lambda self, port, _pkt: port == self.cpu_port)


ORDER = ["inject", "s.digest_pushed", "s.digest_list_made", "s.digest_serialised",
         "c.digest_in", "c.digest_decoded", "c.batch_start", "c.batch_built",
         "c.write_sent", "s.write_in", "s.write_apply", "s.write_applied",
         "s.write_answered", "c.write_returned", "c.packet_out", "c.packet_out_serialised",
         "s.packet_out_in", "s.packet_out_pipeline", "syn_out"]


def trace(backend: str, n: int) -> None:
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether

    from controller.cookie import Flow, encode_options

    from .controller_bench import CLIENT_IP, VIP, _ack, _next_tcp, switch_and_controller

    hook_p4sim()
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/ctl-trace.json"
        windows: list[tuple[int, int]] = []
        with switch_and_controller(backend, module="bench.latency_trace --controller",
                                   env={**os.environ, TRACE_ENV: out}) as (ports, _ctl):
            opts = encode_options(1460, 7, True, False)
            client = int.from_bytes(bytes(map(int, CLIENT_IP.split("."))), "big")
            vip = int.from_bytes(bytes(map(int, VIP.split("."))), "big")
            STAMPS.clear()
            for i in range(n):
                a = _ack(Flow(client, vip, 30000 + i, 80), 7 + i, opts)
                t0 = time.perf_counter_ns()
                stamp("inject")
                ports[1].inject(a)
                t1, frame = _next_tcp(ports[2], "S")
                assert TCP in Ether(frame)
                t1n = int(t1 * 1e9)
                STAMPS["syn_out"].append(t1n)
                windows.append((t0, t1n))
                time.sleep(0.002)  # let both sides go quiet
        stamps = dict(STAMPS)
        try:
            stamps.update(json.loads(Path(out).read_text()))
        except OSError:
            print("the controller wrote no trace")
    _report(backend, stamps, windows)


def _report(backend: str, stamps: dict[str, list[int]], windows: list[tuple[int, int]]) -> None:
    hops: dict[str, list[float]] = defaultdict(list)
    totals = []
    for lo, hi in windows:
        prev = lo
        totals.append((hi - lo) / 1e6)
        for name in ORDER[1:]:
            ts = [t for t in stamps.get(name, []) if lo <= t <= hi]
            if not ts:
                continue
            hops[name].append((ts[0] - prev) / 1e6)
            prev = ts[0]
    print(f"{backend} back end, client ACK -> server SYN, {len(windows)} connections: "
          f"p50 {statistics.median(totals):.3f} ms, p90 {_q(totals, 0.9):.3f} ms")
    print(f"  {'hop (time since the previous one)':44} {'p50 ms':>8} {'p90 ms':>8} {'n':>5}")
    for name in ORDER[1:]:
        v = hops.get(name)
        if v:
            print(f"  {name:44} {statistics.median(v):8.3f} {_q(v, 0.9):8.3f} {len(v):5d}")


def _q(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--controller":
        return run_controller(sys.argv[2:])
    ap = argparse.ArgumentParser(prog="python -m bench.latency_trace")
    ap.add_argument("--backend", default="c", choices=["c", "python"])
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    trace(args.backend, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
