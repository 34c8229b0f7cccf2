"""Run-time operator actions of the controller (C10): status, sessions, counters read
from the switch, services added and removed, real servers changed.

A mixin of `app.Controller`: it works on the controller's state (declared below).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from google.rpc import code_pb2

from . import install
from .config import Config, RealServer, Service
from .defence import AutoSwitch, KeyRing
from .entities import counter_query
from .entities import update as ent_update
from .nat import NatMixin
from .p4info import P4InfoIndex
from .p4rt import Connection, WriteError
from .sessions import SessionTable, state_name

EVENTS_PER_SERVICE = 32
# The EV_* codes of p4src/common/defines.p4 (a test checks this against the P4 file),
# so that operators read `syn_in` rather than 1.
EVENT_NAMES = {
    1: "syn_in", 2: "synack_sent", 3: "ack_valid", 4: "ack_invalid",
    5: "session_established", 6: "drop_no_session", 7: "drop_defer", 8: "drop_udp",
    9: "drop_fragment", 10: "drop_malformed", 11: "translated_c2s", 12: "translated_s2c",
    13: "server_reset", 14: "client_abort", 15: "early_data", 16: "drop_handshake",
    17: "drop_policy", 18: "syn_passed", 19: "server_synack_retx", 20: "malformed_passed",
    21: "reuse_ack", 22: "drop_no_key", 23: "passthrough", 24: "drop_no_server",
}


def event_name(code: int) -> str:
    return EVENT_NAMES.get(code, str(code))


class AdminMixin(NatMixin):
    cfg: Config
    p4: P4InfoIndex
    conn: Connection | None
    synced: asyncio.Event
    is_primary: bool
    table: SessionTable
    keys: KeyRing
    auto: dict[int, AutoSwitch]
    register_reads: bool | None
    passthrough_epoch: int
    services: dict[int, Service]
    stats: dict[str, int]
    schedulers: dict[int, Any]
    _global_counter: int
    _svc_counter: int

    def _set_service(self, sid: int, s: Service) -> None:
        raise NotImplementedError

    def service_id(self, name: str) -> int:
        raise NotImplementedError

    async def _upsert(self, conn: Connection, entries: list[Any]) -> None:
        raise NotImplementedError

    async def counters(self) -> dict[str, Any]:
        """Global event counters and per-service ones (packets, non-zero only), read from
        the switch: `global` and `services` keyed by event code, `by_name` the global
        ones keyed by event name."""
        conn = self._require_conn()
        queries = [counter_query(self._global_counter)]
        queries += [counter_query(self._svc_counter, sid * EVENTS_PER_SERVICE + ev)
                    for sid in self.services for ev in range(1, EVENTS_PER_SERVICE)]
        glob: dict[int, int] = {}
        per: dict[str, dict[int, int]] = {}
        for e in await conn.read(queries):
            if e.WhichOneof("entity") != "counter_entry":
                continue
            c = e.counter_entry
            cid, index, packets = c.counter_id, c.index.index, c.data.packet_count
            if cid == self._global_counter:
                if packets:
                    glob[index] = packets
            elif packets:
                sid = index // EVENTS_PER_SERVICE
                name = self.services[sid].name if sid in self.services else str(sid)
                per.setdefault(name, {})[index % EVENTS_PER_SERVICE] = packets
        return {"global": glob, "services": per,
                "by_name": {event_name(k): v for k, v in sorted(glob.items())}}

    def _require_conn(self) -> Connection:
        if self.conn is None or not self.synced.is_set():
            raise RuntimeError("not connected to the switch as primary")
        return self.conn

    async def add_service(self, s: Service) -> int:
        if any(x.name == s.name for x in self.services.values()):
            raise ValueError(f"service '{s.name}' exists")
        if any((x.vip, x.port) == (s.vip, s.port) for x in self.services.values()):
            raise ValueError(f"{s.vip}:{s.port} is already a service")
        sid = next(i for i in range(1, 256) if i not in self.services)
        self.check_nat_service(sid, s)
        conn = self._require_conn()
        self._set_service(sid, s)
        try:
            await self.nat_apply(conn)  # C8: buckets before the service that uses them
            await self._upsert(conn, install.service_entries(self.p4, s, sid)
                               + install.deny_entries(self.p4, {sid: s}))
        except Exception:
            self.services.pop(sid, None)
            self.schedulers.pop(sid, None)
            self.auto.pop(sid, None)
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
        if sid in self.auto and self.auto[sid].active:
            mine.append(install.defense_entry(self.p4, sid))  # a later service reuses sid
        for e in mine:
            e.ClearField("action")
        try:
            await conn.write([ent_update("DELETE", e) for e in mine])
        except WriteError as exc:
            if any(c != code_pb2.NOT_FOUND for c, _m in exc.errors.values()):
                raise
        del self.services[sid]
        self.schedulers.pop(sid, None)
        self.auto.pop(sid, None)
        await self.nat_apply(conn)

    async def set_real_servers(self, name: str, servers: tuple[RealServer, ...]) -> None:
        """Replace a service's real servers; new sessions use them at once, and the
        buckets of an unproxied NAT service follow (C8; at the next sync when the
        switch is not connected)."""
        sid = self.service_id(name)
        s = dataclasses.replace(self.services[sid], real_servers=servers)
        if s.nat and not servers:
            raise ValueError(f"a NAT service needs at least one real server ({name})")
        self.check_nat_service(sid, s)
        self._set_service(sid, s)
        if self.conn is not None and self.synced.is_set():
            await self.nat_apply(self.conn)

    def status(self) -> dict[str, Any]:
        return {
            "primary": self.is_primary, "synced": self.synced.is_set(),
            "address": self.cfg.switch.address, "election_id": self.cfg.switch.election_id,
            "sessions": len(self.table), "free_slots": self.table.free_slots,
            "by_state": self.table.by_state(), "epoch": self.keys.state.epoch,
            "register_reads": self.register_reads, "passthrough_epoch": self.passthrough_epoch,
            "services": {s.name: {"id": sid, "vip": s.vip, "port": s.port, "mode": s.mode,
                                  "defense_active": self.auto[sid].active if sid in self.auto
                                  else None,
                                  "real_servers": [dataclasses.asdict(r) for r in s.real_servers],
                                  "nat_buckets": self._nat_shares(sid)}
                         for sid, s in sorted(self.services.items())},
            "stats": {**self.stats, **self.table.stats},
        }

    def _nat_shares(self, sid: int) -> dict[str, int] | None:
        """C8: buckets per real server ("address:port") the switch holds, or None for a
        service without unproxied NAT."""
        pool = self.nat_pools.get(sid)
        if pool is None:
            return None
        out: dict[str, int] = {}
        for k in pool.buckets:
            if k is not None:
                out[f"{k[0]}:{k[1]}"] = out.get(f"{k[0]}:{k[1]}", 0) + 1
        return out

    def sessions(self, limit: int = 1000) -> list[dict[str, Any]]:
        out = []
        for s in list(self.table.by_slot.values())[:limit]:
            c, vip, cport, vport = s.flow
            ip = install.ip_text
            out.append({"slot": s.slot, "client": f"{ip(c)}:{cport}",
                        "vip": f"{ip(vip)}:{vport}", "rs": f"{ip(s.rs_addr)}:{s.rs_port}",
                        "service": self.services[s.service_id].name
                        if s.service_id in self.services else s.service_id,
                        "state": state_name(s.state), "gen": s.gen, "attempts": s.attempts,
                        "held_bytes": s.held.nbytes})
        return out
