"""Parser semantics: select with values, masks, ranges, tuples and no default; header
stack loops with next/last; lookahead, advance, verify, varbit extraction; and parser
errors recorded in standard_metadata.parser_error while the packet goes on to ingress
(v1model as bmv2 runs it), keeping the headers extracted before the error.
"""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness, skeleton

TOP = """
header h8_t { bit<8> v; }
header var_t { bit<8> len; varbit<32> data; }
error { Custom }
"""

PARSER = """
state start {
    pk.extract(hdr.i);
    transition select(hdr.i.mode) {
        1: loop;
        2: varb;
        8w0x30 &&& 8w0xF0: masked;
        8w0x40 .. 8w0x4F: ranged;
        5: look;
        6: check;
        7: skip;
        9: pair;
        11: oob;
    }
}
state oob {
    meta.tag = hdr.stk[(bit<32>)hdr.i.mode].v;
    transition accept;
}
state loop {
    pk.extract(hdr.stk.next);
    transition select(hdr.stk.last.v) {
        0: accept;
        default: loop;
    }
}
state varb {
    bit<8> l = pk.lookahead<bit<8>>();
    pk.extract(hdr.vb, (bit<32>)l * 8);
    transition accept;
}
state masked { meta.tag = 3; transition accept; }
state ranged { meta.tag = 4; transition accept; }
state look {
    meta.tag = pk.lookahead<bit<8>>();
    pk.extract(hdr.after);
    transition accept;
}
state check {
    pk.extract(hdr.after);
    verify(hdr.after.v == 7, error.Custom);
    transition accept;
}
state skip {
    pk.advance(16);
    pk.extract(hdr.after);
    transition accept;
}
state pair {
    transition select(hdr.i.mode, pk.lookahead<bit<8>>()) {
        (9, 1): pair_one;
        (9, _): pair_other;
    }
}
state pair_one { meta.tag = 10; transition accept; }
state pair_other { meta.tag = 11; transition accept; }
"""

INGRESS = """
if (sm.parser_error == error.NoError) { hdr.o.err = 0; }
else if (sm.parser_error == error.PacketTooShort) { hdr.o.err = 1; }
else if (sm.parser_error == error.NoMatch) { hdr.o.err = 2; }
else if (sm.parser_error == error.StackOutOfBounds) { hdr.o.err = 3; }
else if (sm.parser_error == error.HeaderTooShort) { hdr.o.err = 4; }
else if (sm.parser_error == error.Custom) { hdr.o.err = 9; }
else { hdr.o.err = 99; }
hdr.o.tag = meta.tag;
// lastIndex is parser-only (p4c rejects it in controls); count the valid elements.
hdr.o.count = (bit<8>)(bit<1>)hdr.stk[0].isValid() + (bit<8>)(bit<1>)hdr.stk[1].isValid()
    + (bit<8>)(bit<1>)hdr.stk[2].isValid();
hdr.o.s0 = (bit<1>)hdr.stk[0].isValid();
hdr.o.s1 = (bit<1>)hdr.stk[1].isValid();
hdr.o.s2 = (bit<1>)hdr.stk[2].isValid();
hdr.o.after_valid = (bit<1>)hdr.after.isValid();
hdr.o.vb_valid = (bit<1>)hdr.vb.isValid();
hdr.o.pad = 0;
hdr.o.after = hdr.after.v;
"""

OUT = (
    "bit<8> err; bit<8> tag; bit<8> count; bit<1> s0; bit<1> s1; bit<1> s2; "
    "bit<1> after_valid; bit<1> vb_valid; bit<3> pad; bit<8> after;"
)


@pytest.fixture(scope="module")
def h() -> Harness:
    return Harness.from_source(
        skeleton(
            in_fields="bit<8> mode;",
            out_fields=OUT,
            ingress=INGRESS,
            top=TOP,
            headers="h8_t[3] stk; var_t vb; h8_t after;",
            meta_fields="bit<8> tag;",
            parser_states=PARSER,
            deparser="pk.emit(hdr.o); pk.emit(hdr.vb);",
        )
    )


def run(h: Harness, data: bytes) -> dict[str, object]:
    out = h.process(0, data)
    assert len(out) == 1, "a parser error must not drop the packet (v1model)"
    o = out[0][1]
    flags = o[3]
    return {
        "err": o[0],
        "tag": o[1],
        "count": o[2],
        "stack": [(flags >> 7) & 1, (flags >> 6) & 1, (flags >> 5) & 1],
        "after_valid": (flags >> 4) & 1,
        "vb_valid": (flags >> 3) & 1,
        "after": o[4],
        "rest": o[5:],
    }


