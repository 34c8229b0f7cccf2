"""Entity builders: canonical encoding, match kinds, name resolution, errors."""

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from controller import entities
from controller.p4info import P4InfoError, P4InfoIndex

P4INFO = """
tables {
  preamble { id: 33554433 name: "Ingress.routes" alias: "routes" }
  match_fields { id: 1 name: "hdr.ipv4.dst_addr" bitwidth: 32 match_type: LPM }
  action_refs { id: 16777217 }
  size: 1024
}
tables {
  preamble { id: 33554434 name: "Ingress.acl" alias: "acl" }
  match_fields { id: 1 name: "hdr.ipv4.src_addr" bitwidth: 32 match_type: TERNARY }
  match_fields { id: 2 name: "hdr.tcp.dst_port" bitwidth: 16 match_type: RANGE }
  match_fields { id: 3 name: "meta.port" bitwidth: 9 match_type: EXACT }
  action_refs { id: 16777217 }
}
tables {
  preamble { id: 33554435 name: "Egress.routes" alias: "Egress.routes" }
  match_fields { id: 1 name: "x" bitwidth: 8 match_type: EXACT }
}
actions {
  preamble { id: 16777217 name: "Ingress.forward" alias: "forward" }
  params { id: 1 name: "port" bitwidth: 9 }
  params { id: 2 name: "dmac" bitwidth: 48 }
}
controller_packet_metadata {
  preamble { id: 67146229 name: "packet_out" }
  metadata { id: 1 name: "egress_port" bitwidth: 9 }
}
"""


@pytest.fixture
def p4() -> P4InfoIndex:
    info = p4info_pb2.P4Info()
    text_format.Parse(P4INFO, info)
    return P4InfoIndex(info)


def test_encode_is_canonical() -> None:
    assert entities.encode(0, 32) == b"\x00"
    assert entities.encode(1, 9) == b"\x01"
    assert entities.encode(0x1FF, 9) == b"\x01\xff"
    assert entities.encode("10.0.0.1", 32) == b"\x0a\x00\x00\x01"
    assert entities.encode("00:00:00:00:00:2a", 48) == b"\x2a"
    with pytest.raises(ValueError, match="does not fit"):
        entities.encode(512, 9)


def test_lpm_prefix_masks_host_bits(p4: P4InfoIndex) -> None:
    e = entities.table_entry(p4, "Ingress.routes", {"dst_addr": "10.1.2.3/16"}, "forward",
                             {"port": 2, "dmac": "02:00:00:00:00:01"})
    fm = e.match[0]
    assert fm.lpm.prefix_len == 16
    assert fm.lpm.value == b"\x0a\x01\x00\x00"
    assert [p.value for p in e.action.action.params] == [b"\x02", b"\x02\x00\x00\x00\x00\x01"]


def test_zero_length_prefix_and_full_range_are_wildcards(p4: P4InfoIndex) -> None:
    e = entities.table_entry(p4, "Ingress.routes", {"dst_addr": "0.0.0.0/0"}, "forward",
                             {"port": 1, "dmac": 0})
    assert len(e.match) == 0
    e = entities.table_entry(p4, "acl", {"dst_port": (0, 0xFFFF), "port": 3}, priority=5)
    assert [fm.field_id for fm in e.match] == [3]


def test_ternary_value_is_masked(p4: P4InfoIndex) -> None:
    e = entities.table_entry(p4, "acl", {"src_addr": ("10.0.0.77", "255.255.255.0"),
                                         "dst_port": (80, 90), "port": 1}, priority=10)
    tern = e.match[0].ternary
    assert tern.value == b"\x0a\x00\x00\x00" and tern.mask == b"\xff\xff\xff\x00"
    assert (e.match[1].range.low, e.match[1].range.high) == (b"\x50", b"\x5a")
    assert e.priority == 10


def test_names_resolve_by_unique_suffix_only(p4: P4InfoIndex) -> None:
    assert p4.table_id("Ingress.routes") == 33554433
    assert p4.table_id("acl") == 33554434
    with pytest.raises(P4InfoError, match="ambiguous"):
        p4.get("tables", "routes")
    with pytest.raises(P4InfoError, match="no table named 'missing'"):
        p4.table("missing")


def test_action_params_checked(p4: P4InfoIndex) -> None:
    with pytest.raises(P4InfoError, match="needs parameter 'dmac'"):
        entities.action(p4, "forward", {"port": 1})
    with pytest.raises(P4InfoError, match="no parameter"):
        entities.action(p4, "forward", {"port": 1, "dmac": 0, "vlan": 3})
    with pytest.raises(P4InfoError, match="no match field"):
        entities.table_entry(p4, "Ingress.routes", {"nope": 1})


def test_packet_out_metadata(p4: P4InfoIndex) -> None:
    msg = entities.packet_out(p4, b"abc", {"egress_port": 3})
    assert msg.payload == b"abc"
    assert [(m.metadata_id, m.value) for m in msg.metadata] == [(1, b"\x03")]
