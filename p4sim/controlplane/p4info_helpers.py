"""Small pieces of P4Info generation shared by p4sim.controlplane.p4info and
p4sim.controlplane.p4info_externs: constants of the v1model architecture, reading extern
constructor arguments, p4c's generated key names, field ids, preambles and
compile-time values as P4Runtime byte strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from p4.config.v1 import p4info_pb2

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.astwalk import walk
from p4sim.frontend.errors import P4Error

from . import naming
from .p4info_ids import P4Ids
from .p4info_types import (
    control_plane_width,
    documentation,
    field_name,
    pad_bytes,
    serialize_annotations,
)

ARCH = "v1model"
DEFAULT_TABLE_SIZE = 1024

MatchField = p4info_pb2.MatchField
MATCH_TYPES = {
    "exact": MatchField.EXACT,
    "lpm": MatchField.LPM,
    "ternary": MatchField.TERNARY,
    "range": MatchField.RANGE,
    "optional": MatchField.OPTIONAL,
}

# v1model extern types the control plane sees, and their P4Info id prefix.
EXTERN_PREFIX = {
    "counter": P4Ids.COUNTER,
    "direct_counter": P4Ids.DIRECT_COUNTER,
    "meter": P4Ids.METER,
    "direct_meter": P4Ids.DIRECT_METER,
    "register": P4Ids.REGISTER,
    "action_profile": P4Ids.ACTION_PROFILE,
    "action_selector": P4Ids.ACTION_PROFILE,
}

# Constructor parameter names, used when the checker gives no constructor
# declaration to match arguments against.
CTOR_PARAMS = {
    "counter": ["size", "type"],
    "direct_counter": ["type"],
    "meter": ["size", "type"],
    "direct_meter": ["type"],
    "register": ["size", "initial_value"],
    "action_profile": ["size"],
    "action_selector": ["algorithm", "size", "outputWidth"],
    "value_set": ["size"],
}

PLATFORM_PROPERTIES = (
    "multicast_group_table_size",
    "multicast_group_table_total_replicas",
    "multicast_group_table_max_replicas_per_entry",
)

COUNTER_UNITS = {
    "packets": p4info_pb2.CounterSpec.PACKETS,
    "bytes": p4info_pb2.CounterSpec.BYTES,
    "packets_and_bytes": p4info_pb2.CounterSpec.BOTH,
}
METER_UNITS = {
    "packets": p4info_pb2.MeterSpec.PACKETS,
    "bytes": p4info_pb2.MeterSpec.BYTES,
}


@dataclass
class Local:
    """A control-plane-visible declaration in the flattened locals of a
    top-level block: the declaration, its fully qualified name and the block
    instance that declares it (to resolve the names it refers to)."""

    decl: ast.Decl
    name: str
    inst: naming.BlockInstance


@dataclass
class Top:
    inst: naming.BlockInstance
    locals: list[Local]


# ---------------------------------------------------------------------------


# TNA's extern types the control plane sees, as the v1model kind they map to in P4Info
# (the same messages: counters, direct_counters, meters, registers).
TNA_EXTERN_KINDS = {
    "Counter": "counter",
    "DirectCounter": "direct_counter",
    "Meter": "meter",
    "DirectMeter": "direct_meter",
    "Register": "register",
}


def extern_type_name(inst: ast.Instantiation) -> str | None:
    """`counter` for `counter(...) c;`, `register` for `register<bit<8>>(...) r;`;
    TNA's `Counter`, `Register`... give the same kinds (TNA_EXTERN_KINDS)."""
    resolved = getattr(inst.type, "resolved", None)
    if isinstance(resolved, T.ExternT):
        return TNA_EXTERN_KINDS.get(resolved.name, resolved.name)
    if isinstance(inst.type, ast.NamedType):
        name = inst.type.name.lstrip(".")
        return TNA_EXTERN_KINDS.get(name, name)
    return None


def type_args(inst: ast.Instantiation) -> list[T.Type]:
    resolved = getattr(inst.type, "resolved", None)
    if isinstance(resolved, T.ExternT) and resolved.type_args:
        return list(resolved.type_args)
    out: list[T.Type] = []
    if isinstance(inst.type, ast.NamedType):
        for ta in inst.type.type_args:
            if ta.resolved is None:
                raise P4Error(ta.loc, "type argument was not resolved by the checker")
            out.append(ta.resolved)
    return out


def ctor_args(inst: ast.Instantiation, kind: str) -> dict[str, ast.Expr]:
    """Constructor arguments by parameter name."""
    names: list[str] | None = None
    resolved = getattr(inst.type, "resolved", None)
    ext = getattr(resolved, "decl", None)
    if isinstance(ext, ast.ExternDecl):
        for m in ext.methods:
            if m.is_constructor and len(m.params) >= len(inst.args):
                required = [
                    p for p in m.params if p.default is None and not p.has_annotation("optional")
                ]
                if len(required) <= len(inst.args):
                    names = [p.name for p in m.params]
                    break
    if names is None:
        names = CTOR_PARAMS.get(kind, [])
    out: dict[str, ast.Expr] = {}
    for i, arg in enumerate(inst.args):
        if arg.value is None:
            continue
        if arg.name:
            out[arg.name] = arg.value
        elif i < len(names):
            out[names[i]] = arg.value
    return out


