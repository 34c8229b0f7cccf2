"""Tables: exact/ternary/range keys, keyless tables, action data of bool and int<W>
type, directional arguments bound in the `actions` list (copy-in/copy-out), initial
and control-plane default actions, hit/miss and action_run, const entries in
priority order, direct counters and direct meters.
"""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness, skeleton, unpack_fields
from p4sim.device import MeterConfig

LOCALS = """
direct_meter<bit<8>>(MeterType.packets) dm;
direct_counter(CounterType.packets_and_bytes) dc;
action set_b(bool flag, int<8> s, bit<8> x) {
    hdr.o.flag = (bit<1>)flag;
    hdr.o.s = (bit<8>)(s >> 1);
    hdr.o.x = x;
}
action add_to(inout bit<8> target, bit<8> amount) { target = target + amount; }
action set_x(bit<8> x) { hdr.o.x = x; }
action metered() { dm.read(hdr.o.color); }
action nop() { }
table t_exact {
    key = { hdr.i.k: exact; }
    actions = { set_b; add_to(hdr.o.acc); set_x; nop; }
    default_action = set_x(42);
    counters = dc;
}
table t_const {
    key = { hdr.i.k: ternary; }
    actions = { set_x; nop; }
    const entries = {
        8w0x10 &&& 8w0xF0 : set_x(1);
        8w0x11 : set_x(2);
        8w0x20 &&& 8w0x00 : set_x(3);
        _ : set_x(4);
    }
}
table t_range {
    key = { hdr.i.k: range; }
    actions = { set_x; nop; }
    const entries = { 8w1 .. 8w5 : set_x(7); }
    default_action = nop();
}
table t_keyless {
    actions = { set_x; }
    default_action = set_x(99);
}
table t_meter {
    key = { hdr.i.k: exact; }
    actions = { metered; nop; }
    meters = dm;
}
"""

INGRESS = """
hdr.o.acc = 10;
hdr.o.color = 0xEE;
if (hdr.i.mode == 1) {
    t_exact.apply();
} else if (hdr.i.mode == 2) {
    switch (t_exact.apply().action_run) {
        set_b: { hdr.o.tag = 1; }
        add_to: { hdr.o.tag = 2; }
        default: { hdr.o.tag = 3; }
    }
} else if (hdr.i.mode == 3) {
    if (t_exact.apply().hit) { hdr.o.tag = 4; } else { hdr.o.tag = 5; }
} else if (hdr.i.mode == 4) {
    t_const.apply();
} else if (hdr.i.mode == 5) {
    t_range.apply();
} else if (hdr.i.mode == 6) {
    t_keyless.apply();
} else if (hdr.i.mode == 7) {
    t_meter.apply();
}
"""

OUT = "bit<1> flag; bit<7> pad; bit<8> s; bit<8> x; bit<8> acc; bit<8> tag; bit<8> color;"
NAMES = ["flag", "pad", "s", "x", "acc", "tag", "color"]
WIDTHS = [1, 7, 8, 8, 8, 8, 8]


@pytest.fixture(scope="module")
def text() -> str:
    return skeleton(
        in_fields="bit<8> mode; bit<8> k;", out_fields=OUT, ingress=INGRESS, ingress_locals=LOCALS
    )


@pytest.fixture()
def h(text: str) -> Harness:
    return Harness.from_source(text, clock=lambda: 5_000_000_000)


def run(h: Harness, mode: int, k: int) -> dict[str, int]:
    out = h.process(0, bytes([mode, k]))
    assert len(out) == 1
    return dict(zip(NAMES, unpack_fields(out[0][1], WIDTHS), strict=True))


def test_action_data_bool_and_signed(h: Harness) -> None:
    h.add_entry("t_exact", [7], "set_b", [1, 0xFA, 9])
    r = run(h, 1, 7)
    assert (r["flag"], r["s"], r["x"]) == (1, 0xFD, 9)  # -6 >> 1 == -3


def test_bound_inout_argument_is_copied_back(h: Harness) -> None:
    h.add_entry("t_exact", [8], "add_to", [5])
    assert run(h, 1, 8)["acc"] == 15


