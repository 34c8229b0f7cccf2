"""Hand-written protobuf encoding of the messages p4sim sends in bulk.

The protobuf runtime this project must use (3.20, required by p4runtime-shell) is the
pure-Python one on Python 3.11, where building and serialising a message costs far
more than the work behind it. Table entries change rarely but are read back in bulk
(a restarting controller reads every session), so each entry keeps its serialised
``TableEntry`` and a read only concatenates bytes. The wire format is protobuf's
(field tags, varints, length-delimited fields); parsing the result with the
generated classes gives the same message as building it with them (tested).
"""

from __future__ import annotations

_WT_VARINT = 0
_WT_LEN = 2


def varint(value: int) -> bytes:
    """A protobuf varint; negative values are 64-bit two's complement (int32/int64)."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


def field_len(number: int, data: bytes) -> bytes:
    """A length-delimited field (bytes, string or sub-message), even when empty."""
    return tag(number, _WT_LEN) + varint(len(data)) + data


def field_int(number: int, value: int) -> bytes:
    """A varint field; zero is the proto3 default and is left out, as protobuf does."""
    if not value:
        return b""
    return tag(number, _WT_VARINT) + varint(value)


def field_bytes(number: int, data: bytes) -> bytes:
    """A proto3 ``bytes`` field (left out when empty)."""
    return field_len(number, data) if data else b""


def int_bytes(number: int, value: int) -> bytes:
    """A P4Runtime bytestring field holding an integer in canonical form."""
    return field_len(number, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))
