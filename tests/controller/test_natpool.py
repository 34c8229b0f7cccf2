"""Bucket assignment of the unproxied NAT (controller/natpool.py, C8).

Run: .venv/bin/python -m pytest -q tests/controller/test_natpool.py
"""

from __future__ import annotations

import random

import pytest

from controller.natpool import Pool, ServerKey, moved, rebalance, shares

N = 64
A, B, C, D = (("10.1.0.5", 80), ("10.1.0.6", 80), ("10.1.0.7", 80), ("10.1.0.7", 81))


def counts(pool: Pool) -> dict[ServerKey | None, int]:
    out: dict[ServerKey | None, int] = {}
    for k in pool.buckets:
        out[k] = out.get(k, 0) + 1
    return out


def test_weights_decide_the_shares() -> None:
    pool = rebalance([(A, 3), (B, 1)], N)
    assert counts(pool) == {A: 48, B: 16}
    assert len(pool.buckets) == N
    pool = rebalance([(A, 1), (B, 1), (C, 1)], N)
    assert sorted(counts(pool).values()) == [21, 21, 22]


def test_weight_zero_drains_and_no_weight_leaves_buckets_empty() -> None:
    pool = rebalance([(A, 1), (B, 0)], N)
    assert counts(pool) == {A: N}
    empty = rebalance([(A, 0)], N, pool)
    assert empty.buckets == (None,) * N
    assert rebalance([], N).buckets == (None,) * N


def test_fresh_assignment_is_deterministic() -> None:
    servers = [(A, 2), (B, 5), (C, 1)]
    assert rebalance(servers, N) == rebalance(list(servers), N)


def test_no_change_moves_nothing() -> None:
    pool = rebalance([(A, 2), (B, 5), (C, 1)], N)
    assert moved(pool.buckets, rebalance([(A, 2), (B, 5), (C, 1)], N, pool).buckets) == []


def test_removing_a_server_moves_only_its_buckets() -> None:
    before = rebalance([(A, 1), (B, 1), (C, 1)], N)
    after = rebalance([(A, 1), (C, 1)], N, before)
    changed = moved(before.buckets, after.buckets)
    assert changed == [b for b, k in enumerate(before.buckets) if k == B]
    assert counts(after) == {A: 32, C: 32}


def test_reweighting_a_server_moves_only_buckets_it_gains_or_loses() -> None:
    before = rebalance([(A, 1), (B, 1), (C, 1), (D, 1)], N)
    up = rebalance([(A, 1), (B, 5), (C, 1), (D, 1)], N, before)
    for b in moved(before.buckets, up.buckets):
        assert up.buckets[b] == B and before.buckets[b] != B
    assert counts(up)[B] == 40
    down = rebalance([(A, 1), (B, 0), (C, 1), (D, 1)], N, up)
    for b in moved(up.buckets, down.buckets):
        assert up.buckets[b] == B and down.buckets[b] != B
    assert B not in counts(down)


def test_adding_a_server_takes_buckets_without_reshuffling_the_rest() -> None:
    before = rebalance([(A, 1), (B, 1)], N)
    after = rebalance([(A, 1), (B, 1), (C, 2)], N, before)
    assert all(after.buckets[b] == C for b in moved(before.buckets, after.buckets))
    assert counts(after) == {A: 16, B: 16, C: 32}


def test_a_pool_read_back_without_weights_keeps_its_rows_where_shares_allow() -> None:
    """After a restart the controller knows the switch's rows but not the weights they
    were made for: rows within the new shares stay."""
    made = rebalance([(A, 1), (B, 1)], N)
    again = rebalance([(A, 1), (B, 1)], N, Pool(made.buckets))
    assert moved(made.buckets, again.buckets) == []


@pytest.mark.parametrize("seed", range(4))
def test_single_changes_over_random_histories(seed: int) -> None:
    """Whatever came before, one added, removed or reweighted server moves only the
    buckets it gains or loses, and every server stays within 2 buckets of its exact
    share (changed ones within 1)."""
    rnd = random.Random(seed)
    for _ in range(300):
        servers = [((f"10.1.0.{i}", 80), rnd.randint(0, 9)) for i in range(rnd.randint(1, 8))]
        n = rnd.choice([8, 16, 64])
        pool = rebalance(servers, n)
        for _ in range(rnd.randint(0, 6)):
            i = rnd.randrange(len(servers))
            servers[i] = (servers[i][0], rnd.randint(0, 9))
            pool = rebalance(servers, n, pool)
        new = list(servers)
        op = rnd.choice(["weight", "remove", "add"])
        if op == "weight":
            i = rnd.randrange(len(new))
            new[i] = (new[i][0], rnd.randint(0, 9))
            changed = new[i][0]
        elif op == "remove":
            changed = new.pop(rnd.randrange(len(new)))[0]
        else:
            changed = ("10.2.0.1", 80)
            new.append((changed, rnd.randint(0, 9)))
        after = rebalance(new, n, pool)
        for b in moved(pool.buckets, after.buckets):
            assert changed in (pool.buckets[b], after.buckets[b]), (op, servers, new, b)
        total = sum(w for _k, w in new)
        for k, w in new:
            exact = n * w / total if total else 0
            bound = 1 if k == changed else 2
            assert abs(after.buckets.count(k) - exact) < bound, (k, w, new)
        assert (None in after.buckets) == (total == 0)


def test_shares_round_to_a_neighbour_of_the_exact_share() -> None:
    got = shares([(A, 1), (B, 1), (C, 1)], 64, {A: 22, B: 21, C: 21})
    assert got == {A: 22, B: 21, C: 21}
    got = shares([(A, 1), (B, 1), (C, 1)], 64, {A: 21, B: 22, C: 21})
    assert got == {A: 21, B: 22, C: 21}
    assert shares([(A, 0)], 64) == {}
