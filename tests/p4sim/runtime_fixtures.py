"""A hand-written P4Info shared by the device and server tests.

It exercises every match kind, the direct and indexed externs, a digest with a struct
type and the controller headers, without needing the compiler.
"""

from __future__ import annotations

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

P4INFO_TEXT = """
pkg_info { arch: "v1model" }
tables {
  preamble { id: 33554433 name: "ingress.ipv4_lpm" alias: "ipv4_lpm" }
  match_fields { id: 1 name: "hdr.ipv4.dst" bitwidth: 32 match_type: LPM }
  action_refs { id: 16777217 }
  action_refs { id: 16777218 }
  action_refs { id: 16777219 }
  direct_resource_ids: 318767105
  size: 1024
  idle_timeout_behavior: NOTIFY_CONTROL
}
tables {
  preamble { id: 33554434 name: "ingress.acl" alias: "acl" }
  match_fields { id: 1 name: "meta.port" bitwidth: 9 match_type: TERNARY }
  match_fields { id: 2 name: "hdr.tcp.dport" bitwidth: 16 match_type: RANGE }
  match_fields { id: 3 name: "hdr.ipv4.proto" bitwidth: 8 match_type: OPTIONAL }
  action_refs { id: 16777218 }
  action_refs { id: 16777219 }
  action_refs { id: 16777217 scope: DEFAULT_ONLY }
  size: 64
}
tables {
  preamble { id: 33554435 name: "ingress.classify" alias: "classify" }
  match_fields { id: 1 name: "hdr.ipv4.src" bitwidth: 32 match_type: TERNARY }
  match_fields { id: 2 name: "hdr.ipv4.proto" bitwidth: 8 match_type: EXACT }
  action_refs { id: 16777217 scope: TABLE_ONLY }
  action_refs { id: 16777219 }
  direct_resource_ids: 352321537
  size: 64
}
tables {
  preamble { id: 33554436 name: "ingress.smac" alias: "smac" }
  match_fields { id: 1 name: "hdr.ethernet.src" bitwidth: 48 match_type: EXACT }
  match_fields { id: 2 name: "meta.port" bitwidth: 9 match_type: EXACT }
  action_refs { id: 16777219 }
  action_refs { id: 16777218 }
  size: 2
}
tables {
  preamble { id: 33554437 name: "ingress.fixed" alias: "fixed" }
  match_fields { id: 1 name: "meta.port" bitwidth: 9 match_type: EXACT }
  action_refs { id: 16777218 }
  action_refs { id: 16777219 }
  const_default_action_id: 16777218
  size: 8
  is_const_table: true
}
actions { preamble { id: 16777217 name: "ingress.set_port" alias: "set_port" }
  params { id: 1 name: "port" bitwidth: 9 } }
actions { preamble { id: 16777218 name: "ingress.drop" alias: "drop" } }
actions { preamble { id: 16777219 name: "NoAction" alias: "NoAction" } }
counters {
  preamble { id: 302006273 name: "ingress.pkts" alias: "pkts" }
  spec { unit: BOTH }
  size: 8
}
direct_counters {
  preamble { id: 318767105 name: "ingress.lpm_hits" alias: "lpm_hits" }
  spec { unit: BOTH }
  direct_table_id: 33554433
}
meters {
  preamble { id: 335544321 name: "ingress.byte_rate" alias: "byte_rate" }
  spec { unit: BYTES }
  size: 4
}
meters {
  preamble { id: 335544322 name: "ingress.pkt_rate" alias: "pkt_rate" }
  spec { unit: PACKETS }
  size: 4
}
direct_meters {
  preamble { id: 352321537 name: "ingress.classify_meter" alias: "classify_meter" }
  spec { unit: PACKETS }
  direct_table_id: 33554435
}
registers {
  preamble { id: 369098753 name: "ingress.seen" alias: "seen" }
  type_spec { bitstring { bit { bitwidth: 32 } } }
  size: 16
}
digests {
  preamble { id: 385875969 name: "learn_t" alias: "learn_t" }
  type_spec { struct { name: "learn_t" } }
}
controller_packet_metadata {
  preamble { id: 67146229 name: "packet_in" alias: "packet_in" }
  metadata { id: 1 name: "ingress_port" bitwidth: 9 }
  metadata { id: 2 name: "_pad" bitwidth: 7 }
}
controller_packet_metadata {
  preamble { id: 67121543 name: "packet_out" alias: "packet_out" }
  metadata { id: 1 name: "egress_port" bitwidth: 9 }
  metadata { id: 2 name: "_pad" bitwidth: 7 }
}
type_info {
  structs {
    key: "learn_t"
    value {
      members { name: "mac" type_spec { bitstring { bit { bitwidth: 48 } } } }
      members { name: "port" type_spec { bitstring { bit { bitwidth: 9 } } } }
    }
  }
}
"""

LPM = 33554433
ACL = 33554434
CLASSIFY = 33554435
SMAC = 33554436
FIXED = 33554437
SET_PORT = 16777217
DROP = 16777218
NO_ACTION = 16777219
PKTS = 302006273
BYTE_RATE = 335544321
PKT_RATE = 335544322
SEEN = 369098753
LEARN = 385875969


def p4info() -> p4info_pb2.P4Info:
    return text_format.Parse(P4INFO_TEXT, p4info_pb2.P4Info())


class FakeClock:
    """A clock tests move by hand, so time-dependent behaviour needs no sleeping."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns
