"""P4Info generation on small programs: tables, actions, ids, names, sizes,
default actions and action reference scopes, as p4c lays them out."""

from __future__ import annotations

import pytest
from p4.config.v1 import p4info_pb2

from p4sim.controlplane.p4info_ids import jenkins_one_at_a_time
from p4sim.frontend.errors import P4Error

from .p4info_fixtures import by_name, p4info_of

INGRESS = """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action drop() { mark_to_drop(sm); }
    action fwd(bit<9> port, bit<48> dmac) { sm.egress_spec = port; hdr.ethernet.dst = dmac; }
    table routes {
        key = { hdr.ipv4.dst_addr : lpm; hdr.ipv4.isValid() : exact; meta.x : ternary @name("x"); }
        actions = { fwd; @tableonly drop; }
        size = 512;
    }
    @name("acl") table acl_table {
        key = { hdr.ipv4.protocol : range; hdr.ethernet.src : optional; }
        actions = { drop; NoAction; }
        const default_action = NoAction();
    }
    table unused_table { key = { meta.x : exact; } actions = { drop; } }
    action never_used() { }
    apply { routes.apply(); acl_table.apply(); }
}
"""


@pytest.fixture()
def info(tmp_path) -> p4info_pb2.P4Info:
    return p4info_of(tmp_path, INGRESS)


def test_pkg_info_arch(info):
    assert info.pkg_info.arch == "v1model"


def test_tables_named_and_only_applied_ones(info):
    assert [t.preamble.name for t in info.tables] == ["Ing.routes", "Ing.acl"]
    assert [t.preamble.alias for t in info.tables] == ["routes", "acl"]


def test_ids_hash_of_name_with_type_prefix(info):
    routes = by_name(info.tables, "Ing.routes")
    expected = (0x02 << 24) | (jenkins_one_at_a_time(b"Ing.routes") & 0xFFFFFF)
    assert routes.preamble.id == expected
    for a in info.actions:
        assert a.preamble.id >> 24 == 0x01


def test_known_p4c_ids():
    # Values p4c prints for these names in its own P4Info files.
    assert (0x01 << 24) | (jenkins_one_at_a_time(b"NoAction") & 0xFFFFFF) == 21257015
    assert (0x02 << 24) | (jenkins_one_at_a_time(b"MyIngress.forward") & 0xFFFFFF) == 46460945


def test_match_fields(info):
    routes = by_name(info.tables, "Ing.routes")
    fields = [(m.id, m.name, m.bitwidth, m.match_type) for m in routes.match_fields]
    assert fields == [
        (1, "hdr.ipv4.dst_addr", 32, p4info_pb2.MatchField.LPM),
        (2, "hdr.ipv4.$valid$", 1, p4info_pb2.MatchField.EXACT),
        (3, "x", 8, p4info_pb2.MatchField.TERNARY),
    ]
    acl = by_name(info.tables, "Ing.acl")
    assert [m.match_type for m in acl.match_fields] == [
        p4info_pb2.MatchField.RANGE,
        p4info_pb2.MatchField.OPTIONAL,
    ]


def test_size_and_default_size(info):
    assert by_name(info.tables, "Ing.routes").size == 512
    assert by_name(info.tables, "Ing.acl").size == 1024


def test_implicit_default_action_is_noaction_default_only(info):
    routes = by_name(info.tables, "Ing.routes")
    no_action = by_name(info.actions, "NoAction").preamble.id
    drop = by_name(info.actions, "Ing.drop").preamble.id
    fwd = by_name(info.actions, "Ing.fwd").preamble.id
    refs = [(r.id, r.scope, list(r.annotations)) for r in routes.action_refs]
    assert refs == [
        (fwd, p4info_pb2.ActionRef.TABLE_AND_DEFAULT, []),
        (drop, p4info_pb2.ActionRef.TABLE_ONLY, ["@tableonly"]),
        (no_action, p4info_pb2.ActionRef.DEFAULT_ONLY, ["@defaultonly"]),
    ]
    assert routes.initial_default_action.action_id == no_action
    assert routes.const_default_action_id == 0


def test_const_default_action(info):
    acl = by_name(info.tables, "Ing.acl")
    no_action = by_name(info.actions, "NoAction").preamble.id
    assert acl.const_default_action_id == no_action
    assert acl.initial_default_action.action_id == no_action


def test_actions_order_params_and_unused_removed(info):
    assert [a.preamble.name for a in info.actions] == ["NoAction", "Ing.drop", "Ing.fwd"]
    fwd = by_name(info.actions, "Ing.fwd")
    assert [(p.id, p.name, p.bitwidth) for p in fwd.params] == [(1, "port", 9), (2, "dmac", 48)]


def test_id_annotations_honoured(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    @id(7) action a(@id(5) bit<8> v, bit<8> w) { meta.x = v + w; }
    @id(0x02000009) table t { key = { meta.x : exact @id(3); hdr.ipv4.ttl : exact; }
                              actions = { a; } }
    apply { t.apply(); }
}
""",
    )
    assert by_name(info.actions, "Ing.a").preamble.id == 0x01000007
    assert [(p.id, p.name) for p in by_name(info.actions, "Ing.a").params] == [
        (5, "v"),
        (2, "w"),
    ]
    t = by_name(info.tables, "Ing.t")
    assert t.preamble.id == 0x02000009
    assert [m.id for m in t.match_fields] == [3, 2]


def test_id_with_wrong_prefix_is_an_error(tmp_path):
    with pytest.raises(P4Error, match="wrong 8-bit prefix"):
        p4info_of(
            tmp_path,
            """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    @id(0x02000001) action a() { }
    table t { key = { meta.x : exact; } actions = { a; } }
    apply { t.apply(); }
}
""",
        )


def test_duplicate_id_is_an_error(tmp_path):
    with pytest.raises(P4Error, match="multiple"):
        p4info_of(
            tmp_path,
            """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    @id(1) action a() { }
    @id(1) action b() { }
    table t { key = { meta.x : exact; } actions = { a; b; } }
    apply { t.apply(); }
}
""",
        )


def test_complex_key_needs_name(tmp_path):
    with pytest.raises(P4Error, match="requires a @name"):
        p4info_of(
            tmp_path,
            """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    table t { key = { meta.x + 1 : exact; } actions = { NoAction; } }
    apply { t.apply(); }
}
""",
        )


def test_generated_key_names_for_slices_and_masks(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    table t {
        key = { hdr.ipv4.dst_addr[31:24] : exact; hdr.ipv4.src_addr & 0xff00 : ternary; }
        actions = { NoAction; }
    }
    apply { t.apply(); }
}
""",
    )
    t = by_name(info.tables, "Ing.t")
    assert [(m.name, m.bitwidth) for m in t.match_fields] == [
        ("hdr.ipv4.dst_addr[31:24]", 8),
        ("hdr.ipv4.src_addr & 0xff00", 32),
    ]