def test_initial_default_action_with_data_then_control_plane_default(h: Harness) -> None:
    assert run(h, 1, 200)["x"] == 42
    h.set_default("t_exact", "set_x", [17])
    assert run(h, 1, 200)["x"] == 17


def test_action_run_switch(h: Harness) -> None:
    h.add_entry("t_exact", [1], "set_b", [0, 0, 0])
    h.add_entry("t_exact", [2], "add_to", [1])
    h.add_entry("t_exact", [3], "nop", [])
    assert run(h, 2, 1)["tag"] == 1
    assert run(h, 2, 2)["tag"] == 2
    assert run(h, 2, 3)["tag"] == 3
    assert run(h, 2, 99)["tag"] == 3  # miss runs set_x: default label


def test_hit_and_miss(h: Harness) -> None:
    h.add_entry("t_exact", [1], "nop", [])
    assert run(h, 3, 1)["tag"] == 4
    assert run(h, 3, 2)["tag"] == 5


def test_const_entries_first_listed_wins(h: Harness) -> None:
    assert run(h, 4, 0x11)["x"] == 1
    assert run(h, 4, 0x1F)["x"] == 1
    assert run(h, 4, 0x25)["x"] == 3


def test_const_range_entries(h: Harness) -> None:
    assert run(h, 5, 1)["x"] == 7
    assert run(h, 5, 5)["x"] == 7
    assert run(h, 5, 6)["x"] == 0


def test_keyless_table_runs_default(h: Harness) -> None:
    assert run(h, 6, 0)["x"] == 99


def test_direct_counter_counts_hits_only(h: Harness) -> None:
    entry = h.add_entry("t_exact", [4], "nop", [])
    run(h, 1, 4)
    run(h, 1, 4)
    run(h, 1, 5)
    assert entry.packets == 2 and entry.bytes == 4


def test_direct_meter_colours_hits(h: Harness) -> None:
    entry = h.add_entry("t_meter", [1], "metered", [])
    h.table("t_meter").set_meter_config(entry, MeterConfig(cir=1, cburst=1, pir=2, pburst=2))
    assert [run(h, 7, 1)["color"] for _ in range(3)] == [0, 1, 2]
    # A miss runs the default action without a meter; read leaves its target alone.
    assert run(h, 7, 2)["color"] == 0xEE


def test_objects_left_out_of_the_p4info_do_not_stop_loading() -> None:
    """p4c leaves unused tables and actions out of the P4Info; the program still loads
    and runs (using such an object would be a packet fault, not a load error)."""
    locals_ = """
counter(4, CounterType.packets) unused_ctr;
action unused_act(bit<8> x) { hdr.o.x = x; unused_ctr.count(0); }
action used_act() { hdr.o.x = 1; }
table unused_t { key = { hdr.i.k: exact; } actions = { unused_act; } }
"""
    h = Harness.from_source(
        skeleton(
            in_fields="bit<8> mode; bit<8> k;",
            out_fields="bit<8> x;",
            ingress_locals=locals_,
            ingress="used_act();",
        )
    )
    assert not any(t.preamble.name.endswith("unused_t") for t in h.p4info.tables)
    assert h.process(0, bytes([0, 0])) == [(1, b"\x01")]


def test_validity_and_signed_keys() -> None:
    locals_ = """
action set_x(bit<8> x) { hdr.o.x = x; }
table t {
    key = { hdr.i.isValid(): exact @name("valid"); hdr.i.s: exact; }
    actions = { set_x; NoAction; }
    default_action = NoAction();
}
"""
    h = Harness.from_source(
        skeleton(
            in_fields="int<8> s;",
            out_fields="bit<8> x;",
            ingress_locals=locals_,
            ingress="hdr.o.x = 0; t.apply();",
        )
    )
    # Keys reach the table as the control plane writes them: 1 for true, and int<8>
    # -2 as its two's complement bits 0xFE.
    h.add_entry("t", [1, 0xFE], "set_x", [5])
    assert h.process(0, bytes([0xFE])) == [(1, b"\x05")]
    assert h.process(0, bytes([0x02])) == [(1, b"\x00")]
