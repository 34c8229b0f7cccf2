"""A fake P4Runtime switch that only accepts: arbitration always succeeds, writes are
counted (optionally slowed down), reads return nothing, and the test injects digest
lists. It measures and tests the controller's batching without a data plane.

Requests arrive as bytes and are parsed with the generated classes here, so that a
test can also inject stream messages that do not parse (`out` takes bytes).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
from p4.v1 import p4runtime_pb2 as pb

_SVC = "p4.v1.P4Runtime"


class FakeSwitch:
    def __init__(self, write_delay: float = 0.0, bmv2_like: bool = False) -> None:
        """`bmv2_like`: answer as bmv2's P4Runtime server (PI) does where it differs:
        GetForwardingPipelineConfig is FAILED_PRECONDITION until a pipeline was set,
        and every Read is UNIMPLEMENTED (the only reads it gets are of registers)."""
        self.write_delay = write_delay
        self.bmv2_like = bmv2_like
        self.pipeline_set = threading.Event()
        self.writes: list[int] = []  # updates per Write
        self.requests: list[pb.WriteRequest] = []  # every Write, parsed
        self.packet_outs: queue.Queue[tuple[float, pb.PacketOut]] = queue.Queue()
        self.acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.out: queue.Queue[bytes | None] = queue.Queue()
        self.connected = threading.Event()
        self._writes_flow = threading.Event()  # cleared: Writes get no answer
        self._writes_flow.set()
        self._reads_to_stall = 0  # the next this many Reads get no answer
        self.reads = 0  # Reads received
        self._list_id = 0
        self._server: grpc.Server | None = None

    # ------------------------------------------------------------------ gRPC

    def start(self, address: str) -> None:
        raw: dict[str, Any] = {"request_deserializer": None, "response_serializer": None}
        handlers = {
            "StreamChannel": grpc.stream_stream_rpc_method_handler(self._stream, **raw),
            "Write": grpc.unary_unary_rpc_method_handler(self._write, **raw),
            "Read": grpc.unary_stream_rpc_method_handler(self._read, **raw),
            "GetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler(
                self._get_config, **raw),
            "SetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler(
                self._set_config, **raw),
        }
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[
            ("grpc.max_receive_message_length", 256 << 20)])
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SVC, handlers),))
        server.add_insecure_port(address)
        server.start()
        self._server = server

    def stop(self) -> None:
        self.out.put(None)
        if self._server is not None:
            self._server.stop(0.5).wait(2)

    def _stream(self, requests: Iterator[bytes], ctx: grpc.ServicerContext) -> Iterator[bytes]:
        # The newest stream is the one `out` feeds (a reconnecting client's old one ends).
        old, out = self.out, queue.Queue[bytes | None]()
        self.out = out
        old.put(None)

        def consume() -> None:
            try:
                self._consume(requests, out)
            except grpc.RpcError:
                pass  # the stream was closed

        threading.Thread(target=consume, daemon=True).start()
        while (msg := out.get()) is not None:
            yield msg

    def _consume(self, requests: Iterator[bytes], out: queue.Queue[bytes | None]) -> None:
        for data in requests:
            req = pb.StreamMessageRequest.FromString(data)
            kind = req.WhichOneof("update")
            if kind == "arbitration":  # always primary
                resp = pb.StreamMessageResponse()
                resp.arbitration.CopyFrom(req.arbitration)
                resp.arbitration.status.code = 0
                out.put(resp.SerializeToString())
                self.connected.set()
            elif kind == "packet":
                self.packet_outs.put((time.perf_counter(), req.packet))
            elif kind == "digest_ack":
                self.acks.put((req.digest_ack.digest_id, req.digest_ack.list_id))

    def stall_writes(self) -> None:
        """From now on a Write gets no answer (until `resume_writes`, or 60 s)."""
        self._writes_flow.clear()

    def resume_writes(self) -> None:
        self._writes_flow.set()

    def _write(self, req: bytes, ctx: grpc.ServicerContext) -> bytes:
        if not self._writes_flow.is_set():
            self._writes_flow.wait(60)
            return b""  # late: the client gave up long ago, nothing is applied
        parsed = pb.WriteRequest.FromString(req)
        self.requests.append(parsed)
        self.writes.append(len(parsed.updates))
        if self.write_delay:
            time.sleep(self.write_delay)
        return b""

    def stall_reads(self, n: int) -> None:
        """The next `n` Reads get no answer (each is held until its client gives up)."""
        self._reads_to_stall = n

    def _read(self, req: bytes, ctx: grpc.ServicerContext) -> Iterator[bytes]:
        self.reads += 1
        if self._reads_to_stall > 0:
            self._reads_to_stall -= 1
            deadline = time.monotonic() + 60
            while ctx.is_active() and time.monotonic() < deadline:
                time.sleep(0.02)
            return iter(())
        if self.bmv2_like:
            ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "Register reads are not supported yet")
        return iter(())

    def _get_config(self, req: bytes, ctx: grpc.ServicerContext) -> bytes:
        if self.bmv2_like and not self.pipeline_set.is_set():
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION,
                      "No forwarding pipeline config set for this device")
        return b""

    def _set_config(self, req: bytes, ctx: grpc.ServicerContext) -> bytes:
        self.pipeline_set.set()
        return b""

    # ------------------------------------------------------------------ digests

    def send_digest_list(self, digest_id: int, rows: list[list[int]]) -> int:
        self.out.put(self.digest_list(digest_id, rows))
        return self._list_id

    def digest_list(self, digest_id: int, rows: list[list[int]]) -> bytes:
        """A serialised stream message carrying `rows` as the next digest list."""
        self._list_id += 1
        msg = pb.StreamMessageResponse()
        dl = msg.digest
        dl.digest_id, dl.list_id = digest_id, self._list_id
        for row in rows:
            members = dl.data.add().struct.members
            for v in row:
                members.add().bitstring = v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")
        return msg.SerializeToString()

    def time_setups(self, digest_id: int, n: int) -> float:
        """Send `cookie_rows(n)` in digest lists of 256 and wait for n PacketOuts; the
        seconds from the first list to the last PacketOut. The lists are encoded before
        the clock starts: the figure is the controller's."""
        rows = cookie_rows(n)
        lists = [self.digest_list(digest_id, rows[i:i + 256]) for i in range(0, n, 256)]
        t0 = time.perf_counter()
        for data in lists:
            self.out.put(data)
        last = t0
        for _ in range(n):
            last, _body = self.packet_outs.get(timeout=120)
        return last - t0


def cookie_rows(n: int, service_id: int = 1, base_port: int = 1024) -> list[list[int]]:
    """n distinct validated-handshake digests (cookie_ack_digest_t member order)."""
    client, vip = 0x0A000001, 0xC0A80A0A
    rows = []
    for i in range(n):
        cport = base_port + i % 60000
        client_i = client + i // 60000
        rows.append([client_i, vip, cport, 80, 1000 + i, 0x5000 + i, 1460, 7, 1, 1, 0, 0,
                     502, 7000 + i, 8000, 1, service_id, 0, 0])
    return rows


def main() -> None:
    """Serve on argv[1]; on a line `go N DIGEST_ID` from stdin send N digests in lists of
    256 and print `done SECONDS WRITES` once N PacketOuts came back (the controller
    benchmark runs the fake in its own process so that the two do not share a GIL)."""
    import sys

    fake = FakeSwitch()
    fake.start(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] != "go":
            break
        n, did = int(parts[1]), int(parts[2])
        before = len(fake.writes)
        dt = fake.time_setups(did, n)
        print(f"done {dt:.6f} {len(fake.writes) - before}", flush=True)
    fake.stop()


if __name__ == "__main__":
    main()
