"""An asyncio P4Runtime connection (grpc.aio) on the generated stubs.

One channel and one StreamChannel to one device. Every unary call carries a deadline
(`Deadlines`): a switch that stops answering makes the call fail with
DEADLINE_EXCEEDED instead of holding the caller forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc

log = logging.getLogger("controller.p4rt")

MAX_MESSAGE = 256 * 1024 * 1024


@dataclass(frozen=True)
class Deadlines:
    """Seconds each kind of RPC may take before it is given up (DEADLINE_EXCEEDED)."""

    write: float = 5.0
    read: float = 10.0
    pipeline: float = 60.0  # Get/SetForwardingPipelineConfig (a push compiles)


class MalformedMessage(DecodeError):
    """A stream message from the switch that does not parse (the stream goes on)."""


_MALFORMED = object()  # what the stream's deserializer hands on for such a message


def _parse_stream_message(data: bytes) -> object:
    try:
        return pb.StreamMessageResponse.FromString(data)
    except DecodeError:
        return _MALFORMED


class RpcTimeout(Exception):
    """An RPC that did not complete within its deadline. For a Write, whether the
    switch applied it is unknown: the caller retries or undoes it, and says so."""


def _timeout(exc: grpc.aio.AioRpcError, what: str, seconds: float) -> Exception:
    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return RpcTimeout(f"{what}: no answer within {seconds:g} s")
    return exc


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


def uint128(value: int) -> pb.Uint128:
    return pb.Uint128(high=value >> 64, low=value & ((1 << 64) - 1))


class Connection:
    """One channel and one stream to one device."""

    def __init__(self, address: str, device_id: int, election_id: int,
                 deadlines: Deadlines | None = None) -> None:
        self.address = address
        self.device_id = device_id
        self.election_id = election_id
        self.deadlines = deadlines or Deadlines()
        self.channel = grpc.aio.insecure_channel(address, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE)])
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self._outbox: asyncio.Queue[pb.StreamMessageRequest | None] = asyncio.Queue()
        self._call: grpc.aio.StreamStreamCall | None = None
        self._writer: asyncio.Task[None] | None = None

    async def wait_ready(self, timeout: float) -> None:
        await asyncio.wait_for(self.channel.channel_ready(), timeout)

    # ------------------------------------------------------------------ stream

    async def _write_stream(self, call: grpc.aio.StreamStreamCall) -> None:
        """Send what `send` queued, one `call.write` each. (A request iterator handed
        to the call costs an async generator step and more event loop round trips per
        message; with one PacketOut per session that is the session rate's ceiling.)"""
        outbox = self._outbox
        try:
            while True:
                msg = await outbox.get()
                if msg is None:
                    await call.done_writing()
                    return
                await call.write(msg)
        except (grpc.RpcError, asyncio.InvalidStateError, grpc.aio.UsageError):
            return  # the stream ended: `recv` reports it

    def open_stream(self) -> None:
        # The generated stub's StreamChannel, except that a message that does not parse
        # is reported by `recv` instead of ending the whole stream.
        rpc = self.channel.stream_stream(
            "/p4.v1.P4Runtime/StreamChannel",
            request_serializer=pb.StreamMessageRequest.SerializeToString,
            response_deserializer=_parse_stream_message)
        self._call = rpc()
        self._writer = asyncio.get_running_loop().create_task(self._write_stream(self._call))

    async def recv(self) -> pb.StreamMessageResponse | None:
        """The next stream message; None when the stream ended. Raises
        MalformedMessage for one that does not parse (the next one may)."""
        assert self._call is not None
        msg = await self._call.read()
        if msg is grpc.aio.EOF:
            return None
        if msg is _MALFORMED:
            raise MalformedMessage("a stream message from the switch does not parse")
        return msg  # type: ignore[no-any-return]

    def send(self, msg: pb.StreamMessageRequest) -> None:
        self._outbox.put_nowait(msg)

    def arbitrate(self) -> None:
        req = pb.StreamMessageRequest()
        req.arbitration.device_id = self.device_id
        req.arbitration.election_id.CopyFrom(uint128(self.election_id))
        self.send(req)

    # ------------------------------------------------------------------ unary

    def write_request(self) -> pb.WriteRequest:
        """An empty WriteRequest of this connection (device, election id), for callers
        that build their updates in place."""
        req = pb.WriteRequest(device_id=self.device_id)
        req.election_id.CopyFrom(uint128(self.election_id))
        return req

    async def write(self, updates: Sequence[pb.Update]) -> None:
        """One WriteRequest; raises WriteError, or AioRpcError (DEADLINE_EXCEEDED...)."""
        if not updates:
            return
        req = self.write_request()
        req.updates.extend(updates)
        await self.send_write(req)

    async def send_write(self, req: pb.WriteRequest) -> None:
        """Send a WriteRequest built with `write_request`; raises as `write`."""
        if not req.updates:
            return
        try:
            await self.stub.Write(req, timeout=self.deadlines.write)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _timeout(exc, f"Write of {len(req.updates)} updates",
                               self.deadlines.write) from None
            if exc.code() == grpc.StatusCode.UNKNOWN or exc.trailing_metadata():
                raise _write_errors(exc) from None
            raise

    async def read(self, entities: Sequence[pb.Entity]) -> list[pb.Entity]:
        """Every entity the queries select (all ReadResponses of one Read)."""
        req = pb.ReadRequest(device_id=self.device_id, entities=entities)
        out: list[pb.Entity] = []
        try:
            async for resp in self.stub.Read(req, timeout=self.deadlines.read):
                out.extend(resp.entities)
        except grpc.aio.AioRpcError as exc:
            raise _timeout(exc, "Read", self.deadlines.read) from None
        return out

    async def get_config(self) -> pb.ForwardingPipelineConfig:
        req = pb.GetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            response_type=pb.GetForwardingPipelineConfigRequest.P4INFO_AND_COOKIE)
        try:
            resp = await self.stub.GetForwardingPipelineConfig(
                req, timeout=self.deadlines.pipeline)
        except grpc.aio.AioRpcError as exc:
            raise _timeout(exc, "GetForwardingPipelineConfig", self.deadlines.pipeline) from None
        return resp.config

    async def set_config(self, p4info: p4info_pb2.P4Info, device_config: bytes,
                         cookie: int) -> None:
        req = pb.SetForwardingPipelineConfigRequest(
            device_id=self.device_id, election_id=uint128(self.election_id),
            action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        req.config.p4info.CopyFrom(p4info)
        req.config.p4_device_config = device_config
        req.config.cookie.cookie = cookie
        try:
            await self.stub.SetForwardingPipelineConfig(req, timeout=self.deadlines.pipeline)
        except grpc.aio.AioRpcError as exc:
            raise _timeout(exc, "SetForwardingPipelineConfig", self.deadlines.pipeline) from None

    async def close(self) -> None:
        self._outbox.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        await self.channel.close()
