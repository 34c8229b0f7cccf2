"""v1model externs run through the pipeline: hash algorithms against published check
values, checksum verify/update, registers, counters, meters (RFC 2698 colours),
digests, random, log_msg, assert, exit and mark_to_drop.

Known answers: CRC-16/ARC("123456789") = 0xBB3D and CRC-32("123456789") = 0xCBF43926
(the CRC catalogue's check values; bmv2's crc16 is CRC-16/ARC). The Internet checksum
and xor16 of "123456789" are worked out by hand below (RFC 1071 definition).
"""

from __future__ import annotations

import logging

import pytest

from p4sim.backend.common import hashes
from p4sim.backend.harness import Harness, skeleton, unpack_fields
from p4sim.device import MeterConfig

CHECK = b"123456789"
# 0x3132 + 0x3334 + 0x3536 + 0x3738 + 0x3900 = 0x109D4 -> 0x09D5 -> ~ = 0xF62A
CSUM16_CHECK = 0xF62A
# 0x3132 ^ 0x3334 ^ 0x3536 ^ 0x3738 ^ 0x3900
XOR16_CHECK = 0x3908


def test_hash_functions_known_answers() -> None:
    assert hashes.crc16(CHECK) == 0xBB3D
    assert hashes.crc32(CHECK) == 0xCBF43926
    assert hashes.csum16(CHECK) == CSUM16_CHECK
    assert hashes.xor16(CHECK) == XOR16_CHECK
    assert hashes.identity(b"\x01\x02\x03") == 0x010203
    assert hashes.identity(bytes(range(1, 11))) == 0x0102030405060708
    # IPv4 header with its checksum field zeroed; the published checksum is 0xB861.
    ipv4 = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert hashes.csum16(ipv4) == 0xB861


def test_pack_bits_concatenates_msb_first_and_pads() -> None:
    assert hashes.pack_bits([(0xA, 4), (0xBC, 8), (0x1, 1)]) == bytes([0xAB, 0xC8])


TOP = "struct pair_t { bit<32> a; bit<32> b; }"

IN = "bit<8> op; bit<32> idx; bit<32> val; bit<72> text;"
OUT = (
    "bit<16> crc16; bit<32> crc32; bit<16> csum; bit<16> xor; bit<32> ident; "
    "bit<16> based; bit<16> zero_max; bit<16> crc16c; bit<32> crc32c; "
    "bit<32> rv; bit<8> srv; bit<8> color; bit<8> rnd; bit<8> rnd_fixed;"
)
OUT_WIDTHS = [16, 32, 16, 16, 32, 16, 16, 16, 32, 32, 8, 8, 8, 8]
OUT_NAMES = [
    "crc16",
    "crc32",
    "csum",
    "xor",
    "ident",
    "based",
    "zero_max",
    "crc16c",
    "crc32c",
    "rv",
    "srv",
    "color",
    "rnd",
    "rnd_fixed",
]

LOCALS = """
register<bit<32>>(16) regs;
register<int<8>>(4) sregs;
counter(8, CounterType.packets_and_bytes) ctr;
meter(4, MeterType.packets) mtr;
"""

INGRESS = """
hash(hdr.o.crc16, HashAlgorithm.crc16, 16w0, {hdr.i.text}, 32w65536);
hash(hdr.o.crc32, HashAlgorithm.crc32, 32w0, {hdr.i.text}, 64w4294967296);
hash(hdr.o.csum, HashAlgorithm.csum16, 16w0, {hdr.i.text}, 32w65536);
hash(hdr.o.xor, HashAlgorithm.xor16, 16w0, {hdr.i.text}, 32w65536);
hash(hdr.o.ident, HashAlgorithm.identity, 32w0, {hdr.i.idx}, 64w4294967296);
hash(hdr.o.based, HashAlgorithm.crc16, 16w100, {hdr.i.text}, 32w10);
hash(hdr.o.zero_max, HashAlgorithm.crc16, 16w7, {hdr.i.text}, 32w0);
hash(hdr.o.crc16c, HashAlgorithm.crc16_custom, 16w0, {hdr.i.text}, 32w65536);
hash(hdr.o.crc32c, HashAlgorithm.crc32_custom, 32w0, {hdr.i.text}, 64w4294967296);
hdr.o.rv = 0xDEAD;
random(hdr.o.rnd, 8w10, 8w20);
random(hdr.o.rnd_fixed, 8w5, 8w5);
ctr.count((bit<32>)hdr.i.op);
log_msg("op={} idx={}", {hdr.i.op, hdr.i.idx});
if (hdr.i.op == 1) {
    regs.write(hdr.i.idx, hdr.i.val);
} else if (hdr.i.op == 2) {
    regs.read(hdr.o.rv, hdr.i.idx);
} else if (hdr.i.op == 3) {
    sregs.write(0, (int<8>)hdr.i.val[7:0]);
    int<8> s;
    sregs.read(s, 0);
    hdr.o.srv = (bit<8>)(s >> 1);
} else if (hdr.i.op == 4) {
    mtr.execute_meter(0, hdr.o.color);
} else if (hdr.i.op == 5) {
    digest<pair_t>(1, {hdr.i.idx, hdr.i.val});
} else if (hdr.i.op == 6) {
    pair_t p = {a = hdr.i.val, b = hdr.i.idx};
    digest(1, p);
    p.a = 0;
} else if (hdr.i.op == 13) {
    assert(hdr.i.val == 0);
} else if (hdr.i.op == 14) {
    hdr.o.rv = 1;
    exit;
} else if (hdr.i.op == 15) {
    mark_to_drop(sm);
}
if (hdr.i.op == 14) {
    hdr.o.rv = 2;
}
"""


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture(scope="module")
def program_text() -> str:
    return skeleton(in_fields=IN, out_fields=OUT, ingress=INGRESS, ingress_locals=LOCALS, top=TOP)


