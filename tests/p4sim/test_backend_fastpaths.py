"""The code generator's shortcuts keep P4 semantics: parser states copied in place of
a jump (chains longer than the copy depth, loops through small states, states shared
by several predecessors), headers extracted with the fused cursor read at unaligned
offsets, and header unions deparsed with two valid members (declaration order)."""

from __future__ import annotations

import pytest

from p4sim.backend.common import hashes
from p4sim.backend.harness import Harness, skeleton
from p4sim.backend.python import runtime as rt

TOP = """
header h8_t { bit<8> v; }
header h4_t { bit<4> v; }
header ha_t { bit<8> a; }
header hb_t { bit<16> b; }
header_union u_t { ha_t a; hb_t b; }
"""

# start -> s1 -> s2 -> s3 -> s4 -> s5 (a chain longer than the copy depth), then a loop
# through `head` (tiny, many predecessors) that extracts into a stack until a zero; kind
# 2 goes through `nib`, which reads two 4-bit headers (unaligned) before looping back.
PARSER = """
state start { pk.extract(hdr.c[0]); transition s1; }
state s1 { pk.extract(hdr.c[1]); transition s2; }
state s2 { pk.extract(hdr.c[2]); transition s3; }
state s3 { pk.extract(hdr.c[3]); transition s4; }
state s4 { pk.extract(hdr.c[4]); transition s5; }
state s5 { meta.n = 5; transition head; }
state head {
    transition select(pk.lookahead<bit<8>>()) {
        0: last;
        2: nib;
        default: item;
    }
}
state item { pk.extract(hdr.stk.next); meta.n = meta.n + 1; transition head; }
state nib {
    pk.extract(hdr.stk.next);
    pk.extract(hdr.n1);
    meta.la = pk.lookahead<bit<8>>();
    pk.extract(hdr.n2);
    transition head;
}
state last {
    pk.extract(hdr.stk.next);
    meta.depth = (bit<8>)hdr.stk.lastIndex;
    transition accept;
}
"""

INGRESS = """
hdr.o.n = meta.n;
hdr.o.depth = meta.depth;
hdr.o.nib = hdr.n1.v ++ hdr.n2.v;
hdr.o.la = meta.la;
"""


@pytest.fixture(scope="module")
def h() -> Harness:
    return Harness.from_source(
        skeleton(
            in_fields="bit<8> unused;",
            out_fields="bit<8> n; bit<8> depth; bit<8> nib; bit<8> la;",
            top=TOP,
            headers="h8_t[5] c; h8_t[6] stk; h4_t n1; h4_t n2; u_t u;",
            meta_fields="bit<8> n; bit<8> depth; bit<8> la;",
            parser_states=PARSER,
            ingress=INGRESS,
            deparser="pk.emit(hdr.o); pk.emit(hdr.c); pk.emit(hdr.stk); pk.emit(hdr.n1);"
            " pk.emit(hdr.n2);",
        )
    )


def test_long_chain_then_loop(h: Harness) -> None:
    data = bytes([1, 2, 3, 4, 5]) + bytes([9, 9, 9, 0]) + b"tail"
    out = h.process(0, data)
    assert h.pipeline.faults == 0
    # n: 5 + three items; depth: four stack entries (lastIndex 3)
    assert out == [(1, bytes([8, 3, 0, 0]) + data)]


def test_unaligned_headers_in_a_loop(h: Harness) -> None:
    data = bytes([1, 2, 3, 4, 5]) + bytes([7, 2, 0xAB, 0]) + b"x"
    out = h.process(0, data)
    assert h.pipeline.faults == 0
    # stk: 7, 2, 0 (after the nibbles); n1 = 0xA, n2 = 0xB; one `item` so n = 6; the
    # lookahead between the nibbles straddles a byte: 0xB0; the deparser puts the
    # nibbles after the stack
    assert out == [(1, bytes([6, 2, 0xAB, 0xB0, 1, 2, 3, 4, 5, 7, 2, 0, 0xAB]) + b"x")]


def test_short_packet_in_copied_state_is_packet_too_short(h: Harness) -> None:
    """A truncated packet fails inside a copied state: the parser error is recorded and
    the packet still runs ingress (headers extracted before the error are kept)."""
    out = h.process(0, bytes([1, 2, 3]))
    assert h.pipeline.faults == 0
    assert out == [(1, bytes([0, 0, 0, 0, 1, 2, 3]))]


