"""The link to the switch: it owns the P4Runtime connection and its stream, claims
and keeps mastership, and hands what the switch sends upward through queues.

* `digests`: DigestLists (each acknowledged on receipt: the switch may then report
  the same handshake again, which the session table turns into a no-op);
* `packet_ins`: PacketIns;
* `idle`: IdleTimeoutNotifications;
* `roles`: True / False on each change of mastership (also `is_primary`).

A message that does not parse, and stream errors, are counted and the stream goes
on. `packet_out` sends a frame for the pipeline to route.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2 as pb

from .metrics import Metrics
from .p4rt import Connection, Deadlines

log = logging.getLogger("controller")


class StreamLost(Exception):
    pass


class Link:
    def __init__(self, address: str, device_id: int, election_id: int,
                 packet_out_metadata: list[pb.PacketMetadata], *, deadlines: Deadlines,
                 metrics: Metrics, stats: dict[str, int]) -> None:
        self.address = address
        self.device_id = device_id
        self.election_id = election_id
        self.deadlines = deadlines
        self.metrics = metrics
        self.stats = stats
        for k in ("bad_messages", "stream_errors"):
            stats.setdefault(k, 0)
        self._packet_out = pb.StreamMessageRequest()  # copied for every PacketOut
        self._packet_out.packet.metadata.extend(packet_out_metadata)
        self.conn: Connection | None = None
        self.is_primary = False
        self.digests: asyncio.Queue[pb.DigestList] = asyncio.Queue()
        self.packet_ins: asyncio.Queue[pb.PacketIn] = asyncio.Queue()
        self.idle: asyncio.Queue[pb.IdleTimeoutNotification] = asyncio.Queue()
        self.roles: asyncio.Queue[bool] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None

    async def open(self, ready_timeout: float = 10.0) -> Connection:
        """Connect, open the stream, ask for mastership and start reading."""
        conn = self.conn = Connection(self.address, self.device_id, self.election_id,
                                      self.deadlines)
        await conn.wait_ready(ready_timeout)
        conn.open_stream()
        conn.arbitrate()
        self.reader = asyncio.create_task(self._read(conn))
        return conn

    async def close(self) -> None:
        self._set_role(False)
        if self.reader is not None and not self.reader.done():
            self.reader.cancel()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        self.reader = None
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.close()

    def packet_out(self, frame: bytes) -> None:
        if self.conn is None:
            return
        msg = pb.StreamMessageRequest()
        msg.CopyFrom(self._packet_out)
        msg.packet.payload = frame
        self.conn.send(msg)

    # ------------------------------------------------------------------ the stream

    async def _read(self, conn: Connection) -> None:
        while True:
            try:
                msg = await conn.recv()
                if msg is None:
                    raise StreamLost("the switch closed the stream")
                self._dispatch(conn, msg)
            except (DecodeError, ValueError) as exc:
                self.stats["bad_messages"] += 1
                log.warning("event=bad_stream_message error=%r", str(exc))

    def _dispatch(self, conn: Connection, msg: pb.StreamMessageResponse) -> None:
        kind = msg.WhichOneof("update")
        if kind == "digest":
            dl = msg.digest
            ack = pb.StreamMessageRequest()
            ack.digest_ack.digest_id = dl.digest_id
            ack.digest_ack.list_id = dl.list_id
            conn.send(ack)
            self.digests.put_nowait(dl)
        elif kind == "packet":
            self.packet_ins.put_nowait(msg.packet)
        elif kind == "idle_timeout_notification":
            self.idle.put_nowait(msg.idle_timeout_notification)
        elif kind == "arbitration":
            self._on_arbitration(conn, msg.arbitration)
        elif kind == "error":
            self.stats["stream_errors"] += 1
            err = msg.error
            # A late ack for a list the switch already gave up on is harmless: the
            # switch repeats its digests and the flow lookup ignores them.
            level = logging.DEBUG if err.HasField("digest_list_ack") else logging.WARNING
            log.log(level, "event=stream_error code=%s message=%r",
                    code_pb2.Code.Name(err.canonical_code), err.message)

    def _on_arbitration(self, conn: Connection, upd: pb.MasterArbitrationUpdate) -> None:
        primary = upd.status.code == code_pb2.OK
        if not primary and upd.status.code == code_pb2.NOT_FOUND:
            # No primary any more (it went away). The switch remembers the highest
            # election id ever seen, so a backup takes over by claiming one above it.
            highest = (upd.election_id.high << 64) | upd.election_id.low
            if highest >= conn.election_id:
                conn.election_id = highest + 1
            log.info("event=takeover election_id=%d", conn.election_id)
            conn.arbitrate()
        if primary != self.is_primary:
            log.info("event=role role=%s election_id=%d", "primary" if primary else "backup",
                     conn.election_id)
        self._set_role(primary)

    def _set_role(self, primary: bool) -> None:
        changed = primary != self.is_primary
        self.is_primary = primary
        self.metrics.primary.set(int(primary))
        if changed:
            self.roles.put_nowait(primary)
