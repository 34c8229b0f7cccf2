"""Hand-written protobuf wire encoding for the controller's hot path.

The protobuf runtime pinned by p4runtime-shell (3.20) is pure Python here: parsing a
read of 65536 register cells takes ~10 s and building a session's five updates costs
more than the switch spends installing them. The messages on the hot path (session
writes, PacketOuts, digest lists, PacketIns, bulk reads) have a simple shape, so they
are encoded and decoded here directly; everything else uses the generated classes.
Tests check that what is built here parses with the generated classes into the same
message the `entities` builders produce.
"""

from __future__ import annotations

from collections.abc import Iterator

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

# Field numbers from p4runtime.proto (P4Runtime 1.x; stable by protobuf's rules).
ENTITY_TABLE_ENTRY = 2
ENTITY_COUNTER_ENTRY = 7
ENTITY_REGISTER_ENTRY = 11
UPDATE_INSERT, UPDATE_MODIFY, UPDATE_DELETE = 1, 2, 3


class WireError(ValueError):
    """Bytes that are not the protobuf message they were expected to be."""


# ----------------------------------------------------------------------------- encoding


_SMALL = [bytes((i,)) for i in range(128)]
_TWO = [bytes(((i & 0x7F) | 0x80, i >> 7)) for i in range(1 << 14)]


