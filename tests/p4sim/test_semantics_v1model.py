"""v1model packet fates as bmv2's simple_switch implements them: ingress-to-egress and
egress-to-egress clones with preserved field lists, multicast with replication ids,
resubmit, recirculation, truncate, drops in egress, instance_type numbering
(NORMAL 0, INGRESS_CLONE 1, EGRESS_CLONE 2, RECIRC 4, REPLICATION 5, RESUBMIT 6),
and bounded resubmit loops.
"""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness, skeleton, unpack_fields

META = "@field_list(1) bit<8> cookie; bit<8> other; @field_list(1) bit<8> count;"
OUT = (
    "bit<8> itype_ig; bit<8> itype_eg; bit<16> rid; bit<8> eport; bit<8> ig_cookie; "
    "bit<8> ig_other; bit<8> eg_cookie; bit<8> eg_other; bit<8> count; bit<16> plen;"
)
NAMES = [
    "itype_ig",
    "itype_eg",
    "rid",
    "eport",
    "ig_cookie",
    "ig_other",
    "eg_cookie",
    "eg_other",
    "count",
    "plen",
]
WIDTHS = [8, 8, 16, 8, 8, 8, 8, 8, 8, 16]

INGRESS = """
hdr.o.itype_ig = (bit<8>)sm.instance_type;
hdr.o.ig_cookie = meta.cookie;
hdr.o.ig_other = meta.other;
hdr.o.count = meta.count;
hdr.o.plen = (bit<16>)sm.packet_length;
if (hdr.i.op == 1) {
    meta.cookie = 0x77;
    meta.other = 0x66;
    clone_preserving_field_list(CloneType.I2E, 5, 1);
} else if (hdr.i.op == 2) {
    sm.mcast_grp = 3;
} else if (hdr.i.op == 3) {
    if (sm.instance_type == 0) {
        meta.cookie = 0x55;
        meta.other = 0x44;
        resubmit_preserving_field_list(1);
    }
} else if (hdr.i.op == 6) {
    truncate((bit<32>)hdr.i.arg);
} else if (hdr.i.op == 9) {
    resubmit_preserving_field_list(1);
} else if (hdr.i.op == 10) {
    clone(CloneType.I2E, 5);
    mark_to_drop(sm);
} else if (hdr.i.op == 12) {
    truncate(32w6);
    truncate(32w10);
}
"""

EGRESS = """
hdr.o.setValid();
hdr.o.itype_eg = (bit<8>)sm.instance_type;
hdr.o.rid = sm.egress_rid;
hdr.o.eport = (bit<8>)sm.egress_port;
hdr.o.eg_cookie = meta.cookie;
hdr.o.eg_other = meta.other;
if (hdr.i.op == 4 && meta.count < 2) {
    meta.count = meta.count + 1;
    recirculate_preserving_field_list(1);
} else if (hdr.i.op == 5 && sm.instance_type == 0) {
    meta.cookie = 0x99;
    clone_preserving_field_list(CloneType.E2E, 6, 1);
} else if (hdr.i.op == 8) {
    mark_to_drop(sm);
} else if (hdr.i.op == 11) {
    clone(CloneType.E2E, 6);
} else if (hdr.i.op == 12 && hdr.i.arg == 1) {
    truncate(32w4);
}
"""


@pytest.fixture(scope="module")
def text() -> str:
    return skeleton(
        in_fields="bit<8> op; bit<8> arg;",
        out_fields=OUT,
        meta_fields=META,
        ingress=INGRESS,
        egress=EGRESS,
        deparser="pk.emit(hdr.i); pk.emit(hdr.o);",
    )


@pytest.fixture()
def h(text: str) -> Harness:
    return Harness.from_source(text)


def decode(data: bytes) -> dict[str, int]:
    return dict(zip(NAMES, unpack_fields(data[2:], WIDTHS), strict=True))


def run(h: Harness, op: int, arg: int = 0, extra: bytes = b"") -> list[tuple[int, dict[str, int]]]:
    return [(port, decode(data)) for port, data in h.process(4, bytes([op, arg]) + extra)]


def test_normal_packet(h: Harness) -> None:
    [(port, r)] = run(h, 0, extra=b"xyz")
    assert port == 1 and r["itype_ig"] == 0 and r["itype_eg"] == 0 and r["eport"] == 1
    assert r["plen"] == 5