@pytest.fixture()
def h(program_text: str) -> Harness:
    return Harness.from_source(program_text, clock=FrozenClock())


def packet(op: int, idx: int = 0, val: int = 0) -> bytes:
    return bytes([op]) + idx.to_bytes(4, "big") + val.to_bytes(4, "big") + CHECK


def run(h: Harness, data: bytes) -> dict[str, int] | None:
    out = h.process(0, data)
    if not out:
        return None
    return dict(zip(OUT_NAMES, unpack_fields(out[0][1], OUT_WIDTHS), strict=True))


def test_hash_externs(h: Harness) -> None:
    r = run(h, packet(0, idx=0x01020304))
    assert r is not None
    assert r["crc16"] == 0xBB3D
    assert r["crc32"] == 0xCBF43926
    assert r["csum"] == CSUM16_CHECK
    assert r["xor"] == XOR16_CHECK
    assert r["ident"] == 0x01020304
    assert r["based"] == 100 + 0xBB3D % 10  # base + hash % max
    assert r["zero_max"] == 7  # max 0 is treated as 1 (bmv2): the base
    assert r["crc16c"] == 0xBB3D and r["crc32c"] == 0xCBF43926


def test_register_write_then_read_across_packets(h: Harness) -> None:
    assert run(h, packet(1, idx=3, val=0xCAFEF00D)) is not None
    assert h.register("regs").values[3] == 0xCAFEF00D
    r = run(h, packet(2, idx=3))
    assert r is not None and r["rv"] == 0xCAFEF00D
    # Out of range: the destination keeps its value (bmv2).
    r = run(h, packet(2, idx=99))
    assert r is not None and r["rv"] == 0xDEAD


def test_signed_register_round_trip(h: Harness) -> None:
    r = run(h, packet(3, val=0xFA))  # -6
    assert r is not None
    assert h.register("sregs").values[0] == 0xFA  # stored as the control plane reads it
    assert r["srv"] == 0xFD  # -6 >> 1 == -3


def test_indexed_counter_counts_packets_and_bytes(h: Harness) -> None:
    data = packet(2, idx=1)
    run(h, data)
    run(h, data)
    run(h, packet(7))
    ctr = h.counter("ctr")
    assert ctr.packets[2] == 2 and ctr.bytes[2] == 2 * len(data)
    assert ctr.packets[7] == 1


def test_meter_colours_follow_rfc2698(h: Harness) -> None:
    # Committed bucket 1 packet, peak bucket 2 packets, no refill (frozen clock):
    # green (both buckets debited), yellow (C empty), red (P empty).
    h.meter("mtr").set_config(0, MeterConfig(cir=1, cburst=1, pir=2, pburst=2))
    colours = []
    for _ in range(3):
        r = run(h, packet(4))
        assert r is not None
        colours.append(r["color"])
    assert colours == [0, 1, 2]


def test_unconfigured_meter_is_green(h: Harness) -> None:
    r = run(h, packet(4))
    assert r is not None and r["color"] == 0


def test_digest_values_in_struct_field_order(h: Harness) -> None:
    run(h, packet(5, idx=11, val=22))
    run(h, packet(6, idx=11, val=22))
    did = h.digest_id("pair_t")
    # The second digest reads the struct at the call, not the later `p.a = 0`.
    assert h.digests == [(did, (11, 22)), (did, (22, 11))]


def test_random_within_bounds(h: Harness) -> None:
    for _ in range(20):
        r = run(h, packet(0))
        assert r is not None and 10 <= r["rnd"] <= 20 and r["rnd_fixed"] == 5


def test_log_msg_formats_arguments(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="p4sim"):
        run(h, packet(9, idx=77))
    assert "op=9 idx=77" in caplog.text


def test_failed_assert_drops_packet_without_raising(h: Harness) -> None:
    assert run(h, packet(13, val=0)) is not None
    assert run(h, packet(13, val=1)) is None
    assert h.pipeline.dropped >= 1 and h.pipeline.faults == 0


def test_exit_ends_ingress_and_keeps_changes(h: Harness) -> None:
    r = run(h, packet(14))
    assert r is not None and r["rv"] == 1


def test_mark_to_drop(h: Harness) -> None:
    assert run(h, packet(15)) is None


