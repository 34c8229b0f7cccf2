"""p4c's id and alias scheme (p4sim.controlplane.p4info_ids.SymbolTable)."""

from __future__ import annotations

import pytest

from p4sim.controlplane.p4info_ids import P4Ids, SymbolTable, jenkins_one_at_a_time
from p4sim.frontend.errors import P4Error


def low24(name: str) -> int:
    return jenkins_one_at_a_time(name.encode()) & 0xFFFFFF


def test_jenkins_reference_values():
    # Well-known values of Bob Jenkins' one-at-a-time hash.
    assert jenkins_one_at_a_time(b"a") == 0xCA2E9442
    assert jenkins_one_at_a_time(b"The quick brown fox jumps over the lazy dog") == 0x519E91F5
    assert jenkins_one_at_a_time(b"") == 0


def test_collision_with_explicit_id_probes_upwards():
    s = SymbolTable()
    taken = low24("Ing.a")
    s.add(P4Ids.ACTION, "Ing.a")
    s.add(P4Ids.ACTION, "Ing.pinned", explicit_id=taken)
    s.assign_ids()
    assert s.id_of(P4Ids.ACTION, "Ing.pinned") == (1 << 24) | taken
    assert s.id_of(P4Ids.ACTION, "Ing.a") == (1 << 24) | ((taken + 1) & 0xFFFFFF)


def test_hash_collisions_resolved_in_sorted_name_order():
    # Two names whose hashes share the low 24 bits: the smaller name keeps the
    # hash, the other probes to the next value, whatever the order of addition.
    seen: dict[int, str] = {}
    pair = None
    for i in range(200000):
        name = f"t{i}"
        h = low24(name)
        if h in seen:
            pair = (seen[h], name)
            break
        seen[h] = name
    assert pair is not None
    first, second = sorted(pair, key=str.encode)
    for order in (pair, pair[::-1]):
        s = SymbolTable()
        for n in order:
            s.add(P4Ids.TABLE, n)
        s.assign_ids()
        assert s.id_of(P4Ids.TABLE, first) == (2 << 24) | low24(first)
        assert s.id_of(P4Ids.TABLE, second) == (2 << 24) | ((low24(first) + 1) & 0xFFFFFF)


def test_same_hash_in_different_types_does_not_collide():
    s = SymbolTable()
    s.add(P4Ids.TABLE, "x")
    s.add(P4Ids.ACTION, "x")
    s.assign_ids()
    assert s.id_of(P4Ids.TABLE, "x") & 0xFFFFFF == s.id_of(P4Ids.ACTION, "x") & 0xFFFFFF


def test_explicit_id_with_own_prefix_accepted():
    s = SymbolTable()
    s.add(P4Ids.COUNTER, "c", explicit_id=0x12000005)
    s.assign_ids()
    assert s.id_of(P4Ids.COUNTER, "c") == 0x12000005


def test_explicit_id_out_of_range():
    s = SymbolTable()
    s.add(P4Ids.TABLE, "t", explicit_id=1 << 32)
    with pytest.raises(P4Error, match="unsigned 32-bit"):
        s.assign_ids()


def test_duplicate_add_keeps_first():
    s = SymbolTable()
    s.add(P4Ids.ACTION, "NoAction", explicit_id=3)
    s.add(P4Ids.ACTION, "NoAction", explicit_id=4)
    s.assign_ids()
    assert s.id_of(P4Ids.ACTION, "NoAction") == 0x01000003


def test_aliases_span_all_types():
    s = SymbolTable()
    s.add(P4Ids.TABLE, "Ing.t")
    s.add(P4Ids.COUNTER, "Eg.t")
    s.add(P4Ids.ACTION, "Ing.x.drop")
    s.add(P4Ids.ACTION, "Eg.y.drop")
    s.add(P4Ids.ACTION, "NoAction")
    s.assign_ids()
    assert s.alias("Ing.t") == "Ing.t"
    assert s.alias("Eg.t") == "Eg.t"
    assert s.alias("Ing.x.drop") == "x.drop"
    assert s.alias("NoAction") == "NoAction"


def test_lookup_of_unknown_symbol_raises_key_error():
    s = SymbolTable()
    s.assign_ids()
    with pytest.raises(KeyError, match="no id"):
        s.id_of(P4Ids.TABLE, "missing")
