"""Members of structs and unions that were never built (the generated classes build
them on first access) must behave exactly like invalid headers on the paths that skip
building them: the deparser, field lists of hashes and checksums, and `isValid()`.

Each case sets a different mix of headers valid, touched-but-invalid or never touched,
in header unions, stacks of unions, nested structs and a struct with a scalar field,
and checks the emitted bytes, a validity read-back and a hash over all of them
against the same packet worked out here from the P4 semantics.
"""

from __future__ import annotations

import pytest

from p4sim.backend.common.hashes import crc16, csum16
from p4sim.backend.harness import Harness, skeleton

TOP = """
header ha_t { bit<8> a; }
header hb_t { bit<16> b; }
header_union u_t { ha_t a; hb_t b; }
struct inner_t { ha_t a; u_t u; hb_t b; }
struct mix_t { bit<8> tag; ha_t a; u_t u; }
struct wrap_t { mix_t mix; }
"""

HEADERS = "u_t[3] us; inner_t inner; hb_t lone; ha_t[2] hs;"

INGRESS = """
if (hdr.i.op & 1 != 0) { hdr.us[1].b.setValid(); hdr.us[1].b.b = 0x1200 + (bit<16>)hdr.i.x; }
if (hdr.i.op & 2 != 0) { hdr.us[0].a.setValid(); hdr.us[0].a.a = 5; hdr.us[0].a.setInvalid(); }
if (hdr.i.op & 4 != 0) { hdr.inner.u.a.setValid(); hdr.inner.u.a.a = hdr.i.x; }
if (hdr.i.op & 8 != 0) { hdr.lone.setValid(); hdr.lone.b = 0xBEEF; }
if (hdr.i.op & 16 != 0) { hdr.hs[1].setValid(); hdr.hs[1].a = 7; }
if (hdr.i.op & 32 != 0) { hdr.inner.b.setValid(); hdr.inner.b.b = 0x0A0B; }
if (hdr.i.op & 64 != 0) { meta.w.mix.tag = hdr.i.x; meta.w.mix.u.b.setValid(); meta.w.mix.u.b.b = 0x0102; }
if (hdr.i.op & 128 != 0) { bool seen = hdr.us[2].a.isValid(); }
hdr.o.v = (bit<8>)((bit<1>)hdr.us[1].b.isValid() ++ (bit<1>)hdr.inner.u.a.isValid()
    ++ (bit<1>)hdr.us[0].a.isValid() ++ (bit<1>)hdr.lone.isValid()
    ++ (bit<1>)hdr.inner.b.isValid() ++ (bit<1>)hdr.us[2].a.isValid());
hash(hdr.o.crc, HashAlgorithm.crc16, 16w0, {hdr.us, hdr.inner, hdr.lone, hdr.hs, meta.w},
     32w65536);
hash(hdr.o.sum, HashAlgorithm.csum16, 16w0, {hdr.us, hdr.inner, hdr.lone, hdr.hs, meta.w},
     32w65536);
"""

PER_MEMBER = (
    "pk.emit(hdr.o); pk.emit(hdr.us); pk.emit(hdr.inner); pk.emit(hdr.lone); pk.emit(hdr.hs);"
)
WHOLE = "pk.emit(hdr);"


def program(deparser: str) -> str:
    return skeleton(
        in_fields="bit<8> op; bit<8> x;",
        out_fields="bit<8> v; bit<16> crc; bit<16> sum;",
        top=TOP,
        headers=HEADERS,
        meta_fields="wrap_t w;",
        ingress=INGRESS,
        deparser=deparser,
    )


@pytest.fixture(scope="module", params=[PER_MEMBER, WHOLE], ids=["per_member", "whole"])
def compiled(request: pytest.FixtureRequest) -> tuple[Harness, bool]:
    return Harness.from_source(program(request.param)), request.param == WHOLE


def expected_headers(op: int, x: int) -> bytes:
    """The valid headers of us, inner, lone and hs, in declaration order."""
    us1 = (0x1200 + x).to_bytes(2, "big") if op & 1 else b""
    inner_u = bytes([x]) if op & 4 else b""
    inner_b = b"\x0a\x0b" if op & 32 else b""
    lone = b"\xbe\xef" if op & 8 else b""
    hs1 = b"\x07" if op & 16 else b""
    return us1 + inner_u + inner_b + lone + hs1


CASES = [0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 0x7F, 0xFF, 0x55, 0xAA, 2 | 128]


@pytest.mark.parametrize("op", CASES)
def test_never_built_members_are_invalid(compiled: tuple[Harness, bool], op: int) -> None:
    """op 2 makes a union member valid then invalid: built, yet never emitted."""
    harness, whole = compiled
    x = 0x3C
    out = harness.process(0, bytes([op, x]) + b"payload")
    assert harness.pipeline.faults == 0
    assert len(out) == 1
    port, data = out[0]
    headers = expected_headers(op, x)
    mix = bytes([x]) + b"\x01\x02" if op & 64 else b"\x00"  # tag always counts
    fields = headers + mix
    flags = [bool(op & 1), bool(op & 4), False, bool(op & 8), bool(op & 32), False]
    v = 0
    for f in flags:
        v = (v << 1) | int(f)
    lead = bytes([op, x]) if whole else b""  # the whole struct: hdr.i first
    o = bytes([v]) + crc16(fields).to_bytes(2, "big") + csum16(fields).to_bytes(2, "big")
    assert data == lead + o + headers + b"payload"
    assert port == 1
