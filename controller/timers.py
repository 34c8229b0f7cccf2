"""The controller's clocks: SYN retransmission and give-up (C3), state and idle
expiry (C6), the reconciliation polls of session states (where registers can be
read) and of the auto services' SYN rates (C8), key rotation (C7), and the clearing
of the passthrough filter, and the heartbeat the switch watches (its controller-down
policy). One task, a tick every 50 ms."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import install, p4consts
from .config import Config, family
from .defence import KeyState
from .entities import counter_query
from .entities import update as ent_update
from .handshakes import Handshakes
from .link import Link
from .metrics import Metrics
from .p4rt import Connection, RpcTimeout, WriteError
from .program import Program
from .services import Services
from .sessions import State, state_name
from .synpkt import client_rst, mac_bytes, server_syn
from .view import SwitchView

log = logging.getLogger("controller")

EV_SYN_IN = p4consts.EV_SYN_IN
TICK = 0.05
POLL_SLICE_MAX = 512  # session_state cells read per tick at most
# Reconciliation reads in a row that get no answer within the Read deadline before the
# link counts as lost (reconnect and sync). One slow read is a busy switch, not a lost
# one: reconnecting would re-read every session and make a busy switch busier.
POLL_TIMEOUTS_MAX = 3


class Timers:
    def __init__(self, cfg: Config, program: Program, services: Services, view: SwitchView,
                 link: Link, handshakes: Handshakes, *, metrics: Metrics,
                 clock: Callable[[], float], stats: dict[str, int] | None = None) -> None:
        self.cfg = cfg
        self.program = program
        self.codec = program.codec
        self.services = services
        self.view = view
        self.link = link
        self.handshakes = handshakes
        self.metrics = metrics
        self.clock = clock
        self._macs: dict[int | None, bytes] = {}  # router MAC by ingress port
        self._state_queries: dict[int, tuple[pb.Entity, pb.Entity]] = {}  # slot -> reads
        self._poll_round: list[int] = []  # slots still to read in this state-poll round
        self._poll_slice = 1
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("poll_timeouts", 0)
        self._poll_timeouts_in_a_row = 0
        # This controller's heartbeat instance: nonzero, new per start (the switch takes
        # a new instance's clock afresh).
        self.heartbeat_instance = secrets.randbelow(0xFFFFFFFF) + 1
        self.stats.setdefault("heartbeats", 0)
        self._next_beat = 0.0

    async def run(self, conn: Connection) -> None:
        next_gauges = next_auto = self.clock()
        while True:
            now = self.clock()
            self._retransmit(now)
            if self.view.keys.due(now):
                before = self.view.keys.state
                try:
                    await self.write_keys(conn, self.view.keys.rotate(now))
                    self.metrics.key_rotations.inc()
                    log.info("event=key_rotated epoch=%d", self.view.keys.state.epoch)
                except WriteError as exc:
                    self.view.keys.state = before  # the switch still has the old pair
                    log.error("event=key_rotation_failed error=%r", str(exc)[:200])
            if self.view.register_reads:
                await self._poll("session_states", self.poll_states(conn))
            if now >= next_gauges:
                next_gauges = now + self.cfg.control.state_poll_seconds
                self._update_gauges(now)
                if not self.view.register_reads:
                    self._expire_by_state(now)
            if self.services.auto and now >= next_auto:
                next_auto = now + self.cfg.control.auto_poll_seconds
                await self._poll("auto_rates", self.poll_auto(conn))
            if self.view.filter_reset.update(now, self.services.undefended()):
                await self.clear_passthrough_filter(conn)
            await asyncio.sleep(TICK)

    async def beat(self, conn: Connection) -> None:
        """The heartbeat, every control.heartbeat_seconds of the clock: a task of its own,
        so that a slow poll or write of the loop above does not hold it back (the
        switch would take a late beat for a gone controller)."""
        while True:
            if self.clock() >= self._next_beat:
                await self.write_heartbeat(conn)
            await asyncio.sleep(TICK)

    async def write_heartbeat(self, conn: Connection) -> None:
        """The `controller_heartbeat` default action with this controller's clock now
        (programs without the table, the TNA one, get none). A failed write is logged:
        the next interval tries again, and past the limit the switch applies each
        service's controller_down policy, as it would with no controller."""
        now = self.clock()
        self._next_beat = now + self.cfg.control.heartbeat_seconds
        if not self.program.has_heartbeat:
            return
        try:
            await conn.write([ent_update("MODIFY", install.heartbeat_entry(
                self.program.p4, self.heartbeat_instance, now,
                self.cfg.control.heartbeat_limit_seconds))])
        except WriteError as exc:
            log.warning("event=heartbeat_write_failed error=%r", str(exc)[:200])
            return
        self.stats["heartbeats"] += 1

    async def _poll(self, what: str, read: Awaitable[None]) -> None:
        """A reconciliation poll whose Read may go unanswered: skipped (its cells are read
        again in a later round) and counted, until POLL_TIMEOUTS_MAX in a row end the link."""
        try:
            await read
        except RpcTimeout as exc:
            self.stats["poll_timeouts"] += 1
            self._poll_timeouts_in_a_row += 1
            n = self._poll_timeouts_in_a_row
            log.warning("event=poll_timeout poll=%s in_a_row=%d of=%d error=%r",
                        what, n, POLL_TIMEOUTS_MAX, str(exc))
            if n >= POLL_TIMEOUTS_MAX:
                self._poll_timeouts_in_a_row = 0
                raise
            return
        self._poll_timeouts_in_a_row = 0

    async def clear_passthrough_filter(self, conn: Connection) -> None:
        """Forget every flow of the passthrough filter: the `passthrough_epoch` default
        action moves to the next epoch, so no cell holds the current one any more."""
        epoch = install.next_epoch(self.view.passthrough_epoch)
        try:
            await conn.write([ent_update(
                "MODIFY", install.passthrough_epoch_entry(self.program.p4, epoch))])
        except WriteError as exc:
            self.view.filter_reset.dirty = True
            log.warning("event=passthrough_filter_clear_failed error=%r", str(exc)[:200])
            return
        self.view.passthrough_epoch = epoch
        log.info("event=passthrough_filter_cleared epoch=%d", epoch)

    def _expire_by_state(self, now: float) -> None:
        """C6 without register reads: the states the session_event digests reported,
        aged against their timeouts."""
        expired = self.view.table.expired(now, self.codec.supports_idle)
        for s in expired:
            self.handshakes.free(s, f"timeout_{state_name(s.state)}")

    def _retransmit(self, now: float) -> None:
        resend, give_up = self.view.table.due(now)
        for s in resend:
            assert s.handshake is not None
            self.link.packet_out(server_syn(s.handshake, self._router_mac(s.ingress_port),
                                            toa=bool(s.laddr)))
            self.view.table.syn_sent(s, now)
            self.metrics.syn_retransmits.inc()
        for s in give_up:
            c, vip, cport, vport = s.flow
            # A session read back from the switch does not know the client's ISN: its
            # RST then carries no ACK (a RST is accepted on its sequence number alone).
            isn = s.client_isn if s.handshake is not None else None
            rst = client_rst(c, cport, vip, vport, s.cookie, isn,
                             self._router_mac(s.ingress_port or None))
            self.link.packet_out(rst)
            log.info("event=syn_timeout slot=%d attempts=%d", s.slot, s.attempts)
            self.handshakes.free(s, "syn_timeout")

    async def poll_states(self, conn: Connection) -> None:
        """C6 where the target allows register reads, as a reconciliation of missed
        session_event digests, one slice per tick: the session_state cells of the next
        sessions in a round over the table, sized so that a round takes `state_poll_seconds` (a
        slice is at most POLL_SLICE_MAX cells, so a big table takes longer rounds but
        never stalls the switch on one huge read), then those sessions' timeouts."""
        if not self._poll_round:
            if not self.view.table.by_slot:
                return
            self._poll_round = list(self.view.table.by_slot)
            ticks = max(1.0, self.cfg.control.state_poll_seconds / TICK)
            self._poll_slice = min(POLL_SLICE_MAX, max(1, int(len(self._poll_round) / ticks) + 1))
        chunk = self._poll_round[-self._poll_slice:]
        del self._poll_round[-self._poll_slice:]
        issued = self.clock()
        table = self.view.table
        states = await self.read_states(conn, {slot: s.gen for slot in chunk
                                                if (s := table.by_slot.get(slot)) is not None})
        now = self.clock()
        # Only sessions whose last write the switch had confirmed when the read left:
        # a read racing an install or a restart would put back the state before it.
        mine = [s for slot in chunk if (s := table.by_slot.get(slot)) is not None
                and s.confirmed is not None and s.confirmed <= issued]
        table.observe(states, now, mine)
        expired = table.expired(now, self.codec.supports_idle, mine)
        for s in expired:
            self.handshakes.free(s, f"timeout_{state_name(s.state)}")

    def _update_gauges(self, now: float) -> None:
        self.view.table.expire_orphans(now)
        for st in State:
            if st != State.NONE:
                self.metrics.sessions.labels(state_name(st)).set(0)
        for name, n in self.view.table.by_state().items():
            self.metrics.sessions.labels(name).set(n)
        self.metrics.fullnat_in_use.set(self.view.table.local_ports.in_use())

    async def read_states(self, conn: Connection, gens: dict[int, int]) -> dict[int, int]:
        """session_state of the slots `gens` maps to their session's gen, in one read
        with their session_gen cells: cell by cell while few are in use, both whole
        registers (wildcard queries) when most are. A slot whose session_gen is not its
        session's gen has seen no packet since the install (fresh: SYN_SENT for the data
        plane; its state cell is an earlier incarnation's) and is left out."""
        if not gens:
            return {}
        codec = self.codec
        if len(gens) * 4 < self.view.table.capacity:
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
        sids = sorted(self.services.auto)
        per_service = self.program.limits.events_per_service
        queries = [counter_query(self.program.svc_counter, sid * per_service + EV_SYN_IN)
                   for sid in sids]
        counts = {}
        for e in await conn.read(queries):
            if e.WhichOneof("entity") == "counter_entry":
                c = e.counter_entry
                counts[c.index.index // per_service] = c.data.packet_count
        now = self.clock()
        updates = []
        for sid in sids:
            sw = self.services.auto.get(sid)
            if sw is None:  # removed (or no longer auto) while the read was out
                continue
            change = sw.update(now, counts.get(sid, 0))
            name = self.services[sid].name
            fam = f"ipv{family(self.services[sid].vip)}"
            self.metrics.syn_rate.labels(name, fam).set(sw.rate)
            if change is not None:
                a = self.services[sid].auto
                log.warning("event=%s service=%s syn_rate=%.0f syn_rate_on=%g "
                            "syn_rate_off=%g quiet_seconds=%g",
                            "defence_on" if change else "defence_off", name, sw.rate,
                            a.syn_rate_on, a.syn_rate_off, a.quiet_seconds)
                self.metrics.defense.labels(name, fam).set(int(change))
                updates.append(install.defense_update(self.program.p4, sid, change))
        if updates:
            try:
                await conn.write(updates)
            except WriteError as exc:
                # ALREADY_EXISTS / NOT_FOUND: the switch already is where we wanted it.
                bad = {i: e for i, e in exc.errors.items()
                       if e[0] not in (code_pb2.ALREADY_EXISTS, code_pb2.NOT_FOUND)}
                if bad or not exc.errors:
                    log.error("event=auto_defence_write_failed error=%r", str(exc)[:200])

    async def write_keys(self, conn: Connection, keys: KeyState) -> None:
        await conn.write([ent_update("MODIFY", install.keys_entry(self.program.p4, keys))])

    def _router_mac(self, port: int | None) -> bytes:
        mac = self._macs.get(port)
        if mac is None:
            mac = self._macs[port] = mac_bytes(install.router_mac(self.cfg, port))
        return mac
