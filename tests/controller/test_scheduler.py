"""Real-server scheduling: weights respected, spread smooth, hashing sticky and stable."""

from collections import Counter

import pytest

from controller.config import RealServer
from controller.scheduler import ConsistentHash, WeightedRoundRobin, make_scheduler

A, B, C = (RealServer(f"10.0.2.{i}", 80, w) for i, w in ((1, 5), (2, 1), (3, 1)))


def test_wrr_gives_each_server_its_weight_per_cycle() -> None:
    wrr = WeightedRoundRobin([A, B, C])
    picks = [wrr.pick() for _ in range(70)]
    assert Counter(p.address for p in picks) == {"10.0.2.1": 50, "10.0.2.2": 10, "10.0.2.3": 10}


def test_wrr_is_smooth() -> None:
    # Smooth WRR interleaves the light servers into the heavy one's turns: within a
    # cycle of 7 the weight-5 server never runs 3 times in a row, and never 5 times
    # across cycles (plain WRR would send it 5 back to back every cycle).
    wrr = WeightedRoundRobin([A, B, C])
    seq = "".join("A" if wrr.pick() is A else "x" for _ in range(21))
    assert seq.count("A") == 15 and "AAAAA" not in seq
    assert all("AAA" not in seq[i:i + 7] for i in range(0, 21, 7))


def test_zero_weight_drains_and_empty_gives_none() -> None:
    drained = RealServer("10.0.2.9", 80, 0)
    wrr = WeightedRoundRobin([drained, B])
    assert {wrr.pick().address for _ in range(5)} == {"10.0.2.2"}
    assert WeightedRoundRobin([drained]).pick() is None
    assert ConsistentHash([]).pick((1, 2, 3, 4)) is None


def test_hash_is_sticky_and_moves_few_flows_when_a_server_leaves() -> None:
    servers = [RealServer(f"10.0.2.{i}", 80, 1) for i in range(1, 6)]
    ch = ConsistentHash(servers, table_size=4099)
    flows = [(0x0A000000 + i, 1024 + i, 0x0A000064, 80) for i in range(3000)]
    before = {f: ch.pick(f) for f in flows}
    assert all(ch.pick(f) == before[f] for f in flows[:200])  # same flow, same server
    shares = Counter(s.address for s in before.values())
    assert min(shares.values()) > 3000 / 5 * 0.7  # roughly even
    gone = servers[2]
    after = ConsistentHash([s for s in servers if s != gone], table_size=4099)
    moved = sum(1 for f in flows if before[f] != gone and after.pick(f) != before[f])
    # Flows whose server stayed mostly stay put (Maglev: small disruption).
    assert moved < 0.1 * len(flows)


def test_hash_weights_scale_shares() -> None:
    heavy, light = RealServer("10.0.2.1", 80, 3), RealServer("10.0.2.2", 80, 1)
    ch = ConsistentHash([heavy, light], table_size=4099)
    shares = Counter(ch.table)
    assert 2.5 < shares[0] / shares[1] < 3.5


def test_make_scheduler_rejects_unknown() -> None:
    assert isinstance(make_scheduler("wrr", [A]), WeightedRoundRobin)
    with pytest.raises(ValueError, match="unknown scheduler"):
        make_scheduler("random", [A])
