"""The handshake path (C2-C6): digests and PacketIns in, session entries and server
SYNs out, batched.

Cookie digests, session events and frees queue up; the batch worker turns
everything queued into one WriteRequest (both `sessions` entries per new session,
built in the request), and starts the next batch while earlier writes are still in
flight (a few at a time). A session's server SYN goes out only after its entries
were written; a freed slot returns to the free list only once its delete was
written. Early data (PacketIns) is held per flow until the session is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from p4.v1 import p4runtime_pb2 as pb

from . import install, p4consts
from .config import Config, Service, family, hostport
from .digests import (
    EV_CLIENT_ABORT,
    EV_ESTABLISHED,
    EV_SERVER_RESET,
    CookieAck,
    SessionEvent,
)
from .install import INSERT, MODIFY, SessionParams, ip_text
from .link import Link
from .metrics import Metrics
from .p4rt import Connection, RpcTimeout, WriteError
from .program import Program
from .services import Services
from .sessions import Session, State, reuse_allowed
from .synpkt import client_rst, mac_bytes, parse_tcp, server_syn
from .view import SwitchView

log = logging.getLogger("controller")

MAX_INFLIGHT_WRITES = 4
PUNT_EARLY_DATA, PUNT_COOKIE_DATA = p4consts.PUNT_EARLY_DATA, p4consts.PUNT_COOKIE_DATA


class Handshakes:
    def __init__(self, cfg: Config, program: Program, services: Services, view: SwitchView,
                 link: Link, *, metrics: Metrics, stats: dict[str, int],
                 clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.program = program
        self.codec = program.codec
        self.services = services
        self.view = view
        self.link = link
        self.metrics = metrics
        self.stats = stats
        for k in ("duplicate_digests", "unknown_service", "no_real_server", "failed_installs",
                  "stale_events", "write_timeouts", "refused_full", "family_mismatch",
                  "cookie_digests", "fullnat_exhausted"):
            stats.setdefault(k, 0)
        self.clock = clock
        self._macs: dict[int | None, bytes] = {}  # router MAC by ingress port
        self._work = asyncio.Event()
        self._cookies: list[tuple[CookieAck, float]] = []
        self._events: list[SessionEvent] = []
        self._frees: list[tuple[Session, str]] = []
        self._writes = asyncio.Semaphore(MAX_INFLIGHT_WRITES)
        self._inflight: set[asyncio.Task[None]] = set()

    async def run(self, conn: Connection) -> None:
        """Take the link's digests, PacketIns and idle notifications, and write
        batches on `conn`, until cancelled."""
        tasks = [asyncio.create_task(self._drain(self.link.digests, self.on_digest_list)),
                 asyncio.create_task(self._drain(self.link.packet_ins, self.on_packet_in)),
                 asyncio.create_task(self._drain(self.link.idle, self.on_idle)),
                 asyncio.create_task(self._batch_worker(conn))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, queue: asyncio.Queue[Any], handle: Callable[[Any], None]) -> None:
        while True:
            msg = await queue.get()
            try:
                handle(msg)
            except ValueError as exc:  # parsed, but not of the shape the program gives
                self.stats["bad_messages"] = self.stats.get("bad_messages", 0) + 1
                log.warning("event=bad_stream_message error=%r", str(exc))

    def on_digest_list(self, dl: pb.DigestList) -> None:
        did, lid, items = self.program.decoder.decode(dl)
        self.stats["refused_v6_digests"] = self.program.decoder.refused_v6
        if not items:
            return
        if did in self.program.decoder.cookie_ids:  # IPv4's or IPv6's (D13)
            now = self.clock()
            self._cookies.extend((d, now) for d in items)  # type: ignore[misc]
            # What reached the controller through the switch's digest meter (D15).
            self.stats["cookie_digests"] += len(items)
            self.metrics.digests.labels("cookie_ack").inc(len(items))
        else:
            self._events.extend(items)  # type: ignore[arg-type]
            self.metrics.digests.labels("session_event").inc(len(items))
        self._work.set()

    def on_packet_in(self, pkt: pb.PacketIn) -> None:
        frame = pkt.payload
        reason = next((int.from_bytes(m.value, "big") for m in pkt.metadata
                       if m.metadata_id == self.program.pktin_reason), 0)
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
        if self.view.table.hold(flow, frame, tcp.seq, tcp.payload_len, self.clock(),
                                new_connection=new, cookie=cookie):
            self.metrics.early_held.inc()
            return
        s = self.view.table.by_flow.get(flow)
        if (s is not None and s.state != State.SYN_SENT
                and (cookie is None or s.cookie == cookie)):
            # The session came up while this segment was on its way: deliver it now.
            self.link.packet_out(frame)
            self.metrics.early_released.inc()
        else:
            self.metrics.early_dropped.inc()

    def on_idle(self, note: pb.IdleTimeoutNotification) -> None:
        now = self.clock()
        for te in note.table_entry:
            if te.table_id not in self.codec.table_ids:
                continue
            key = self.codec.key_of(te)
            s = self.view.table.by_flow.get(key)
            direction = "client"
            if s is None:
                direction = "server"
                s = next((x for x in self.view.table.by_slot.values()
                          if self.codec.server_key(x) == key), None)
            if (s is not None and s.state != State.SYN_SENT
                    and self.view.table.idle(s, direction, now)):
                self.free(s, "idle")

    # ================================================================== batching (C2-C6)

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

    def free(self, s: Session, reason: str) -> None:
        """Queue a session's removal for the next batch."""
        if self.view.table.by_slot.get(s.slot) is s:
            self.view.table.release(s)
            self._frees.append((s, reason))
            self._work.set()

    def _take_batch(self, conn: Connection) -> _Batch:
        batch = _Batch(conn.write_request())
        now = self.clock()
        events, self._events = self._events, []
        cookies, self._cookies = self._cookies, []
        for ev in events:
            self.on_session_event(ev, now)
        frees, self._frees = self._frees, []
        for s, reason in frees:
            self.codec.remove(batch.updates, s)
            batch.freed.append((s, reason))
        for ck, received in cookies:
            self._on_cookie(ck, received, now, batch)
        return batch

    def on_session_event(self, ev: SessionEvent, now: float) -> None:
        """A state change of a slot (C6). Only the session's current gen counts: a
        digest of an earlier incarnation of the slot (freed or restarted since) is
        dropped."""
        s = self.view.table.by_slot.get(ev.slot)
        # A server-direction event names the flow by its destination: a FULLNAT
        # session's local tuple (D7).
        if s is None or ((s.flow[0], s.flow[2]) != (ev.client_addr, ev.client_port)
                         and (not s.laddr or (s.laddr, s.lport)
                              != (ev.client_addr, ev.client_port))):
            return
        if ev.gen != s.gen:
            self.stats["stale_events"] += 1
            return
        if ev.event == EV_ESTABLISHED:
            frames = self.view.table.established(s, now)
            for f in frames:
                self.link.packet_out(f)
            self.metrics.early_released.inc(len(frames))
        elif ev.event in (EV_SERVER_RESET, EV_CLIENT_ABORT):
            self.free(s, "server_reset" if ev.event == EV_SERVER_RESET else "client_abort")
        elif ev.state != State.NONE:
            self.view.table.set_state(s, ev.state, now)

    def _on_cookie(self, ck: CookieAck, received: float, now: float, batch: _Batch) -> None:
        svc = self.services.by_id.get(ck.service_id)
        if svc is None:
            self.stats["unknown_service"] += 1
            return
        if (family(svc.vip) == 6) != (ck.flow[1] >> 32 != 0):
            # A digest of the other family than its service's VIP: no real server of
            # the service could take the flow (the switch translates no family).
            self.stats["family_mismatch"] += 1
            return
        flow = ck.flow
        existing = self.view.table.by_flow.get(flow)
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
                target = self._server_side(ck, svc, existing)
                if target is None:
                    return
                rs_addr, rs_port, local = target
                old_server = self.codec.server_key(existing)
                h = ck.handshake
                self.view.table.restart(existing, rs_addr=rs_addr, rs_port=rs_port,
                                   cookie=h.cookie, client_isn=h.client_isn, handshake=h,
                                   now=now, ingress_port=ck.ingress_port, local=local)
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
        target = self._server_side(ck, svc, None)
        if target is None:
            return None
        rs_addr, rs_port, local = target
        h = ck.handshake
        s = self.view.table.allocate(ck.flow, service_id=ck.service_id, rs_addr=rs_addr,
                                rs_port=rs_port, cookie=h.cookie, client_isn=h.client_isn,
                                handshake=h, now=now, ingress_port=ck.ingress_port,
                                local=local)
        if s is None:
            # Full: the client believes it is connected (it has our SYN/ACK), so the
            # refusal it understands at once is a RST with the sequence number it
            # expects (cookie + 1), acknowledging its SYN.
            self.metrics.table_full.inc()
            self.stats["refused_full"] += 1
            self._refuse(ck)
            return None
        return s, self._params(ck, svc)

    def _server_side(self, ck: CookieAck, svc: Service, existing: Session | None
                     ) -> tuple[int, int, tuple[int, int] | None] | None:
        """The real server for the flow, and for FULLNAT (D7) its local tuple; None
        (counted, or the client refused) when there is no server or no free tuple."""
        rs = self.services.pick(ck.service_id, ck.flow)
        if rs is None:
            self.stats["no_real_server"] += 1
            return None
        rs_addr = install.ip(rs.address)
        local = None
        if svc.fullnat is not None:
            local = self._local(svc, existing, rs_addr, rs.port)
            if local is None:
                self._refuse(ck)
                return None
        return rs_addr, rs.port, local

    def _refuse(self, ck: CookieAck) -> None:
        """The client believes it is connected (it has our SYN/ACK): the refusal it
        understands at once is a RST with the sequence number it expects."""
        h = ck.handshake
        self.link.packet_out(client_rst(
            h.client_addr, h.client_port, h.vip_addr, h.vip_port, h.cookie,
            h.client_isn, self._router_mac(ck.ingress_port or None)))

    def _local(self, svc: Service, existing: Session | None, rs_addr: int, rs_port: int
               ) -> tuple[int, int] | None:
        """D7: the FULLNAT tuple of a new session (or of `existing`, restarted in place:
        its own while the real server stays); None when the pool towards that server
        is exhausted: counted, never a tuple shared with another session."""
        assert svc.fullnat is not None
        if (existing is not None and existing.laddr
                and (existing.rs_addr, existing.rs_port) == (rs_addr, rs_port)):
            return existing.laddr, existing.lport
        local = self.view.table.local_ports.allocate(svc.fullnat, rs_addr, rs_port)
        if local is None:
            self.stats["fullnat_exhausted"] += 1
            self.metrics.fullnat_exhausted.labels(svc.name).inc()
        return local

    @staticmethod
    def _params(ck: CookieAck, svc: Service) -> SessionParams:
        h = ck.handshake
        return SessionParams(
            vip_addr=h.vip_addr, vip_port=h.vip_port,
            ts_base=ck.client_tsecr if h.ts_ok else 0, client_window=h.client_window,
            win_shift=svc.synack.wscale if h.wscale != p4consts.COOKIE_WSCALE_NONE else 0)

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
            created = 0
            for s, lo, hi, received in batch.installs:
                if failed and failed.intersection(range(lo, hi)):
                    # Half-written session: remove whatever landed, never send its SYN.
                    self.stats["failed_installs"] += 1
                    if self.view.table.by_slot.get(s.slot) is s:
                        self.view.table.release(s)
                    self.codec.remove(retry.updates, s)
                    batch.freed.append((s, "install_failed"))
                    continue
                assert s.handshake is not None
                self.link.packet_out(server_syn(s.handshake, self._router_mac(s.ingress_port),
                                                toa=bool(s.laddr)))
                self.view.table.syn_sent(s, now)
                s.confirmed = now
                created += 1
                self.metrics.setup_latency.observe(max(0.0, now - received))
                if s.service_id in self.services:
                    self.metrics.session_created(self.services[s.service_id].name,
                                                 hostport(ip_text(s.rs_addr), s.rs_port))
            self.metrics.sessions_created.inc(created)
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
                self.view.table.recycle(s.slot)
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
            if self.view.table.by_slot.get(s.slot) is s:
                self.view.table.release(s)
                self.stats["failed_installs"] += 1
                self._frees.append((s, "install_failed"))
        queued = {s.slot for s, _r in self._frees}
        self._frees.extend((s, r) for s, r in freed if s.slot not in queued)
        self._work.set()

    def _router_mac(self, port: int | None) -> bytes:
        mac = self._macs.get(port)
        if mac is None:
            mac = self._macs[port] = mac_bytes(install.router_mac(self.cfg, port))
        return mac




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