def int_value(e: ast.Expr | None, what: str, loc: Any) -> int:
    if e is not None:
        if isinstance(e.const, bool):
            return int(e.const)
        if isinstance(e.const, int):
            return e.const
        if isinstance(e, ast.IntLit):
            return e.value
    raise P4Error(loc, f"{what} must be a compile-time integer")


def enum_member(e: ast.Expr | None) -> str | None:
    """`packets` for `CounterType.packets` (folded or not); TNA's upper-case members
    (`CounterType_t.PACKETS`) in lower case."""
    if e is None:
        return None
    if isinstance(e.const, str):
        return e.const.rsplit(".", 1)[-1].lower()
    if isinstance(e, ast.Member):
        return e.name.lower()
    return None


def is_true(e: ast.Expr | None) -> bool:
    if e is None:
        return False
    if isinstance(e.const, bool):
        return e.const
    return isinstance(e, ast.BoolLit) and e.value


def int_base(text: str) -> int:
    body = text.lower()
    for sep in ("w", "s"):
        if sep in body and body.split(sep, 1)[0].isdigit():
            body = body.split(sep, 1)[1]
            break
    if body.startswith("0x"):
        return 16
    if body.startswith("0b"):
        return 2
    if body.startswith("0o"):
        return 8
    return 10


def int_text(lit: ast.IntLit) -> str:
    """A constant the way p4c prints it in a generated key name: in the base it
    was written in, without its width."""
    value = lit.value
    sign = "-" if value < 0 else ""
    value = abs(value)
    base = int_base(lit.text) if lit.text else 10
    if base == 16:
        return f"{sign}0x{value:x}"
    if base == 2:
        return f"{sign}0b{value:b}"
    if base == 8:
        return f"{sign}0o{value:o}"
    return f"{sign}{value}"


def key_name(e: ast.Expr) -> str:
    """The match-field name p4c generates for a key without @name:
    `hdr.ipv4.dstAddr`, `hdr.ipv4.$valid$`, `meta.x[7:0]`, `hdr.h.f & 0xff`."""
    name = key_name_or_none(e)
    if name is None:
        raise P4Error(e.loc, "complex key expression requires a @name annotation")
    return name


def key_name_or_none(e: ast.Expr) -> str | None:
    if isinstance(e, ast.PathExpr):
        return ("." if e.top_level else "") + e.name
    if isinstance(e, ast.Member):
        base_t = e.expr.type
        fname = e.name
        if e.name == "isValid" and (base_t is None or T.is_header_like(base_t)):
            fname = "$valid$"
        elif isinstance(base_t, T.StructLikeT):
            fname = field_name(base_t, e.name)
        if fname.startswith("."):
            return fname[1:]
        left = key_name_or_none(e.expr)
        return None if left is None else f"{left}.{fname}"
    if isinstance(e, ast.Index):
        left, right = key_name_or_none(e.expr), key_name_or_none(e.index)
        return None if left is None or right is None else f"{left}[{right}]"
    if isinstance(e, ast.IntLit):
        return int_text(e)
    if isinstance(e, ast.Slice):
        base, hi, lo = key_name_or_none(e.expr), key_name_or_none(e.hi), key_name_or_none(e.lo)
        if base is None or hi is None or lo is None:
            return None
        return f"{base}[{hi}:{lo}]"
    if isinstance(e, ast.Binary) and e.op == "&":
        left, right = key_name_or_none(e.left), key_name_or_none(e.right)
        return None if left is None or right is None else f"{left} & {right}"
    if isinstance(e, ast.Call) and not e.args:
        m = key_name_or_none(e.func)
        if m is not None and m.endswith("$valid$"):
            return m
    return None


def set_preamble(
    pre: p4info_pb2.Preamble,
    id_: int,
    name: str,
    alias: str,
    node: ast.Annotated | None,
    skip: tuple[str, ...] = (),
) -> None:
    pre.id = id_
    pre.name = name
    pre.alias = alias
    if node is not None:
        pre.annotations.extend(serialize_annotations(node, skip))
        doc = documentation(node)
        if doc is not None:
            pre.doc.CopyFrom(doc)


def field_ids(nodes: list[ast.Annotated | None]) -> list[int]:
    """Ids of match fields, action params and packet metadata: `@id` where
    given, else sequential from 1, skipping values already taken; a position
    with an explicit @id still uses up its sequential number."""
    explicit: dict[int, int] = {}
    taken: set[int] = set()
    for i, n in enumerate(nodes):
        ann = n.annotation("id") if n is not None else None
        if ann is None:
            continue
        if len(ann.args) != 1:
            raise P4Error(ann.loc, "@id expects one integer")
        value = int_value(ann.args[0], "@id", ann.loc)
        if value <= 0:
            raise P4Error(ann.loc, "0 is not a valid @id value")
        if value in taken:
            raise P4Error(ann.loc, f"@id {value} is used multiple times")
        explicit[i] = value
        taken.add(value)
    out: list[int] = []
    index = 1
    for i in range(len(nodes)):
        if i in explicit:
            out.append(explicit[i])
            index += 1
            continue
        while index in taken:
            index += 1
        out.append(index)
        taken.add(index)
    return out