def test_stack_overflow_in_loop(h: Harness) -> None:
    data = bytes([1, 2, 3, 4, 5]) + bytes([9] * 7) + bytes([0])
    out = h.process(0, data)
    assert h.pipeline.faults == 0
    # six items fit (n = 11); the seventh overflows: the parser stops before `last`
    assert out[0][1][:2] == bytes([11, 0])


def test_union_with_two_valid_members_emits_in_declaration_order(h: Harness) -> None:
    u_cls = type(h.pipeline.H().f_u)
    u = u_cls()
    u.f_b.valid = True
    u.f_b.f_b = 0x0102
    u.f_a.valid = True  # built after b: the dict holds b first
    u.f_a.f_a = 0x03
    out = rt.PacketOut()
    u.emit(out)
    assert out.finish() == bytes([3, 1, 2])
    only = u_cls()
    only.f_b.valid = True
    only.f_b.f_b = 0x0405
    only.f_a.valid = False
    out = rt.PacketOut()
    only.emit(out)
    assert out.finish() == bytes([4, 5])


UNION_PARSER = """
state start {
    pk.extract(hdr.i);
    transition select(hdr.i.kind) { 1: a; 2: b; 5: b; default: accept; }
}
state a { pk.extract(hdr.u.a); transition accept; }
state b { pk.extract(hdr.u.b); transition accept; }
"""

# One `if .. else if` chain over the union's members (its member dict is read once),
# a branch that changes the union, then chains that must see the change (the last one
# has no `else`: with no member built it is skipped whole).
UNION_INGRESS = """
if (hdr.i.kind == 5) {  // clear the union (setValid + setInvalid), a member set between
    hdr.u.b.setValid();
    hdr.u.b.setInvalid();
    hdr.u.a.setValid();
    hdr.u.a.a = 7;
    hdr.u.a.setInvalid();
} else if (hdr.i.kind == 6) {  // the same on a union never built
    hdr.u.a.setValid();
    hdr.u.a.setInvalid();
    hdr.u.b.setInvalid();
}
if (hdr.u.a.isValid()) {
    hdr.o.first = 1;
    hdr.u.b.setValid();
    hdr.u.b.b = 0x0B0B;
} else if (hdr.u.b.isValid()) {
    hdr.o.first = 2;
} else {
    hdr.o.first = 3;
}
if (hdr.u.a.isValid()) {
    hdr.o.second = 1;
} else if (hdr.u.b.isValid()) {
    hdr.o.second = 2;
} else {
    hdr.o.second = 3;
}
if (hdr.u.b.isValid()) {
    hdr.o.third = 2;
} else if (hdr.u.a.isValid()) {
    hdr.o.third = 1;
}
"""


@pytest.fixture(scope="module")
def hu() -> Harness:
    return Harness.from_source(
        skeleton(
            in_fields="bit<8> kind;",
            out_fields="bit<8> first; bit<8> second; bit<8> third;",
            top=TOP,
            headers="u_t u;",
            parser_states=UNION_PARSER,
            ingress=UNION_INGRESS,
            deparser="pk.emit(hdr.o); pk.emit(hdr.u);",
        )
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes([1, 0xAA]), bytes([1, 2, 2, 0x0B, 0x0B])),  # a, then b valid in place of a
        (bytes([2, 0xCC, 0xDD]), bytes([2, 2, 2, 0xCC, 0xDD])),
        (bytes([9]), bytes([3, 3, 0])),  # no member ever built
        (bytes([5, 0xCC, 0xDD]), bytes([3, 3, 0])),  # b extracted, then all cleared
        (bytes([6]), bytes([3, 3, 0])),
    ],
)
def test_union_validity_chains(hu: Harness, data: bytes, expected: bytes) -> None:
    out = hu.process(0, data)
    assert hu.pipeline.faults == 0
    assert out == [(1, expected)]


def test_csum16_over_bits_matches_csum16_over_bytes() -> None:
    """Checksums of field lists skip the bytes: same result for every padding case."""
    import random

    rng = random.Random(7)
    for nbits in [0, 1, 7, 8, 9, 15, 16, 17, 24, 144, 151, 160, 161]:
        for value in {0, (1 << nbits) - 1, rng.getrandbits(nbits) if nbits else 0}:
            assert hashes.csum16_bits(value, nbits) == hashes.csum16(
                hashes.bits_to_bytes(value, nbits)
            ), (value, nbits)
    # the all-ones word: a non-zero multiple of 0xFFFF sums to 0xFFFF, checksum 0
    assert hashes.csum16_bits(0xFFFF, 16) == 0
