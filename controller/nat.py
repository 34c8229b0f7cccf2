"""The switch's unproxied-NAT tables (C8): `nat_buckets` and `nat_reverse` kept in step
with the services, at start-up and after every service or real-server change; an IPv6
service's rows go to their twins `nat_buckets_v6` and `nat_reverse_v6` (D13).

What the switch holds is remembered (`nat_pools`, `nat_reverse`) so that a change writes only the rows
that differ, and the bucket assignment moves as few buckets as it can
(`natpool.rebalance`): a connection forwarded unproxied lives as long as its bucket
keeps its real server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from p4.v1 import p4runtime_pb2 as pb

from . import install
from .config import Service
from .entities import to_int
from .limits import has_ipv6_tables
from .natpool import Pool, ServerKey, rebalance
from .p4info import P4InfoIndex
from .p4rt import Connection
from .services import Services

log = logging.getLogger("controller")


class NatTables:
    def __init__(self, p4: P4InfoIndex, services: Services) -> None:
        self.p4 = p4
        self.services = services
        self.pools: dict[int, Pool] = {}  # service id -> the buckets the switch holds
        self.reverse: dict[ServerKey, ServerKey] = {}  # real server -> VIP:vport, ditto
        self._lock = asyncio.Lock()
        # D13: the IPv6 twins (nat_buckets_v6, nat_reverse_v6), where the program has them
        self.ipv6 = has_ipv6_tables(p4)

    def check_service(self, sid: int, s: Service) -> None:
        """A real server answers for one unproxied NAT service only (`nat_reverse` is
        keyed by its address and port); raise ValueError naming the other service."""
        if not install.nat_unproxied(s):
            return
        for other_sid, o in sorted(self.services.items()):
            if other_sid == sid or not install.nat_unproxied(o):
                continue
            mine = {(r.address, r.port) for r in s.real_servers}
            for r in o.real_servers:
                if (r.address, r.port) in mine:
                    raise ValueError(
                        f"real server {r.address}:{r.port} already serves NAT service "
                        f"'{o.name}' in mode {o.mode}"
                        + (", controller_down open" if o.mode == "on" else "")
                        + ": its answers could not be told apart (a mode on service with "
                        "controller_down: closed may share it)")

    def _target(self) -> tuple[dict[int, Pool], dict[ServerKey, ServerKey]]:
        n = install.nat_bucket_count(self.p4)
        # C12: a real server its health checks found dead gets no bucket (weight 0)
        pools = {sid: rebalance(install.nat_servers(
                     dataclasses.replace(s, real_servers=self.services.serving(sid))),
                     n, self.pools.get(sid))
                 for sid, s in sorted(self.services.items()) if install.nat_unproxied(s)}
        return pools, install.nat_reverse_map(self.services.by_id)

    async def apply(self, conn: Connection) -> None:
        """Write what changed since the last write: reverse entries first (a bucket
        never points at a server whose answers are not translated), then buckets,
        then the reverse entries no longer needed."""
        async with self._lock:
            pools, reverse = self._target()
            add, delete = install.nat_reverse_updates(self.p4, self.reverse, reverse)
            buckets: list[pb.Update] = []
            for sid in sorted(set(pools) | set(self.pools)):
                old = self.pools[sid].buckets if sid in self.pools else ()
                new = pools[sid].buckets if sid in pools else ()
                buckets += install.nat_bucket_updates(self.p4, sid, old, new)
            # The state follows each write that succeeded: a failure leaves it true.
            if add:
                await conn.write(add)
            self.reverse.update(reverse)
            if buckets:
                await conn.write(buckets)
            self.pools.clear()
            self.pools.update(pools)
            if delete:
                await conn.write(delete)
            for k in [k for k in self.reverse if k not in reverse]:
                del self.reverse[k]
            if buckets or add or delete:
                log.info("event=nat_tables buckets=%d reverse_added=%d reverse_deleted=%d",
                         len(buckets), len(add), len(delete))

    async def sync(self, conn: Connection, read_back: bool) -> None:
        """At start-up: learn what the switch holds (`read_back`: the pipeline was
        already there) or start from empty tables (just pushed), then apply."""
        if not read_back:
            self.pools.clear()
            self.reverse.clear()
        else:
            held, reverse = await self._read(conn)
            known = dict(self.pools)
            self.pools.clear()
            for sid, buckets in held.items():
                mine = known.get(sid)
                # The weights of our own last write hold if the switch has its rows.
                weights = mine.weights if mine is not None and mine.buckets == buckets else ()
                self.pools[sid] = Pool(buckets, weights)
            self.reverse.clear()
            self.reverse.update(reverse)
        await self.apply(conn)

    async def _read(
            self, conn: Connection) -> tuple[dict[int, tuple[ServerKey | None, ...]],
                                             dict[ServerKey, ServerKey]]:
        n = install.nat_bucket_count(self.p4)
        queries = []
        tables: tuple[str, ...] = ("nat_buckets", "nat_reverse")
        if self.ipv6:
            tables += ("nat_buckets_v6", "nat_reverse_v6")
        for table in tables:
            e = pb.Entity()
            e.table_entry.table_id = self.p4.table_id(table)
            queries.append(e)
        buckets_ids = {self.p4.table_id(t) for t in tables if t.startswith("nat_buckets")}
        held: dict[int, list[ServerKey | None]] = {}
        reverse: dict[ServerKey, ServerKey] = {}
        for e in await conn.read(queries):
            t = e.table_entry
            if t.is_default_action:
                continue
            key = {self._field_name(t.table_id, m.field_id): to_int(m.exact.value)
                   for m in t.match}
            params = {self._param_name(t.action.action.action_id, p.param_id): to_int(p.value)
                      for p in t.action.action.params}
            if t.table_id in buckets_ids:
                b = key.get("bucket", n)
                if b < n and "rs_addr" in params:
                    row = held.setdefault(key.get("service_id", 0), [None] * n)
                    row[b] = (install.ip_text(params["rs_addr"]), params["rs_port"])
            elif "vip_addr" in params:
                reverse[(install.ip_text(key["src_addr"]), key["src_port"])] = (
                    install.ip_text(params["vip_addr"]), params["vip_port"])
        return {sid: tuple(row) for sid, row in held.items()}, reverse

    def _field_name(self, table_id: int, field_id: int) -> str:
        t: Any = self.p4.by_id("tables", table_id)
        return next((m.name for m in t.match_fields if m.id == field_id), "")

    def _param_name(self, action_id: int, param_id: int) -> str:
        a: Any = self.p4.by_id("actions", action_id)
        return next((p.name for p in a.params if p.id == param_id), "")
