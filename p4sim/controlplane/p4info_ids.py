"""P4Runtime ids and aliases, assigned the way p4c assigns them.

A controller that caches ids (or a test that compares P4Info files) only works
unchanged on both targets if p4sim hands out the same numbers as p4c. p4c's
scheme:

* An id is 32 bits: the 8-bit resource-type prefix of `p4.config.v1.P4Ids`
  (ACTION 0x01, TABLE 0x02, VALUE_SET 0x03, CONTROLLER_HEADER 0x04,
  ACTION_PROFILE 0x11, COUNTER 0x12, DIRECT_COUNTER 0x13, METER 0x14,
  DIRECT_METER 0x15, REGISTER 0x16, DIGEST 0x17) and a 24-bit suffix.
* `@id(N)` on the declaration wins. N without a prefix gets the type's prefix;
  N with a different non-zero prefix is an error; the same id twice is an error.
* Every other object, per resource type and in sorted name order, gets the low
  24 bits of Jenkins' one-at-a-time hash of its fully qualified name; on a
  collision with an id already taken the hash input value is incremented
  (linear probing), so the prefix is never disturbed.
* The alias is the shortest suffix of dot-separated name components that is
  unique among *all* symbols of the program, whatever their type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4.config.v1 import p4info_pb2

from p4sim.frontend.errors import Loc, P4Error

P4Ids = p4info_pb2.P4Ids

PREFIX_MASK = 0xFF << 24


def jenkins_one_at_a_time(data: bytes) -> int:
    """Bob Jenkins' one-at-a-time hash on 32-bit unsigned arithmetic."""
    h = 0
    for byte in data:
        h = (h + byte) & 0xFFFFFFFF
        h = (h + (h << 10)) & 0xFFFFFFFF
        h ^= h >> 6
    h = (h + (h << 3)) & 0xFFFFFFFF
    h ^= h >> 11
    h = (h + (h << 15)) & 0xFFFFFFFF
    return h


@dataclass
class _Symbol:
    name: str
    explicit_id: int | None
    loc: Loc | None


@dataclass
class SymbolTable:
    """Collect every control-plane symbol first (`add`), then call `assign_ids`
    once; `id_of` and `alias` answer afterwards. Adding the same (type, name)
    twice is harmless: the first addition wins, as in p4c."""

    _symbols: dict[int, dict[str, _Symbol]] = field(default_factory=dict)
    _ids: dict[tuple[int, str], int] = field(default_factory=dict)
    _all_names: set[str] = field(default_factory=set)
    _suffix_counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    _assigned: bool = False

    def add(
        self, prefix: int, name: str, explicit_id: int | None = None, loc: Loc | None = None
    ) -> None:
        if self._assigned:
            raise RuntimeError("symbols added after ids were assigned")
        table = self._symbols.setdefault(prefix, {})
        if name in table:
            return
        table[name] = _Symbol(name, explicit_id, loc)
        self._add_suffixes(name)

    def _add_suffixes(self, name: str) -> None:
        if name in self._all_names:
            return
        self._all_names.add(name)
        parts = name.split(".")
        for i in range(len(parts)):
            suffix = tuple(parts[i:])
            self._suffix_counts[suffix] = self._suffix_counts.get(suffix, 0) + 1

    def assign_ids(self) -> None:
        taken: set[int] = set()
        # Explicit @id values first, every type, so hashed ids avoid them all.
        for prefix, table in sorted(self._symbols.items()):
            for sym in table.values():
                if sym.explicit_id is None:
                    continue
                value = sym.explicit_id
                if value < 0 or value > 0xFFFFFFFF:
                    raise P4Error(sym.loc, f"{sym.name}: @id should be an unsigned 32-bit integer")
                if value & PREFIX_MASK and value & PREFIX_MASK != prefix << 24:
                    raise P4Error(sym.loc, f"{sym.name}: @id has the wrong 8-bit prefix")
                value |= prefix << 24
                if value in taken:
                    raise P4Error(sym.loc, f"@id {value} is assigned to multiple declarations")
                taken.add(value)
                self._ids[(prefix, sym.name)] = value
        for prefix, table in sorted(self._symbols.items()):
            for name in sorted(table, key=lambda n: n.encode()):
                if (prefix, name) in self._ids:
                    continue
                source = jenkins_one_at_a_time(name.encode())
                value = source
                while True:
                    candidate = (prefix << 24) | (value & 0xFFFFFF)
                    if candidate not in taken:
                        break
                    value = (value + 1) & 0xFFFFFFFF
                    if value == source:
                        raise P4Error(None, f"no id left for {name}")
                taken.add(candidate)
                self._ids[(prefix, name)] = candidate
        self._assigned = True

    def id_of(self, prefix: int, name: str) -> int:
        try:
            return self._ids[(prefix, name)]
        except KeyError:
            raise KeyError(f"no id for {name!r} (type prefix {prefix:#x})") from None

    def has(self, prefix: int, name: str) -> bool:
        return name in self._symbols.get(prefix, {})

    def alias(self, name: str) -> str:
        parts = name.split(".")
        for n in range(1, len(parts) + 1):
            if self._suffix_counts.get(tuple(parts[-n:]), 0) < 2:
                return ".".join(parts[-n:])
        return name
