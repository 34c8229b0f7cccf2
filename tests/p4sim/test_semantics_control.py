"""Control-flow and value semantics: functions with return values and out/inout
parameters (copy-in/copy-out), direct action calls, nested control instances with
their own tables, exit from a nested control, return in apply, switch on values,
aggregates copied by value, header validity (setValid keeps fields, setInvalid),
header stack push_front/pop_front, header unions, enums, and control-local variables
that start fresh on every packet.
"""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness, skeleton, unpack_fields

TOP = """
header h8_t { bit<8> v; }
header ha_t { bit<8> a; }
header hb_t { bit<16> b; }
header_union u_t { ha_t a; hb_t b; }
struct pair_t { bit<8> x; bit<8> y; }
enum Color { RED, GREEN, BLUE }
enum bit<8> Code { ONE = 1, TWO = 2 }

bit<8> twice_plus(in bit<8> v, out bit<8> old, inout bit<8> acc) {
    old = v;
    acc = acc + v;
    return v + v;
}

control Inner(inout bit<8> value, inout standard_metadata_t sm) {
    action bump(bit<8> by) { value = value + by; }
    table inner_t {
        key = { value: exact; }
        actions = { bump; NoAction; }
        default_action = NoAction();
    }
    apply {
        inner_t.apply();
        if (value == 0xEE) {
            exit;
        }
    }
}
"""

LOCALS = """
Inner() first;
Inner() second;
bit<8> seen;
action set_r(bit<8> v) { hdr.o.r = v; }
"""

INGRESS = """
hdr.o.seen_before = seen;
seen = 0x42;
if (hdr.i.op == 1) {
    bit<8> old;
    bit<8> acc = 1;
    hdr.o.r = twice_plus(hdr.i.a, old, acc);
    hdr.o.s = old;
    hdr.o.t = acc;
} else if (hdr.i.op == 2) {
    set_r(hdr.i.a + 1);
} else if (hdr.i.op == 3) {
    bit<8> v = hdr.i.a;
    first.apply(v, sm);
    hdr.o.r = v;
    second.apply(v, sm);
    hdr.o.s = v;
    hdr.o.t = 1;
} else if (hdr.i.op == 4) {
    pair_t p = {x = hdr.i.a, y = 2};
    pair_t q = p;
    q.x = 9;
    hdr.o.r = p.x;
    hdr.o.s = q.x;
    hdr.o.t = (bit<8>)(bit<1>)(p == q);
} else if (hdr.i.op == 5) {
    h8_t x;
    x.setValid();
    x.v = hdr.i.a;
    h8_t y = x;
    x.setInvalid();
    hdr.o.r = (bit<8>)(bit<1>)x.isValid();
    hdr.o.s = (bit<8>)(bit<1>)y.isValid();
    x.setValid();
    hdr.o.t = x.v;
} else if (hdr.i.op == 6) {
    hdr.stk[0].setValid(); hdr.stk[0].v = 10;
    hdr.stk[1].setValid(); hdr.stk[1].v = 11;
    hdr.stk.push_front(1);
    hdr.o.r = (bit<8>)(bit<1>)hdr.stk[0].isValid();
    hdr.o.s = hdr.stk[1].v;
    hdr.o.t = hdr.stk[2].v;
    hdr.stk.pop_front(2);
    hdr.o.u = hdr.stk[0].v;
    hdr.o.w = (bit<8>)(bit<1>)hdr.stk[1].isValid();
} else if (hdr.i.op == 7) {
    hdr.un.a.setValid();
    hdr.un.a.a = 5;
    hdr.o.r = (bit<8>)(bit<1>)hdr.un.isValid();
    hdr.un.b.setValid();
    hdr.o.s = (bit<8>)(bit<1>)hdr.un.a.isValid();
    hdr.o.t = (bit<8>)(bit<1>)hdr.un.b.isValid();
} else if (hdr.i.op == 8) {
    Color c = Color.GREEN;
    if (hdr.i.a == 0) { c = Color.BLUE; }
    switch (hdr.i.a) {
        0: { hdr.o.r = 100; }
        1:
        2: { hdr.o.r = 101; }
        default: { hdr.o.r = 102; }
    }
    hdr.o.s = (c == Color.BLUE) ? 8w1 : 8w0;
    hdr.o.t = (bit<8>)Code.TWO;
} else if (hdr.i.op == 9) {
    hdr.o.r = 1;
    return;
}
hdr.o.u = hdr.o.u + 0x10;
"""

OUT = "bit<8> r; bit<8> s; bit<8> t; bit<8> u; bit<8> w; bit<8> seen_before;"
NAMES = ["r", "s", "t", "u", "w", "seen_before"]


@pytest.fixture(scope="module")
def compiled() -> Harness:
    return Harness.from_source(
        skeleton(
            in_fields="bit<8> op; bit<8> a;",
            out_fields=OUT,
            ingress=INGRESS,
            ingress_locals=LOCALS,
            top=TOP,
            headers="h8_t[3] stk; u_t un;",
        )
    )


@pytest.fixture()
def h(compiled: Harness) -> Harness:
    return Harness(compiled.program)


def run(h: Harness, op: int, a: int = 0) -> dict[str, int] | None:
    out = h.process(0, bytes([op, a]))
    if not out:
        return None
    return dict(zip(NAMES, unpack_fields(out[0][1], [8] * 6), strict=True))


def test_function_return_and_out_inout(h: Harness) -> None:
    r = run(h, 1, 7)
    assert r is not None and (r["r"], r["s"], r["t"]) == (14, 7, 8)


def test_direct_action_call(h: Harness) -> None:
    r = run(h, 2, 7)
    assert r is not None and r["r"] == 8


