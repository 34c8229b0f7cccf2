"""p4sim's TNA pipeline (p4sim/backend/python/tna_pipeline.py) on a small TNA program
(tna_programs/forward.p4): the intrinsic metadata the parsers see, ucast_egress_port,
drop_ctl, RegisterAction semantics, Hash, Checksum, Digest, Mirror, direct counters,
multicast with the ingress port excluded, and recirculation.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_tna_pipeline.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from p4sim.backend.harness import Harness
from p4sim.backend.python.tna_pipeline import TnaPipeline

ROOT = Path(__file__).resolve().parents[2]
FORWARD = Path(__file__).parent / "tna_programs" / "forward.p4"
# The PTF suite's CRC-16/ARC, written apart from p4sim's hashes.
sys.path.insert(0, str(ROOT / "ptf-tests" / "lib"))
from crc_collisions import crc16_arc  # noqa: E402

SRC = 0x000000000001
DST = 0x000000000002
AFTER_RECIRC = 0x0000000000F0


def frame(dst: int = DST, src: int = SRC, probe: bool = True) -> bytes:
    head = dst.to_bytes(6, "big") + src.to_bytes(6, "big")
    if probe:
        return head + b"\x88\xb5" + bytes(6) + b"payload"
    return head + b"\x08\x00" + b"not a probe"


def probe_of(data: bytes) -> tuple[int, int, int]:
    """(flow_hash, port_count, addr_csum) of a probe frame."""
    assert data[12:14] == b"\x88\xb5"
    return tuple(int.from_bytes(data[14 + 2 * i : 16 + 2 * i], "big") for i in range(3))  # type: ignore[return-value]


def internet_checksum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.fixture
def h() -> Harness:
    return Harness.from_file(FORWARD)


def test_a_tna_program_gets_the_tna_pipeline(h: Harness) -> None:
    assert isinstance(h.pipeline, TnaPipeline)
    assert h.p4info.pkg_info.arch == "tna"


def test_forwarded_by_ucast_egress_port_with_payload(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [3])
    out = h.process(1, frame(probe=False))
    assert out == [(3, frame(probe=False))]


def test_unset_egress_port_and_drop_ctl_drop(h: Harness) -> None:
    assert h.process(1, frame()) == []  # default NoAction: ucast_egress_port never set
    h.add_entry("mac_table", [DST], "drop")
    assert h.process(1, frame()) == []
    assert h.pipeline.dropped == 2 and h.pipeline.faults == 0


def test_register_action_counts_per_ingress_port(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [3])
    counts = [probe_of(h.process(port, frame())[0][1])[1] for port in (1, 1, 2, 1)]
    assert counts == [1, 2, 1, 3]  # rv is the value after apply()
    reg = h.register("port_packets")
    assert (reg.values[1], reg.values[2], reg.values[3]) == (3, 1, 0)


def test_register_action_index_past_the_array_changes_nothing(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [3])
    reg = h.register("port_packets")
    reg.values[5] = 0xFFFF
    out = h.process(5, frame())
    assert probe_of(out[0][1])[1] == 0  # wraps at 16 bits: 0xffff + 1
    assert reg.values[5] == 0


def test_hash_and_checksum(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [3])
    flow_hash, _, csum = probe_of(h.process(1, frame())[0][1])
    addrs = DST.to_bytes(6, "big") + SRC.to_bytes(6, "big")
    assert flow_hash == crc16_arc(addrs)
    assert csum == internet_checksum(addrs)


def test_digest_of_unknown_sources_only(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [3])
    h.process(7, frame())
    assert h.digests == [(h.digest_id("learn_digest_t"), (SRC, 7))]
    h.add_entry("known_sources", [SRC], "NoAction")
    h.process(7, frame())
    assert len(h.digests) == 1


def test_direct_counter_counts_hits(h: Harness) -> None:
    entry = h.add_entry("mac_table", [DST], "forward", [3])
    for _ in range(3):
        h.process(1, frame())
    assert entry.packets == 3


def test_flood_leaves_out_the_ingress_port(h: Harness) -> None:
    h.add_multicast_group(9, [(1, 0), (2, 0), (3, 0)])
    h.add_entry("mac_table", [DST], "flood", [9])
    assert [port for port, _ in h.process(2, frame(probe=False))] == [1, 3]


def test_recirculation_runs_ingress_again_on_the_recirculation_port(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [68])
    h.add_entry("mac_table", [AFTER_RECIRC], "forward", [4])
    out = h.process(1, frame())
    assert len(out) == 1
    port, data = out[0]
    assert port == 4
    assert data[:6] == AFTER_RECIRC.to_bytes(6, "big")
    assert probe_of(data)[1] == 1  # counted once for port 1, then once for port 68
    assert h.register("port_packets").values[68] == 1


def test_recirculation_loop_is_bounded(h: Harness) -> None:
    h.add_entry("mac_table", [DST], "forward", [68])
    h.add_entry("mac_table", [AFTER_RECIRC], "forward", [68])
    assert h.process(1, frame()) == []
    assert h.pipeline.faults == 0 and h.pipeline.dropped == 1


def test_mirror_copies_to_the_clone_session_with_its_header(h: Harness) -> None:
    h.add_clone_session(5, [(3, 1)])
    h.add_entry("mac_table", [DST], "forward_mirrored", [2, 5])
    out = h.process(1, frame(probe=False))
    assert sorted(port for port, _ in out) == [2, 3]
    original = dict(out)[2]
    assert original[:6] == DST.to_bytes(6, "big")  # no mirror header on the original
    assert dict(out)[3] == (5).to_bytes(2, "big") + original


def test_mirror_of_a_dropped_packet_and_of_an_unknown_session(h: Harness) -> None:
    h.add_clone_session(5, [(3, 1)])
    h.add_entry("mac_table", [DST], "drop_mirrored", [5])
    assert [port for port, _ in h.process(1, frame(probe=False))] == [3]
    h.add_entry("mac_table", [AFTER_RECIRC], "forward_mirrored", [2, 6])  # no session 6
    assert [port for port, _ in h.process(1, frame(dst=AFTER_RECIRC, probe=False))] == [2]


def test_counter_bytes_with_a_negative_adjustment(h: Harness) -> None:
    data = frame(probe=False)
    h.process(3, data)
    h.process(3, data)
    assert (h.counter("port_bytes").packets[3], h.counter("port_bytes").bytes[3]) == (
        2, 2 * len(data))
    assert (h.counter("port_l3_bytes").packets[3], h.counter("port_l3_bytes").bytes[3]) == (
        2, 2 * (len(data) - 14))
