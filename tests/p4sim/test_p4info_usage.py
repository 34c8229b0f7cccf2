"""Which objects P4Info keeps, following p4c's front end: unapplied tables,
unreferenced actions and unapplied nested controls disappear; actions called
only from actions are inlined away; directly called actions lose their
parameters; constant-folded branches do not count; nested and directly called
controls give hierarchical names."""

from __future__ import annotations

from .p4info_fixtures import by_name, p4info_of


def names(items) -> list[str]:
    return [i.preamble.name for i in items]


def test_unapplied_table_and_its_only_actions_are_dropped(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action only_in_unused() { meta.x = 1; }
    action shared() { meta.x = 2; }
    table unused { key = { meta.x : exact; } actions = { only_in_unused; shared; } }
    table used { key = { meta.x : exact; } actions = { shared; } }
    apply { used.apply(); }
}
""",
    )
    assert names(info.tables) == ["Ing.used"]
    assert names(info.actions) == ["NoAction", "Ing.shared"]


def test_action_called_only_from_actions_is_inlined_away(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action helper(bit<8> v) { meta.x = v; }
    action outer() { helper(3); }
    table t { key = { meta.x : exact; } actions = { outer; } }
    apply { t.apply(); }
}
""",
    )
    assert names(info.actions) == ["NoAction", "Ing.outer"]


def test_directly_called_action_kept_without_parameters(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action direct(bit<8> v) { meta.x = v; }
    action both(bit<8> v) { meta.x = v; }
    table t { key = { meta.x : exact; } actions = { both; } }
    apply { direct(1); both(2); t.apply(); }
}
""",
    )
    assert names(info.actions) == ["NoAction", "Ing.direct", "Ing.both"]
    assert len(by_name(info.actions, "Ing.direct").params) == 0
    assert [p.name for p in by_name(info.actions, "Ing.both").params] == ["v"]


def test_table_behind_constant_false_is_dropped(tmp_path):
    info = p4info_of(
        tmp_path,
        """
const bool DEBUG = false;
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    table dbg { key = { meta.x : exact; } actions = { NoAction; } }
    table t { key = { meta.x : exact; } actions = { NoAction; } }
    apply {
        if (DEBUG) { dbg.apply(); }
        t.apply();
    }
}
""",
    )
    assert names(info.tables) == ["Ing.t"]


def test_nested_instances_named_and_unapplied_instance_dropped(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Sub(inout meta_t meta) {
    counter(4, CounterType.packets) c;
    action a() { c.count(0); }
    table t { key = { meta.x : exact; } actions = { a; } }
    apply { t.apply(); }
}
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Sub() first;
    @name("renamed") Sub() second;
    Sub() never;
    @name(".top_level") table g { key = { meta.x : exact; } actions = { NoAction; } }
    apply { first.apply(meta); second.apply(meta); g.apply(); }
}
""",
    )
    assert names(info.tables) == ["Ing.first.t", "Ing.renamed.t", "top_level"]
    assert names(info.actions) == ["NoAction", "Ing.first.a", "Ing.renamed.a"]
    # The unapplied instance disappears with everything in it, counters included.
    assert names(info.counters) == ["Ing.first.c", "Ing.renamed.c"]


def test_direct_control_call_makes_an_instance_named_after_the_type(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Sub(inout meta_t meta) {
    table t { key = { meta.x : exact; } actions = { NoAction; } }
    apply { t.apply(); }
}
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { Sub.apply(meta); }
}
""",
    )
    assert names(info.tables) == ["Ing.Sub.t"]


def test_unused_extern_instances_are_kept(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    register<bit<16>>(8) spare;
    apply { }
}
""",
    )
    assert names(info.registers) == ["Ing.spare"]