def test_nested_instances_have_their_own_tables(h: Harness) -> None:
    h.add_entry("Ig.first.inner_t", [5], "Ig.first.bump", [10])
    h.add_entry("Ig.second.inner_t", [15], "Ig.second.bump", [100])
    r = run(h, 3, 5)
    assert r is not None and (r["r"], r["s"], r["t"]) == (15, 115, 1)


def test_exit_in_nested_control_ends_ingress(h: Harness) -> None:
    h.add_entry("Ig.first.inner_t", [0xE0], "Ig.first.bump", [0x0E])
    r = run(h, 3, 0xE0)
    # exit: nothing after first.apply() ran, not even the final statement.
    assert r is not None and (r["r"], r["s"], r["t"], r["u"]) == (0, 0, 0, 0)


def test_structs_are_copied_by_value(h: Harness) -> None:
    r = run(h, 4, 3)
    assert r is not None and (r["r"], r["s"], r["t"]) == (3, 9, 0)


def test_header_copy_and_validity(h: Harness) -> None:
    r = run(h, 5, 0x33)
    # y copied x while valid; setInvalid/setValid keep the stored field (bmv2).
    assert r is not None and (r["r"], r["s"], r["t"]) == (0, 1, 0x33)


def test_stack_push_and_pop(h: Harness) -> None:
    r = run(h, 6)
    assert r is not None
    assert (r["r"], r["s"], r["t"]) == (0, 10, 11)
    assert (r["u"], r["w"]) == (0x10 + 11, 0)


def test_union_members_exclude_each_other(h: Harness) -> None:
    r = run(h, 7)
    assert r is not None and (r["r"], r["s"], r["t"]) == (1, 0, 1)


def test_union_member_assignment() -> None:
    """`u.h = e` (P4_16 header unions): a valid e makes h valid with e's fields and
    every other member invalid, even when e is another member of u; an invalid e
    makes h invalid and leaves the others alone (what p4c lowers it to for bmv2)."""
    top = """
header ha_t { bit<8> a; }
header hb_t { bit<16> b; }
header_union u_t { ha_t a; hb_t b; ha_t c; }
"""
    ingress = """
hb_t x; x.setValid(); x.b = 7;
hb_t off; off.setInvalid();
hdr.un.a.setValid(); hdr.un.a.a = 5;
if (hdr.i.op == 1) { hdr.un.b = x; }
else if (hdr.i.op == 2) { hdr.un.b = off; }
else if (hdr.i.op == 3) { hdr.un.c = hdr.un.a; }
hdr.o.r = (bit<8>)(bit<1>)hdr.un.a.isValid();
hdr.o.s = (bit<8>)(bit<1>)hdr.un.b.isValid();
hdr.o.t = (bit<8>)(bit<1>)hdr.un.c.isValid();
hdr.o.u = hdr.un.b.b[7:0] + hdr.un.c.a;
"""
    h = Harness.from_source(skeleton(in_fields="bit<8> op;", out_fields="bit<8> r; bit<8> s; "
                                     "bit<8> t; bit<8> u;", ingress=ingress, top=top,
                                     headers="u_t un;"))
    got = {}
    for op in (0, 1, 2, 3):
        out = h.process(0, bytes([op]))
        got[op] = unpack_fields(out[0][1], [8] * 4)
    assert got[0] == [1, 0, 0, 0]
    assert got[1] == [0, 1, 0, 7]   # b = x: a invalidated
    assert got[2] == [1, 0, 0, 0]   # b = invalid: a untouched
    assert got[3] == [0, 0, 1, 5]   # c = a: c valid with a's field, a invalidated


def test_switch_on_values_with_fallthrough_and_enums(h: Harness) -> None:
    vals = {a: run(h, 8, a) for a in (0, 1, 2, 3)}
    assert [v["r"] for v in vals.values() if v] == [100, 101, 101, 102]
    assert vals[0] is not None and vals[0]["s"] == 1 and vals[0]["t"] == 2
    assert vals[3] is not None and vals[3]["s"] == 0


def test_return_in_apply_skips_the_rest(h: Harness) -> None:
    r = run(h, 9)
    assert r is not None and r["r"] == 1 and r["u"] == 0


def test_control_locals_start_fresh_per_packet(h: Harness) -> None:
    run(h, 0)
    r = run(h, 0)
    assert r is not None and r["seen_before"] == 0 and r["u"] == 0x10


def test_function_returning_a_struct_and_nested_digest() -> None:
    top = """
struct inner_t { bit<8> p; bool q; }
struct outer_t { bit<16> a; inner_t b; }
outer_t make(in bit<8> v) {
    return {a = (bit<16>)v + 1, b = {p = v, q = true}};
}
"""
    h = Harness.from_source(
        skeleton(
            in_fields="bit<8> op; bit<8> a;",
            out_fields="bit<16> r; bit<8> s;",
            top=top,
            ingress="outer_t o = make(hdr.i.a); hdr.o.r = o.a; hdr.o.s = o.b.p; digest(1, o);",
        )
    )
    out = h.process(0, bytes([0, 41]))
    assert out[0][1][:3] == bytes([0, 42, 41])
    assert h.digests == [(h.digest_id("outer_t"), (42, (41, 1)))]


def test_long_else_if_chain_compiles() -> None:
    """Python caps indentation depth; a 150-branch else-if chain must still compile."""
    chain = " else ".join(f"if (hdr.i.a == {i}) {{ hdr.o.r = {i + 1}; }}" for i in range(150))
    h = Harness.from_source(
        skeleton(in_fields="bit<8> op; bit<8> a;", out_fields="bit<8> r;", ingress=chain)
    )
    assert h.process(0, bytes([0, 149]))[0][1][0] == 150
    assert h.process(0, bytes([0, 200]))[0][1][0] == 0
