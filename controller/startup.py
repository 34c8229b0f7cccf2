"""Start-up sync of the controller (C1, C9): push the pipeline only when the switch has
none or another one, install the config idempotently, and otherwise rebuild the
session table, the keys and the auto-defence state from what the switch holds.

`Startup.sync` runs once the controller is primary, before any session work.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import fullnat, install, overload
from .config import Config
from .defence import FilterReset, KeyState
from .entities import to_int
from .entities import update as ent_update
from .nat import NatTables
from .p4info import P4InfoIndex
from .p4rt import Connection, WriteError
from .program import Program
from .services import Services
from .sessions import Session, State
from .timers import Timers
from .view import SwitchView

log = logging.getLogger("controller")
ALREADY_EXISTS = code_pb2.ALREADY_EXISTS


class Startup:
    def __init__(self, cfg: Config, program: Program, services: Services, view: SwitchView,
                 nat: NatTables, timers: Timers, clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.program = program
        self.p4 = program.p4
        self.codec = program.codec
        self.services = services
        self.view = view
        self.nat = nat
        self.timers = timers
        self.clock = clock

    async def sync(self, conn: Connection) -> None:
        try:
            current = await conn.get_config()
        except grpc.aio.AioRpcError as exc:
            # bmv2 (PI) answers FAILED_PRECONDITION while it has no pipeline at all.
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            current = pb.ForwardingPipelineConfig()
        same = (current.HasField("p4info") and current.p4info == self.program.p4info
                and current.cookie.cookie == self.program.cookie)
        if not same:
            log.info("event=push_pipeline reason=%s",
                     "different" if current.HasField("p4info") else "none")
            await conn.set_config(self.program.p4info, self.program.device_config,
                                  self.program.cookie)
        await self._probe_register_reads(conn)
        await self.nat.sync(conn, read_back=same)   # before the services that use it
        await self._install_config(conn)
        await overload.start(conn, self.p4, self.view.overload, self.services.by_id, same, log)
        await self.timers.write_heartbeat(conn)  # proxying resumes with the sync
        now = self.clock()
        self.view.filter_reset = FilterReset(self.cfg.sessions.timeouts.established, now)
        if same:
            await self._restore(conn, now)
        else:
            self.view.table = self.view.fresh_table()
            self.view.keys.start(now)
            await self.timers.write_keys(conn, self.view.keys.state)
            for sw in self.services.auto.values():
                sw.active = False
            self.view.passthrough_epoch = 1  # the program's default
        log.info("event=synced pushed=%s sessions=%d register_reads=%s", not same,
                 len(self.view.table), self.view.register_reads)

    async def _probe_register_reads(self, conn: Connection) -> None:
        """Whether the target reads registers through P4Runtime: one cell of
        session_state. bmv2 (PI) answers UNIMPLEMENTED: the controller then runs on
        session_event digests and idle timeouts alone (said once, not per connection)."""
        try:
            await conn.read([self.codec.read_cell_query("session_state", 1)])
            able = True
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            able = False
            if self.view.register_reads is not False:
                log.warning("event=no_register_reads detail=%r: session states come from "
                            "digests only, restored sessions are taken as established",
                            exc.details())
        self.view.register_reads = able

    async def _install_config(self, conn: Connection) -> None:
        """Forwarding, services, clone sessions, digests: inserted, or modified where
        they already exist (a restart finds them in place)."""
        p4, cfg = self.p4, self.cfg
        entries: list[Any] = list(install.forwarding_entries(p4, cfg))
        for sid, s in self.services.items():
            entries += install.service_entries(p4, s, sid)
        entries += install.deny_entries(p4, self.services.by_id)
        entries += overload.protocol_entries(p4, self.services.by_id)
        entries += fullnat.local_address_entries(p4, cfg, install.router_mac(cfg))  # D7
        entries += install.clone_sessions(cfg)
        entries += install.digest_entries(p4)
        await upsert(conn, entries)

    async def _restore(self, conn: Connection, now: float) -> None:
        """Rebuild the session table from the switch (C9): entries of `sessions` and
        `sessions_v6` (slot and gen from their parameters; one slot pool for both
        families), states where registers can be read, keys, defence, epoch.
        Without register reads a restored session is taken as ESTABLISHED: idle
        timeouts (or its state timeout) end it, its digests update it."""
        old = self.view.table
        clients: dict[int, install.RestoredEntry] = {}
        servers: dict[int, install.RestoredEntry] = {}
        clashes: list[install.RestoredEntry] = []
        for found_entity in await conn.read(self.codec.read_entries_queries()):
            if found_entity.WhichOneof("entity") == "table_entry":
                e = self.codec.decode_entry(found_entity.table_entry)
                if e is None:
                    continue
                held = clients if e.direction == "client" else servers
                if e.params["slot"] in held:  # one slot in both tables: neither is kept
                    clashes += [e, held.pop(e.params["slot"])]
                else:
                    held[e.params["slot"]] = e
        maps = await fullnat.read_maps(conn, self.codec.fullnat)  # D7: slot -> tuples
        states: dict[int, int] = {}
        if self.view.register_reads:
            states = await self.timers.read_states(conn, {slot: c.params["gen"]
                                                    for slot, c in clients.items()})
        table = self.view.fresh_table()
        # Gens go on above every gen the switch holds, even of entries deleted below.
        table.last_gen = max([table.last_gen] + [e.params["gen"] for e in
                                                 (*clients.values(), *servers.values())])
        stale = conn.write_request()
        for slot, c in clients.items():
            srv = servers.pop(slot, None)
            gen = c.params["gen"]
            if (srv is None or srv.params["gen"] != gen or gen == 0
                    or not 1 <= slot <= table.capacity):
                # Half-present (one direction, or a restart half written): gone.
                for e in (c, srv):
                    if e is not None:
                        self.codec.delete(stale.updates, e.key)
                continue
            if self.view.register_reads:
                # A slot whose session_gen is not the entries' has seen no packet yet.
                state = states.get(slot) or State.SYN_SENT
            else:
                state = State.ESTABLISHED
            prev = old.by_slot.get(slot)
            flow = c.key
            s = Session(slot, flow, c.params["service_id"], c.params["rs_addr"],
                        c.params["rs_port"], srv.params["cookie"], 0, None, state, now, now,
                        gen=gen)
            if prev is not None and prev.flow == flow and prev.gen == gen:
                s = dataclasses.replace(prev, state=state if self.view.register_reads else prev.state)
            m = maps.pop(slot, None)
            if not fullnat.adopt(s, m, srv.key):
                # A FULLNAT server entry without its map, or a map of another flow.
                for e in (c, srv):
                    self.codec.delete(stale.updates, e.key)
                if m is not None and self.codec.fullnat is not None:
                    self.codec.fullnat.delete(stale.updates, slot)
                continue
            if m is not None and not s.laddr and self.codec.fullnat is not None:
                self.codec.fullnat.delete(stale.updates, slot)  # an earlier session's
            s.confirmed = now
            table.restore(s)
        for srv in (*servers.values(), *clashes):
            self.codec.delete(stale.updates, srv.key)
        if self.codec.fullnat is not None:
            for slot in maps:  # maps of no session
                self.codec.fullnat.delete(stale.updates, slot)
        self.view.table = table
        if stale.updates:
            try:
                await conn.send_write(stale)
            except WriteError:
                pass
        # Keys: carry on with the switch's, so handshakes in flight still validate.
        found = await conn.read([_default_entry_query(self.p4, "cookie_keys")])
        for e in found:
            act = e.table_entry.action.action
            if act.action_id == self.p4.action_id("set_cookie_keys"):
                names = {p.id: p.name for p in self.p4.action("set_cookie_keys").params}
                self.view.keys.adopt(KeyState.from_params(
                    {names[p.param_id]: to_int(p.value) for p in act.params}), now)
                break
        else:
            self.view.keys.start(now)
            await self.timers.write_keys(conn, self.view.keys.state)
        await self._restore_defence(conn)

    async def _restore_defence(self, conn: Connection) -> None:
        """C8 state from the switch: the `defense` entries (an auto service is defended
        while its entry exists; entries of services no longer auto are deleted) and
        the passthrough epoch."""
        q = pb.Entity()
        q.table_entry.table_id = self.p4.table_id("defense")
        defended: set[int] = set()
        for e in await conn.read([q]):
            for m in e.table_entry.match:
                defended.add(to_int(m.exact.value))
        for sid, sw in self.services.auto.items():
            sw.active = sid in defended
        extra = sorted(defended - set(self.services.auto))
        if extra:
            try:
                await conn.write([install.defense_update(self.p4, sid, False)
                                     for sid in extra])
            except WriteError as exc:
                log.warning("event=defense_cleanup_failed error=%r", str(exc)[:200])
        self.view.passthrough_epoch = 1
        for e in await conn.read([_default_entry_query(self.p4, "passthrough_epoch")]):
            for p in e.table_entry.action.action.params:
                self.view.passthrough_epoch = to_int(p.value) or 1


def _default_entry_query(p4: P4InfoIndex, table: str) -> pb.Entity:
    """A read of `table`'s default entry."""
    e = pb.Entity()
    e.table_entry.table_id = p4.table_id(table)
    e.table_entry.is_default_action = True
    return e


async def upsert(conn: Connection, entries: list[Any]) -> None:
    """Insert `entries`, modifying those the switch already holds."""
    if not entries:
        return
    try:
        await conn.write([ent_update("INSERT", e) for e in entries])
    except WriteError as exc:
        again = [i for i, (code, _m) in exc.errors.items() if code == ALREADY_EXISTS]
        other = {i: e for i, e in exc.errors.items() if e[0] != ALREADY_EXISTS}
        if other:
            raise
        await conn.write([ent_update("MODIFY", entries[i]) for i in again])
