"""Choosing a real server for a new session (C2).

Two schedulers with one interface, `pick(flow) -> RealServer | None`:

* `WeightedRoundRobin`: smooth weighted round robin (each pick adds every server's
  weight to its credit and takes the largest, then charges it the total), which
  spreads a heavy server's turns out instead of sending it bursts.
* `ConsistentHash`: a Maglev-style lookup table filled from per-server permutations,
  so a given client keeps its server while the set of servers is unchanged, and
  only about 1/n of clients move when one of n servers is added or removed.

* `LeastConnection`: weighted least connection (LVS `wlc`): the server with the fewest
  sessions per unit of weight (`load(server)`: its sessions in the table now), the
  first listed on a tie.

Servers with weight 0 take no new sessions (drain), in all three.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from .config import RealServer

Flow = tuple[int, int, int, int]  # client address, client port, VIP address, VIP port


class WeightedRoundRobin:
    def __init__(self, servers: Sequence[RealServer]) -> None:
        self.servers = [s for s in servers if s.weight > 0]
        self._credit = [0] * len(self.servers)
        self._total = sum(s.weight for s in self.servers)

    def pick(self, flow: Flow | None = None) -> RealServer | None:
        if not self.servers:
            return None
        best = 0
        for i, s in enumerate(self.servers):
            self._credit[i] += s.weight
            if self._credit[i] > self._credit[best]:
                best = i
        self._credit[best] -= self._total
        return self.servers[best]


def _h(data: bytes, salt: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=salt).digest(), "big")


class ConsistentHash:
    """Maglev hashing over a prime-sized table; weights scale each server's share."""

    TABLE_SIZE = 65537

    def __init__(self, servers: Sequence[RealServer], table_size: int = TABLE_SIZE) -> None:
        self.servers = [s for s in servers if s.weight > 0]
        self.size = table_size
        self.table: list[int] = []
        if self.servers:
            self._populate()

    def _populate(self) -> None:
        m = self.size
        perms = []
        for s in self.servers:
            name = f"{s.address}:{s.port}".encode()
            offset = _h(name, b"offset") % m
            skip = _h(name, b"skip") % (m - 1) + 1
            perms.append((offset, skip))
        nxt = [0] * len(self.servers)
        table = [-1] * m
        filled = 0
        # Weighted fill: each round a server places as many entries as its weight.
        while True:
            for i, s in enumerate(self.servers):
                for _ in range(s.weight):
                    offset, skip = perms[i]
                    c = (offset + nxt[i] * skip) % m
                    while table[c] >= 0:
                        nxt[i] += 1
                        c = (offset + nxt[i] * skip) % m
                    table[c] = i
                    nxt[i] += 1
                    filled += 1
                    if filled == m:
                        self.table = table
                        return

    def pick(self, flow: Flow | None = None) -> RealServer | None:
        if not self.servers:
            return None
        key = b"" if flow is None else b"".join(x.to_bytes(4, "big") for x in flow[:2])
        # Only the client's address and port: the VIP is fixed per scheduler.
        return self.servers[self.table[_h(key, b"flow") % self.size]]


class LeastConnection:
    def __init__(self, servers: Sequence[RealServer],
                 load: Callable[[RealServer], int]) -> None:
        self.servers = [s for s in servers if s.weight > 0]
        self.load = load

    def pick(self, flow: Flow | None = None) -> RealServer | None:
        best: RealServer | None = None
        best_load = 0
        for s in self.servers:
            n = self.load(s)
            # n / weight < best_load / best.weight, without division
            if best is None or n * best.weight < best_load * s.weight:
                best, best_load = s, n
        return best


Scheduler = WeightedRoundRobin | ConsistentHash | LeastConnection


def make_scheduler(kind: str, servers: Sequence[RealServer],
                   load: Callable[[RealServer], int] | None = None) -> Scheduler:
    if kind == "wrr":
        return WeightedRoundRobin(servers)
    if kind == "hash":
        return ConsistentHash(servers)
    if kind == "lc":
        return LeastConnection(servers, load or (lambda _s: 0))
    raise ValueError(f"unknown scheduler '{kind}' (expected wrr, hash or lc)")