def varint(value: int) -> bytes:
    if value < 0x80:
        if value >= 0:
            return _SMALL[value]
        value += 1 << 64
    elif value < 0x4000:
        return _TWO[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def f_varint(number: int, value: int) -> bytes:
    """A varint field; zero is omitted, as proto3 does."""
    return varint(number << 3) + varint(value) if value else b""


def f_len(number: int, data: bytes) -> bytes:
    return varint((number << 3) | _LEN) + varint(len(data)) + data


def canonical(value: int) -> bytes:
    """P4Runtime's canonical bytestring: big-endian, shortest, at least one byte."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def exact_match(field_id: int, value: int) -> bytes:
    return f_len(2, f_varint(1, field_id) + f_len(2, f_len(1, canonical(value))))


def table_entry(
    table_id: int,
    matches: bytes,
    action_id: int | None = None,
    params: list[tuple[int, int]] | None = None,
    idle_timeout_ns: int = 0,
    priority: int = 0,
) -> bytes:
    """A TableEntry; `matches` is the concatenation of `exact_match` fields."""
    body = f_varint(1, table_id) + matches
    if action_id is not None:
        act = f_varint(1, action_id) + b"".join(
            f_len(4, f_varint(2, pid) + f_len(3, canonical(v))) for pid, v in params or ()
        )
        body += f_len(3, f_len(1, act))
    return body + f_varint(4, priority) + f_varint(9, idle_timeout_ns)


def register_entry(register_id: int, index: int, value: int | None = None) -> bytes:
    body = f_varint(1, register_id) + f_len(2, f_varint(1, index))
    if value is not None:
        body += f_len(3, f_len(1, canonical(value)))
    return body


def register_query(register_id: int) -> bytes:
    """A wildcard read of every cell of a register."""
    return f_varint(1, register_id)


def counter_entry(counter_id: int, index: int) -> bytes:
    return f_varint(1, counter_id) + f_len(2, f_varint(1, index))


def entity(kind: int, body: bytes) -> bytes:
    return f_len(kind, body)


def update(kind: int, entity_bytes: bytes) -> bytes:
    return f_varint(1, kind) + f_len(2, entity_bytes)


def uint128(value: int) -> bytes:
    return f_varint(1, value >> 64) + f_varint(2, value & ((1 << 64) - 1))


def write_request(device_id: int, election_id: int, updates: list[bytes]) -> bytes:
    head = f_varint(1, device_id) + f_len(3, uint128(election_id))
    return head + b"".join(f_len(4, u) for u in updates)


def read_request(device_id: int, entities: list[bytes]) -> bytes:
    return f_varint(1, device_id) + b"".join(f_len(2, e) for e in entities)


def packet_out_request(payload: bytes, metadata: list[tuple[int, int]]) -> bytes:
    """A StreamMessageRequest carrying a PacketOut."""
    body = f_len(1, payload) + b"".join(
        f_len(2, f_varint(1, mid) + f_len(2, canonical(v))) for mid, v in metadata
    )
    return f_len(2, body)


def digest_ack_request(digest_id: int, list_id: int) -> bytes:
    return f_len(3, f_varint(1, digest_id) + f_varint(2, list_id))


# ----------------------------------------------------------------------------- decoding


def fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: ints for varints and fixed
    fields, bytes for length-delimited ones."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _read_varint(buf, i)
        number, wt = key >> 3, key & 7
        if wt == _VARINT:
            value, i = _read_varint(buf, i)
            yield number, value
        elif wt == _LEN:
            size, i = _read_varint(buf, i)
            if i + size > n:
                raise WireError("length-delimited field runs past the message")
            yield number, buf[i : i + size]
            i += size
        elif wt == _I64:
            yield number, int.from_bytes(buf[i : i + 8], "little")
            i += 8
        elif wt == _I32:
            yield number, int.from_bytes(buf[i : i + 4], "little")
            i += 4
        else:
            raise WireError(f"unsupported wire type {wt}")


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _sub(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise WireError("expected a sub-message")
    return value


def p4data_int(buf: bytes) -> int:
    """The bitstring of a P4Data as an int (0 for anything else)."""
    for number, value in fields(buf):
        if number == 1:
            return int.from_bytes(_sub(value), "big")
    return 0


def struct_members(buf: bytes) -> list[int]:
    """A P4Data holding a struct (as a digest's data) -> its members' values."""
    fast = _struct_members_fast(buf)
    if fast is not None:
        return fast
    for number, value in fields(buf):
        if number == 5:  # struct
            return [p4data_int(_sub(v)) for n, v in fields(_sub(value)) if n == 1]
        if number == 1:
            return [int.from_bytes(_sub(value), "big")]
    return []


def _struct_members_fast(buf: bytes) -> list[int] | None:
    """The common layout (struct of bitstrings, lengths below 128), read by index;
    None for anything else, which the general decoder then handles."""
    if len(buf) < 2 or buf[0] != 0x2A:
        return None
    try:
        size, i = _read_varint(buf, 1)
    except WireError:
        return None
    n = len(buf)
    if i + size != n:
        return None
    out = []
    frombytes = int.from_bytes
    while i < n:
        # members: 0x0a len, then P4Data: 0x0a len bitstring
        if i + 4 > n or buf[i] != 0x0A or buf[i + 2] != 0x0A:
            return None
        size, inner = buf[i + 1], buf[i + 3]
        if size >= 0x80 or inner + 2 != size or i + 2 + size > n:
            return None
        out.append(frombytes(buf[i + 4 : i + 4 + inner], "big"))
        i += 2 + size
    return out


def read_entities(responses: list[bytes]) -> Iterator[tuple[int, bytes]]:
    """(entity kind, body) of every entity in raw ReadResponse messages."""
    for resp in responses:
        for number, ent in fields(resp):
            if number != 1:
                continue
            for kind, body in fields(_sub(ent)):
                yield kind, _sub(body)


def _index(v: int | bytes) -> int:
    """An Index message's `index`."""
    for n, x in fields(_sub(v)):
        if n == 1 and isinstance(x, int):
            return x
    return 0


def decode_register(body: bytes) -> tuple[int, int, int]:
    """RegisterEntry -> (register_id, index, value)."""
    rid = index = value = 0
    for number, v in fields(body):
        if number == 1:
            rid = int(v)  # type: ignore[arg-type]
        elif number == 2:
            index = _index(v)
        elif number == 3:
            value = p4data_int(_sub(v))
    return rid, index, value


def decode_counter(body: bytes) -> tuple[int, int, int, int]:
    """CounterEntry -> (counter_id, index, bytes, packets)."""
    cid = index = nbytes = packets = 0
    for number, v in fields(body):
        if number == 1:
            cid = int(v)  # type: ignore[arg-type]
        elif number == 2:
            index = _index(v)
        elif number == 3:
            for n, x in fields(_sub(v)):
                if n == 1:
                    nbytes = int(x)  # type: ignore[arg-type]
                elif n == 2:
                    packets = int(x)  # type: ignore[arg-type]
    return cid, index, nbytes, packets


def _id_value(buf: bytes, id_number: int, value_number: int) -> tuple[int, int]:
    """(id, big-endian value) of an {id, bytes} message: an action's Param, a
    PacketMetadata."""
    ident = value = 0
    for n, x in fields(buf):
        if n == id_number:
            ident = int(x)  # type: ignore[arg-type]
        elif n == value_number:
            value = int.from_bytes(_sub(x), "big")
    return ident, value


class DecodedEntry:
    """The parts of a TableEntry the controller reads back: exact/lpm/ternary match
    values by field id, the action and its params by id, idle timeout, default flag."""

    __slots__ = ("table_id", "match", "action_id", "params", "idle_timeout_ns", "is_default",
                 "priority")

    def __init__(self) -> None:
        self.table_id = 0
        self.match: dict[int, int] = {}
        self.action_id = 0
        self.params: dict[int, int] = {}
        self.idle_timeout_ns = 0
        self.is_default = False
        self.priority = 0


def decode_table_entry(body: bytes) -> DecodedEntry:
    e = DecodedEntry()
    for number, v in fields(body):
        if number == 1:
            e.table_id = int(v)  # type: ignore[arg-type]
        elif number == 2:
            fid, val = 0, 0
            for n, x in fields(_sub(v)):
                if n == 1:
                    fid = int(x)  # type: ignore[arg-type]
                elif n in (2, 3, 4, 7):  # exact, ternary, lpm, optional: value is field 1
                    val = next((int.from_bytes(_sub(y), "big") for m, y in fields(_sub(x))
                                if m == 1), 0)
            e.match[fid] = val
        elif number == 3:
            for n, x in fields(_sub(v)):
                if n != 1:
                    continue
                for m, y in fields(_sub(x)):
                    if m == 1:
                        e.action_id = int(y)  # type: ignore[arg-type]
                    elif m == 4:
                        pid, pval = _id_value(_sub(y), 2, 3)
                        e.params[pid] = pval
        elif number == 4:
            e.priority = int(v)  # type: ignore[arg-type]
        elif number == 8:
            e.is_default = bool(v)
        elif number == 9:
            e.idle_timeout_ns = int(v)  # type: ignore[arg-type]
    return e


def decode_packet_in(body: bytes) -> tuple[bytes, dict[int, int]]:
    """PacketIn -> (payload, {metadata_id: value})."""
    payload = b""
    meta: dict[int, int] = {}
    for number, v in fields(body):
        if number == 1:
            payload = _sub(v)
        elif number == 2:
            mid, val = _id_value(_sub(v), 1, 2)
            meta[mid] = val
    return payload, meta


def decode_digest_list(body: bytes) -> tuple[int, int, list[list[int]]]:
    """DigestList -> (digest_id, list_id, [members of each digest])."""
    did = lid = 0
    data: list[list[int]] = []
    for number, v in fields(body):
        if number == 1:
            did = int(v)  # type: ignore[arg-type]
        elif number == 2:
            lid = int(v)  # type: ignore[arg-type]
        elif number == 3:
            data.append(struct_members(_sub(v)))
    return did, lid, data


def stream_kind(msg: bytes) -> tuple[int, bytes]:
    """StreamMessageResponse -> (oneof field number, its body)."""
    for number, v in fields(msg):
        if isinstance(v, bytes):
            return number, v
    raise WireError("empty stream message")
