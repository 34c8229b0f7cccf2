"""Pipeline end to end on tests/p4sim/programs/basic_fwd.p4: parse, LPM table with a
direct counter, const default action, checksum verify/update, deparse.

Expected packets are built with scapy, independently of p4sim.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from p4sim.backend.harness import Harness

PROGRAM = Path(__file__).parent / "programs" / "basic_fwd.p4"


@pytest.fixture(scope="module")
def compiled() -> Harness:
    return Harness.from_file(PROGRAM)


@pytest.fixture()
def h(compiled: Harness) -> Harness:
    # A fresh state per test, the compiled program reused.
    return Harness(compiled.program)


def _pkt(ttl: int = 64, dst: str = "10.1.2.3") -> Ether:
    return (
        Ether(dst="00:00:00:00:00:01", src="00:00:00:00:00:02")
        / IP(src="192.168.0.1", dst=dst, ttl=ttl)
        / TCP(sport=1234, dport=80, flags="S")
        / b"payload!"
    )


def test_lpm_hit_forwards_rewrites_and_fixes_checksum(h: Harness) -> None:
    entry = h.add_entry("ipv4_lpm", [(0x0A010000, 16)], "ipv4_forward", [0xAABBCCDDEEFF, 7])
    pkt = _pkt()
    out = h.process(3, bytes(pkt))
    assert len(out) == 1
    port, data = out[0]
    assert port == 7
    expected = pkt.copy()
    expected[Ether].src = "00:00:00:00:00:01"
    expected[Ether].dst = "aa:bb:cc:dd:ee:ff"
    expected[IP].ttl = 63
    del expected[IP].chksum
    assert data == bytes(Ether(bytes(expected)))
    # The IPv4 checksum the pipeline wrote is the one scapy computes.
    assert Ether(data)[IP].chksum == IP(bytes(Ether(bytes(expected))[IP]))[IP].chksum
    assert entry.packets == 1 and entry.bytes == len(bytes(pkt))


def test_miss_runs_const_default_drop(h: Harness) -> None:
    h.add_entry("ipv4_lpm", [(0x0A010000, 16)], "ipv4_forward", [1, 7])
    assert h.process(3, bytes(_pkt(dst="10.9.9.9"))) == []


def test_longest_prefix_wins(h: Harness) -> None:
    h.add_entry("ipv4_lpm", [(0x0A000000, 8)], "ipv4_forward", [1, 1])
    h.add_entry("ipv4_lpm", [(0x0A010200, 24)], "ipv4_forward", [2, 2])
    h.add_entry("ipv4_lpm", [(0x0A010000, 16)], "ipv4_forward", [3, 3])
    assert h.process(0, bytes(_pkt(dst="10.1.2.3")))[0][0] == 2
    assert h.process(0, bytes(_pkt(dst="10.1.9.3")))[0][0] == 3
    assert h.process(0, bytes(_pkt(dst="10.7.9.3")))[0][0] == 1


def test_ttl_one_is_dropped_by_apply_logic(h: Harness) -> None:
    h.add_entry("ipv4_lpm", [None], "ipv4_forward", [1, 1])
    assert h.process(0, bytes(_pkt(ttl=1))) == []
    assert len(h.process(0, bytes(_pkt(ttl=2)))) == 1


def test_non_ipv4_is_dropped_and_short_packet_does_not_crash(h: Harness) -> None:
    h.add_entry("ipv4_lpm", [None], "ipv4_forward", [1, 1])
    arp = bytes(Ether(type=0x0806)) + b"\x00" * 28
    assert h.process(0, arp) == []
    # Truncated IPv4 header: PacketTooShort, ipv4 invalid -> dropped by the apply logic.
    assert h.process(0, bytes(_pkt())[:20]) == []
    assert h.pipeline.faults == 0


def test_pipeline_load_from_device_config(compiled: Harness) -> None:
    import json

    from p4sim.backend.python.pipeline import Pipeline
    from p4sim.device import DeviceState

    config = json.dumps(
        {"format": "p4sim/1", "source": compiled.program.source_text, "filename": str(PROGRAM)}
    ).encode()
    state = DeviceState(compiled.p4info)
    pipeline = Pipeline.load(config, compiled.p4info, state, 510)
    table = state.table("ipv4_lpm")
    aid = next(
        a.preamble.id for a in compiled.p4info.actions if a.preamble.name.endswith("ipv4_forward")
    )
    table.insert((None,), 0, aid, (5, 9))
    assert [p for p, _ in pipeline.process(1, bytes(_pkt()))] == [9]


def test_bad_device_config_is_a_clear_error(compiled: Harness) -> None:
    from p4sim.backend.python.pipeline import Pipeline
    from p4sim.device import DeviceState
    from p4sim.frontend.errors import P4Error

    with pytest.raises(P4Error, match="p4sim/1"):
        Pipeline.load(b'{"pipelines": []}', compiled.p4info, DeviceState(compiled.p4info), 510)


@pytest.mark.parametrize("program", ["tcp_options.p4", "packet_io.p4", "basic_fwd.p4"])
def test_random_bytes_never_fault(program: str) -> None:
    """Garbage and truncated packets end as parser errors or drops, never as a fault."""
    import random

    h = Harness.from_file(Path(__file__).parent / "programs" / program)
    rng = random.Random(1234)
    base = bytes(
        Ether()
        / IP(dst="10.0.0.1")
        / TCP(options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("Timestamp", (1, 2))])
        / b"data"
    )
    for i in range(400):
        if i % 2:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
        else:
            cut = rng.randrange(0, len(base) + 1)
            buf = bytearray(base[:cut])
            for _ in range(rng.randrange(0, 4)):
                if buf:
                    buf[rng.randrange(len(buf))] = rng.getrandbits(8)
            data = bytes(buf)
        h.process(rng.randrange(0, 8), data)
    assert h.pipeline.faults == 0


IO_PROGRAM = Path(__file__).parent / "programs" / "packet_io.p4"


@pytest.fixture(scope="module")
def io_compiled() -> Harness:
    return Harness.from_file(IO_PROGRAM)


@pytest.fixture()
def io(io_compiled: Harness) -> Harness:
    return Harness(io_compiled.program, cpu_port=255)


ETH = bytes.fromhex("0000000000aa0000000000bb0800") + b"payload"


def test_packet_out_header_picks_the_port_and_is_not_emitted(io: Harness) -> None:
    packet_out = (3 << 7).to_bytes(2, "big")  # egress_port 3, 7 pad bits
    assert io.process(255, packet_out + ETH) == [(3, ETH)]


def test_unknown_destination_is_punted_with_packet_in_header(io: Harness) -> None:
    [(port, data)] = io.process(5, ETH)
    assert port == 255
    assert data == (5 << 7).to_bytes(2, "big") + ETH


def test_exact_and_optional_keys_typed_register_index_and_flooding(io: Harness) -> None:
    io.add_entry("l2_fwd", [0xAA, 1], "set_port", [4])
    assert io.process(1, ETH) == [(4, ETH)]
    io.add_entry("punt", [0x0800, 2], "send_to_cpu", [], priority=1)
    assert [p for p, _ in io.process(2, ETH)] == [255]
    assert io.register("seen_per_port").values[1] == 1
    assert io.register("seen_per_port").values[2] == 1
    io.table("l2_fwd").modify((0xAA, 1), 0, io.action_id("flood"), ())
    io.add_multicast_group(1, [(1, 0), (6, 0), (7, 0)])
    # The copy back to the ingress port is dropped in egress.
    assert [p for p, _ in io.process(1, ETH)] == [6, 7]
