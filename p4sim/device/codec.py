"""Bytestrings and P4Data: the P4Runtime encodings of integers and structured values."""

from __future__ import annotations

from typing import Any

from p4.config.v1 import p4info_pb2, p4types_pb2
from p4.v1 import p4data_pb2

from p4sim.device.errors import invalid


def to_int(data: bytes, bitwidth: int, what: str) -> int:
    """Decode a P4Runtime bytestring, accepting any length whose value fits ``bitwidth``."""
    if not data:
        raise invalid(f"{what}: empty bytestring")
    value = int.from_bytes(data, "big")
    if bitwidth > 0 and value >> bitwidth:
        raise invalid(f"{what}: value 0x{data.hex()} does not fit in {bitwidth} bits")
    return value


def to_bytes(value: int) -> bytes:
    """The canonical (shortest, at least one byte) bytestring of a non-negative integer."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def to_padded(value: int, bitwidth: int) -> bytes:
    """A bytestring as wide as the field (used where the width is the format, e.g. headers)."""
    return value.to_bytes(max(1, (bitwidth + 7) // 8), "big")


def data_to_proto(
    value: Any, spec: p4types_pb2.P4DataTypeSpec, info: p4info_pb2.P4Info
) -> p4data_pb2.P4Data:
    """Encode a value (an int, or nested tuples for structs/tuples/headers) as P4Data."""
    out = p4data_pb2.P4Data()
    kind = spec.WhichOneof("type_spec")
    if kind == "bitstring" or kind is None:
        out.bitstring = to_bytes(int(value))
    elif kind == "bool":
        out.bool = bool(value)
    elif kind == "struct":
        members = info.type_info.structs[spec.struct.name].members
        _members_to_proto(value, [m.type_spec for m in members], info, out.struct.members)
    elif kind == "header":
        header = info.type_info.headers[spec.header.name]
        out.header.is_valid = True
        for v in value:
            out.header.bitstrings.append(to_bytes(int(v)))
        if len(value) != len(header.members):
            raise ValueError(
                f"header {spec.header.name}: {len(value)} values for {len(header.members)} fields"
            )
    elif kind == "tuple":
        _members_to_proto(value, list(spec.tuple.members), info, out.tuple.members)
    elif kind == "serializable_enum":
        out.enum_value = to_bytes(int(value))
    else:
        raise ValueError(f"P4Data of kind {kind} is not supported")
    return out


def _members_to_proto(value: Any, specs: list[Any], info: p4info_pb2.P4Info, into: Any) -> None:
    if not isinstance(value, tuple) or len(value) != len(specs):
        raise ValueError(f"expected a tuple of {len(specs)} values, got {value!r}")
    for v, s in zip(value, specs, strict=True):
        into.append(data_to_proto(v, s, info))


def data_from_proto(data: p4data_pb2.P4Data, bitwidth: int, what: str) -> int:
    """Decode a P4Data that must be a bitstring (registers hold bit<W> values)."""
    if data.WhichOneof("data") != "bitstring":
        raise invalid(f"{what}: only bitstring data is supported")
    return to_int(data.bitstring, bitwidth, what)
