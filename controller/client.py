"""A small synchronous P4Runtime client: one channel, one stream, a reader thread.

Used by the PTF base test, the integration tests and the operator tools. It works
against any P4Runtime server (p4sim, bmv2's simple_switch_grpc).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import code_pb2, status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

log = logging.getLogger(__name__)

_STREAM_KINDS = ("arbitration", "packet", "digest", "idle_timeout_notification", "error")


@dataclass
class UpdateError:
    index: int
    code: int
    message: str

    def __str__(self) -> str:
        return f"update #{self.index}: {code_pb2.Code.Name(self.code)}: {self.message}"


UPDATE_INDEX_SPACE = "p4sim.index"


class P4RuntimeWriteError(Exception):
    """A Write that failed; `errors` holds one entry per failed update."""

    def __init__(self, rpc_error: grpc.RpcError) -> None:
        self.code = rpc_error.code()
        self.errors: list[UpdateError] = []
        for key, value in rpc_error.trailing_metadata() or ():
            if key != "grpc-status-details-bin":
                continue
            status = status_pb2.Status.FromString(value)
            for i, detail in enumerate(status.details):
                err = p4runtime_pb2.Error()
                if detail.Unpack(err) and err.canonical_code != code_pb2.OK:
                    # Failed updates only, each naming its index (p4sim/write_status.py).
                    index = err.code if err.space == UPDATE_INDEX_SPACE else i
                    self.errors.append(UpdateError(index, err.canonical_code, err.message))
        text = "; ".join(map(str, self.errors)) or rpc_error.details() or str(self.code)
        super().__init__(f"P4Runtime write failed ({self.code.name}): {text}")


class P4RuntimeClient:
    """Connects, arbitrates and exchanges stream messages with one device."""

    def __init__(self, address: str, device_id: int = 0, election_id: int = 1) -> None:
        self.address = address
        self.device_id = device_id
        self.election_id = election_id
        self.channel: grpc.Channel | None = None
        self.stub: p4runtime_pb2_grpc.P4RuntimeStub | None = None
        self._requests: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self._queues: dict[str, queue.Queue] = {k: queue.Queue() for k in _STREAM_KINDS}
        self._reader: threading.Thread | None = None
        self._stream: Any = None
        self.is_primary = False

    # ------------------------------------------------------------------ connection

    def connect(self, timeout: float = 10.0, require_primary: bool = True) -> p4runtime_pb2.MasterArbitrationUpdate:
        """Open the channel and stream, send arbitration, wait for the answer."""
        self.channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self._stream = self.stub.StreamChannel(self._request_iter())
        self._reader = threading.Thread(target=self._read_stream, daemon=True,
                                        name=f"p4rt-stream-{self.address}")
        self._reader.start()
        self.send_arbitration()
        upd = self.get_stream("arbitration", timeout)
        if upd is None:
            raise TimeoutError(f"no arbitration answer from {self.address} in {timeout}s")
        self.is_primary = upd.status.code == code_pb2.OK
        if require_primary and not self.is_primary:
            raise PermissionError(f"not primary on {self.address}: {upd.status.message}")
        return upd

    def send_arbitration(self) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.arbitration.device_id = self.device_id
        req.arbitration.election_id.high = self.election_id >> 64
        req.arbitration.election_id.low = self.election_id & ((1 << 64) - 1)
        self._requests.put(req)

    def _request_iter(self) -> Iterator[p4runtime_pb2.StreamMessageRequest]:
        while True:
            req = self._requests.get()
            if req is None:
                return
            yield req

    def _read_stream(self) -> None:
        try:
            for resp in self._stream:
                kind = resp.WhichOneof("update")
                if kind in self._queues:
                    self._queues[kind].put(getattr(resp, kind))
                else:
                    log.debug("ignored stream message %s", kind)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                log.warning("stream to %s ended: %s", self.address, e.details())

    def close(self) -> None:
        self._requests.put(None)
        if self._stream is not None:
            self._stream.cancel()
        if self.channel is not None:
            self.channel.close()
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __enter__(self) -> P4RuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ unary RPCs

    def _eid(self) -> p4runtime_pb2.Uint128:
        return p4runtime_pb2.Uint128(high=self.election_id >> 64,
                                     low=self.election_id & ((1 << 64) - 1))

    def set_pipeline(self, p4info: p4info_pb2.P4Info, device_config: bytes,
                     action: str = "VERIFY_AND_COMMIT") -> None:
        assert self.stub is not None, "connect() first"
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.device_id, election_id=self._eid(),
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.Action.Value(action))
        req.config.p4info.CopyFrom(p4info)
        req.config.p4_device_config = device_config
        self.stub.SetForwardingPipelineConfig(req)

    def get_p4info(self) -> p4info_pb2.P4Info:
        assert self.stub is not None, "connect() first"
        req = p4runtime_pb2.GetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.P4INFO_AND_COOKIE)
        return self.stub.GetForwardingPipelineConfig(req).config.p4info

    def write(self, updates: Iterable[p4runtime_pb2.Update]) -> None:
        """Send updates in one Write; raise P4RuntimeWriteError listing failed ones."""
        assert self.stub is not None, "connect() first"
        req = p4runtime_pb2.WriteRequest(device_id=self.device_id, election_id=self._eid())
        req.updates.extend(updates)
        if not req.updates:
            return
        try:
            self.stub.Write(req)
        except grpc.RpcError as e:
            raise P4RuntimeWriteError(e) from None

    def read(self, entities: Iterable[p4runtime_pb2.Entity]) -> list[p4runtime_pb2.Entity]:
        assert self.stub is not None, "connect() first"
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.extend(entities)
        out: list[p4runtime_pb2.Entity] = []
        for resp in self.stub.Read(req):
            out.extend(resp.entities)
        return out

    # ------------------------------------------------------------------ stream

    def get_stream(self, kind: str, timeout: float | None = None):
        """The next stream message of `kind` ('packet', 'digest', 'arbitration',
        'idle_timeout_notification', 'error'), or None after `timeout`."""
        try:
            return self._queues[kind].get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, kind: str) -> list:
        out = []
        while True:
            try:
                out.append(self._queues[kind].get_nowait())
            except queue.Empty:
                return out

    def packet_out(self, msg: p4runtime_pb2.PacketOut) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.packet.CopyFrom(msg)
        self._requests.put(req)

    def ack_digest(self, digest_list: p4runtime_pb2.DigestList) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.digest_ack.digest_id = digest_list.digest_id
        req.digest_ack.list_id = digest_list.list_id
        self._requests.put(req)
