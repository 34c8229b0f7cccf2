"""P4Runtime entities <-> device state: the Write and Read semantics of the spec.

``write(state, update)`` applies one ``p4.v1.Update`` and raises ``DeviceError`` with
the canonical code the spec asks for; ``read(state, entity)`` yields the entities a
(possibly wildcard) read selects. The caller holds ``state.lock``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from p4.v1 import p4runtime_pb2 as pb

from p4sim.device.codec import data_from_proto, data_to_proto, to_bytes, to_int
from p4sim.device.digests import DigestConfig, DigestList
from p4sim.device.errors import Code, DeviceError, invalid
from p4sim.device.externs import MeterConfig
from p4sim.device.info import MatchKind
from p4sim.device.pre import CloneSession, Replica
from p4sim.device.state import DeviceState
from p4sim.device.tables import Entry, MatchSpec, TableState

_OPS = {pb.Update.INSERT: "insert", pb.Update.MODIFY: "modify", pb.Update.DELETE: "delete"}
_KIND_FIELD = {
    MatchKind.EXACT: "exact",
    MatchKind.LPM: "lpm",
    MatchKind.TERNARY: "ternary",
    MatchKind.RANGE: "range",
    MatchKind.OPTIONAL: "optional",
}


def write(state: DeviceState, update: pb.Update) -> None:
    """Apply one update of a WriteRequest."""
    state.sync()
    write_synced(state, update)


def write_synced(state: DeviceState, update: pb.Update) -> None:
    """`write` for a caller that made the data plane's counts current (`state.sync()`)
    under the device lock it still holds: a batch syncs once, not once per update."""
    op = _OPS.get(update.type)
    if op is None:
        raise invalid("update type must be INSERT, MODIFY or DELETE")
    entity = update.entity
    kind = entity.WhichOneof("entity")
    if kind == "table_entry":
        _write_table_entry(state, op, entity.table_entry)
    elif kind == "counter_entry":
        _write_counter(state, op, entity.counter_entry)
    elif kind == "direct_counter_entry":
        _write_direct_counter(state, op, entity.direct_counter_entry)
    elif kind == "meter_entry":
        _write_meter(state, op, entity.meter_entry)
    elif kind == "direct_meter_entry":
        _write_direct_meter(state, op, entity.direct_meter_entry)
    elif kind == "register_entry":
        _write_register(state, op, entity.register_entry)
    elif kind == "packet_replication_engine_entry":
        _write_pre(state, op, entity.packet_replication_engine_entry)
    elif kind == "digest_entry":
        _write_digest(state, op, entity.digest_entry)
    elif kind is None:
        raise invalid("update has no entity")
    else:
        raise DeviceError(Code.UNIMPLEMENTED, f"{kind} is not supported by this target")


def read(state: DeviceState, entity: pb.Entity) -> Iterator[pb.Entity]:
    """Yield every entity the (possibly wildcard) query ``entity`` selects."""
    state.sync()
    kind = entity.WhichOneof("entity")
    if kind == "table_entry":
        yield from _read_table_entries(state, entity.table_entry)
    elif kind == "counter_entry":
        yield from _read_counters(state, entity.counter_entry)
    elif kind == "direct_counter_entry":
        yield from _read_direct_counters(state, entity.direct_counter_entry)
    elif kind == "meter_entry":
        yield from _read_meters(state, entity.meter_entry)
    elif kind == "direct_meter_entry":
        yield from _read_direct_meters(state, entity.direct_meter_entry)
    elif kind == "register_entry":
        yield from _read_registers(state, entity.register_entry)
    elif kind == "packet_replication_engine_entry":
        yield from _read_pre(state, entity.packet_replication_engine_entry)
    elif kind == "digest_entry":
        yield from _read_digests(state, entity.digest_entry)
    elif kind is None:
        raise invalid("read query has no entity")
    else:
        raise DeviceError(Code.UNIMPLEMENTED, f"{kind} is not supported by this target")


# ---------------------------------------------------------------------- lookups

_T = TypeVar("_T")


def _one(by_id: Mapping[int, _T], kind: str, ident: int) -> _T:
    """The object with P4Info id `ident`, or NOT_FOUND naming what was asked for."""
    obj = by_id.get(ident)
    if obj is None:
        raise DeviceError(Code.NOT_FOUND, f"unknown {kind} id {ident}")
    return obj


def _selected(by_id: Mapping[int, _T], kind: str, ident: int) -> list[_T]:
    """What a read query selects: one object, or every one when its id is 0."""
    return [_one(by_id, kind, ident)] if ident else list(by_id.values())


# ---------------------------------------------------------------------- tables


def _table(state: DeviceState, table_id: int) -> TableState:
    return _one(state.tables_by_id, "table", table_id)


def decode_match(table: TableState, matches: Iterable[pb.FieldMatch]) -> MatchSpec:
    """Turn repeated FieldMatch into a match spec (omitted fields are "don't care")."""
    by_id = {f.id: i for i, f in enumerate(table.fields)}
    values: list[object] = [None] * len(table.fields)
    seen: set[int] = set()
    for fm in matches:
        pos = by_id.get(fm.field_id)
        if pos is None:
            raise invalid(f"{table.name}: unknown match field id {fm.field_id}")
        if fm.field_id in seen:
            raise invalid(f"{table.name}: match field id {fm.field_id} given twice")
        seen.add(fm.field_id)
        f = table.fields[pos]
        which = fm.WhichOneof("field_match_type")
        if which != _KIND_FIELD[f.kind]:
            raise invalid(f"{table.name}: field {f.name} is {f.kind.name}, got {which}")
        where = f"{table.name}: field {f.name}"
        width = f.bitwidth
        if f.kind == MatchKind.EXACT:
            values[pos] = to_int(fm.exact.value, width, where)
        elif f.kind == MatchKind.OPTIONAL:
            values[pos] = to_int(fm.optional.value, width, where)
        elif f.kind == MatchKind.LPM:
            values[pos] = (to_int(fm.lpm.value, width, where), fm.lpm.prefix_len)
        elif f.kind == MatchKind.TERNARY:
            values[pos] = (
                to_int(fm.ternary.value, width, where),
                to_int(fm.ternary.mask, width, where),
            )
        else:
            values[pos] = (to_int(fm.range.low, width, where), to_int(fm.range.high, width, where))
    for f, v in zip(table.fields, values, strict=True):
        if v is None and f.kind == MatchKind.EXACT:
            raise invalid(f"{table.name}: exact match field {f.name} is missing")
    return tuple(values)


def encode_match(table: TableState, match: MatchSpec, into: object) -> None:
    """Append the FieldMatch messages of ``match`` (don't-care fields omitted)."""
    for f, value in zip(table.fields, match, strict=True):
        if value is None:
            continue
        fm = into.add()  # type: ignore[attr-defined]
        fm.field_id = f.id
        if f.kind == MatchKind.EXACT:
            fm.exact.value = to_bytes(value)
        elif f.kind == MatchKind.OPTIONAL:
            fm.optional.value = to_bytes(value)
        elif f.kind == MatchKind.LPM:
            fm.lpm.value = to_bytes(value[0])
            fm.lpm.prefix_len = value[1]
        elif f.kind == MatchKind.TERNARY:
            fm.ternary.value = to_bytes(value[0])
            fm.ternary.mask = to_bytes(value[1])
        else:
            fm.range.low = to_bytes(value[0])
            fm.range.high = to_bytes(value[1])


def _decode_action(state: DeviceState, te: pb.TableEntry) -> tuple[int, tuple[int, ...]]:
    kind = te.action.WhichOneof("type")
    if kind != "action":
        raise DeviceError(Code.UNIMPLEMENTED, "only direct actions are supported")
    action = state.index.actions.get(te.action.action.action_id)
    if action is None:
        raise invalid(f"unknown action id {te.action.action.action_id}")
    given: dict[int, bytes] = {}
    for p in te.action.action.params:
        if p.param_id in given:
            raise invalid(f"{action.name}: parameter id {p.param_id} given twice")
        given[p.param_id] = p.value
    known = {p.id for p in action.params}
    for pid in given:
        if pid not in known:
            raise invalid(f"{action.name}: unknown parameter id {pid}")
    args = []
    for p in action.params:
        if p.id not in given:
            raise invalid(f"{action.name}: parameter {p.name} is missing")
        args.append(to_int(given[p.id], p.bitwidth, f"{action.name}: parameter {p.name}"))
    return action.id, tuple(args)


def _meter_config(cfg: pb.MeterConfig) -> MeterConfig:
    return MeterConfig(cfg.cir, cfg.cburst, cfg.pir, cfg.pburst)


def _find_entry(table: TableState, te: pb.TableEntry) -> Entry:
    if te.is_default_action:
        if len(te.match) or te.priority:
            raise invalid(f"{table.name}: the default entry has no match and no priority")
        return table.default_entry
    match = table.check_match(decode_match(table, te.match), te.priority)
    entry = table.get(match, te.priority)
    if entry is None:
        raise DeviceError(Code.NOT_FOUND, f"{table.name}: entry not found")
    return entry


def _write_table_entry(state: DeviceState, op: str, te: pb.TableEntry) -> None:
    table = _table(state, te.table_id)
    if te.HasField("time_since_last_hit"):
        raise invalid(f"{table.name}: time_since_last_hit cannot be written")
    if te.is_default_action:
        _write_default_entry(state, table, op, te)
        return
    match = decode_match(table, te.match)
    if op == "delete":
        table.delete(match, te.priority)
        return
    has_action = te.HasField("action")
    if op == "insert":
        if not has_action:
            raise invalid(f"{table.name}: an inserted entry needs an action")
        action_id, args = _decode_action(state, te)
        entry = table.insert(
            match,
            te.priority,
            action_id,
            args,
            idle_timeout_ns=te.idle_timeout_ns,
            metadata=te.metadata,
            controller_metadata=te.controller_metadata,
        )
    else:
        action_id2: int | None = None
        args = ()
        if has_action:
            action_id2, args = _decode_action(state, te)
        elif not table.info.is_const:
            raise invalid(f"{table.name}: MODIFY needs an action")
        entry = table.modify(
            match,
            te.priority,
            action_id2,
            args,
            idle_timeout_ns=te.idle_timeout_ns,
            metadata=te.metadata,
            controller_metadata=te.controller_metadata,
        )
    _write_direct_resources(table, entry, te)


def _write_direct_resources(table: TableState, entry: Entry, te: pb.TableEntry) -> None:
    if te.HasField("counter_data"):
        if not table.has_direct_counter:
            raise invalid(f"{table.name} has no direct counter")
        entry.packets = te.counter_data.packet_count
        entry.bytes = te.counter_data.byte_count
    if te.HasField("meter_config"):
        table.set_meter_config(entry, _meter_config(te.meter_config))


def _write_default_entry(state: DeviceState, table: TableState, op: str, te: pb.TableEntry) -> None:
    if op != "modify":
        raise invalid(f"{table.name}: the default entry can only be modified")
    if len(te.match) or te.priority:
        raise invalid(f"{table.name}: the default entry has no match and no priority")
    if te.idle_timeout_ns:
        raise invalid(f"{table.name}: the default entry has no idle timeout")
    if te.HasField("action"):
        action_id, args = _decode_action(state, te)
        table.set_default(action_id, args)
    else:
        table.reset_default()
    _write_direct_resources(table, table.default_entry, te)


def _entry_proto(
    table: TableState, entry: Entry, query: pb.TableEntry, default: bool, now: int
) -> pb.Entity:
    out = pb.Entity()
    te = out.table_entry
    te.table_id = table.info.id
    if default:
        te.is_default_action = True
    else:
        encode_match(table, entry.match, te.match)
        te.priority = entry.priority
        te.idle_timeout_ns = entry.idle_timeout_ns
        te.metadata = entry.metadata
        te.controller_metadata = entry.controller_metadata
        te.is_const = entry.is_const
    if entry.action_id:
        action = te.action.action
        action.action_id = entry.action_id
        info = table.action_info(entry.action_id)
        for p, value in zip(info.params, entry.args, strict=True):
            param = action.params.add()
            param.param_id = p.id
            param.value = to_bytes(value)
    if query.HasField("counter_data") and table.has_direct_counter:
        te.counter_data.packet_count = entry.packets
        te.counter_data.byte_count = entry.bytes
    if query.HasField("meter_config") and entry.meter_config is not None:
        _fill_meter_config(te.meter_config, entry.meter_config)
    if query.HasField("time_since_last_hit") and not default:
        te.time_since_last_hit.elapsed_ns = max(0, now - entry.last_hit_ns)
    return out


def _fill_meter_config(out: pb.MeterConfig, cfg: MeterConfig) -> None:
    out.cir, out.cburst, out.pir, out.pburst = cfg.cir, cfg.cburst, cfg.pir, cfg.pburst


def _select_table_entries(
    state: DeviceState, query: pb.TableEntry
) -> Iterator[tuple[TableState, Entry, bool]]:
    """(table, entry, is default) for every entry a table-entry query selects."""
    for table in _selected(state.tables_by_id, "table", query.table_id):
        if query.HasField("time_since_last_hit") and not table.supports_idle_timeout:
            if query.table_id:
                raise invalid(f"{table.name} does not support idle timeout")
        if query.is_default_action:
            yield table, table.default_entry, True
            continue
        if query.table_id and len(query.match):
            match = table.check_match(decode_match(table, query.match), query.priority)
            found = table.get(match, query.priority)
            candidates = [] if found is None else [found]
        else:
            candidates = list(table.entries())
        action_filter = (
            query.action.action.action_id if query.action.WhichOneof("type") == "action" else 0
        )
        for entry in candidates:
            if query.priority and entry.priority != query.priority:
                continue
            if action_filter and entry.action_id != action_filter:
                continue
            if query.controller_metadata and entry.controller_metadata != query.controller_metadata:
                continue
            if query.metadata and entry.metadata != query.metadata:
                continue
            yield table, entry, False


def _read_table_entries(state: DeviceState, query: pb.TableEntry) -> Iterator[pb.Entity]:
    now = state.now_ns()
    for table, entry, default in _select_table_entries(state, query):
        yield _entry_proto(table, entry, query, default, now)


# --------------------------------------------------------- direct resources


def _write_direct_counter(state: DeviceState, op: str, dce: pb.DirectCounterEntry) -> None:
    if op != "modify":
        raise invalid("direct counter entries can only be modified")
    table = _table(state, dce.table_entry.table_id)
    if not table.has_direct_counter:
        raise invalid(f"{table.name} has no direct counter")
    entry = _find_entry(table, dce.table_entry)
    entry.packets = dce.data.packet_count
    entry.bytes = dce.data.byte_count


def _write_direct_meter(state: DeviceState, op: str, dme: pb.DirectMeterEntry) -> None:
    if op != "modify":
        raise invalid("direct meter entries can only be modified")
    table = _table(state, dme.table_entry.table_id)
    entry = _find_entry(table, dme.table_entry)
    table.set_meter_config(entry, _meter_config(dme.config) if dme.HasField("config") else None)


def _direct_targets(
    state: DeviceState, te: pb.TableEntry, want_counter: bool
) -> Iterator[tuple[TableState, Entry]]:
    for table in _selected(state.tables_by_id, "table", te.table_id):
        has = table.has_direct_counter if want_counter else table.has_direct_meter
        if not has:
            if te.table_id:
                raise invalid(
                    f"{table.name} has no direct {'counter' if want_counter else 'meter'}"
                )
            continue
        if te.is_default_action:
            yield table, table.default_entry
        elif te.table_id and len(te.match):
            match = table.check_match(decode_match(table, te.match), te.priority)
            found = table.get(match, te.priority)
            if found is not None:
                yield table, found
        else:
            for entry in table.entries():
                yield table, entry


def _direct_key(table: TableState, entry: Entry, te: pb.TableEntry) -> None:
    te.table_id = table.info.id
    if entry is table.default_entry:
        te.is_default_action = True
    else:
        encode_match(table, entry.match, te.match)
        te.priority = entry.priority


def _read_direct_counters(state: DeviceState, q: pb.DirectCounterEntry) -> Iterator[pb.Entity]:
    for table, entry in _direct_targets(state, q.table_entry, want_counter=True):
        out = pb.Entity()
        dce = out.direct_counter_entry
        _direct_key(table, entry, dce.table_entry)
        dce.data.packet_count = entry.packets
        dce.data.byte_count = entry.bytes
        yield out


def _read_direct_meters(state: DeviceState, q: pb.DirectMeterEntry) -> Iterator[pb.Entity]:
    for table, entry in _direct_targets(state, q.table_entry, want_counter=False):
        out = pb.Entity()
        dme = out.direct_meter_entry
        _direct_key(table, entry, dme.table_entry)
        if entry.meter_config is not None:
            _fill_meter_config(dme.config, entry.meter_config)
        yield out


# ------------------------------------------------------------ indexed externs


def _indices(q: object, size: int, name: str) -> range:
    if q.HasField("index"):  # type: ignore[attr-defined]
        index = q.index.index  # type: ignore[attr-defined]
        if not 0 <= index < size:
            raise DeviceError(Code.OUT_OF_RANGE, f"{name}: index {index} outside [0, {size})")
        return range(index, index + 1)
    return range(size)


def _write_counter(state: DeviceState, op: str, ce: pb.CounterEntry) -> None:
    if op != "modify":
        raise invalid("counter entries can only be modified")
    counter = _one(state.counters_by_id, "counter", ce.counter_id)
    for i in _indices(ce, counter.size, counter.name):
        counter.write(i, ce.data.packet_count, ce.data.byte_count)


def _read_counters(state: DeviceState, q: pb.CounterEntry) -> Iterator[pb.Entity]:
    for counter in _selected(state.counters_by_id, "counter", q.counter_id):
        for i in _indices(q, counter.size, counter.name):
            out = pb.Entity()
            ce = out.counter_entry
            ce.counter_id = counter.info.id
            ce.index.index = i
            ce.data.packet_count = counter.packets[i]
            ce.data.byte_count = counter.bytes[i]
            yield out


def _write_meter(state: DeviceState, op: str, me: pb.MeterEntry) -> None:
    if op != "modify":
        raise invalid("meter entries can only be modified")
    meter = _one(state.meters_by_id, "meter", me.meter_id)
    cfg = _meter_config(me.config) if me.HasField("config") else None
    for i in _indices(me, meter.size, meter.name):
        meter.set_config(i, cfg)


def _read_meters(state: DeviceState, q: pb.MeterEntry) -> Iterator[pb.Entity]:
    for meter in _selected(state.meters_by_id, "meter", q.meter_id):
        for i in _indices(q, meter.size, meter.name):
            out = pb.Entity()
            me = out.meter_entry
            me.meter_id = meter.info.id
            me.index.index = i
            cfg = meter.config(i)
            if cfg is not None:
                _fill_meter_config(me.config, cfg)
            yield out


def _write_register(state: DeviceState, op: str, re: pb.RegisterEntry) -> None:
    if op != "modify":
        raise invalid("register entries can only be modified")
    reg = _one(state.registers_by_id, "register", re.register_id)
    value = data_from_proto(re.data, reg.bitwidth, reg.name)
    for i in _indices(re, reg.size, reg.name):
        reg.values[i] = value


def _read_registers(state: DeviceState, q: pb.RegisterEntry) -> Iterator[pb.Entity]:
    for reg in _selected(state.registers_by_id, "register", q.register_id):
        for i in _indices(q, reg.size, reg.name):
            out = pb.Entity()
            re = out.register_entry
            re.register_id = reg.info.id
            re.index.index = i
            re.data.bitstring = to_bytes(reg.values[i])
            yield out


# ------------------------------------------------------------------- PRE


def _replicas(replicas: object) -> list[Replica]:
    out = []
    for r in replicas:  # type: ignore[attr-defined]
        if r.WhichOneof("port_kind") == "port":
            port = to_int(r.port, 32, "replica port")
        else:
            port = r.egress_port
        out.append((port, r.instance))
    return out


def _fill_replicas(replicas: list[Replica], into: object) -> None:
    for port, instance in replicas:
        r = into.add()  # type: ignore[attr-defined]
        r.egress_port = port
        r.instance = instance


def _write_pre(state: DeviceState, op: str, pre: pb.PacketReplicationEngineEntry) -> None:
    kind = pre.WhichOneof("type")
    if kind == "clone_session_entry":
        cs = pre.clone_session_entry
        replicas = [] if op == "delete" else _replicas(cs.replicas)
        state.pre.write_clone_session(
            op, CloneSession(cs.session_id, replicas, cs.class_of_service, cs.packet_length_bytes)
        )
    elif kind == "multicast_group_entry":
        mg = pre.multicast_group_entry
        replicas = [] if op == "delete" else _replicas(mg.replicas)
        state.pre.write_multicast_group(op, mg.multicast_group_id, replicas, mg.metadata)
    else:
        raise invalid("packet replication engine entry has no type")


def _read_pre(state: DeviceState, q: pb.PacketReplicationEngineEntry) -> Iterator[pb.Entity]:
    kind = q.WhichOneof("type")
    if kind in (None, "clone_session_entry"):
        wanted = q.clone_session_entry.session_id if kind else 0
        for sid, cs in sorted(state.pre.clone_sessions.items()):
            if wanted and sid != wanted:
                continue
            out = pb.Entity()
            e = out.packet_replication_engine_entry.clone_session_entry
            e.session_id = sid
            _fill_replicas(cs.replicas, e.replicas)
            e.class_of_service = cs.class_of_service
            e.packet_length_bytes = cs.packet_length_bytes
            yield out
    if kind in (None, "multicast_group_entry"):
        wanted = q.multicast_group_entry.multicast_group_id if kind else 0
        for gid, replicas in sorted(state.pre.multicast_groups.items()):
            if wanted and gid != wanted:
                continue
            out = pb.Entity()
            g = out.packet_replication_engine_entry.multicast_group_entry
            g.multicast_group_id = gid
            _fill_replicas(replicas, g.replicas)
            g.metadata = state.pre.multicast_metadata.get(gid, b"")
            yield out


# ---------------------------------------------------------------- digests


def _write_digest(state: DeviceState, op: str, de: pb.DigestEntry) -> None:
    if de.digest_id not in state.index.digests:
        raise DeviceError(Code.NOT_FOUND, f"unknown digest id {de.digest_id}")
    cfg = None
    if de.HasField("config"):
        c = de.config
        cfg = DigestConfig(c.max_timeout_ns, c.max_list_size, c.ack_timeout_ns)
    state.digests.configure(op, de.digest_id, cfg)


def _read_digests(state: DeviceState, q: pb.DigestEntry) -> Iterator[pb.Entity]:
    if q.digest_id and q.digest_id not in state.index.digests:
        raise DeviceError(Code.NOT_FOUND, f"unknown digest id {q.digest_id}")
    for digest_id in sorted(state.digests.configured()):
        if q.digest_id and digest_id != q.digest_id:
            continue
        cfg = state.digests.config(digest_id)
        if cfg is None:
            continue
        out = pb.Entity()
        de = out.digest_entry
        de.digest_id = digest_id
        de.config.max_timeout_ns = cfg.max_timeout_ns
        de.config.max_list_size = cfg.max_list_size
        de.config.ack_timeout_ns = cfg.ack_timeout_ns
        yield out


def digest_list_proto(
    state: DeviceState, dl: DigestList, timestamp_ns: int | None = None
) -> pb.StreamMessageResponse:
    """The stream message carrying one digest list, values encoded per the P4Info type
    (``timestamp_ns``: when it is sent; the list's own time by default)."""
    msg = pb.StreamMessageResponse()
    out = msg.digest
    out.digest_id = dl.digest_id
    out.list_id = dl.list_id
    out.timestamp = dl.timestamp_ns if timestamp_ns is None else timestamp_ns
    spec = state.index.digests[dl.digest_id].type_spec
    for value in dl.values:
        out.data.append(data_to_proto(value, spec, state.p4info))
    return msg


def idle_timeout_proto(
    table: TableState, entries: list[Entry], timestamp_ns: int
) -> pb.StreamMessageResponse:
    """An IdleTimeoutNotification for expired entries of one table."""
    msg = pb.StreamMessageResponse()
    note = msg.idle_timeout_notification
    note.timestamp = timestamp_ns
    for entry in entries:
        te = note.table_entry.add()
        te.table_id = table.info.id
        encode_match(table, entry.match, te.match)
        te.priority = entry.priority
        te.idle_timeout_ns = entry.idle_timeout_ns
        te.metadata = entry.metadata
        te.controller_metadata = entry.controller_metadata
    return msg