def test_stack_loop_until_terminator(h: Harness) -> None:
    r = run(h, bytes([1, 5, 6, 0, 0xEE]))
    assert r["err"] == 0 and r["count"] == 3 and r["stack"] == [1, 1, 1]
    assert r["rest"] == b"\xee"  # unparsed bytes follow the deparsed headers


def test_stack_overflow_is_stack_out_of_bounds(h: Harness) -> None:
    r = run(h, bytes([1, 5, 6, 7, 0]))
    assert r["err"] == 3 and r["count"] == 3 and r["stack"] == [1, 1, 1]
    # The element that did not fit was not consumed: it is still payload.
    assert r["rest"] == b"\x00"


def test_short_packet_is_packet_too_short_and_keeps_earlier_headers(h: Harness) -> None:
    r = run(h, bytes([1, 5]))
    assert r["err"] == 1 and r["count"] == 1 and r["stack"] == [1, 0, 0]


def test_select_mask_range_and_no_match(h: Harness) -> None:
    assert run(h, bytes([0x35]))["tag"] == 3
    assert run(h, bytes([0x3F]))["tag"] == 3
    assert run(h, bytes([0x40]))["tag"] == 4
    assert run(h, bytes([0x4F]))["tag"] == 4
    r = run(h, bytes([0x99, 1, 2]))
    assert r["err"] == 2 and r["tag"] == 0
    assert r["rest"] == b"\x01\x02"


def test_lookahead_does_not_advance(h: Harness) -> None:
    r = run(h, bytes([5, 0x2A]))
    assert r["tag"] == 0x2A and r["after"] == 0x2A and r["after_valid"] == 1


def test_verify_sets_program_error_after_extract(h: Harness) -> None:
    assert run(h, bytes([6, 7]))["err"] == 0
    r = run(h, bytes([6, 8]))
    assert r["err"] == 9 and r["after_valid"] == 1 and r["after"] == 8


def test_advance_skips_bits(h: Harness) -> None:
    r = run(h, bytes([7, 1, 2, 3, 4]))
    assert r["after"] == 3 and r["rest"] == b"\x04"
    assert run(h, bytes([7, 1]))["err"] == 1


def test_tuple_select_with_dont_care(h: Harness) -> None:
    assert run(h, bytes([9, 1]))["tag"] == 10
    assert run(h, bytes([9, 2]))["tag"] == 11


def test_varbit_extract_and_emit(h: Harness) -> None:
    r = run(h, bytes([2, 2, 0xBE, 0xEF, 0x77]))
    assert r["err"] == 0 and r["vb_valid"] == 1
    assert r["rest"] == bytes([2, 0xBE, 0xEF, 0x77])  # vb re-emitted, then payload


def test_varbit_longer_than_its_maximum_is_header_too_short(h: Harness) -> None:
    r = run(h, bytes([2, 5, 1, 2, 3, 4, 5]))
    assert r["err"] == 4 and r["vb_valid"] == 0
    assert r["rest"] == bytes([5, 1, 2, 3, 4, 5])


def test_varbit_past_the_packet_end_is_packet_too_short(h: Harness) -> None:
    r = run(h, bytes([2, 3, 1]))
    assert r["err"] == 1 and r["vb_valid"] == 0


def test_run_time_stack_index_out_of_range_in_parser(h: Harness) -> None:
    r = run(h, bytes([11, 1]))
    assert r["err"] == 3 and r["tag"] == 0


def test_lookahead_of_a_header_type() -> None:
    top = "header pair_t { bit<4> hi; bit<4> lo; }"
    states = """
state start {
    pair_t p = pk.lookahead<pair_t>();
    meta.tag = (bit<8>)p.lo;
    pk.extract(hdr.i);
    transition accept;
}
"""
    h = Harness.from_source(
        skeleton(
            in_fields="bit<8> v;",
            out_fields="bit<8> tag; bit<8> v;",
            top=top,
            meta_fields="bit<8> tag;",
            parser_states=states,
            ingress="hdr.o.tag = meta.tag; hdr.o.v = hdr.i.v;",
        )
    )
    assert h.process(0, b"\xab") == [(1, b"\x0b\xab")]
