"""Name-based access to a P4Info: ids are never hard-coded, they are looked up here.

Names may be given in full (`SynIngress.services`) or by any dotted suffix that is
unique (`services`), as PTF tests and operators write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

# P4Info sections that carry a preamble, by the entity kind used in lookups.
_SECTIONS = (
    "tables",
    "actions",
    "counters",
    "direct_counters",
    "meters",
    "direct_meters",
    "registers",
    "digests",
    "controller_packet_metadata",
    "action_profiles",
    "value_sets",
)


class P4InfoError(KeyError):
    """A name that does not resolve (absent or ambiguous) in the P4Info."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class _Kind:
    by_name: dict[str, Any] = field(default_factory=dict)
    by_id: dict[int, Any] = field(default_factory=dict)
    by_suffix: dict[str, list[Any]] = field(default_factory=dict)


def load_p4info(path: str | Path) -> p4info_pb2.P4Info:
    """Read a P4Info in text format (as p4c and p4sim-compile write it)."""
    info = p4info_pb2.P4Info()
    text_format.Parse(Path(path).read_text(), info)
    return info


class P4InfoIndex:
    """Lookups by name or suffix over one P4Info."""

    def __init__(self, info: p4info_pb2.P4Info) -> None:
        self.info = info
        self._kinds: dict[str, _Kind] = {}
        for section in _SECTIONS:
            kind = _Kind()
            for obj in getattr(info, section):
                name = obj.preamble.name
                kind.by_name[name] = obj
                kind.by_id[obj.preamble.id] = obj
                parts = name.split(".")
                for i in range(len(parts)):
                    kind.by_suffix.setdefault(".".join(parts[i:]), []).append(obj)
                if obj.preamble.alias and obj.preamble.alias != name:
                    kind.by_suffix.setdefault(obj.preamble.alias, []).append(obj)
            self._kinds[section] = kind

    def get(self, section: str, name: str):  # returns the protobuf message
        kind = self._kinds[section]
        if name in kind.by_name:
            return kind.by_name[name]
        found = kind.by_suffix.get(name, [])
        unique = {id(o): o for o in found}
        if len(unique) == 1:
            return next(iter(unique.values()))
        singular = section.rstrip("s")
        if not unique:
            raise P4InfoError(f"no {singular} named '{name}' in the P4Info")
        names = sorted(o.preamble.name for o in unique.values())
        raise P4InfoError(f"{singular} name '{name}' is ambiguous: {', '.join(names)}")

    def by_id(self, section: str, obj_id: int):
        try:
            return self._kinds[section].by_id[obj_id]
        except KeyError:
            raise P4InfoError(f"no {section.rstrip('s')} with id {obj_id:#x}") from None

    def table(self, name: str) -> p4info_pb2.Table:
        return self.get("tables", name)

    def action(self, name: str) -> p4info_pb2.Action:
        return self.get("actions", name)

    def table_id(self, name: str) -> int:
        return self.table(name).preamble.id

    def action_id(self, name: str) -> int:
        return self.action(name).preamble.id

    def match_field(self, table: str, name: str) -> p4info_pb2.MatchField:
        t = self.table(table)
        for mf in t.match_fields:
            if mf.name == name or mf.name.endswith("." + name):
                return mf
        raise P4InfoError(f"table '{t.preamble.name}' has no match field '{name}'")

    def action_param(self, action: str, name: str) -> p4info_pb2.Action.Param:
        a = self.action(action)
        for p in a.params:
            if p.name == name:
                return p
        raise P4InfoError(f"action '{a.preamble.name}' has no parameter '{name}'")

    def packet_metadata(self, header: str) -> p4info_pb2.ControllerPacketMetadata:
        """`header` is 'packet_in' or 'packet_out'."""
        return self.get("controller_packet_metadata", header)