CHECKSUM_TOP = """
header ipv4_t {
    bit<4> version; bit<4> ihl; bit<8> tos; bit<16> len; bit<16> id; bit<3> flags;
    bit<13> frag; bit<8> ttl; bit<8> proto; bit<16> csum; bit<32> src; bit<32> dst;
}
"""
FIELDS = (
    "{ hdr.ip.version, hdr.ip.ihl, hdr.ip.tos, hdr.ip.len, hdr.ip.id, hdr.ip.flags,"
    " hdr.ip.frag, hdr.ip.ttl, hdr.ip.proto, hdr.ip.src, hdr.ip.dst }"
)


def test_verify_and_update_checksum() -> None:
    text = skeleton(
        in_fields="bit<8> zero;",
        out_fields="bit<8> cksum_error;",
        top=CHECKSUM_TOP,
        headers="ipv4_t ip;",
        parser_states="state start { pk.extract(hdr.i); pk.extract(hdr.ip); transition accept; }",
        verify=f"verify_checksum(hdr.ip.isValid(), {FIELDS}, hdr.ip.csum, HashAlgorithm.csum16);",
        ingress="hdr.o.cksum_error = (bit<8>)sm.checksum_error; hdr.ip.ttl = hdr.ip.ttl - 1;",
        compute=f"update_checksum(hdr.ip.isValid(), {FIELDS}, hdr.ip.csum, HashAlgorithm.csum16);",
        deparser="pk.emit(hdr.o); pk.emit(hdr.ip);",
    )
    h = Harness.from_source(text)
    good = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    good = good[:10] + (0xB861).to_bytes(2, "big") + good[12:]
    out = h.process(0, b"\x00" + good)
    assert out[0][1][0] == 0  # checksum ok
    ip = out[0][1][1:21]
    assert ip[8] == 0x3F  # ttl decremented
    # Recomputed over the new header: the Internet checksum of the result is zero.
    assert hashes.csum16(ip) == 0
    bad = good[:11] + b"\x00" + good[12:]
    assert h.process(0, b"\x00" + bad)[0][1][0] == 1


def _rfc1071(data: bytes) -> int:
    """The textbook loop: add 16-bit words, fold carries, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff\xff", b"\x01", b"\x00\x01\xff\xfe"]
    + [bytes((i * 37 + j * 11) & 0xFF for j in range(n)) for i, n in enumerate(range(1, 60, 7))],
)
def test_csum16_matches_the_rfc1071_loop(data: bytes) -> None:
    assert hashes.csum16(data) == _rfc1071(data)


TCP_TOP = (
    CHECKSUM_TOP
    + """
header tcp_t {
    bit<16> sport; bit<16> dport; bit<32> seq; bit<32> ack; bit<4> off; bit<4> res;
    bit<8> flags; bit<16> win; bit<16> csum; bit<16> urg;
}
"""
)
TCP_FIELDS = (
    "{ hdr.ip.src, hdr.ip.dst, 8w0, hdr.ip.proto, hdr.ip.len - 20, hdr.tcp.sport, hdr.tcp.dport,"
    " hdr.tcp.seq, hdr.tcp.ack, hdr.tcp.off, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.win,"
    " hdr.tcp.urg }"
)


def test_checksums_with_payload_match_scapy() -> None:
    from scapy.layers.inet import IP, TCP

    text = skeleton(
        in_fields="bit<8> zero;",
        out_fields="bit<8> cksum_error;",
        top=TCP_TOP,
        headers="ipv4_t ip; tcp_t tcp;",
        parser_states=(
            "state start { pk.extract(hdr.i); pk.extract(hdr.ip); pk.extract(hdr.tcp);"
            " transition accept; }"
        ),
        verify=(
            f"verify_checksum_with_payload(hdr.tcp.isValid(), {TCP_FIELDS}, hdr.tcp.csum,"
            " HashAlgorithm.csum16);"
        ),
        ingress="hdr.o.cksum_error = (bit<8>)sm.checksum_error; hdr.tcp.seq = hdr.tcp.seq + 1;",
        compute=(
            f"update_checksum_with_payload(hdr.tcp.isValid(), {TCP_FIELDS}, hdr.tcp.csum,"
            " HashAlgorithm.csum16);"
        ),
        deparser="pk.emit(hdr.o); pk.emit(hdr.ip); pk.emit(hdr.tcp);",
    )
    h = Harness.from_source(text)
    pkt = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, seq=100) / b"hello, odd!"
    out = h.process(0, b"\x00" + bytes(pkt))
    assert out[0][1][0] == 0  # the received TCP checksum verified
    sent = IP(out[0][1][1:])
    expected = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, seq=101) / b"hello, odd!"
    assert sent[TCP].chksum == IP(bytes(expected))[TCP].chksum
    corrupted = bytearray(bytes(pkt))
    corrupted[-1] ^= 0xFF  # payload byte: only a with-payload checksum notices
    assert h.process(0, b"\x00" + bytes(corrupted))[0][1][0] == 1
