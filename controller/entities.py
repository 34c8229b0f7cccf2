"""Pure functions that build P4Runtime entities from names and Python values.

Nothing here does I/O: the client (`client.py`) sends what these build. Values are
encoded as P4Runtime canonical binary strings (the shortest big-endian string, one
byte at least), which every P4Runtime 1.x server accepts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from p4.v1 import p4runtime_pb2

from .p4info import P4InfoError, P4InfoIndex

Value = int | bytes | str
MatchValue = Value | tuple[Value, Value] | None


def to_int(value: Value) -> int:
    """An int from an int, big-endian bytes, or a string: decimal/hex number, IPv4,
    IPv6 or MAC address."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    text = value.strip()
    if text.count(":") == 5 and all(len(p) <= 2 for p in text.split(":")):
        return int(text.replace(":", ""), 16)
    try:
        return int(ipaddress.ip_address(text))
    except ValueError:
        pass
    return int(text, 0)


def encode(value: Value, bitwidth: int) -> bytes:
    """Canonical binary string of `value` for a field of `bitwidth` bits."""
    v = to_int(value)
    if v < 0 or v >= 1 << bitwidth:
        raise ValueError(f"value {value!r} does not fit in {bitwidth} bits")
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def decode(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _field_match(mf, value: MatchValue) -> p4runtime_pb2.FieldMatch | None:
    """One FieldMatch; None when the field is a wildcard (omitted)."""
    from p4.config.v1 import p4info_pb2

    fm = p4runtime_pb2.FieldMatch(field_id=mf.id)
    w = mf.bitwidth
    kind = mf.match_type
    if value is None:
        if kind == p4info_pb2.MatchField.EXACT:
            raise ValueError(f"exact field '{mf.name}' needs a value")
        return None
    if kind == p4info_pb2.MatchField.EXACT:
        fm.exact.value = encode(value, w)  # type: ignore[arg-type]
    elif kind == p4info_pb2.MatchField.LPM:
        if isinstance(value, str) and "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            addr, plen = int(net.network_address), net.prefixlen
        elif isinstance(value, tuple):
            addr, plen = to_int(value[0]), to_int(value[1])
        else:
            addr, plen = to_int(value), w
        if plen == 0:
            return None
        addr &= ((1 << plen) - 1) << (w - plen)
        fm.lpm.value = encode(addr, w)
        fm.lpm.prefix_len = plen
    elif kind == p4info_pb2.MatchField.TERNARY:
        if isinstance(value, tuple):
            v, m = to_int(value[0]), to_int(value[1])
        else:
            v, m = to_int(value), (1 << w) - 1
        if m == 0:
            return None
        fm.ternary.value = encode(v & m, w)
        fm.ternary.mask = encode(m, w)
    elif kind == p4info_pb2.MatchField.RANGE:
        lo, hi = (to_int(value[0]), to_int(value[1])) if isinstance(value, tuple) else (
            to_int(value), to_int(value))
        if lo == 0 and hi == (1 << w) - 1:
            return None
        fm.range.low = encode(lo, w)
        fm.range.high = encode(hi, w)
    elif kind == p4info_pb2.MatchField.OPTIONAL:
        fm.optional.value = encode(value, w)  # type: ignore[arg-type]
    else:
        raise ValueError(f"match field '{mf.name}' has an unsupported match type {kind}")
    return fm


def action(p4: P4InfoIndex, name: str, params: Mapping[str, Value] | None = None) -> p4runtime_pb2.Action:
    """An Action message; every parameter of the action must be given."""
    a = p4.action(name)
    params = dict(params or {})
    msg = p4runtime_pb2.Action(action_id=a.preamble.id)
    for p in a.params:
        if p.name not in params:
            raise P4InfoError(f"action '{a.preamble.name}' needs parameter '{p.name}'")
        msg.params.add(param_id=p.id, value=encode(params.pop(p.name), p.bitwidth))
    if params:
        raise P4InfoError(f"action '{a.preamble.name}' has no parameter(s) {sorted(params)}")
    return msg


def table_entry(
    p4: P4InfoIndex,
    table: str,
    match: Mapping[str, MatchValue] | None = None,
    action_name: str | None = None,
    params: Mapping[str, Value] | None = None,
    priority: int = 0,
    idle_timeout_ns: int = 0,
    is_default: bool = False,
) -> p4runtime_pb2.TableEntry:
    """A TableEntry. `match` maps match-field names (or suffixes) to values: an
    exact value, `"10.0.0.0/8"` or `(addr, plen)` for lpm, `(value, mask)` for
    ternary, `(low, high)` for range; None or absent means wildcard."""
    t = p4.table(table)
    entry = p4runtime_pb2.TableEntry(table_id=t.preamble.id, priority=priority)
    given = dict(match or {})
    # A default entry has no match at all (P4Runtime); otherwise every field is set or wildcarded.
    for mf in () if is_default else t.match_fields:
        key = next((k for k in given if k == mf.name or mf.name.endswith("." + k)), None)
        value = given.pop(key) if key is not None else None
        fm = _field_match(mf, value)
        if fm is not None:
            entry.match.append(fm)
    if given:
        raise P4InfoError(f"table '{t.preamble.name}' has no match field(s) {sorted(given)}")
    if action_name is not None:
        entry.action.action.CopyFrom(action(p4, action_name, params))
    if idle_timeout_ns:
        entry.idle_timeout_ns = idle_timeout_ns
    if is_default:
        entry.is_default_action = True
    return entry


def update(kind: str, entity_msg) -> p4runtime_pb2.Update:
    """An Update of `kind` INSERT / MODIFY / DELETE wrapping a TableEntry or any
    other entity message."""
    upd = p4runtime_pb2.Update(type=p4runtime_pb2.Update.Type.Value(kind))
    field_name = {
        p4runtime_pb2.TableEntry: "table_entry",
        p4runtime_pb2.RegisterEntry: "register_entry",
        p4runtime_pb2.CounterEntry: "counter_entry",
        p4runtime_pb2.DirectCounterEntry: "direct_counter_entry",
        p4runtime_pb2.MeterEntry: "meter_entry",
        p4runtime_pb2.DigestEntry: "digest_entry",
        p4runtime_pb2.PacketReplicationEngineEntry: "packet_replication_engine_entry",
    }[type(entity_msg)]
    getattr(upd.entity, field_name).CopyFrom(entity_msg)
    return upd


def register_entry(p4: P4InfoIndex, name: str, index: int, value: int | None = None,
                   bitwidth: int | None = None) -> p4runtime_pb2.RegisterEntry:
    r = p4.get("registers", name)
    msg = p4runtime_pb2.RegisterEntry(register_id=r.preamble.id)
    msg.index.index = index
    if value is not None:
        width = bitwidth or r.type_spec.bitstring.bit.bitwidth
        msg.data.bitstring = encode(value, width)
    return msg


def counter_entry(p4: P4InfoIndex, name: str, index: int | None = None) -> p4runtime_pb2.CounterEntry:
    c = p4.get("counters", name)
    msg = p4runtime_pb2.CounterEntry(counter_id=c.preamble.id)
    if index is not None:
        msg.index.index = index
    return msg


def meter_entry(p4: P4InfoIndex, name: str, index: int | None = None,
                config: tuple[int, int, int, int] | None = None) -> p4runtime_pb2.MeterEntry:
    """A MeterEntry of meter `name`: one cell (`index`) or every cell (None); `config`
    (cir, cburst, pir, pburst) in the meter's units per second and units, None for
    the unconfigured cell (everything green)."""
    m = p4.get("meters", name)
    msg = p4runtime_pb2.MeterEntry(meter_id=m.preamble.id)
    if index is not None:
        msg.index.index = index
    if config is not None:
        cir, cburst, pir, pburst = config
        msg.config.cir, msg.config.cburst = cir, cburst
        msg.config.pir, msg.config.pburst = pir, pburst
    return msg


def clone_session(session_id: int, replicas: list[tuple[int, int]],
                  packet_length_bytes: int = 0) -> p4runtime_pb2.PacketReplicationEngineEntry:
    """A clone session; `replicas` are (egress_port, instance) pairs."""
    msg = p4runtime_pb2.PacketReplicationEngineEntry()
    cs = msg.clone_session_entry
    cs.session_id = session_id
    cs.packet_length_bytes = packet_length_bytes
    for port, instance in replicas:
        cs.replicas.add(egress_port=port, instance=instance)
    return msg


def multicast_group(group_id: int, replicas: list[tuple[int, int]]) -> p4runtime_pb2.PacketReplicationEngineEntry:
    msg = p4runtime_pb2.PacketReplicationEngineEntry()
    mg = msg.multicast_group_entry
    mg.multicast_group_id = group_id
    for port, instance in replicas:
        mg.replicas.add(egress_port=port, instance=instance)
    return msg


def digest_config(p4: P4InfoIndex, name: str, max_timeout_ns: int = 0, max_list_size: int = 1,
                  ack_timeout_ns: int = 1_000_000_000) -> p4runtime_pb2.DigestEntry:
    d = p4.get("digests", name)
    msg = p4runtime_pb2.DigestEntry(digest_id=d.preamble.id)
    msg.config.max_timeout_ns = max_timeout_ns
    msg.config.max_list_size = max_list_size
    msg.config.ack_timeout_ns = ack_timeout_ns
    return msg


def packet_out(p4: P4InfoIndex, payload: bytes, metadata: Mapping[str, Value]) -> p4runtime_pb2.PacketOut:
    """A PacketOut with the program's packet_out header fields set by name."""
    cpm = p4.packet_metadata("packet_out")
    msg = p4runtime_pb2.PacketOut(payload=payload)
    values = dict(metadata)
    for m in cpm.metadata:
        if m.name in values:
            msg.metadata.add(metadata_id=m.id, value=encode(values.pop(m.name), m.bitwidth))
    if values:
        raise P4InfoError(f"packet_out has no metadata field(s) {sorted(values)}")
    return msg


def packet_in_metadata(p4: P4InfoIndex, msg: p4runtime_pb2.PacketIn) -> dict[str, int]:
    """The PacketIn's metadata by field name."""
    cpm = p4.packet_metadata("packet_in")
    names = {m.id: m.name for m in cpm.metadata}
    return {names.get(m.metadata_id, str(m.metadata_id)): decode(m.value) for m in msg.metadata}


def counter_query(counter_id: int, index: int | None = None) -> p4runtime_pb2.Entity:
    """A read of one counter cell, or of every cell (`index` None)."""
    q = p4runtime_pb2.Entity()
    q.counter_entry.counter_id = counter_id
    if index is not None:
        q.counter_entry.index.index = index
    return q
