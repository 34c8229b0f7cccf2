"""Helpers for the P4Info tests: compile a small v1model program from text."""

from __future__ import annotations

from pathlib import Path

from p4.config.v1 import p4info_pb2

from p4sim.controlplane.p4info import build_p4info
from p4sim.frontend import ast, load

# The parts of a v1model program a test does not care about.
PRELUDE = """
#include <core.p4>
#include <v1model.p4>
header ethernet_t { bit<48> dst; bit<48> src; bit<16> ether_type; }
header ipv4_t { bit<8> ttl; bit<8> protocol; bit<32> src_addr; bit<32> dst_addr; }
struct headers_t { ethernet_t ethernet; ipv4_t ipv4; }
"""

BLOCKS = """
parser Prs(packet_in pkt, out headers_t hdr, inout meta_t meta,
         inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.ethernet); transition accept; }
}
control Vck(inout headers_t hdr, inout meta_t meta) { apply { } }
control Egr(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control Cck(inout headers_t hdr, inout meta_t meta) { apply { } }
control Dep(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.ethernet); } }
V1Switch(Prs(), Vck(), Ing(), Egr(), Cck(), Dep()) main;
"""


def compile_program(tmp_path: Path, body: str, meta: str = "bit<8> x;") -> ast.Program:
    """`body` declares types, top-level objects and `control Ing(inout
    headers_t hdr, inout meta_t meta, inout standard_metadata_t sm)`."""
    src = PRELUDE + f"struct meta_t {{ {meta} }}\n" + body + BLOCKS
    path = tmp_path / "prog.p4"
    path.write_text(src)
    return load(path)


def p4info_of(tmp_path: Path, body: str, meta: str = "bit<8> x;") -> p4info_pb2.P4Info:
    return build_p4info(compile_program(tmp_path, body, meta))


def by_name(items, name: str):
    for item in items:
        if item.preamble.name == name:
            return item
    names = [i.preamble.name for i in items]
    raise KeyError(f"{name} not in {names}")
