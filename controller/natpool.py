"""Real servers for the buckets of the unproxied NAT (C8, p4src/v1model/control/nat.p4).

A NAT service in auto or off mode forwards its unproxied connections through a
bucket table: the switch hashes the client 4-tuple into one of `n` buckets and the
controller points every bucket at a real server. Without per-connection state, a
connection survives only as long as its bucket keeps its server, so the assignment
is sticky:

* a server of weight w is meant to hold n * w / W buckets (W the total weight);
  weight 0 holds none (drained); no weight at all leaves buckets empty (the switch
  then drops and counts, EV_DROP_NO_SERVER);
* a server that changed (added, reweighted; compared with the weights the previous
  assignment was made for) gets floor or ceil of its share; a removed one loses all;
* the servers that did not change absorb the difference: they keep their buckets,
  give up buckets a changed server needs (the one furthest above its exact share
  first) and take buckets nobody else needs (the one furthest below it first).

So adding, removing or reweighting one server moves only buckets that server gains
or loses, and every server stays within two buckets of its exact share
(`tests/controller/test_natpool.py` checks both over random histories). A fresh
assignment (no previous one) depends only on the servers and weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ServerKey = tuple[str, int]  # real server address, port


def shares(servers: Sequence[tuple[ServerKey, int]], n: int,
           previous_counts: dict[ServerKey, int] | None = None) -> dict[ServerKey, int]:
    """Buckets per server: floor or ceil of its exact share, summing to `n`; each
    count as close to `previous_counts` as the rounding allows."""
    live = [(k, w) for k, w in servers if w > 0]
    total = sum(w for _k, w in live)
    if total == 0 or n == 0:
        return {}
    old = previous_counts or {}
    lo = {k: n * w // total for k, w in live}
    hi = {k: -(-n * w // total) for k, w in live}
    frac = {k: (n * w) % total for k, w in live}  # remainder, in 1/total units
    count = {k: min(max(old.get(k, 0), lo[k]), hi[k]) for k, _w in live}
    order = [k for k, _w in live]
    rank = {k: i for i, k in enumerate(order)}
    raising = sum(count.values()) < n

    def untouched_last(k: ServerKey) -> int:
        """0: already moving the other way, 1: already moving this way, 2: unchanged."""
        moved = count[k] - old.get(k, 0)
        return 2 if moved == 0 else (0 if (moved < 0) == raising else 1)

    while sum(count.values()) != n:
        if raising:
            cands = [k for k in order if count[k] < hi[k]]
            k = min(cands, key=lambda k: (untouched_last(k), -frac[k], rank[k]))
            count[k] += 1
        else:
            cands = [k for k in order if count[k] > lo[k]]
            k = min(cands, key=lambda k: (untouched_last(k), frac[k], rank[k]))
            count[k] -= 1
    return {k: c for k, c in count.items() if c > 0}


@dataclass(frozen=True)
class Pool:
    """The buckets of one service and the (server, weight) list they were made for."""

    buckets: tuple[ServerKey | None, ...]
    weights: tuple[tuple[ServerKey, int], ...] = ()


def rebalance(servers: Sequence[tuple[ServerKey, int]], n: int,
              previous: Pool | None = None) -> Pool:
    """The server of each of `n` buckets for `servers`, (key, weight) pairs, moving
    only buckets that a changed server (added, removed, reweighted: compared with
    `previous.weights`) gains or loses.

    Changed servers get their share (`shares`); the others absorb the difference:
    buckets a changed server needs come from free buckets first, then from the
    unchanged server furthest above its exact share; buckets left over go to the
    unchanged server furthest below it. Without a previous pool every server counts
    as changed (a fresh, deterministic assignment)."""
    prev = list(previous.buckets if previous else ())[:n]
    prev += [None] * (n - len(prev))
    live = [(k, w) for k, w in servers if w > 0]
    total = sum(w for _k, w in live)
    if total == 0:
        return Pool((None,) * n, tuple(servers))
    weight = dict(servers)
    old_weight = dict(previous.weights) if previous else {}
    changed = {k for k, w in servers if old_weight.get(k) != w}
    counts: dict[ServerKey, int] = {}
    for k in prev:
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    quota = shares(servers, n, counts)
    out: list[ServerKey | None] = []
    have: dict[ServerKey, int] = {}
    # Keep what may stay: unchanged servers all their buckets, changed ones up to
    # their share (lowest buckets first); the rest is free.
    for k in prev:
        keep = k is not None and k in weight and (
            k not in changed or have.get(k, 0) < quota.get(k, 0))
        if keep and k is not None:
            have[k] = have.get(k, 0) + 1
            out.append(k)
        else:
            out.append(None)
    free = [b for b in range(n) if out[b] is None]
    order = {k: i for i, (k, _w) in enumerate(servers)}

    def excess(k: ServerKey) -> float:
        """Buckets above the exact share (negative: below it)."""
        return have.get(k, 0) - n * weight[k] / total

    for k, _w in servers:
        if k not in changed:
            continue
        while have.get(k, 0) < quota.get(k, 0):
            if free:
                b = free.pop(0)
            else:
                donors = [d for d in have if d not in changed and have[d] > 0]
                donor = max(donors, key=lambda d: (excess(d), -order[d]))
                b = max(i for i in range(n) if out[i] == donor)
                have[donor] -= 1
            out[b] = k
            have[k] = have.get(k, 0) + 1
    takers = [k for k, w in live if k not in changed] or [k for k, _w in live]
    while free:
        k = min(takers, key=lambda t: (excess(t), order[t]))
        out[free.pop(0)] = k
        have[k] = have.get(k, 0) + 1
    return Pool(tuple(out), tuple(servers))


def moved(old: Sequence[ServerKey | None], new: Sequence[ServerKey | None]) -> list[int]:
    """Buckets whose server differs between two assignments."""
    n = max(len(old), len(new))
    pad_old = list(old) + [None] * (n - len(old))
    pad_new = list(new) + [None] * (n - len(new))
    return [b for b in range(n) if pad_old[b] != pad_new[b]]


__all__ = ["Pool", "ServerKey", "moved", "rebalance", "shares"]
