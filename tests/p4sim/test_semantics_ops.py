"""Operators with P4_16 width, wrap-around, signedness, saturation, shift, slice,
concatenation and cast semantics, evaluated at run time (operands come from the packet,
so nothing is constant-folded). Expected values are worked out by hand from the spec.

Inputs: a = 200, b = 100 (bit<8>); sa = 100, sb = -100 (int<8>); n = 8; w = 0xABCD.
"""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness, skeleton, unpack_fields

IN_FIELDS = "bit<8> a; bit<8> b; int<8> sa; int<8> sb; bit<8> n; bit<16> w;"
IN_BYTES = bytes([200, 100, 100, 0x9C, 8]) + (0xABCD).to_bytes(2, "big")

# (result name, width, P4 expression, expected unsigned result)
CASES: list[tuple[str, int, str, int]] = [
    ("add_wraps", 8, "hdr.i.a + hdr.i.b", 44),  # 300 mod 256
    ("sub_wraps", 8, "hdr.i.b - hdr.i.a", 156),  # -100 mod 256
    ("mul_wraps", 8, "hdr.i.a * hdr.i.b", 32),  # 20000 mod 256
    ("signed_add_wraps", 8, "(bit<8>)(hdr.i.sa + hdr.i.sa)", 0xC8),  # 200 -> -56
    ("signed_sub_wraps", 8, "(bit<8>)(hdr.i.sb - hdr.i.sa)", 56),  # -200 -> 56
    ("signed_mul_wraps", 8, "(bit<8>)(hdr.i.sa * hdr.i.sb)", 0xF0),  # -10000 mod 256
    ("sat_add", 8, "hdr.i.a |+| hdr.i.b", 255),
    ("sat_sub", 8, "hdr.i.b |-| hdr.i.a", 0),
    ("signed_sat_add", 8, "(bit<8>)(hdr.i.sa |+| hdr.i.sa)", 0x7F),
    ("signed_sat_sub", 8, "(bit<8>)(hdr.i.sb |-| hdr.i.sa)", 0x80),
    ("shl", 8, "hdr.i.a << 1", 0x90),
    ("shl_by_width", 8, "hdr.i.a << hdr.i.n", 0),
    ("shl_by_more", 8, "hdr.i.a << (hdr.i.n + 100)", 0),
    ("shr_by_width", 8, "hdr.i.a >> hdr.i.n", 0),
    ("shr", 8, "hdr.i.a >> 3", 25),
    ("signed_shr_is_arithmetic", 8, "(bit<8>)(hdr.i.sb >> 2)", 0xE7),  # -25
    ("signed_shr_by_width_fills_sign", 8, "(bit<8>)(hdr.i.sb >> hdr.i.n)", 0xFF),
    ("signed_shl", 8, "(bit<8>)(hdr.i.sa << 1)", 0xC8),
    ("div", 8, "hdr.i.a / 7", 28),
    ("mod", 8, "hdr.i.a % 7", 4),
    ("complement", 8, "~hdr.i.a", 55),
    ("negate", 8, "-hdr.i.b", 156),
    ("and", 8, "hdr.i.a & hdr.i.b", 64),
    ("or", 8, "hdr.i.a | hdr.i.b", 236),
    ("xor", 8, "hdr.i.a ^ hdr.i.b", 172),
    ("slice", 8, "hdr.i.w[11:4]", 0xBC),
    ("slice_of_signed", 4, "hdr.i.sb[7:4]", 0x9),
    ("concat", 16, "hdr.i.a ++ hdr.i.b", 0xC864),
    ("signed_concat", 8, "(bit<8>)(((int<4>)hdr.i.a[3:0]) ++ 4w0)", 0x80),
    ("truncating_cast", 4, "(bit<4>)hdr.i.w", 0xD),
    ("sign_extension", 16, "(bit<16>)((int<16>)hdr.i.sb)", 0xFF9C),
    ("zero_extension", 16, "(bit<16>)hdr.i.a", 0x00C8),
    ("signed_to_unsigned", 8, "(bit<8>)hdr.i.sb", 0x9C),
    ("unsigned_to_signed_then_widen", 16, "(bit<16>)((int<16>)((int<8>)hdr.i.a))", 0xFFC8),
    ("bool_to_bit", 1, "(bit<1>)(hdr.i.a > hdr.i.b)", 1),
    ("signed_compare", 1, "(bit<1>)(hdr.i.sb < hdr.i.sa)", 1),
    ("unsigned_compare", 1, "(bit<1>)((bit<8>)hdr.i.sb < (bit<8>)hdr.i.sa)", 0),
    ("ternary", 8, "(hdr.i.a == 200 ? hdr.i.b : hdr.i.a)", 100),
    ("bool_ops", 1, "(bit<1>)(!(hdr.i.a == 1) && (hdr.i.b == 100 || hdr.i.a == 0))", 1),
    ("width_cast_wraps_sum", 8, "(bit<8>)((bit<16>)hdr.i.a + (bit<16>)hdr.i.b)", 44),
    ("wide_sum_keeps_carry", 16, "(bit<16>)hdr.i.a + (bit<16>)hdr.i.b", 300),
]

STATEMENTS = """
    bit<16> t = hdr.i.w;
    t[7:4] = 4w0x5;
    hdr.o.slice_assign = t;
    int<8> s = hdr.i.sb;
    s[7:7] = 1w0;
    hdr.o.signed_slice_assign = (bit<8>)s;
    bit<8> acc = hdr.i.a;
    acc = acc + 100;
    acc = acc + 100;
    hdr.o.repeated_wrap = acc;
"""
EXTRA = [("slice_assign", 16, 0xAB5D), ("signed_slice_assign", 8, 0x1C), ("repeated_wrap", 8, 144)]


@pytest.fixture(scope="module")
def results() -> dict[str, int]:
    out_fields = " ".join(f"bit<{w}> {n};" for n, w, _, _ in CASES)
    out_fields += " " + " ".join(f"bit<{w}> {n};" for n, w, _ in EXTRA)
    width = sum(w for _, w, _, _ in CASES) + sum(w for _, w, _ in EXTRA)
    pad = (-width) % 8
    if pad:
        out_fields += f" bit<{pad}> pad;"
    body = "\n".join(f"hdr.o.{n} = {expr};" for n, _, expr, _ in CASES) + STATEMENTS
    h = Harness.from_source(skeleton(in_fields=IN_FIELDS, out_fields=out_fields, ingress=body))
    out = h.process(0, IN_BYTES)
    assert len(out) == 1 and out[0][0] == 1
    widths = [w for _, w, _, _ in CASES] + [w for _, w, _ in EXTRA]
    values = unpack_fields(out[0][1], widths)
    names = [n for n, _, _, _ in CASES] + [n for n, _, _ in EXTRA]
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize(
    ("name", "expected"), [(n, e) for n, _, _, e in CASES] + [(n, e) for n, _, e in EXTRA]
)
def test_operator(results: dict[str, int], name: str, expected: int) -> None:
    assert results[name] == expected, f"{name}: got {results[name]:#x}, expected {expected:#x}"