def test_ingress_clone_preserves_listed_fields_only(h: Harness) -> None:
    h.add_clone_session(5, [(9, 1)])
    out = run(h, 1)
    assert sorted(p for p, _ in out) == [1, 9]
    clone = next(r for p, r in out if p == 9)
    orig = next(r for p, r in out if p == 1)
    assert clone["itype_eg"] == 1 and clone["eg_cookie"] == 0x77 and clone["eg_other"] == 0
    # The clone is the received packet re-parsed: ingress did not touch its headers.
    assert clone["itype_ig"] == 0 and clone["ig_cookie"] == 0
    assert orig["itype_eg"] == 0 and orig["eg_cookie"] == 0x77 and orig["eg_other"] == 0x66


def test_clone_without_session_is_ignored(h: Harness) -> None:
    assert [p for p, _ in run(h, 1)] == [1]


def test_clone_of_dropped_packet_still_goes_out(h: Harness) -> None:
    h.add_clone_session(5, [(9, 1)])
    assert [p for p, _ in run(h, 10)] == [9]


def test_multicast_replicas_with_rid(h: Harness) -> None:
    h.add_multicast_group(3, [(2, 10), (3, 20)])
    out = run(h, 2)
    assert [(p, r["rid"], r["itype_eg"], r["eport"]) for p, r in out] == [
        (2, 10, 5, 2),
        (3, 20, 5, 3),
    ]


def test_resubmit_keeps_field_list_and_original_packet(h: Harness) -> None:
    [(port, r)] = run(h, 3, extra=b"abc")
    assert port == 1
    assert r["itype_ig"] == 6 and r["ig_cookie"] == 0x55 and r["ig_other"] == 0
    assert r["plen"] == 5


def test_endless_resubmit_is_bounded(h: Harness) -> None:
    assert run(h, 9) == []
    assert h.pipeline.dropped == 1


def test_recirculation_reenters_ingress_with_deparsed_packet(h: Harness) -> None:
    out = h.process(4, bytes([4, 0]))
    assert len(out) == 1
    port, data = out[0]
    r = decode(data)
    assert r["itype_ig"] == 4 and r["count"] == 2
    # Each pass deparsed o in front of the old bytes: the packet grew by one o per pass.
    assert len(data) == 2 + 3 * 12  # o is 12 bytes


def test_egress_clone(h: Harness) -> None:
    h.add_clone_session(6, [(7, 3)])
    out = run(h, 5)
    assert sorted(p for p, _ in out) == [1, 7]
    clone = next(r for p, r in out if p == 7)
    assert clone["itype_eg"] == 2 and clone["eg_cookie"] == 0x99 and clone["eport"] == 7
    assert clone["rid"] == 3
    # E2E clones keep the headers as the original's egress left them.
    assert clone["itype_ig"] == 0


def test_clone_session_truncation(h: Harness) -> None:
    h.add_clone_session(5, [(9, 1)], truncate=4)
    out = dict(h.process(4, bytes([1, 0]) + b"0123456789"))
    assert len(out[9]) == 4 and len(out[1]) == 2 + 12 + 10


def test_truncate(h: Harness) -> None:
    out = h.process(4, bytes([6, 5]) + b"0123456789")
    assert out == [(1, bytes([6, 5]) + out[0][1][2:5])]


def test_drop_in_egress(h: Harness) -> None:
    assert run(h, 8) == []


def test_timestamps_are_microseconds_of_the_device_clock() -> None:
    text = skeleton(
        in_fields="bit<8> op;",
        out_fields="bit<48> ig; bit<48> eg;",
        ingress="hdr.o.ig = sm.ingress_global_timestamp;",
        egress="hdr.o.eg = sm.egress_global_timestamp;",
    )
    h = Harness.from_source(text, clock=lambda: 7_123_456_789)
    out = h.process(0, b"\x00")
    assert out[0][1][:6] == (7_123_456).to_bytes(6, "big")
    assert out[0][1][6:12] == (7_123_456).to_bytes(6, "big")


def test_egress_clone_loop_is_bounded(h: Harness) -> None:
    h.add_clone_session(6, [(7, 1)])
    out = run(h, 11)
    assert 1 < len(out) <= 16 and h.pipeline.faults == 0


def test_truncate_keeps_the_smallest_length_across_stages(h: Harness) -> None:
    assert len(h.process(4, bytes([12, 0]) + b"0123456789")[0][1]) == 6
    assert len(h.process(4, bytes([12, 1]) + b"0123456789")[0][1]) == 4
