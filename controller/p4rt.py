"""An asyncio P4Runtime connection (grpc.aio) that moves raw bytes on the hot path.

Requests and responses of Write, Read and the stream channel are passed as bytes
(`wire` encodes and decodes them), so the pure-Python protobuf runtime is only paid
for rare messages (arbitration, pipeline config, errors).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc
from google.rpc import code_pb2, status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import wire

log = logging.getLogger("controller.p4rt")

_SVC = "/p4.v1.P4Runtime/"
MAX_MESSAGE = 256 * 1024 * 1024
ARBITRATION, PACKET, DIGEST, IDLE, OTHER, ERROR = 1, 2, 3, 4, 5, 6


UPDATE_INDEX_SPACE = "p4sim.index"


class WriteError(Exception):
    """A Write with failed updates; `errors` maps update index -> (code, message)."""

    def __init__(self, errors: dict[int, tuple[int, str]], text: str) -> None:
        self.errors = errors
        super().__init__(text)


def _write_errors(exc: grpc.aio.AioRpcError) -> WriteError:
    errors: dict[int, tuple[int, str]] = {}
    for key, value in exc.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for i, detail in enumerate(status.details):
            err = pb.Error()
            if detail.Unpack(err) and err.canonical_code != code_pb2.OK:
                # A batch too large to report in full lists failed updates only, each
                # naming its index (p4sim's UPDATE_INDEX_SPACE, p4sim/write_status.py).
                index = err.code if err.space == UPDATE_INDEX_SPACE else i
                errors[index] = (err.canonical_code, err.message)
    text = "; ".join(f"#{i}: {code_pb2.Code.Name(c)}: {m}" for i, (c, m) in
                     sorted(errors.items())[:5]) or (exc.details() or str(exc.code()))
    return WriteError(errors, f"write failed ({exc.code().name}): {text}")


class Connection:
    """One channel and one stream to one device."""

    def __init__(self, address: str, device_id: int, election_id: int) -> None:
        self.address = address
        self.device_id = device_id
        self.election_id = election_id
        self.channel = grpc.aio.insecure_channel(address, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE)])
        raw = {"request_serializer": None, "response_deserializer": None}
        self._write = self.channel.unary_unary(_SVC + "Write", **raw)
        self._read = self.channel.unary_stream(_SVC + "Read", **raw)
        self._stream_rpc = self.channel.stream_stream(_SVC + "StreamChannel", **raw)
        self._set_config = self.channel.unary_unary(
            _SVC + "SetForwardingPipelineConfig",
            request_serializer=pb.SetForwardingPipelineConfigRequest.SerializeToString,
            response_deserializer=pb.SetForwardingPipelineConfigResponse.FromString)
        self._get_config = self.channel.unary_unary(
            _SVC + "GetForwardingPipelineConfig",
            request_serializer=pb.GetForwardingPipelineConfigRequest.SerializeToString,
            response_deserializer=pb.GetForwardingPipelineConfigResponse.FromString)
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._call: grpc.aio.StreamStreamCall | None = None

    async def wait_ready(self, timeout: float) -> None:
        await asyncio.wait_for(self.channel.channel_ready(), timeout)

    # ------------------------------------------------------------------ stream

    async def _requests(self) -> AsyncIterator[bytes]:
        while True:
            msg = await self._outbox.get()
            if msg is None:
                return
            yield msg

    def open_stream(self) -> None:
        self._call = self._stream_rpc(self._requests())

    async def recv(self) -> tuple[int, bytes] | None:
        """The next stream message as (kind, body); None when the stream ended."""
        assert self._call is not None
        msg = await self._call.read()
        if msg is grpc.aio.EOF:
            return None
        return wire.stream_kind(msg)

    def send_raw(self, msg: bytes) -> None:
        self._outbox.put_nowait(msg)

    def arbitrate(self) -> None:
        req = pb.StreamMessageRequest()
        req.arbitration.device_id = self.device_id
        req.arbitration.election_id.high = self.election_id >> 64
        req.arbitration.election_id.low = self.election_id & ((1 << 64) - 1)
        self.send_raw(req.SerializeToString())

    # ------------------------------------------------------------------ unary

    def _eid(self) -> pb.Uint128:
        return pb.Uint128(high=self.election_id >> 64, low=self.election_id & ((1 << 64) - 1))

    async def write(self, updates: list[bytes]) -> None:
        """One WriteRequest of hand-encoded updates; raises WriteError."""
        if not updates:
            return
        req = wire.write_request(self.device_id, self.election_id, updates)
        try:
            await self._write(req)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNKNOWN or exc.trailing_metadata():
                raise _write_errors(exc) from None
            raise

    async def write_pb(self, updates: list[pb.Update]) -> None:
        await self.write([u.SerializeToString() for u in updates])

    async def read(self, entities: list[bytes]) -> list[bytes]:
        """Raw ReadResponse messages for hand-encoded Entity queries."""
        out = []
        async for resp in self._read(wire.read_request(self.device_id, entities)):
            out.append(resp)
        return out

    async def read_pb(self, entities: list[pb.Entity]) -> list[pb.Entity]:
        resps = await self.read([e.SerializeToString() for e in entities])
        out: list[pb.Entity] = []
        for r in resps:
            out.extend(pb.ReadResponse.FromString(r).entities)
        return out

    async def get_config(self) -> pb.ForwardingPipelineConfig:
        req = pb.GetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            response_type=pb.GetForwardingPipelineConfigRequest.P4INFO_AND_COOKIE)
        resp = await self._get_config(req)
        return resp.config

    async def set_config(self, p4info: p4info_pb2.P4Info, device_config: bytes,
                         cookie: int) -> None:
        req = pb.SetForwardingPipelineConfigRequest(
            device_id=self.device_id, election_id=self._eid(),
            action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        req.config.p4info.CopyFrom(p4info)
        req.config.p4_device_config = device_config
        req.config.cookie.cookie = cookie
        await self._set_config(req)

    async def close(self) -> None:
        self._outbox.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
        await self.channel.close()
