"""The controller: P4Runtime connection, start-up sync, and the per-session work.

Life cycle (C1, C9): connect, arbitrate, wait while backup; once primary, compare
the switch's pipeline with ours (P4Info and cookie) and push it only if it differs,
install the config idempotently, then either start fresh (pipeline just pushed) or
read back the sessions, registers and keys the switch holds and carry on. A lost
stream or a demotion stops the work; the loop reconnects and syncs again.

Per-session work (C2-C6) is batched: the stream reader only queues digests and
PacketIns; the batch worker turns everything queued into one WriteRequest, and
starts the next batch while earlier writes are still in flight (a few at a time).
PacketOuts for a session go out only after its entries were written. Freed slots
return to the free list only once their delete was written.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import install
from .admin import AdminMixin
from .config import Config, RealServer, Service
from .defence import AutoSwitch, FilterReset, KeyRing, KeyState
from .digests import (
    EV_CLIENT_ABORT,
    EV_ESTABLISHED,
    EV_SERVER_RESET,
    CookieAck,
    DigestDecoder,
    SessionEvent,
)
from .entities import counter_query
from .entities import update as ent_update
from .install import INSERT, MODIFY, SessionCodec, SessionParams, canonical
from .metrics import Metrics
from .p4info import P4InfoError, P4InfoIndex, load_p4info
from .p4rt import Connection, Deadlines, RpcTimeout, WriteError
from .scheduler import make_scheduler
from .sessions import Session, SessionTable, State, reuse_allowed, state_name
from .startup import StartupMixin
from .synpkt import client_rst, mac_bytes, parse_tcp, server_syn

log = logging.getLogger("controller")

MAX_INFLIGHT_WRITES = 4
PKTOUT_PIPELINE = 1
PUNT_EARLY_DATA, PUNT_COOKIE_DATA = 1, 2
EV_SYN_IN = 1
EVENTS_PER_SERVICE = 32
TICK = 0.05
POLL_SLICE_MAX = 512  # session_state cells read per tick at most


def pipeline_cookie(p4info_bytes: bytes, device_config: bytes) -> int:
    """A 64-bit fingerprint of our pipeline, stored as the config's cookie so a
    restarted controller can tell its own pipeline from another one."""
    h = hashlib.sha256(p4info_bytes + b"\0" + device_config).digest()
    return int.from_bytes(h[:8], "big") >> 1  # keep it positive in any signed reader


class StreamLost(Exception):
    pass


class StartupError(Exception):
    """The controller cannot start: a file is missing or is not the synproxy program."""


class Controller(StartupMixin, AdminMixin):
    def __init__(self, cfg: Config, *, clock: Callable[[], float] = time.monotonic,
                 metrics: Metrics | None = None, random_key: Callable[[], int] | None = None,
                 deadlines: Deadlines | None = None) -> None:
        self.cfg = cfg
        self.deadlines = deadlines or Deadlines()
        base = Path(cfg.path).parent if cfg.path else Path(".")
        where = f"{cfg.path or '<config>'}: switch"
        try:
            self.p4info = read_p4info(_resolve(base, cfg.switch.p4info))
        except (OSError, text_format.ParseError, json_format.ParseError, DecodeError) as e:
            raise StartupError(f"{where}.p4info: cannot load '{cfg.switch.p4info}': {e}") from None
        try:
            self.device_config = _resolve(base, cfg.switch.device_config).read_bytes()
        except OSError as e:
            raise StartupError(f"{where}.device_config: cannot read: {e.strerror}") from None
        self.cookie = pipeline_cookie(self.p4info.SerializeToString(deterministic=True),
                                      self.device_config)
        self.p4 = P4InfoIndex(self.p4info)
        try:
            self.codec = SessionCodec(self.p4, cfg.sessions.timeouts.established)
            self.decoder = DigestDecoder(self.p4)
            self.p4.table("services")
            self.p4.table("cookie_keys")
            self.p4.table("defense")
            self.p4.table("passthrough_epoch")
        except (P4InfoError, KeyError) as e:
            raise StartupError(f"{where}.p4info: not the synproxy program: {e}") from None
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.table = SessionTable(cfg.sessions)
        self.services: dict[int, Service] = {}
        self.schedulers: dict[int, Any] = {}
        self.auto: dict[int, AutoSwitch] = {}
        for i, s in enumerate(cfg.services):
            self._set_service(i + 1, s)
        first_key = int.from_bytes(cfg.cookie.key, "little") if cfg.cookie.key else None
        self.keys = KeyRing(cfg.cookie.rotate_seconds, first_key, random_key)
        self.filter_reset = FilterReset(cfg.sessions.timeouts.established, clock())
        out_md = {m.name: m.id for m in self.p4.packet_metadata("packet_out").metadata}
        # Every PacketOut of the controller: port 0 (the pipeline routes it), flags 1.
        self._pktout_md = [pb.PacketMetadata(metadata_id=out_md["egress_port"], value=b"\x00"),
                           pb.PacketMetadata(metadata_id=out_md["flags"],
                                             value=canonical(PKTOUT_PIPELINE))]
        in_md = {m.name: m.id for m in self.p4.packet_metadata("packet_in").metadata}
        self._pktin_reason, self._pktin_port = in_md["reason"], in_md["ingress_port"]
        # Register reads are optional (bmv2 has none through P4Runtime): probed at every
        # sync; None until the first probe.
        self.register_reads: bool | None = None
        self.passthrough_epoch = 1  # the `passthrough_epoch` default action's epoch
        self._state_queries: dict[int, tuple[bytes, bytes]] = {}  # slot -> state, gen reads
        self._poll_round: list[int] = []  # slots still to read in this state-poll round
        self._poll_slice = 1
        self._svc_counter = self.p4.get("counters", "service_events").preamble.id
        self._global_counter = self.p4.get("counters", "global_events").preamble.id
        self.conn: Connection | None = None
        self.is_primary = False
        self.synced = asyncio.Event()
        self._role = asyncio.Event()
        self._work = asyncio.Event()
        self._cookies: list[tuple[CookieAck, float]] = []
        self._events: list[SessionEvent] = []
        self._frees: list[tuple[Session, str]] = []
        self._writes = asyncio.Semaphore(MAX_INFLIGHT_WRITES)
        self._inflight: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.stats: dict[str, int] = {"duplicate_digests": 0, "unknown_service": 0,
                                      "no_real_server": 0, "stream_errors": 0,
                                      "reconnects": 0, "failed_installs": 0,
                                      "bad_messages": 0, "stale_events": 0,
                                      "write_timeouts": 0, "refused_full": 0}

    # ================================================================== services

    def _set_service(self, sid: int, s: Service) -> None:
        if not 0 < sid < 256:
            raise ValueError("service ids are 1..255 (counter index)")
        self.services[sid] = s
        self.schedulers[sid] = make_scheduler(s.scheduler, s.real_servers)
        if s.mode == "auto":
            self.auto.setdefault(sid, AutoSwitch(s.auto))
        else:
            self.auto.pop(sid, None)

    def service_id(self, name: str) -> int:
        for sid, s in self.services.items():
            if s.name == name:
                return sid
        raise KeyError(f"no service named '{name}'")

    # ================================================================== main loop

    async def run(self) -> None:
        """Run until `stop()`: (re)connect, arbitrate, sync, work."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                await self._connection_once()
                backoff = 0.1
            except (TimeoutError, RpcTimeout, grpc.aio.AioRpcError, StreamLost, OSError) as exc:
                log.warning("event=connection_lost address=%s error=%r",
                            self.cfg.switch.address, _short(exc))
            except WriteError as exc:
                # The switch refused part of the config (e.g. a table is full): say so,
                # and try again, since the operator may fix it or free space.
                log.error("event=sync_failed error=%r", str(exc)[:500])
            except Exception:  # noqa: BLE001 - the controller stays up and retries
                log.exception("event=internal_error")
            finally:
                await self._teardown()
            if self._stop.is_set():
                break
            self.stats["reconnects"] += 1
            try:
                await asyncio.wait_for(self._stop.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    def stop(self) -> None:
        self._stop.set()
        self._role.set()

    async def _teardown(self) -> None:
        self.is_primary = False
        self.metrics.primary.set(0)
        self.synced.clear()
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.close()

    async def _connection_once(self) -> None:
        sw = self.cfg.switch
        conn = self.conn = Connection(sw.address, sw.device_id, sw.election_id, self.deadlines)
        await conn.wait_ready(10.0)
        conn.open_stream()
        conn.arbitrate()
        reader = asyncio.create_task(self._reader(conn))
        stopper = asyncio.create_task(self._stop.wait())
        try:
            while not reader.done() and not self._stop.is_set():
                if not self.is_primary:
                    log.info("event=awaiting_primary election_id=%d", conn.election_id)
                    await self._wait_role(reader, stopper, want=True)
                    continue
                await self._sync(conn)
                workers = [asyncio.create_task(self._batch_worker(conn)),
                           asyncio.create_task(self._timers(conn))]
                self.synced.set()
                await self._wait_role(reader, stopper, want=False, also=workers)
                self.synced.clear()
                for w in workers:
                    w.cancel()
                for w in workers:
                    try:
                        await w
                    except asyncio.CancelledError:
                        pass
                    except Exception as exc:  # noqa: BLE001 - report, then reconnect
                        log.error("event=worker_failed error=%r", _short(exc))
                        raise StreamLost(str(exc)) from exc
        finally:
            stopper.cancel()
            if not reader.done():
                reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        if not self._stop.is_set():
            raise StreamLost("stream ended")

    async def _wait_role(self, reader: asyncio.Task[None], stopper: asyncio.Task[Any], *,
                         want: bool, also: list[asyncio.Task[None]] | None = None) -> None:
        while self.is_primary != want:
            self._role.clear()
            role = asyncio.create_task(self._role.wait())
            done, _ = await asyncio.wait([reader, stopper, role, *(also or [])],
                                         return_when=asyncio.FIRST_COMPLETED)
            role.cancel()
            if reader in done or stopper in done or any(t in done for t in also or []):
                return

    # ================================================================== stream reader

    async def _reader(self, conn: Connection) -> None:
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
            self._on_digest(msg.digest)
        elif kind == "packet":
            self._on_packet_in(conn, msg.packet)
        elif kind == "arbitration":
            self._on_arbitration(conn, msg.arbitration)
        elif kind == "idle_timeout_notification":
            self._on_idle(msg.idle_timeout_notification)
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
        self.is_primary = primary
        self.metrics.primary.set(int(primary))
        self._role.set()

    def _on_digest(self, dl: pb.DigestList) -> None:
        did, lid, items = self.decoder.decode(dl)
        now = self.clock()
        for d in items:
            if isinstance(d, CookieAck):
                self._cookies.append((d, now))
                self.metrics.digests.labels("cookie_ack").inc()
            else:
                self._events.append(d)
                self.metrics.digests.labels("session_event").inc()
        # Acknowledged at once: the switch may then report the same handshake again
        # (a client retransmitting its ACK), which the flow lookup turns into a no-op.
        if self.conn is not None:
            ack = pb.StreamMessageRequest()
            ack.digest_ack.digest_id = did
            ack.digest_ack.list_id = lid
            self.conn.send(ack)
        self._work.set()

    def _on_packet_in(self, conn: Connection, pkt: pb.PacketIn) -> None:
        frame = pkt.payload
        reason = next((int.from_bytes(m.value, "big") for m in pkt.metadata
                       if m.metadata_id == self._pktin_reason), 0)
        if reason not in (PUNT_EARLY_DATA, PUNT_COOKIE_DATA):
            return
        tcp = parse_tcp(frame)
        if tcp is None:
            return
        flow = (tcp.src, tcp.dst, tcp.sport, tcp.dport)
        new = reason == PUNT_COOKIE_DATA
        # COOKIE_DATA: the connection is the one of cookie ack - 1. The switch punts it
        # until the session is installed, so it may find the session already waiting
        # for the server, or even established (C4).
        cookie = (tcp.ack - 1) & 0xFFFFFFFF if new else None
        if self.table.hold(flow, frame, tcp.seq, tcp.payload_len, self.clock(),
                           new_connection=new, cookie=cookie):
            self.metrics.early_held.inc()
            return
        s = self.table.by_flow.get(flow)
        if (s is not None and s.state != State.SYN_SENT
                and (cookie is None or s.cookie == cookie)):
            # The session came up while this segment was on its way: deliver it now.
            self._packet_out(conn, frame)
            self.metrics.early_released.inc()
        else:
            self.metrics.early_dropped.inc()

    def _on_idle(self, note: pb.IdleTimeoutNotification) -> None:
        now = self.clock()
        for te in note.table_entry:
            if te.table_id != self.codec.table_id:
                continue
            key = self.codec.key_of(te)
            s = self.table.by_flow.get(key)
            direction = "client"
            if s is None:
                direction = "server"
                s = next((x for x in self.table.by_slot.values()
                          if self.codec.server_key(x) == key), None)
            if s is not None and s.state != State.SYN_SENT and self.table.idle(s, direction, now):
                self._free(s, "idle")
                self._work.set()

    # ================================================================== batching (C2-C6)

    def _packet_out(self, conn: Connection, frame: bytes) -> None:
        msg = pb.StreamMessageRequest()
        out = msg.packet
        out.payload = frame
        out.metadata.extend(self._pktout_md)
        conn.send(msg)

    async def _batch_worker(self, conn: Connection) -> None:
        try:
            while True:
                await self._work.wait()
                self._work.clear()
                await self._writes.acquire()
                try:
                    batch = self._take_batch(conn)
                except BaseException:
                    self._writes.release()
                    raise
                task = asyncio.create_task(self._commit(conn, batch))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        finally:
            for t in list(self._inflight):
                t.cancel()

    def _free(self, s: Session, reason: str) -> None:
        """Queue a session's removal for the next batch."""
        if self.table.by_slot.get(s.slot) is s:
            self.table.release(s)
            self._frees.append((s, reason))

    def _take_batch(self, conn: Connection) -> _Batch:
        batch = _Batch(conn.write_request())
        now = self.clock()
        events, self._events = self._events, []
        cookies, self._cookies = self._cookies, []
        for ev in events:
            self._on_session_event(conn, ev, now)
        frees, self._frees = self._frees, []
        for s, reason in frees:
            self.codec.remove(batch.updates, s)
            batch.freed.append((s, reason))
        for ck, received in cookies:
            self._on_cookie(ck, received, now, batch)
        return batch

    def _on_session_event(self, conn: Connection, ev: SessionEvent, now: float) -> None:
        """A state change of a slot (C6). Only the session's current gen counts: a
        digest of an earlier incarnation of the slot (freed or restarted since) is
        dropped."""
        s = self.table.by_slot.get(ev.slot)
        if s is None or (s.flow[0], s.flow[2]) != (ev.client_addr, ev.client_port):
            return
        if ev.gen != s.gen:
            self.stats["stale_events"] += 1
            return
        if ev.event == EV_ESTABLISHED:
            frames = self.table.established(s, now)
            for f in frames:
                self._packet_out(conn, f)
            self.metrics.early_released.inc(len(frames))
        elif ev.event in (EV_SERVER_RESET, EV_CLIENT_ABORT):
            self._free(s, "server_reset" if ev.event == EV_SERVER_RESET else "client_abort")
        elif ev.state != State.NONE:
            self.table.set_state(s, ev.state, now)

    def _pick(self, sid: int, svc: Service, flow: tuple[int, int, int, int]) -> RealServer | None:
        if not svc.nat:
            return RealServer(svc.vip, svc.port)
        return self.schedulers[sid].pick((flow[0], flow[2], flow[1], flow[3]))

    def _on_cookie(self, ck: CookieAck, received: float, now: float, batch: _Batch) -> None:
        svc = self.services.get(ck.service_id)
        if svc is None:
            self.stats["unknown_service"] += 1
            return
        flow = ck.flow
        existing = self.table.by_flow.get(flow)
        client_kind = INSERT
        if existing is not None and existing.cookie == ck.handshake.cookie:
            # The same handshake again: a resent ACK, or a later segment the switch
            # validated from its pending entry (C4); reported with old_slot too when
            # the session was closing before this connection restarted it (C5).
            self.stats["duplicate_digests"] += 1
            return
        if ck.old_slot:
            if not reuse_allowed(self.cfg.sessions.reuse, ck.old_state):
                self.metrics.reuse.labels("refused").inc()
                return
            self.metrics.reuse.labels("restarted").inc()
            if existing is not None:
                # Restart in place: same slot; the client entry is modified, and the
                # server entry too, or replaced when another real server is picked.
                rs = self._pick(ck.service_id, svc, flow)
                if rs is None:
                    self.stats["no_real_server"] += 1
                    return
                old_server = self.codec.server_key(existing)
                h = ck.handshake
                self.table.restart(existing, rs_addr=install.ip(rs.address), rs_port=rs.port,
                                   cookie=h.cookie, client_isn=h.client_isn, handshake=h,
                                   now=now, ingress_port=ck.ingress_port)
                moved = self.codec.server_key(existing) != old_server
                lo = len(batch.updates)
                if moved:
                    self.codec.delete(batch.updates, old_server)
                self.codec.install(batch.updates, existing, self._params(ck, svc), MODIFY,
                                   server_kind=INSERT if moved else MODIFY)
                batch.installed(existing, lo, received)
                return
            client_kind = MODIFY  # the switch has an entry we did not know
        elif existing is not None:
            self.stats["duplicate_digests"] += 1
            return
        made = self._new_session(ck, svc, now)
        if made is None:
            return
        s, params = made
        lo = len(batch.updates)
        self.codec.install(batch.updates, s, params, client_kind, server_kind=INSERT)
        batch.installed(s, lo, received)

    def _new_session(self, ck: CookieAck, svc: Service, now: float
                     ) -> tuple[Session, SessionParams] | None:
        rs = self._pick(ck.service_id, svc, ck.flow)
        if rs is None:
            self.stats["no_real_server"] += 1
            return None
        h = ck.handshake
        s = self.table.allocate(ck.flow, service_id=ck.service_id, rs_addr=install.ip(rs.address),
                                rs_port=rs.port, cookie=h.cookie, client_isn=h.client_isn,
                                handshake=h, now=now, ingress_port=ck.ingress_port)
        if s is None:
            # Full: the client believes it is connected (it has our SYN/ACK), so the
            # refusal it understands at once is a RST with the sequence number it
            # expects (cookie + 1), acknowledging its SYN.
            self.metrics.table_full.inc()
            self.stats["refused_full"] += 1
            if self.conn is not None:
                self._packet_out(self.conn, client_rst(
                    h.client_addr, h.client_port, h.vip_addr, h.vip_port, h.cookie,
                    h.client_isn, self._router_mac(ck.ingress_port or None)))
            return None
        return s, self._params(ck, svc)

    @staticmethod
    def _params(ck: CookieAck, svc: Service) -> SessionParams:
        h = ck.handshake
        return SessionParams(
            vip_addr=h.vip_addr, vip_port=h.vip_port,
            ts_base=ck.client_tsecr if h.ts_ok else 0, client_window=h.client_window,
            win_shift=svc.synack.wscale if h.wscale != install.WSCALE_NONE else 0)

    async def _commit(self, conn: Connection, batch: _Batch) -> None:
        try:
            failed: set[int] = set()
            if batch.updates:
                self.metrics.writes.inc()
                try:
                    await conn.send_write(batch.request)
                except WriteError as exc:
                    failed = set(exc.errors)
                    self.metrics.write_errors.inc(len(failed))
                    log.warning("event=write_failed updates=%d failed=%d first=%r",
                                len(batch.updates), len(failed), str(exc)[:200])
                except RpcTimeout as exc:
                    self._timed_out(len(batch.updates), batch.installs, batch.freed, str(exc))
                    return
            now = self.clock()
            retry = conn.write_request()
            for s, lo, hi, received in batch.installs:
                if failed.intersection(range(lo, hi)):
                    # Half-written session: remove whatever landed, never send its SYN.
                    self.stats["failed_installs"] += 1
                    if self.table.by_slot.get(s.slot) is s:
                        self.table.release(s)
                    self.codec.remove(retry.updates, s)
                    batch.freed.append((s, "install_failed"))
                    continue
                assert s.handshake is not None
                self._packet_out(conn, server_syn(s.handshake, self._router_mac(s.ingress_port)))
                self.table.syn_sent(s, now)
                s.confirmed = now
                self.metrics.sessions_created.inc()
                self.metrics.setup_latency.observe(max(0.0, now - received))
            if retry.updates:
                try:
                    await conn.send_write(retry)
                except WriteError:
                    pass  # NOT_FOUND for what never landed
                except RpcTimeout as exc:
                    # Unknown whether they landed: their slots stay out of use until a
                    # later batch has deleted them.
                    self._timed_out(len(retry.updates), [], batch.freed, str(exc))
                    return
            for s, reason in batch.freed:
                self.table.recycle(s.slot)
                self.metrics.sessions_freed.labels(reason).inc()
        finally:
            self._writes.release()

    def _timed_out(self, updates: int, installs: list[tuple[Session, int, int, float]],
                   freed: list[tuple[Session, str]], error: str) -> None:
        """A Write got no answer within its deadline: whether the switch applied it is
        unknown. No server SYN goes out for the sessions it installed; they are
        released, and their entries and those of the frees are deleted by a later
        batch (NOT_FOUND for what never landed is harmless) before their slots are
        reused."""
        self.stats["write_timeouts"] += 1
        self.metrics.write_errors.inc(updates)
        log.warning("event=write_timeout updates=%d sessions=%d frees=%d error=%r",
                    updates, len(installs), len(freed), error)
        for s, _lo, _hi, _received in installs:
            if self.table.by_slot.get(s.slot) is s:
                self.table.release(s)
                self.stats["failed_installs"] += 1
                self._frees.append((s, "install_failed"))
        queued = {s.slot for s, _r in self._frees}
        self._frees.extend((s, r) for s, r in freed if s.slot not in queued)
        self._work.set()

    def _router_mac(self, port: int | None) -> bytes:
        return mac_bytes(install.router_mac(self.cfg, port))

    # ================================================================== timers

    async def _timers(self, conn: Connection) -> None:
        next_gauges = next_auto = self.clock()
        while True:
            now = self.clock()
            self._retransmit(conn, now)
            if self.keys.due(now):
                before = self.keys.state
                try:
                    await self._write_keys(conn, self.keys.rotate(now))
                    self.metrics.key_rotations.inc()
                    log.info("event=key_rotated epoch=%d", self.keys.state.epoch)
                except WriteError as exc:
                    self.keys.state = before  # the switch still has the old pair
                    log.error("event=key_rotation_failed error=%r", str(exc)[:200])
            if self.register_reads:
                await self.poll_states(conn)
            if now >= next_gauges:
                next_gauges = now + self.cfg.control.state_poll_seconds
                self._update_gauges(now)
                if not self.register_reads:
                    self._expire_by_state(now)
            if self.auto and now >= next_auto:
                next_auto = now + self.cfg.control.auto_poll_seconds
                await self.poll_auto(conn)
            undefended = (any(s.mode == "off" for s in self.services.values())
                          or any(not sw.active for sw in self.auto.values()))
            if self.filter_reset.update(now, undefended):
                await self._bump_passthrough_epoch(conn)
            await asyncio.sleep(TICK)

    async def _bump_passthrough_epoch(self, conn: Connection) -> None:
        """Forget every flow of the passthrough filter: the `passthrough_epoch` default
        action moves to the next epoch, so no cell holds the current one any more."""
        epoch = install.next_epoch(self.passthrough_epoch)
        try:
            await conn.write([ent_update(
                "MODIFY", install.passthrough_epoch_entry(self.p4, epoch))])
        except WriteError as exc:
            self.filter_reset.dirty = True
            log.warning("event=passthrough_filter_clear_failed error=%r", str(exc)[:200])
            return
        self.passthrough_epoch = epoch
        log.info("event=passthrough_filter_cleared epoch=%d", epoch)

    def _expire_by_state(self, now: float) -> None:
        """C6 without register reads: the states the session_event digests reported,
        aged against their timeouts."""
        expired = self.table.expired(now, self.codec.supports_idle)
        for s in expired:
            self._free(s, f"timeout_{state_name(s.state)}")
        if expired:
            self._work.set()

    def _retransmit(self, conn: Connection, now: float) -> None:
        resend, give_up = self.table.due(now)
        for s in resend:
            assert s.handshake is not None
            self._packet_out(conn, server_syn(s.handshake, self._router_mac(s.ingress_port)))
            self.table.syn_sent(s, now)
            self.metrics.syn_retransmits.inc()
        for s in give_up:
            c, vip, cport, vport = s.flow
            # A session read back from the switch does not know the client's ISN: its
            # RST then carries no ACK (a RST is accepted on its sequence number alone).
            isn = s.client_isn if s.handshake is not None else None
            rst = client_rst(c, cport, vip, vport, s.cookie, isn,
                             self._router_mac(s.ingress_port or None))
            self._packet_out(conn, rst)
            log.info("event=syn_timeout slot=%d attempts=%d", s.slot, s.attempts)
            self._free(s, "syn_timeout")
        if give_up:
            self._work.set()

    async def poll_states(self, conn: Connection) -> None:
        """C6 where the target allows register reads, as a reconciliation of missed
        session_event digests, one slice per tick: the session_state cells of the next
        sessions in a round over the table, sized so that a round takes `state_poll_seconds` (a
        slice is at most POLL_SLICE_MAX cells, so a big table takes longer rounds but
        never stalls the switch on one huge read), then those sessions' timeouts."""
        if not self._poll_round:
            if not self.table.by_slot:
                return
            self._poll_round = list(self.table.by_slot)
            ticks = max(1.0, self.cfg.control.state_poll_seconds / TICK)
            self._poll_slice = min(POLL_SLICE_MAX, max(1, int(len(self._poll_round) / ticks) + 1))
        chunk = self._poll_round[-self._poll_slice:]
        del self._poll_round[-self._poll_slice:]
        issued = self.clock()
        table = self.table
        states = await self._read_states(conn, {slot: s.gen for slot in chunk
                                                if (s := table.by_slot.get(slot)) is not None})
        now = self.clock()
        # Only sessions whose last write the switch had confirmed when the read left:
        # a read racing an install or a restart would put back the state before it.
        mine = [s for slot in chunk if (s := table.by_slot.get(slot)) is not None
                and s.confirmed is not None and s.confirmed <= issued]
        table.observe(states, now, mine)
        expired = table.expired(now, self.codec.supports_idle, mine)
        for s in expired:
            self._free(s, f"timeout_{state_name(s.state)}")
        if expired:
            self._work.set()

    def _update_gauges(self, now: float) -> None:
        self.table.expire_orphans(now)
        for st in State:
            if st != State.NONE:
                self.metrics.sessions.labels(state_name(st)).set(0)
        for name, n in self.table.by_state().items():
            self.metrics.sessions.labels(name).set(n)

    async def _read_states(self, conn: Connection, gens: dict[int, int]) -> dict[int, int]:
        """session_state of the slots `gens` maps to their session's gen, in one read
        with their session_gen cells: cell by cell while few are in use, both whole
        registers (wildcard queries) when most are. A slot whose session_gen is not its
        session's gen has seen no packet since the install (fresh: SYN_SENT for the data
        plane; its state cell is an earlier incarnation's) and is left out."""
        if not gens:
            return {}
        codec = self.codec
        if len(gens) * 4 < self.table.capacity:
            cache = self._state_queries
            queries: list[pb.Entity] = []
            for slot in gens:
                q = cache.get(slot)
                if q is None:
                    q = cache[slot] = (codec.read_cell_query("session_state", slot),
                                       codec.read_cell_query("session_gen", slot))
                queries.extend(q)
        else:
            queries = [codec.read_register_query("session_state"),
                       codec.read_register_query("session_gen")]
        states: dict[int, int] = {}
        found: dict[int, int] = {}
        gen_reg, state_reg = codec.reg["session_gen"], codec.reg["session_state"]
        for e in await conn.read(queries):
            if e.WhichOneof("entity") == "register_entry":
                r = e.register_entry
                value = int.from_bytes(r.data.bitstring, "big")
                if r.register_id == state_reg:
                    states[r.index.index] = value
                elif r.register_id == gen_reg:
                    found[r.index.index] = value
        return {slot: v for slot, v in states.items()
                if slot in gens and found.get(slot) == gens[slot]}

    async def poll_auto(self, conn: Connection) -> None:
        """C8: SYN_IN of every auto service in one read; insert (on) or delete (off)
        the service's `defense` entry."""
        sids = sorted(self.auto)
        queries = [counter_query(self._svc_counter, sid * EVENTS_PER_SERVICE + EV_SYN_IN)
                   for sid in sids]
        counts = {}
        for e in await conn.read(queries):
            if e.WhichOneof("entity") == "counter_entry":
                c = e.counter_entry
                counts[c.index.index // EVENTS_PER_SERVICE] = c.data.packet_count
        now = self.clock()
        updates = []
        for sid in sids:
            sw = self.auto[sid]
            change = sw.update(now, counts.get(sid, 0))
            name = self.services[sid].name
            self.metrics.syn_rate.labels(name).set(sw.rate)
            if change is not None:
                log.info("event=auto_defence service=%s active=%s rate=%.0f", name, change,
                         sw.rate)
                self.metrics.defense.labels(name).set(int(change))
                updates.append(install.defense_update(self.p4, sid, change))
        if updates:
            try:
                await conn.write(updates)
            except WriteError as exc:
                # ALREADY_EXISTS / NOT_FOUND: the switch already is where we wanted it.
                bad = {i: e for i, e in exc.errors.items()
                       if e[0] not in (code_pb2.ALREADY_EXISTS, code_pb2.NOT_FOUND)}
                if bad or not exc.errors:
                    log.error("event=auto_defence_write_failed error=%r", str(exc)[:200])

    async def _write_keys(self, conn: Connection, keys: KeyState) -> None:
        await conn.write([ent_update("MODIFY", install.keys_entry(self.p4, keys))])


class _Batch:
    """One WriteRequest's worth of session work and what to do after it."""

    def __init__(self, request: pb.WriteRequest) -> None:
        self.request = request
        self.updates = request.updates
        self.installs: list[tuple[Session, int, int, float]] = []
        self.freed: list[tuple[Session, str]] = []

    def installed(self, s: Session, lo: int, received: float) -> None:
        """`s`'s updates are updates[lo:] (just added)."""
        self.installs.append((s, lo, len(self.updates), received))


def read_p4info(path: Path) -> p4info_pb2.P4Info:
    """A P4Info as p4c or p4sim-compile write it: text by default, binary (`.bin`) or
    JSON (`.json`) by suffix, as `--p4runtime-files` names them."""
    if path.suffix == ".bin":
        return p4info_pb2.P4Info.FromString(path.read_bytes())
    if path.suffix == ".json":
        return json_format.Parse(path.read_text(), p4info_pb2.P4Info())
    return load_p4info(path)


def _resolve(base: Path, path: str) -> Path:
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return base / p


def _short(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc) or type(exc).__name__
