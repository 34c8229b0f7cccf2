"""p4sim's P4Runtime server under load from other clients, in-process (memory ports).

* `read_during_traffic`: packets offered at a steady pace on one port and forwarded to
  the other by a one-line pipeline, while a client reads every cell of a 200,000-cell
  register (a wildcard RegisterEntry read): forwarded rate and the longest gap between
  two forwarded packets during the read, beside the same figures with no read running.
* `capabilities_with_idle_streams`: Capabilities round-trip time with 64 StreamChannels
  open that never arbitrate, beside the same with none.

Bounded: a few thousand packets, one read, a few hundred calls.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from typing import Any

import grpc
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc

from p4sim.device import DeviceState
from p4sim.ports import MemoryPort
from p4sim.switch import Switch

CELLS = 200_000
REGISTER_ID = 369098753
P4INFO = f"""
registers {{
  preamble {{ id: {REGISTER_ID} name: "ingress.cells" alias: "cells" }}
  type_spec {{ bitstring {{ bit {{ bitwidth: 32 }} }} }}
  size: {CELLS}
}}
"""
PACE_S = 0.0005  # one packet offered every 0.5 ms


class _Forward:
    """1 -> 2, counting into the register's first cell (a state access per packet)."""

    def __init__(self, device_config: bytes, p4i: Any, state: DeviceState, cpu_port: int) -> None:
        self.reg = state.registers["ingress.cells"]

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        self.reg.values[0] += 1
        return [(2, packet)] if port == 1 else []


def _switch() -> tuple[Switch, p4runtime_pb2_grpc.P4RuntimeStub, grpc.Channel, Any]:
    sw = Switch([MemoryPort(1), MemoryPort(2)], loader=_Forward)
    sw.start("127.0.0.1:0")
    channel = grpc.insecure_channel(f"127.0.0.1:{sw.server.port}")
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    out: queue.Queue[pb.StreamMessageRequest | None] = queue.Queue()
    arb = pb.StreamMessageRequest()
    arb.arbitration.device_id = 0
    arb.arbitration.election_id.low = 1
    out.put(arb)
    stream = stub.StreamChannel(iter(out.get, None))
    next(stream)  # arbitration answer: primary
    push = pb.SetForwardingPipelineConfigRequest(device_id=0, action=3)
    push.election_id.low = 1
    push.config.p4info.CopyFrom(text_format.Parse(P4INFO, p4info_pb2.P4Info()))
    push.config.p4_device_config = b"bench"
    stub.SetForwardingPipelineConfig(push)
    return sw, stub, channel, (out, stream)


def _traffic(sw: Switch, stop: threading.Event) -> tuple[int, float]:
    """Offer packets until `stop`; (forwarded, longest gap between two forwards, s)."""
    in_port, out_port = sw.ports[1], sw.ports[2]
    assert isinstance(in_port, MemoryPort) and isinstance(out_port, MemoryPort)
    times: list[float] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                out_port.sent.get(timeout=0.05)
            except queue.Empty:
                continue
            times.append(time.monotonic())

    rx = threading.Thread(target=receive, daemon=True)
    rx.start()
    start = time.monotonic()
    while not stop.is_set():
        in_port.inject(b"x" * 64)
        time.sleep(PACE_S)
    sw.wait_idle(5)
    done.set()
    rx.join()
    stamps = [start, *times]
    gap = max((b - a for a, b in zip(stamps, stamps[1:], strict=False)), default=0.0)
    return len(times), gap


def read_during_traffic() -> None:
    sw, stub, channel, keep = _switch()
    try:
        req = pb.ReadRequest(device_id=0)
        req.entities.add().register_entry.register_id = REGISTER_ID
        stop = threading.Event()
        result: dict[str, Any] = {}

        def read() -> None:
            t0 = time.monotonic()
            result["cells"] = sum(len(r.entities) for r in stub.Read(req, timeout=300))
            result["seconds"] = time.monotonic() - t0
            stop.set()

        reader = threading.Thread(target=read)
        reader.start()
        during, gap_during = _traffic(sw, stop)
        reader.join()
        seconds = result["seconds"]
        stop = threading.Event()
        threading.Timer(seconds, stop.set).start()
        idle, gap_idle = _traffic(sw, stop)
        print(f"wildcard read of {result['cells']} register cells: {seconds:.2f} s")
        print(f"{'':28} {'during the read':>16} {'no read':>10}")
        print(f"{'packets forwarded':28} {during:>16} {idle:>10}")
        print(f"{'forwarded per second':28} {during / seconds:>16.0f} {idle / seconds:>10.0f}")
        print(f"{'longest gap (ms)':28} {gap_during * 1e3:>16.1f} {gap_idle * 1e3:>10.1f}")
    finally:
        keep[0].put(None)
        channel.close()
        sw.stop()


def _capabilities_ms(stub: p4runtime_pb2_grpc.P4RuntimeStub, calls: int = 200) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        stub.Capabilities(pb.CapabilitiesRequest(), timeout=30)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def capabilities_with_idle_streams(idle: int = 64) -> None:
    sw, stub, channel, keep = _switch()
    streams = []
    try:
        alone = _capabilities_ms(stub)
        for _ in range(idle):
            out: queue.Queue[pb.StreamMessageRequest | None] = queue.Queue()
            streams.append((out, stub.StreamChannel(iter(out.get, None))))
        crowded = _capabilities_ms(stub)
        print(f"Capabilities, median ms: {crowded:.2f} with {idle} idle streams open, "
              f"{alone:.2f} with none")
    finally:
        for out, call in streams:
            out.put(None)
            call.cancel()
        keep[0].put(None)
        channel.close()
        sw.stop()


def server_under_load() -> None:
    read_during_traffic()
    capabilities_with_idle_streams()