def explicit_id(node: ast.Annotated) -> int | None:
    ann = node.annotation("id")
    if ann is None:
        return None
    if len(ann.args) != 1:
        raise P4Error(ann.loc, "@id expects one integer")
    return int_value(ann.args[0], "@id", ann.loc)


def data_params(action: ast.ActionDecl) -> list[ast.Param]:
    """Action parameters the control plane supplies (the directionless ones)."""
    return [p for p in action.params if not p.direction]


def param_type(p: ast.Param | ast.FieldDecl) -> T.Type:
    t = getattr(p.type, "resolved", None)
    if t is None:
        raise P4Error(p.loc, f"type of '{p.name}' was not resolved by the checker")
    return t


def const_bytes(e: ast.Expr, t: T.Type) -> bytes | None:
    """The padded P4Runtime byte string of a compile-time value, None when the
    value is not a plain number (p4c leaves such arguments out)."""
    width = control_plane_width(t)
    value = e.const
    if isinstance(value, str):
        under = t
        while isinstance(under, T.NewT):
            under = under.underlying
        if isinstance(under, T.SerEnumT):
            member = value.rsplit(".", 1)[-1]
            if member in under.members:
                return pad_bytes(under.members[member], width)
        return None
    if isinstance(value, bool):
        return pad_bytes(int(value), max(width, 1))
    if isinstance(value, int) and value >= 0 and width > 0:
        return pad_bytes(value, width)
    return None


def walk_inlined(body: ast.Node, active: frozenset[int] = frozenset()) -> list[ast.Node]:
    """Nodes of `body`, continuing into the bodies of actions it calls (p4c
    inlines action calls made inside actions, so their extern calls count as
    the caller's)."""
    out: list[ast.Node] = []
    for n in walk(body):
        out.append(n)
        if isinstance(n, ast.Call) and isinstance(n.target, ast.ActionDecl):
            callee = n.target
            if callee.body is not None and id(callee) not in active:
                out.extend(walk_inlined(callee.body, active | {id(callee)}))
    return out


def nested(inst: naming.BlockInstance) -> list[naming.BlockInstance]:
    out: list[naming.BlockInstance] = []
    for c in inst.children:
        out.append(c)
        out.extend(nested(c))
    return out


def _tna_digest(call: ast.Call) -> T.ExternT | None:
    """The `Digest<T>` instance type of a TNA `d.pack(data)` call, else None."""
    rtype = getattr(call.receiver, "type", None)
    if call.method == "pack" and isinstance(rtype, T.ExternT) and rtype.name == "Digest":
        return rtype
    return None


def is_digest_call(call: ast.Call) -> bool:
    """v1model's `digest<T>(receiver, data)`, or TNA's `Digest<T>` `pack(data)`."""
    target = call.target
    if isinstance(target, ast.ExternFunctionDecl):
        return target.name == "digest"
    if call.kind in ("", "extern_function") and isinstance(call.func, ast.PathExpr):
        return call.func.name == "digest"
    return _tna_digest(call) is not None


def digest_type(call: ast.Call) -> T.Type:
    tna = _tna_digest(call)
    if tna is not None and tna.type_args:
        return tna.type_args[0]
    t = call.type_bindings.get("T")
    if t is None and call.type_args:
        t = call.type_args[0].resolved
    if t is None and len(call.args) == 2 and call.args[1].value is not None:
        t = call.args[1].value.type
    if t is None:
        raise P4Error(call.loc, "the type of the digest data was not resolved by the checker")
    return t


def header_type(hdr: ast.HeaderDecl) -> T.HeaderT:
    fields: list[tuple[str, T.Type]] = []
    for f in hdr.fields:
        ft = getattr(f.type, "resolved", None)
        if ft is None:
            raise P4Error(f.loc, f"type of field '{f.name}' was not resolved by the checker")
        fields.append((f.name, ft))
    return T.HeaderT(hdr.name, fields, hdr)


def kv_pairs(ann: ast.Annotation, quoted: bool = True) -> list[tuple[str, str]]:
    """`@pkginfo(name="x", version="1")` / `@platform_property(k=10)` as key and
    value text pairs, read from the annotation's raw body."""
    body = ann.raw.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    value = r'"((?:[^"\\]|\\.)*)"' if quoted else r"([0-9][0-9a-fA-FxXoObB_]*)"
    pairs = re.findall(r"(\w+)\s*=\s*" + value, body)
    if not pairs and body:
        raise P4Error(ann.loc, f"@{ann.name} expects key=value pairs")
    return [(k, v) for k, v in pairs]
