"""Run-time operator actions of the controller (C10): status, sessions, counters read
from the switch, services added and removed, real servers changed.

What the operator socket (`control.py`) and `synproxyctl` reach.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shlex
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.rpc import code_pb2

from . import install, overload, p4consts, persist
from .config import Config, RealServer, Service, check_program, family, hostport, load_config
from .entities import counter_query
from .entities import update as ent_update
from .link import Link
from .metrics import Metrics, Snapshot
from .nat import NatTables
from .p4rt import Connection, RpcTimeout, WriteError
from .program import Program
from .services import Services
from .sessions import state_name
from .startup import upsert
from .view import SwitchView

log = logging.getLogger("controller.admin")

# The EV_* codes of p4src/common/defines.p4, so that operators read `syn_in` rather than 1.
EVENT_NAMES = {code: name.lower() for name, code in p4consts.EVENTS.items()
               if code != p4consts.EV_NONE}


def event_name(code: int) -> str:
    return EVENT_NAMES.get(code, str(code))


class Admin:
    def __init__(self, cfg: Config, program: Program, services: Services, view: SwitchView,
                 link: Link, nat: NatTables, synced: asyncio.Event,
                 stats: dict[str, int], metrics: Metrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.program = program
        self.p4 = program.p4
        self.services = services
        self.view = view
        self.link = link
        self.nat = nat
        self.synced = synced
        self.stats = stats
        self.metrics = metrics or Metrics()
        self.clock = clock
        # `counters --zero`: what the switch's counters were then, by (service, event)
        self._zero: dict[tuple[str, int], int] = {}
        self._zero_at: float | None = None
        self._last: tuple[float, dict[tuple[str, int], int]] | None = None
        self.stats_zero: dict[str, int] = {}

    def service_id(self, name: str) -> int:
        return self.services.id_of(name)

    async def read_counters(self) -> tuple[dict[int, int], dict[int, dict[int, int]]]:
        """The switch's event counters (packets): global ones by event code, and those
        of every service by service id, then event code (zeros included)."""
        conn = self._require_conn()
        queries = [counter_query(self.program.global_counter)]
        per_service = self.program.limits.events_per_service
        sids = list(self.services)
        queries += [counter_query(self.program.svc_counter, sid * per_service + ev)
                    for sid in sids for ev in range(1, per_service)]
        glob: dict[int, int] = {}
        per: dict[int, dict[int, int]] = {sid: {} for sid in sids}
        for e in await conn.read(queries):
            if e.WhichOneof("entity") != "counter_entry":
                continue
            c = e.counter_entry
            cid, index, packets = c.counter_id, c.index.index, c.data.packet_count
            if cid == self.program.global_counter:
                if index:
                    glob[index] = packets
            elif index // per_service in per:
                per[index // per_service][index % per_service] = packets
        return glob, per

    async def counters(self, zero: bool = False) -> dict[str, Any]:
        """Global event counters and per-service ones (packets, non-zero only), read from
        the switch, less what they were at the last `zero`: `global` and `services`
        keyed by event code, `by_name` (global) and `services_by_name` keyed by event
        name; `rates`: per second since the previous `counters` read (`elapsed`
        seconds ago; None at the first). The switch's counters themselves, and the
        Prometheus series, are never reset (counters only grow there)."""
        glob, per_sid = await self.read_counters()
        now = self.clock()
        raw = {("", ev): n for ev, n in glob.items()}
        for sid, evs in per_sid.items():
            if sid in self.services:  # not removed while the read was out
                raw.update({(self.services[sid].name, ev): n for ev, n in evs.items()})
        base = self._zero
        shown = {k: max(0, n - base.get(k, 0)) for k, n in raw.items()}
        rates: dict[str, Any] | None = None
        elapsed = None
        if self._last is not None and now > self._last[0]:
            elapsed = now - self._last[0]
            prev = self._last[1]
            rates = {"global": {}, "services": {}}
            for (svc, ev), n in raw.items():
                r = max(0, n - prev.get((svc, ev), 0)) / elapsed
                if r:
                    where = rates["global"] if not svc else rates["services"].setdefault(svc, {})
                    where[event_name(ev)] = r
        self._last = (now, raw)
        out_glob = {ev: n for (svc, ev), n in sorted(shown.items()) if not svc and n}
        per: dict[str, dict[int, int]] = {}
        for (svc, ev), n in sorted(shown.items()):
            if svc and n:
                per.setdefault(svc, {})[ev] = n
        result = {"global": out_glob, "services": per,
                  "by_name": {event_name(k): v for k, v in out_glob.items()},
                  "services_by_name": {s.name: {event_name(k): v
                                                for k, v in per.get(s.name, {}).items()}
                                       for s in self.services.values()},
                  "rates": rates, "elapsed": elapsed,
                  "zeroed_seconds_ago": None if self._zero_at is None else now - self._zero_at}
        if zero:
            self._zero, self._zero_at = raw, now
            self.stats_zero = {**self.stats, **self.view.table.stats}
        return result

    async def snapshot(self) -> Snapshot:
        """What a Prometheus scrape shows (metrics.SwitchCollector), on the loop."""
        snap = Snapshot(real_servers={}, families={
            s.name: f"ipv{family(s.vip)}" for s in self.services.values()})
        try:
            glob, per_sid = await self.read_counters()
        except (RuntimeError, RpcTimeout, grpc.aio.AioRpcError):
            pass  # not connected: no switch series in this scrape
        else:
            snap.switch = {event_name(ev): n for ev, n in glob.items()}
            snap.services = {self.services[sid].name: {event_name(ev): n
                                                       for ev, n in evs.items()}
                             for sid, evs in per_sid.items() if sid in self.services}
        per_rs = self._rs_sessions()
        created = self.metrics.switch.created
        assert snap.real_servers is not None
        for sid, s in self.services.items():
            for r in s.real_servers:
                key = (s.name, hostport(r.address, r.port))
                up = (r.address, r.port) not in self.services.down.get(sid, set())
                snap.real_servers[key] = (per_rs.get((sid, key[1]), 0), r.weight,
                                          created.get(key, 0), up)
        return snap

    def _rs_sessions(self) -> dict[tuple[int, str], int]:
        """Sessions in the table per (service id, "address:port")."""
        return {(sid, hostport(install.ip_text(addr), port)): n
                for (sid, addr, port), n in self.view.table.per_server.items()}

    def _require_conn(self) -> Connection:
        conn = self.link.conn
        if conn is None or not self.synced.is_set():
            raise RuntimeError("not connected to the switch as primary")
        return conn

    async def add_service(self, s: Service, check_vip: bool = True) -> int:
        """Add service `s`. `check_vip`: its ICMP/protocol policies must agree with
        those of the services on its VIP (off for a reload, whose file was checked
        as a whole: its services change one by one)."""
        if any(x.name == s.name for x in self.services.values()):
            raise ValueError(f"service '{s.name}' exists")
        if any((x.vip, x.port) == (s.vip, s.port) for x in self.services.values()):
            raise ValueError(f"{s.vip}:{s.port} is already a service")
        clash = overload.vip_conflicts([(0, x) for x in self.services.values()] + [(1, s)])
        if clash and check_vip:
            raise ValueError(f"service {s.name}: {clash[2]}")
        if s.fullnat is not None:  # D7: its local addresses are installed at start-up
            raise ValueError("a FULLNAT service is configured in the config file only")
        sid = self.services.free_id()
        self.nat.check_service(sid, s)
        conn = self._require_conn()
        self.services.set(sid, s)
        try:
            await self.nat.apply(conn)  # C8: buckets before the service that uses them
            await upsert(conn, install.service_entries(self.p4, s, sid)
                               + install.deny_entries(self.p4, {sid: s})
                               + overload.protocol_entries(self.p4, {sid: s}))
            await self._write_rates(conn, overload.service_cells(sid, s, s.mode != "off"))
        except Exception:
            self.services.remove(sid)
            raise
        log.info("event=service_added service=%s id=%d vip=%s port=%d mode=%s "
                 "real_servers=%s", s.name, sid, s.vip, s.port, s.mode, _servers(s.real_servers))
        return sid

    async def remove_service(self, name: str) -> None:
        sid = self.service_id(name)
        conn = self._require_conn()
        s = self.services[sid]
        mine = install.service_entries(self.p4, s, sid)
        others = {k: v for k, v in self.services.items() if k != sid}
        same_vip = {k: v for k, v in others.items() if v.vip == s.vip and v.mode != "off"}
        policies = overload.protocol_entries(self.p4, {sid: s})
        if not same_vip:
            mine += install.deny_entries(self.p4, {sid: s})
            mine += policies
        else:
            # D15: the VIP's deny entries and policies pass to its first remaining
            # service (deny_entries' rule) before this one's policies (keyed by its
            # id) go, so its ICMP never meets a VIP without a policy.
            await upsert(conn, install.deny_entries(self.p4, same_vip)
                               + overload.protocol_entries(self.p4, same_vip))
            owner = min(same_vip)
            await self._write_rates(conn, overload.service_cells(owner, same_vip[owner]))
            if policies:  # none on a program without D15's objects
                vip_table = self.p4.table_id("vip_protocols")
                mine += [e for e in policies if e.table_id == vip_table]
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
        # A later service reuses sid: its cells start unconfigured.
        await self._write_rates(conn, {cell: None for cell in overload.service_cells(sid, s)})
        self.metrics.forget_service(name)
        await self.nat.apply(conn)
        log.info("event=service_removed service=%s id=%d", name, sid)

    async def set_real_servers(self, name: str, servers: tuple[RealServer, ...]) -> None:
        """Replace a service's real servers; new sessions use them at once, and the
        buckets of an unproxied NAT service follow (C8; at the next sync when the
        switch is not connected)."""
        sid = self.service_id(name)
        await self.update_service(dataclasses.replace(self.services[sid], real_servers=servers))

    async def update_service(self, s: Service) -> None:
        """Replace what only the controller holds of service `s.name` (its real
        servers, scheduler, health checks): nothing in the switch but the NAT buckets."""
        name, servers = s.name, s.real_servers
        sid = self.service_id(name)
        if s.nat and not servers:
            raise ValueError(f"a NAT service needs at least one real server ({name})")
        self.nat.check_service(sid, s)
        self.services.set(sid, s)
        self.metrics.forget_real_servers(name, {hostport(r.address, r.port) for r in servers})
        log.info("event=real_servers_changed service=%s real_servers=%s scheduler=%s "
                 "health=%s", name, _servers(servers), s.scheduler,
                 s.health.type if s.health else "none")
        if self.link.conn is not None and self.synced.is_set():
            await self.nat.apply(self.link.conn)

    async def set_health(self, sid: int, server: tuple[str, int], up: bool, why: str) -> None:
        """C12: a health check changed its verdict on a real server: in or out of
        scheduling, and of the NAT buckets (written now when connected)."""
        if sid not in self.services or not self.services.mark(sid, server, up):
            return
        log.info("event=health_changed service=%s real_server=%s up=%s reason=%s",
                 self.services[sid].name, hostport(*server), up, _quoted(why))
        if self.link.conn is not None and self.synced.is_set():
            await self.nat.apply(self.link.conn)

    def status(self) -> dict[str, Any]:
        table, auto = self.view.table, self.services.auto
        per_rs = self._rs_sessions()
        stats = {**self.stats, **table.stats}
        return {
            "primary": self.link.is_primary, "synced": self.synced.is_set(),
            "address": self.cfg.switch.address, "election_id": self.cfg.switch.election_id,
            "sessions": len(table), "free_slots": table.free_slots,
            "by_state": table.by_state(), "epoch": self.view.keys.state.epoch,
            "register_reads": self.view.register_reads,
            "passthrough_epoch": self.view.passthrough_epoch,
            "services": {s.name: {"id": sid, "vip": s.vip, "port": s.port, "mode": s.mode,
                                  "forwarding": s.forwarding,  # D7: fullnat, nat, transparent
                                  "defense_active": auto[sid].active if sid in auto else None,
                                  "real_servers": [
                                      {**dataclasses.asdict(r), "sessions": per_rs.get(
                                          (sid, hostport(r.address, r.port)), 0),
                                       "up": (r.address, r.port)
                                       not in self.services.down.get(sid, set())}
                                      for r in s.real_servers],
                                  "nat_buckets": self._nat_shares(sid)}
                         for sid, s in self.services.items()},
            "stats": {k: v - self.stats_zero.get(k, 0) for k, v in stats.items()},
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
                key = hostport(*k)
                out[key] = out.get(key, 0) + 1
        return out

    # ------------------------------------------------------------- D15 rates

    async def _write_rates(self, conn: Connection,
                           cells: dict[overload.MeterCell, overload.Rate | None]) -> None:
        await overload.write(conn, self.p4, self.view.overload, cells, key=False)
        self.view.overload.plan.update(cells)

    def rates(self) -> dict[str, Any]:
        """D15 as it runs: policies and rates (RATE[/PEAK][:BURST], None: no cap), and
        the rates the switch held at start-up where they differed."""
        state = self.view.overload
        out = overload.describe(dataclasses.replace(self.effective_config(),
                                                    overload=state.settings))
        out["found_at_start"] = {
            f"{name}[{'all' if index is None else index}]": r.text() if r else None
            for (name, index), r in state.found.items()}
        return out

    def _require_overload(self) -> None:
        if not self.program.limits.overload:
            raise ValueError("the program has no D15 meters or overload_config (the TNA "
                             "program, so far): no rate or early drop to set")

    async def set_rate(self, meter: str, rate: overload.Rate | None,
                       service: str | None = None) -> dict[str, Any]:
        """Change a meter's rate at run time (None: no cap); `effective_config` (so
        `save`) carries it. Service meters need `service`; an ICMP answer rate is
        its VIP's, so every service on the VIP changes with it."""
        self._require_overload()
        conn = self._require_conn()
        state = self.view.overload
        if meter in overload.GLOBAL_METERS:
            if service is not None:
                raise ValueError(f"{meter} is not a service's rate")
            changes: dict[str, Any] = {meter: rate}
            settings = dataclasses.replace(state.settings, **changes)
            await self._write_rates(conn, dict.fromkeys(overload.global_cells(meter), rate))
            state.settings = settings
        elif meter in overload.SERVICE_METERS:
            if service is None:
                raise ValueError(f"{meter} needs a service")
            sid = self.service_id(service)
            s = self.services[sid]
            change: dict[str, Any] = {meter: rate}
            new = {k: dataclasses.replace(v, **change)
                   for k, v in self.services.items()
                   if (v.vip == s.vip if meter == "icmp_rate" else k == sid)}
            kind = "service_syn_meter" if meter == "syn_rate" else "icmp_echo_meter"
            # Every protected service of the VIP: the one the switch's deny entries
            # name is the first's (deny_entries) or, after run-time changes, the
            # last added.
            cells = {cell: r for k, v in new.items()
                     for cell, r in overload.service_cells(k, v, v.mode != "off").items()
                     if cell[0] == kind}
            await self._write_rates(conn, cells)
            for k, v in new.items():
                self.services.set(k, v)
        else:
            raise ValueError(f"unknown meter {meter!r} (one of "
                             f"{', '.join(overload.GLOBAL_METERS + overload.SERVICE_METERS)})")
        log.info("event=rate_changed meter=%s service=%s rate=%s", meter, service or "-",
                 rate.text() if rate else "none")
        return self.rates()

    async def set_early_drop(self, probability: float) -> dict[str, Any]:
        """Change overload.early_drop at run time (0..1)."""
        if not 0 <= probability <= 1:
            raise ValueError(f"early_drop {probability} is out of range 0..1")
        self._require_overload()
        conn = self._require_conn()
        state = self.view.overload
        state.settings = dataclasses.replace(state.settings, early_drop=probability)
        await overload.write(conn, self.p4, state, {})
        log.info("event=early_drop_changed early_drop=%g", probability)
        return self.rates()

    # ------------------------------------------------------------- durable changes

    def effective_config(self) -> Config:
        """The config as it runs: the start-up config with the services of now."""
        return dataclasses.replace(self.cfg, services=tuple(self.services.values()),
                                   overload=self.view.overload.settings)

    def save(self, path: str | None = None) -> dict[str, Any]:
        """Write the effective config to `path` (default: the config file it was
        started with), atomically."""
        target = path or self.cfg.path
        if not target:
            raise ValueError("no path to save to: the controller was not started from a file")
        text = persist.to_yaml(self.effective_config())
        try:
            persist.write_atomic(target, text)
        except OSError as e:
            raise RuntimeError(f"{target}: cannot write: {e.strerror or e}") from None
        log.info("event=config_saved path=%s services=%d", target, len(self.services))
        return {"path": target, "services": len(self.services)}

    async def reload(self, path: str | None = None) -> dict[str, Any]:
        """Apply the services of the config file (default: the one the controller was
        started with) by difference: services added and removed, real servers changed
        in place; the session table is not touched (sessions of a removed service end
        with their connections). Other sections need a restart: reported, not applied."""
        source = path or self.cfg.path
        if not source:
            raise ValueError("no config file to reload")
        new = load_config(source)  # ConfigError (a ValueError): nothing changed
        check_program(new, self.program.limits)
        d = persist.diff_services(self.services.values(), new.services)
        if d.added or d.removed or d.replaced:
            self._require_conn()  # they write the switch: all of it or nothing now
        for name in d.removed:
            await self.remove_service(name)
        for svc in d.replaced:  # more than its real servers: the service anew
            await self.remove_service(svc.name)
            await self.add_service(svc, check_vip=False)
        for svc in d.servers:
            await self.update_service(svc)
        for svc in d.added:
            await self.add_service(svc, check_vip=False)
        ignored = persist.other_sections(self.cfg, new)
        result = {"path": source, "added": [s.name for s in d.added], "removed": d.removed,
                  "real_servers": [s.name for s in d.servers],
                  "replaced": [s.name for s in d.replaced], "need_restart": ignored}
        log.info("event=config_reloaded path=%s added=%s removed=%s real_servers=%s "
                 "replaced=%s need_restart=%s", source, ",".join(result["added"]) or "-",
                 ",".join(d.removed) or "-", ",".join(result["real_servers"]) or "-",
                 ",".join(result["replaced"]) or "-", ",".join(ignored) or "-")
        return result

    def sessions(self, limit: int = 1000) -> list[dict[str, Any]]:
        out = []
        for s in list(self.view.table.by_slot.values())[:limit]:
            c, vip, cport, vport = s.flow
            ip = install.ip_text
            out.append({"slot": s.slot, "client": hostport(ip(c), cport),
                        "vip": hostport(ip(vip), vport), "rs": hostport(ip(s.rs_addr), s.rs_port),
                        "service": self.services[s.service_id].name
                        if s.service_id in self.services else s.service_id,
                        "state": state_name(s.state), "gen": s.gen, "attempts": s.attempts,
                        "held_bytes": s.held.nbytes,
                        "local": f"{ip(s.laddr)}:{s.lport}" if s.laddr else None})
        return out


def _servers(servers: tuple[RealServer, ...]) -> str:
    """address:port/weight,... for a log line."""
    return ",".join(f"{hostport(r.address, r.port)}/{r.weight}" for r in servers) or "-"


def _quoted(text: str) -> str:
    """A log value with spaces, quoted as the key=value format (logs.py) reads it."""
    return shlex.quote(text) if text else "''"
