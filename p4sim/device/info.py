"""Plain descriptions of the P4Info objects the device needs, read once from the protobuf.

The per-packet code and the validation code should not walk protobuf messages: these
small frozen records carry exactly what they need (ids, names, bitwidths, match kinds)
and are built once per pipeline push.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from p4.config.v1 import p4info_pb2


class MatchKind(IntEnum):
    """Match kinds, numbered as in ``p4.config.v1.MatchField.MatchType``."""

    EXACT = 2
    LPM = 3
    TERNARY = 4
    RANGE = 5
    OPTIONAL = 6


class Scope(IntEnum):
    """Where an action may be used, numbered as in ``p4.config.v1.ActionRef.Scope``."""

    TABLE_AND_DEFAULT = 0
    TABLE_ONLY = 1
    DEFAULT_ONLY = 2


class Unit(IntEnum):
    """Counter and meter units as in P4Info (``UNSPECIFIED`` = 0)."""

    UNSPECIFIED = 0
    BYTES = 1
    PACKETS = 2
    BOTH = 3


@dataclass(frozen=True, slots=True)
class MatchFieldInfo:
    id: int
    name: str
    bitwidth: int
    kind: MatchKind


@dataclass(frozen=True, slots=True)
class ParamInfo:
    id: int
    name: str
    bitwidth: int


@dataclass(frozen=True, slots=True)
class ActionInfo:
    id: int
    name: str
    params: tuple[ParamInfo, ...]


@dataclass(frozen=True, slots=True)
class TableInfo:
    id: int
    name: str
    fields: tuple[MatchFieldInfo, ...]
    actions: dict[int, Scope]
    const_default_action_id: int
    initial_default: tuple[int, tuple[int, ...]] | None
    size: int
    supports_idle_timeout: bool
    is_const: bool
    direct_counter_unit: Unit | None = None
    direct_meter_unit: Unit | None = None
    implementation_id: int = 0


@dataclass(frozen=True, slots=True)
class IndexedInfo:
    """A counter, meter or register array."""

    id: int
    name: str
    size: int
    unit: Unit = Unit.UNSPECIFIED
    bitwidth: int = 0


@dataclass(frozen=True, slots=True)
class PacketMetadataInfo:
    id: int
    name: str
    bitwidth: int


@dataclass(slots=True)
class P4InfoIndex:
    """Every object of a P4Info, by id and by fully qualified name."""

    p4info: p4info_pb2.P4Info
    tables: dict[int, TableInfo] = field(default_factory=dict)
    actions: dict[int, ActionInfo] = field(default_factory=dict)
    counters: dict[int, IndexedInfo] = field(default_factory=dict)
    meters: dict[int, IndexedInfo] = field(default_factory=dict)
    registers: dict[int, IndexedInfo] = field(default_factory=dict)
    digests: dict[int, p4info_pb2.Digest] = field(default_factory=dict)
    direct_counters: dict[int, int] = field(default_factory=dict)  # id -> table id
    direct_meters: dict[int, int] = field(default_factory=dict)  # id -> table id
    packet_metadata: dict[str, tuple[PacketMetadataInfo, ...]] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)


_KINDS = frozenset(int(k) for k in MatchKind)


def _bitstring_width(spec: object) -> int:
    """Bit width of a ``P4DataTypeSpec`` that is a ``bit<W>`` or ``int<W>``, else 0."""
    bitstring = getattr(spec, "bitstring", None)
    if bitstring is None or not spec.HasField("bitstring"):  # type: ignore[attr-defined]
        return 0
    kind = bitstring.WhichOneof("type_spec")
    if kind == "bit":
        return int(bitstring.bit.bitwidth)
    if kind == "int":
        return int(bitstring.int.bitwidth)
    if kind == "varbit":
        return int(bitstring.varbit.max_bitwidth)
    return 0


def index_p4info(p4info: p4info_pb2.P4Info) -> P4InfoIndex:
    """Read a P4Info into lookup dictionaries; raise ValueError on an inconsistent one."""
    idx = P4InfoIndex(p4info=p4info)
    for action in p4info.actions:
        params = tuple(ParamInfo(p.id, p.name, p.bitwidth) for p in action.params)
        idx.actions[action.preamble.id] = ActionInfo(
            action.preamble.id, action.preamble.name, params
        )
        idx.names[action.preamble.name] = action.preamble.id
    direct_units: dict[int, tuple[str, Unit]] = {}
    for dc in p4info.direct_counters:
        idx.direct_counters[dc.preamble.id] = dc.direct_table_id
        direct_units[dc.preamble.id] = ("counter", Unit(dc.spec.unit))
        idx.names[dc.preamble.name] = dc.preamble.id
    for dm in p4info.direct_meters:
        idx.direct_meters[dm.preamble.id] = dm.direct_table_id
        direct_units[dm.preamble.id] = ("meter", Unit(dm.spec.unit))
        idx.names[dm.preamble.name] = dm.preamble.id
    for table in p4info.tables:
        fields = []
        for mf in table.match_fields:
            if mf.WhichOneof("match") != "match_type" or mf.match_type not in _KINDS:
                raise ValueError(
                    f"table {table.preamble.name}: match field {mf.name} has an unsupported "
                    "match kind"
                )
            fields.append(MatchFieldInfo(mf.id, mf.name, mf.bitwidth, MatchKind(mf.match_type)))
        refs = {ref.id: Scope(ref.scope) for ref in table.action_refs}
        for action_id in refs:
            if action_id not in idx.actions:
                raise ValueError(
                    f"table {table.preamble.name} refers to unknown action {action_id}"
                )
        initial = None
        if table.HasField("initial_default_action") and table.initial_default_action.action_id:
            call = table.initial_default_action
            action = idx.actions.get(call.action_id)
            if action is not None:
                by_id = {arg.param_id: int.from_bytes(arg.value, "big") for arg in call.arguments}
                initial = (call.action_id, tuple(by_id.get(p.id, 0) for p in action.params))
        counter_unit = meter_unit = None
        for res in table.direct_resource_ids:
            kind, unit = direct_units.get(res, ("", Unit.UNSPECIFIED))
            if kind == "counter":
                counter_unit = unit
            elif kind == "meter":
                meter_unit = unit
        info = TableInfo(
            id=table.preamble.id,
            name=table.preamble.name,
            fields=tuple(fields),
            actions=refs,
            const_default_action_id=table.const_default_action_id,
            initial_default=initial,
            size=int(table.size),
            supports_idle_timeout=table.idle_timeout_behavior == p4info_pb2.Table.NOTIFY_CONTROL,
            is_const=table.is_const_table,
            direct_counter_unit=counter_unit,
            direct_meter_unit=meter_unit,
            implementation_id=table.implementation_id,
        )
        idx.tables[info.id] = info
        idx.names[info.name] = info.id
    for c in p4info.counters:
        idx.counters[c.preamble.id] = IndexedInfo(
            c.preamble.id, c.preamble.name, int(c.size), Unit(c.spec.unit)
        )
        idx.names[c.preamble.name] = c.preamble.id
    for m in p4info.meters:
        idx.meters[m.preamble.id] = IndexedInfo(
            m.preamble.id, m.preamble.name, int(m.size), Unit(m.spec.unit)
        )
        idx.names[m.preamble.name] = m.preamble.id
    for r in p4info.registers:
        width = _bitstring_width(r.type_spec)
        idx.registers[r.preamble.id] = IndexedInfo(
            r.preamble.id, r.preamble.name, int(r.size), bitwidth=width
        )
        idx.names[r.preamble.name] = r.preamble.id
    for d in p4info.digests:
        idx.digests[d.preamble.id] = d
        idx.names[d.preamble.name] = d.preamble.id
    for cpm in p4info.controller_packet_metadata:
        idx.packet_metadata[cpm.preamble.name] = tuple(
            PacketMetadataInfo(md.id, md.name, md.bitwidth) for md in cpm.metadata
        )
    return idx
