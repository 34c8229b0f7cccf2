"""Run-time operator actions of the controller (C10): status, sessions, counters read
from the switch, services added and removed, real servers changed.

What the operator socket (`control.py`) and `synproxyctl` reach.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from google.rpc import code_pb2

from . import install, p4consts
from .config import Config, RealServer, Service
from .entities import counter_query
from .entities import update as ent_update
from .link import Link
from .nat import NatTables
from .p4rt import Connection, WriteError
from .program import Program
from .services import Services
from .sessions import state_name
from .startup import upsert
from .view import SwitchView

# The EV_* codes of p4src/common/defines.p4, so that operators read `syn_in` rather than 1.
EVENT_NAMES = {code: name.lower() for name, code in p4consts.EVENTS.items()
               if code != p4consts.EV_NONE}


def event_name(code: int) -> str:
    return EVENT_NAMES.get(code, str(code))


class Admin:
    def __init__(self, cfg: Config, program: Program, services: Services, view: SwitchView,
                 link: Link, nat: NatTables, synced: asyncio.Event,
                 stats: dict[str, int]) -> None:
        self.cfg = cfg
        self.program = program
        self.p4 = program.p4
        self.services = services
        self.view = view
        self.link = link
        self.nat = nat
        self.synced = synced
        self.stats = stats

    def service_id(self, name: str) -> int:
        return self.services.id_of(name)

    async def counters(self) -> dict[str, Any]:
        """Global event counters and per-service ones (packets, non-zero only), read from
        the switch: `global` and `services` keyed by event code, `by_name` the global
        ones keyed by event name."""
        conn = self._require_conn()
        queries = [counter_query(self.program.global_counter)]
        per_service = self.program.limits.events_per_service
        queries += [counter_query(self.program.svc_counter, sid * per_service + ev)
                    for sid in self.services for ev in range(1, per_service)]
        glob: dict[int, int] = {}
        per: dict[str, dict[int, int]] = {}
        for e in await conn.read(queries):
            if e.WhichOneof("entity") != "counter_entry":
                continue
            c = e.counter_entry
            cid, index, packets = c.counter_id, c.index.index, c.data.packet_count
            if cid == self.program.global_counter:
                if packets:
                    glob[index] = packets
            elif packets:
                sid = index // per_service
                name = self.services[sid].name if sid in self.services else str(sid)
                per.setdefault(name, {})[index % per_service] = packets
        return {"global": glob, "services": per,
                "by_name": {event_name(k): v for k, v in sorted(glob.items())}}

    def _require_conn(self) -> Connection:
        conn = self.link.conn
        if conn is None or not self.synced.is_set():
            raise RuntimeError("not connected to the switch as primary")
        return conn

    async def add_service(self, s: Service) -> int:
        if any(x.name == s.name for x in self.services.values()):
            raise ValueError(f"service '{s.name}' exists")
        if any((x.vip, x.port) == (s.vip, s.port) for x in self.services.values()):
            raise ValueError(f"{s.vip}:{s.port} is already a service")
        sid = self.services.free_id()
        self.nat.check_service(sid, s)
        conn = self._require_conn()
        self.services.set(sid, s)
        try:
            await self.nat.apply(conn)  # C8: buckets before the service that uses them
            await upsert(conn, install.service_entries(self.p4, s, sid)
                               + install.deny_entries(self.p4, {sid: s}))
        except Exception:
            self.services.remove(sid)
            raise
        return sid

    async def remove_service(self, name: str) -> None:
        sid = self.service_id(name)
        conn = self._require_conn()
        s = self.services[sid]
        mine = install.service_entries(self.p4, s, sid)
        others = {k: v for k, v in self.services.items() if k != sid}
        if not any(o.vip == s.vip and o.mode != "off" for o in others.values()):
            mine += install.deny_entries(self.p4, {sid: s})
        auto = self.services.auto
        if sid in auto and auto[sid].active:
            mine.append(install.defense_entry(self.p4, sid))  # a later service reuses sid
        for e in mine:
            e.ClearField("action")
        try:
            await conn.write([ent_update("DELETE", e) for e in mine])
        except WriteError as exc:
            if any(c != code_pb2.NOT_FOUND for c, _m in exc.errors.values()):
                raise
        self.services.remove(sid)
        await self.nat.apply(conn)

    async def set_real_servers(self, name: str, servers: tuple[RealServer, ...]) -> None:
        """Replace a service's real servers; new sessions use them at once, and the
        buckets of an unproxied NAT service follow (C8; at the next sync when the
        switch is not connected)."""
        sid = self.service_id(name)
        s = dataclasses.replace(self.services[sid], real_servers=servers)
        if s.nat and not servers:
            raise ValueError(f"a NAT service needs at least one real server ({name})")
        self.nat.check_service(sid, s)
        self.services.set(sid, s)
        if self.link.conn is not None and self.synced.is_set():
            await self.nat.apply(self.link.conn)

    def status(self) -> dict[str, Any]:
        table, auto = self.view.table, self.services.auto
        return {
            "primary": self.link.is_primary, "synced": self.synced.is_set(),
            "address": self.cfg.switch.address, "election_id": self.cfg.switch.election_id,
            "sessions": len(table), "free_slots": table.free_slots,
            "by_state": table.by_state(), "epoch": self.view.keys.state.epoch,
            "register_reads": self.view.register_reads,
            "passthrough_epoch": self.view.passthrough_epoch,
            "services": {s.name: {"id": sid, "vip": s.vip, "port": s.port, "mode": s.mode,
                                  "defense_active": auto[sid].active if sid in auto else None,
                                  "real_servers": [dataclasses.asdict(r) for r in s.real_servers],
                                  "nat_buckets": self._nat_shares(sid)}
                         for sid, s in self.services.items()},
            "stats": {**self.stats, **table.stats},
        }

    def _nat_shares(self, sid: int) -> dict[str, int] | None:
        """C8: buckets per real server ("address:port") the switch holds, or None for a
        service without unproxied NAT."""
        pool = self.nat.pools.get(sid)
        if pool is None:
            return None
        out: dict[str, int] = {}
        for k in pool.buckets:
            if k is not None:
                out[f"{k[0]}:{k[1]}"] = out.get(f"{k[0]}:{k[1]}", 0) + 1
        return out

    def sessions(self, limit: int = 1000) -> list[dict[str, Any]]:
        out = []
        for s in list(self.view.table.by_slot.values())[:limit]:
            c, vip, cport, vport = s.flow
            ip = install.ip_text
            out.append({"slot": s.slot, "client": f"{ip(c)}:{cport}",
                        "vip": f"{ip(vip)}:{vport}", "rs": f"{ip(s.rs_addr)}:{s.rs_port}",
                        "service": self.services[s.service_id].name
                        if s.service_id in self.services else s.service_id,
                        "state": state_name(s.state), "gen": s.gen, "attempts": s.attempts,
                        "held_bytes": s.held.nbytes})
        return out
