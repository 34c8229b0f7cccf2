"""P4Info generation: a checked v1model program -> `p4.config.v1.P4Info`.

The message is laid out the way p4c's P4Runtime serializer (`p4c-bm2-ss
--p4runtime-files`) lays it out, so that a controller works unchanged on p4sim
and on bmv2: the same fully qualified names (`naming`), the same ids and aliases
(`p4info_ids`), the same objects kept (`p4info_usage`), the same type specs
(`p4info_types`), and the same order of entries in each repeated field (blocks
in `main`'s argument order, declarations in source order, nested controls
spliced in at their instantiation, top-level actions such as NoAction ahead of a
control's own actions).

What p4c's front end would add is added here too: a table without
`default_action` gets `NoAction` as its (non-const) default, and NoAction joins
its action list as `@defaultonly` when it is not already there; an absent or
zero `size` is v1model's default of 1024.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from p4.config.v1 import p4info_pb2

from . import naming
from .astwalk import walk
from .frontend import ast
from .frontend import types as T
from .frontend.errors import P4Error, Unsupported
from .p4info_ids import P4Ids, SymbolTable
from .p4info_types import (
    TypeInfoBuilder,
    control_plane_width,
    documentation,
    flattened_fields,
    new_type_name,
    pad_bytes,
    serialize_annotations,
)
from .p4info_usage import Usage

ARCH = "v1model"
DEFAULT_TABLE_SIZE = 1024

MatchField = p4info_pb2.MatchField
_MATCH_TYPES = {
    "exact": MatchField.EXACT,
    "lpm": MatchField.LPM,
    "ternary": MatchField.TERNARY,
    "range": MatchField.RANGE,
    "optional": MatchField.OPTIONAL,
}

# v1model extern types the control plane sees, and their P4Info id prefix.
_EXTERN_PREFIX = {
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
_CTOR_PARAMS = {
    "counter": ["size", "type"],
    "direct_counter": ["type"],
    "meter": ["size", "type"],
    "direct_meter": ["type"],
    "register": ["size", "initial_value"],
    "action_profile": ["size"],
    "action_selector": ["algorithm", "size", "outputWidth"],
    "value_set": ["size"],
}

_PLATFORM_PROPERTIES = (
    "multicast_group_table_size",
    "multicast_group_table_total_replicas",
    "multicast_group_table_max_replicas_per_entry",
)

_COUNTER_UNITS = {
    "packets": p4info_pb2.CounterSpec.PACKETS,
    "bytes": p4info_pb2.CounterSpec.BYTES,
    "packets_and_bytes": p4info_pb2.CounterSpec.BOTH,
}
_METER_UNITS = {
    "packets": p4info_pb2.MeterSpec.PACKETS,
    "bytes": p4info_pb2.MeterSpec.BYTES,
}


@dataclass
class _Local:
    """A control-plane-visible declaration in the flattened locals of a
    top-level block: the declaration, its fully qualified name and the block
    instance that declares it (to resolve the names it refers to)."""

    decl: ast.Decl
    name: str
    inst: naming.BlockInstance


@dataclass
class _Top:
    inst: naming.BlockInstance
    locals: list[_Local]


def build_p4info(program: ast.Program) -> p4info_pb2.P4Info:
    """The P4Info of a checked v1model program. Raises P4Error for programs the
    P4Runtime serializer rejects (bad @id, complex key without @name, ...)."""
    return _Builder(program).build()


# --------------------------------------------------------------------------- helpers


def extern_type_name(inst: ast.Instantiation) -> str | None:
    """`counter` for `counter(...) c;`, `register` for `register<bit<8>>(...) r;`."""
    resolved = getattr(inst.type, "resolved", None)
    if isinstance(resolved, T.ExternT):
        return resolved.name
    if isinstance(inst.type, ast.NamedType):
        return inst.type.name.lstrip(".")
    return None


def _type_args(inst: ast.Instantiation) -> list[T.Type]:
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


def _ctor_args(inst: ast.Instantiation, kind: str) -> dict[str, ast.Expr]:
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
        names = _CTOR_PARAMS.get(kind, [])
    out: dict[str, ast.Expr] = {}
    for i, arg in enumerate(inst.args):
        if arg.value is None:
            continue
        if arg.name:
            out[arg.name] = arg.value
        elif i < len(names):
            out[names[i]] = arg.value
    return out


def _int_value(e: ast.Expr | None, what: str, loc: Any) -> int:
    if e is not None:
        if isinstance(e.const, bool):
            return int(e.const)
        if isinstance(e.const, int):
            return e.const
        if isinstance(e, ast.IntLit):
            return e.value
    raise P4Error(loc, f"{what} must be a compile-time integer")


def _enum_member(e: ast.Expr | None) -> str | None:
    """`packets` for `CounterType.packets` (folded or not)."""
    if e is None:
        return None
    if isinstance(e.const, str):
        return e.const.rsplit(".", 1)[-1]
    if isinstance(e, ast.Member):
        return e.name
    return None


def _is_true(e: ast.Expr | None) -> bool:
    if e is None:
        return False
    if isinstance(e.const, bool):
        return e.const
    return isinstance(e, ast.BoolLit) and e.value


def _int_base(text: str) -> int:
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


def _int_text(lit: ast.IntLit) -> str:
    """A constant the way p4c prints it in a generated key name: in the base it
    was written in, without its width."""
    value = lit.value
    sign = "-" if value < 0 else ""
    value = abs(value)
    base = _int_base(lit.text) if lit.text else 10
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
    name = _key_name(e)
    if name is None:
        raise P4Error(e.loc, "complex key expression requires a @name annotation")
    return name


def _key_name(e: ast.Expr) -> str | None:
    if isinstance(e, ast.PathExpr):
        return ("." if e.top_level else "") + e.name
    if isinstance(e, ast.Member):
        base_t = e.expr.type
        fname = e.name
        if e.name == "isValid" and (base_t is None or T.is_header_like(base_t)):
            fname = "$valid$"
        elif isinstance(base_t, T.StructLikeT):
            from .p4info_types import field_name

            fname = field_name(base_t, e.name)
        if fname.startswith("."):
            return fname[1:]
        left = _key_name(e.expr)
        return None if left is None else f"{left}.{fname}"
    if isinstance(e, ast.Index):
        left, right = _key_name(e.expr), _key_name(e.index)
        return None if left is None or right is None else f"{left}[{right}]"
    if isinstance(e, ast.IntLit):
        return _int_text(e)
    if isinstance(e, ast.Slice):
        base, hi, lo = _key_name(e.expr), _key_name(e.hi), _key_name(e.lo)
        if base is None or hi is None or lo is None:
            return None
        return f"{base}[{hi}:{lo}]"
    if isinstance(e, ast.Binary) and e.op == "&":
        left, right = _key_name(e.left), _key_name(e.right)
        return None if left is None or right is None else f"{left} & {right}"
    if isinstance(e, ast.Call) and not e.args:
        m = _key_name(e.func)
        if m is not None and m.endswith("$valid$"):
            return m
    return None


def _set_preamble(
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


def _field_ids(nodes: list[ast.Annotated | None]) -> list[int]:
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
        value = _int_value(ann.args[0], "@id", ann.loc)
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


def _explicit_id(node: ast.Annotated) -> int | None:
    ann = node.annotation("id")
    if ann is None:
        return None
    if len(ann.args) != 1:
        raise P4Error(ann.loc, "@id expects one integer")
    return _int_value(ann.args[0], "@id", ann.loc)


def _data_params(action: ast.ActionDecl) -> list[ast.Param]:
    """Action parameters the control plane supplies (the directionless ones)."""
    return [p for p in action.params if not p.direction]


def _param_type(p: ast.Param | ast.FieldDecl) -> T.Type:
    t = getattr(p.type, "resolved", None)
    if t is None:
        raise P4Error(p.loc, f"type of '{p.name}' was not resolved by the checker")
    return t


def _const_bytes(e: ast.Expr, t: T.Type) -> bytes | None:
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


# --------------------------------------------------------------------------- builder


class _Builder:
    def __init__(self, program: ast.Program) -> None:
        if program.main is None:
            raise P4Error(program.loc, "the program has no 'main' package instantiation")
        self.program = program
        self.p4info = p4info_pb2.P4Info()
        self.symbols = SymbolTable()
        self.usage = Usage(program)
        self.tops = [_Top(t, self._flatten(t)) for t in naming.block_instances(program)]
        self.global_names = {
            id(d): naming.decl_name(d)
            for d in program.decls
            if isinstance(d, (ast.ActionDecl, ast.Instantiation)) and d is not program.main
        }
        self.global_externs = [
            d
            for d in program.decls
            if isinstance(d, ast.Instantiation)
            and d is not program.main
            and extern_type_name(d) in _EXTERN_PREFIX
        ]
        self.types = TypeInfoBuilder(self.p4info.type_info, self._error_members())
        self.digests_seen: set[str] = set()
        self._auto_digest_names: dict[int, str] = {}
        self._block_names = {
            d.name for d in program.decls if isinstance(d, (ast.ControlDecl, ast.ParserDecl))
        }

    # ------------------------------------------------------------- structure

    def _flatten(self, inst: naming.BlockInstance) -> list[_Local]:
        """Locals of a block with used nested instances spliced in at their
        instantiation, as p4c's inliner leaves them."""
        out: list[_Local] = []
        children = {id(c.instantiation): c for c in inst.children if c.instantiation}
        for local in inst.decl.locals:
            child = children.get(id(local))
            if child is not None:
                if self.usage.is_used(local):
                    out.extend(self._flatten(child))
                continue
            name = inst.names.get(id(local))
            if name is not None and isinstance(local, ast.Decl):
                out.append(_Local(local, name, inst))
        for child in inst.children:
            if child.direct_call is not None:
                out.extend(self._flatten(child))
        return out

    def _error_members(self) -> list[str]:
        members: list[str] = []
        for d in self.program.decls:
            if isinstance(d, ast.ErrorDecl):
                members.extend(m for m in d.members if m not in members)
        return members

    def _name_in(self, inst: naming.BlockInstance, decl: Any) -> str | None:
        if decl is None:
            return None
        return inst.names.get(id(decl)) or self.global_names.get(id(decl))

    def _resolve_local(self, inst: naming.BlockInstance, e: ast.Expr | None) -> Any:
        """The declaration a table property names (`counters = my_counter`)."""
        if isinstance(e, ast.PathExpr):
            if e.decl is not None:
                return e.decl
            for local in inst.decl.locals:
                if getattr(local, "name", None) == e.name:
                    return local
            for d in self.program.decls:
                if isinstance(d, ast.Instantiation) and d.name == e.name:
                    return d
        if isinstance(e, ast.Call):
            raise Unsupported(
                e.loc, "an extern constructed inside a table property (declare an instance)"
            )
        return None

    def _action_decl(self, ref: ast.ActionRef, inst: naming.BlockInstance) -> ast.ActionDecl:
        decl = ref.decl
        if decl is None:
            for local in inst.decl.locals:
                if isinstance(local, ast.ActionDecl) and local.name == ref.name:
                    decl = local
            if decl is None:
                decl = self.usage.global_actions.get(ref.name)
        if not isinstance(decl, ast.ActionDecl):
            raise P4Error(ref.loc, f"'{ref.name}' is not an action")
        return decl

    def _action_name(self, decl: ast.ActionDecl, inst: naming.BlockInstance) -> str:
        name = self._name_in(inst, decl)
        if name is None:
            raise P4Error(decl.loc, f"action '{decl.name}' has no control-plane name")
        return name

    def _tables(self) -> list[_Local]:
        return [
            loc
            for top in self.tops
            for loc in top.locals
            if isinstance(loc.decl, ast.TableDecl) and self.usage.is_used(loc.decl)
        ]

    def _actions(self) -> list[tuple[ast.ActionDecl, str]]:
        """Actions in P4Info order: per top-level block, the top-level actions it
        uses (in order of first use), then its own used actions."""
        out: list[tuple[ast.ActionDecl, str]] = []
        for top in self.tops:
            for a in self.usage.global_action_order.get(id(top.inst.decl), []):
                out.append((a, naming.decl_name(a)))
            for loc in top.locals:
                if isinstance(loc.decl, ast.ActionDecl) and self.usage.is_used(loc.decl):
                    out.append((loc.decl, loc.name))
        return out

    def _externs(self) -> list[tuple[ast.Instantiation, str, naming.BlockInstance | None]]:
        out: list[tuple[ast.Instantiation, str, naming.BlockInstance | None]] = [
            (d, naming.decl_name(d), None) for d in self.global_externs
        ]
        for top in self.tops:
            for loc in top.locals:
                if isinstance(loc.decl, ast.Instantiation) and (
                    extern_type_name(loc.decl) in _EXTERN_PREFIX
                ):
                    out.append((loc.decl, loc.name, loc.inst))
        return out

    def _value_sets(self) -> list[_Local]:
        return [
            loc
            for top in self.tops
            for loc in top.locals
            if isinstance(loc.decl, ast.Instantiation)
            and extern_type_name(loc.decl) == "value_set"
            and self.usage.is_used(loc.decl)
        ]

    # ------------------------------------------------------------- digests

    def _digest_name(self, call: ast.Call, dtype: T.Type) -> str:
        """A digest is named after its struct type; p4c names digests of other
        data (a list `{a, b}`) `digest_0`, `digest_1`, ... in order of appearance."""
        if isinstance(dtype, T.StructLikeT):
            return naming.digest_name(dtype)
        name = self._auto_digest_names.get(id(call))
        if name is None:
            name = f"digest_{len(self._auto_digest_names)}"
            self._auto_digest_names[id(call)] = name
        return name

    def _digest_calls(self) -> list[tuple[ast.Call, T.Type]]:
        calls: list[tuple[ast.Call, T.Type]] = []
        for top in self.tops:
            if not isinstance(top.inst.decl, ast.ControlDecl):
                continue
            bodies: list[ast.Node] = [
                loc.decl.body
                for loc in top.locals
                if isinstance(loc.decl, ast.ActionDecl)
                and self.usage.is_used(loc.decl)
                and loc.decl.body is not None
            ]
            bodies += [
                a.body
                for a in self.usage.global_action_order.get(id(top.inst.decl), [])
                if a.body is not None
            ]
            bodies.append(top.inst.decl.body)
            bodies += [
                c.decl.body for c in _nested(top.inst) if isinstance(c.decl, ast.ControlDecl)
            ]
            for body in bodies:
                for n in _walk_inlined(body):
                    if isinstance(n, ast.Call) and _is_digest_call(n):
                        calls.append((n, _digest_type(n)))
        return calls

    # ------------------------------------------------------------- build

    def build(self) -> p4info_pb2.P4Info:
        tables = self._tables()
        actions = self._actions()
        externs = self._externs()
        digests = self._digest_calls()
        value_sets = self._value_sets()
        headers = [
            d
            for d in self.program.decls
            if isinstance(d, ast.HeaderDecl) and naming.controller_header_name(d) is not None
        ]
        self._collect_symbols(tables, actions, externs, digests, value_sets, headers)
        self.symbols.assign_ids()

        p = self.p4info
        p.pkg_info.CopyFrom(self._pkg_info())
        for loc in tables:
            self._add_table(loc)
        seen_actions: set[int] = set()
        for decl, name in actions:
            aid = self.symbols.id_of(P4Ids.ACTION, name)
            if aid in seen_actions or decl.has_annotation("hidden"):
                continue
            seen_actions.add(aid)
            self._add_action(decl, name, aid)
        for inst_decl, name, _inst in externs:
            self._add_extern(inst_decl, name, tables)
        for hdr in headers:
            self._add_controller_header(hdr)
        for loc in value_sets:
            self._add_value_set(loc)
        for call, dtype in digests:
            self._add_digest(call, dtype)
        if self._touches_type_info(tables, actions, headers):
            p.type_info.SetInParent()
        return p

    def _touches_type_info(
        self,
        tables: list[_Local],
        actions: list[tuple[ast.ActionDecl, str]],
        headers: list[ast.HeaderDecl],
    ) -> bool:
        """p4c sets `type_info` (possibly empty) as soon as it serializes a table,
        an action parameter, a controller header field, any extern instance or
        any extern function call in a control; so must we, or the messages
        differ."""
        if (
            tables
            or headers
            or any(_data_params(a) and self.usage.has_params(a) for a, _ in actions)
        ):
            return True
        for d in self.program.decls:
            if isinstance(d, ast.Instantiation) and d is not self.program.main:
                if extern_type_name(d) not in self._block_names:
                    return True
        for top in self.tops:
            for loc in top.locals:
                if isinstance(loc.decl, ast.Instantiation):
                    return True
            if not isinstance(top.inst.decl, ast.ControlDecl):
                continue
            bodies: list[ast.Node] = [top.inst.decl.body]
            bodies += [
                c.decl.body for c in _nested(top.inst) if isinstance(c.decl, ast.ControlDecl)
            ]
            bodies += [a.body for a, _ in actions if a.body is not None]
            for body in bodies:
                for n in _walk_inlined(body):
                    if isinstance(n, ast.Call) and (
                        n.kind == "extern_function" or isinstance(n.target, ast.ExternFunctionDecl)
                    ):
                        return True
        return False

    def _collect_symbols(
        self,
        tables: list[_Local],
        actions: list[tuple[ast.ActionDecl, str]],
        externs: list[tuple[ast.Instantiation, str, naming.BlockInstance | None]],
        digests: list[tuple[ast.Call, T.Type]],
        value_sets: list[_Local],
        headers: list[ast.HeaderDecl],
    ) -> None:
        s = self.symbols
        for loc in tables:
            s.add(P4Ids.TABLE, loc.name, _explicit_id(loc.decl), loc.decl.loc)
        for decl, name in actions:
            s.add(P4Ids.ACTION, name, _explicit_id(decl), decl.loc)
        for inst_decl, name, _ in externs:
            kind = extern_type_name(inst_decl) or ""
            s.add(_EXTERN_PREFIX[kind], name, _explicit_id(inst_decl), inst_decl.loc)
        for loc in value_sets:
            s.add(P4Ids.VALUE_SET, loc.name, _explicit_id(loc.decl), loc.decl.loc)
        for hdr in headers:
            s.add(P4Ids.CONTROLLER_HEADER, naming.decl_name(hdr), _explicit_id(hdr), hdr.loc)
        for call, dtype in digests:
            s.add(P4Ids.DIGEST, self._digest_name(call, dtype))

    def _pkg_info(self) -> p4info_pb2.PkgInfo:
        info = p4info_pb2.PkgInfo()
        info.arch = ARCH
        main = self.program.main
        assert main is not None
        pkg = main.annotation("pkginfo")
        if pkg is not None:
            for key, value in _kv_pairs(pkg):
                if key in ("name", "version", "organization", "contact", "url", "arch"):
                    setattr(info, key, value)
                else:
                    raise P4Error(pkg.loc, f"unknown key '{key}' in @pkginfo")
        props = main.annotation("platform_property")
        if props is not None:
            for key, value in _kv_pairs(props, quoted=False):
                if key not in _PLATFORM_PROPERTIES:
                    raise P4Error(props.loc, f"unknown key '{key}' in @platform_property")
                try:
                    setattr(info.platform_properties, key, int(value, 0))
                except ValueError:
                    raise P4Error(
                        props.loc, f"@platform_property {key} must be an integer"
                    ) from None
        info.annotations.extend(serialize_annotations(main, ("pkginfo", "platform_property")))
        doc = documentation(main)
        if doc is not None:
            info.doc.CopyFrom(doc)
        return info

    # ------------------------------------------------------------- tables

    def _add_table(self, loc: _Local) -> None:
        table = loc.decl
        assert isinstance(table, ast.TableDecl)
        if table.has_annotation("hidden"):
            return
        inst = loc.inst
        msg = self.p4info.tables.add()
        _set_preamble(
            msg.preamble,
            self.symbols.id_of(P4Ids.TABLE, loc.name),
            loc.name,
            self.symbols.alias(loc.name),
            table,
        )
        self._add_match_fields(msg, table)

        refs = list(table.actions)
        listed = [self._action_decl(r, inst) for r in refs]
        default_ref = table.default_action
        default_decl: ast.ActionDecl
        if default_ref is None:
            no_action = self.usage.global_actions.get("NoAction")
            if no_action is None:
                raise P4Error(table.loc, "table has no default_action and NoAction is undeclared")
            default_decl = no_action
        else:
            default_decl = self._action_decl(default_ref, inst)
        for ref, decl in zip(refs, listed, strict=True):
            self._add_action_ref(msg, ref, decl, inst, loc.name)
        if default_ref is None and not any(d.name == "NoAction" for d in listed):
            implicit = ast.ActionRef(
                name="NoAction", annotations=[ast.Annotation(name="defaultonly")]
            )
            self._add_action_ref(msg, implicit, default_decl, inst, loc.name)

        default_id = self.symbols.id_of(P4Ids.ACTION, self._action_name(default_decl, inst))
        if default_ref is not None and table.default_is_const:
            msg.const_default_action_id = default_id
        msg.initial_default_action.action_id = default_id
        if default_ref is not None:
            self._default_args(msg, default_ref, default_decl)

        size_expr = table.size
        size = DEFAULT_TABLE_SIZE
        if size_expr is not None:
            size = _int_value(size_expr, "table size", size_expr.loc) or DEFAULT_TABLE_SIZE
        msg.size = size

        if table.entries and table.entries_const:
            msg.is_const_table = True
        if table.entries:
            msg.has_initial_entries = True
        self._table_properties(msg, loc)

    def _add_match_fields(self, msg: p4info_pb2.Table, table: ast.TableDecl) -> None:
        ids = _field_ids(list(table.keys))
        for key, fid in zip(table.keys, ids, strict=True):
            if key.match_kind == "selector":
                continue
            explicit = key.annotation("name")
            name = naming.annotation_string(explicit) if explicit is not None else None
            if name is None:
                name = key_name(key.expr)
            ktype = key.expr.type
            if ktype is None:
                raise P4Error(key.expr.loc, "key expression was not typed by the checker")
            mf = msg.match_fields.add()
            mf.id = fid
            mf.name = name
            mf.annotations.extend(serialize_annotations(key))
            doc = documentation(key)
            if doc is not None:
                mf.doc.CopyFrom(doc)
            mf.bitwidth = control_plane_width(ktype)
            mt = _MATCH_TYPES.get(key.match_kind)
            if mt is None:
                mf.other_match_type = key.match_kind
            else:
                mf.match_type = mt
            self._note_type(ktype)
            tn = new_type_name(ktype)
            if tn is not None:
                mf.type_name.name = tn

    def _note_type(self, t: T.Type) -> None:
        """Record a user-defined type used by a field or parameter in type_info."""
        if isinstance(t, (T.NewT, T.SerEnumT, T.EnumT, T.ErrorT, T.StructLikeT)):
            self.types.spec(t)

    def _add_action_ref(
        self,
        msg: p4info_pb2.Table,
        ref: ast.ActionRef,
        decl: ast.ActionDecl,
        inst: naming.BlockInstance,
        table_name: str,
    ) -> None:
        ar = msg.action_refs.add()
        ar.id = self.symbols.id_of(P4Ids.ACTION, self._action_name(decl, inst))
        ar.annotations.extend(serialize_annotations(ref))
        table_only = ref.has_annotation("tableonly")
        default_only = ref.has_annotation("defaultonly")
        if table_only and default_only:
            raise P4Error(
                ref.loc,
                f"table '{table_name}' has an action reference ('{ref.name}') annotated "
                "with both @tableonly and @defaultonly",
            )
        if table_only:
            ar.scope = p4info_pb2.ActionRef.TABLE_ONLY
        elif default_only:
            ar.scope = p4info_pb2.ActionRef.DEFAULT_ONLY

    def _default_args(
        self, msg: p4info_pb2.Table, ref: ast.ActionRef, decl: ast.ActionDecl
    ) -> None:
        params = _data_params(decl)
        args = [a.value for a in ref.args][-len(params) :] if params else []
        ids = _field_ids(list(params))
        for param, pid, arg in zip(params, ids, args, strict=False):
            if arg is None:
                continue
            value = _const_bytes(arg, _param_type(param))
            if value is None:
                continue
            a = msg.initial_default_action.arguments.add()
            a.param_id = pid
            a.value = value

    def _table_properties(self, msg: p4info_pb2.Table, loc: _Local) -> None:
        table = loc.decl
        assert isinstance(table, ast.TableDecl)
        props = table.properties
        impl = self._resolve_local(loc.inst, props.get("implementation"))
        if impl is not None:
            kind = extern_type_name(impl) if isinstance(impl, ast.Instantiation) else None
            if kind not in ("action_profile", "action_selector"):
                raise P4Error(table.loc, "implementation must be an action profile or selector")
            name = self._name_in(loc.inst, impl)
            assert name is not None
            msg.implementation_id = self.symbols.id_of(P4Ids.ACTION_PROFILE, name)
        for prop, kind, prefix in (
            ("counters", "direct_counter", P4Ids.DIRECT_COUNTER),
            ("meters", "direct_meter", P4Ids.DIRECT_METER),
        ):
            res = self._resolve_local(loc.inst, props.get(prop))
            if res is None:
                continue
            if not isinstance(res, ast.Instantiation) or extern_type_name(res) != kind:
                raise P4Error(table.loc, f"table property '{prop}' must name a {kind}")
            name = self._name_in(loc.inst, res)
            assert name is not None
            rid = self.symbols.id_of(prefix, name)
            msg.direct_resource_ids.append(rid)
            self._add_direct(res, name, rid, msg.preamble.id, kind)
        if _is_true(props.get("support_timeout")):
            msg.idle_timeout_behavior = p4info_pb2.Table.NOTIFY_CONTROL

    def _add_direct(
        self, inst: ast.Instantiation, name: str, rid: int, table_id: int, kind: str
    ) -> None:
        args = _ctor_args(inst, kind)
        unit = _enum_member(args.get("type"))
        if kind == "direct_counter":
            c = self.p4info.direct_counters.add()
            _set_preamble(c.preamble, rid, name, self.symbols.alias(name), inst)
            c.spec.unit = _COUNTER_UNITS.get(unit or "", p4info_pb2.CounterSpec.UNSPECIFIED)
            c.direct_table_id = table_id
        else:
            m = self.p4info.direct_meters.add()
            _set_preamble(m.preamble, rid, name, self.symbols.alias(name), inst)
            m.spec.unit = _METER_UNITS.get(unit or "", p4info_pb2.MeterSpec.UNSPECIFIED)
            m.direct_table_id = table_id

    # ------------------------------------------------------------- actions

    def _add_action(self, decl: ast.ActionDecl, name: str, aid: int) -> None:
        msg = self.p4info.actions.add()
        _set_preamble(msg.preamble, aid, name, self.symbols.alias(name), decl)
        params = _data_params(decl) if self.usage.has_params(decl) else []
        ids = _field_ids(list(params))
        for param, pid in zip(params, ids, strict=True):
            ptype = _param_type(param)
            under = ptype
            while isinstance(under, T.NewT):
                under = under.underlying
            if not isinstance(under, (T.BitT, T.BoolT, T.SerEnumT, T.EnumT)):
                raise P4Error(
                    param.loc,
                    f"action parameter '{param.name}' has a type which is not bit<>, int<>, "
                    "bool, type or serializable enum",
                )
            pm = msg.params.add()
            pm.id = pid
            pm.name = naming.local_name(param, param.name).lstrip(".")
            pm.annotations.extend(serialize_annotations(param))
            doc = documentation(param)
            if doc is not None:
                pm.doc.CopyFrom(doc)
            if not isinstance(ptype, T.EnumT):
                pm.bitwidth = control_plane_width(ptype)
            self._note_type(ptype)
            tn = new_type_name(ptype)
            if tn is not None:
                pm.type_name.name = tn
            elif isinstance(ptype, T.EnumT):
                pm.type_name.name = ptype.name

    # ------------------------------------------------------------- externs

    def _add_extern(self, inst: ast.Instantiation, name: str, tables: list[_Local]) -> None:
        kind = extern_type_name(inst) or ""
        args = _ctor_args(inst, kind)
        alias = self.symbols.alias(name)
        if kind == "counter":
            rid = self.symbols.id_of(P4Ids.COUNTER, name)
            c = self.p4info.counters.add()
            _set_preamble(c.preamble, rid, name, alias, inst)
            unit = _enum_member(args.get("type"))
            c.spec.unit = _COUNTER_UNITS.get(unit or "", p4info_pb2.CounterSpec.UNSPECIFIED)
            c.size = _int_value(args.get("size"), "counter size", inst.loc)
        elif kind == "meter":
            rid = self.symbols.id_of(P4Ids.METER, name)
            m = self.p4info.meters.add()
            _set_preamble(m.preamble, rid, name, alias, inst)
            unit = _enum_member(args.get("type"))
            m.spec.unit = _METER_UNITS.get(unit or "", p4info_pb2.MeterSpec.UNSPECIFIED)
            m.size = _int_value(args.get("size"), "meter size", inst.loc)
        elif kind == "register":
            rid = self.symbols.id_of(P4Ids.REGISTER, name)
            targs = _type_args(inst)
            if not targs:
                raise P4Error(inst.loc, "register needs its element type")
            r = self.p4info.registers.add()
            _set_preamble(r.preamble, rid, name, alias, inst)
            r.size = _int_value(args.get("size"), "register size", inst.loc)
            r.type_spec.CopyFrom(self.types.spec(targs[0]))
        elif kind in ("action_profile", "action_selector"):
            rid = self.symbols.id_of(P4Ids.ACTION_PROFILE, name)
            ap = self.p4info.action_profiles.add()
            _set_preamble(
                ap.preamble,
                rid,
                name,
                alias,
                inst,
                skip=("max_group_size", "selector_size_semantics", "max_member_weight"),
            )
            ap.with_selector = kind == "action_selector"
            ap.size = _int_value(args.get("size"), "action profile size", inst.loc)
            self._selector_annotations(ap, inst)
            users = sorted(
                loc.name
                for loc in tables
                if isinstance(loc.decl, ast.TableDecl)
                and self._resolve_local(loc.inst, loc.decl.properties.get("implementation")) is inst
            )
            ap.table_ids.extend(self.symbols.id_of(P4Ids.TABLE, t) for t in users)
        # direct_counter / direct_meter appear through the table that uses them.

    def _selector_annotations(self, ap: p4info_pb2.ActionProfile, inst: ast.Instantiation) -> None:
        if not ap.with_selector:
            return
        mgs = inst.annotation("max_group_size")
        if mgs is not None and mgs.args:
            ap.max_group_size = _int_value(mgs.args[0], "@max_group_size", mgs.loc)
        sss = inst.annotation("selector_size_semantics")
        if sss is not None:
            value = (naming.annotation_string(sss) or "").upper()
            if value == "SUM_OF_WEIGHTS":
                ap.sum_of_weights.SetInParent()
            elif value == "SUM_OF_MEMBERS":
                ap.sum_of_members.SetInParent()
            else:
                raise P4Error(
                    sss.loc, 'expected "sum_of_weights" or "sum_of_members" selector semantics'
                )
        mmw = inst.annotation("max_member_weight")
        if mmw is not None and mmw.args and ap.HasField("sum_of_members"):
            ap.sum_of_members.max_member_weight = _int_value(
                mmw.args[0], "@max_member_weight", mmw.loc
            )

    def _add_value_set(self, loc: _Local) -> None:
        inst = loc.decl
        assert isinstance(inst, ast.Instantiation)
        args = _ctor_args(inst, "value_set")
        targs = _type_args(inst)
        if not targs:
            raise P4Error(inst.loc, "value_set needs its element type")
        et = targs[0]
        vs = self.p4info.value_sets.add()
        rid = self.symbols.id_of(P4Ids.VALUE_SET, loc.name)
        _set_preamble(vs.preamble, rid, loc.name, self.symbols.alias(loc.name), inst)
        vs.size = _int_value(args.get("size"), "value_set size", inst.loc)
        if isinstance(et, T.BitT):
            m = vs.match.add()
            m.id = 1
            m.bitwidth = et.width
            m.match_type = MatchField.EXACT
        elif isinstance(et, T.StructT):
            from .p4info_types import flattened_fields

            fields = [(n, ft, fd) for n, ft, fd in flattened_fields(et)]
            ids = _field_ids([fd for _, _, fd in fields])
            for (fname, ftype, fd), fid in zip(fields, ids, strict=True):
                if not isinstance(ftype, T.BitT):
                    raise P4Error(inst.loc, f"value_set struct field {fname} must be bit<W>")
                m = vs.match.add()
                m.id = fid
                m.name = fname
                m.bitwidth = ftype.width
                kind = "exact"
                if fd is not None:
                    ann = fd.annotation("match")
                    if ann is not None and ann.args and isinstance(ann.args[0], ast.PathExpr):
                        kind = ann.args[0].name
                    m.annotations.extend(serialize_annotations(fd, ("match",)))
                mt = _MATCH_TYPES.get(kind)
                if mt is None:
                    m.other_match_type = kind
                else:
                    m.match_type = mt
        else:
            raise Unsupported(inst.loc, f"value_set of {et}")

    # ------------------------------------------------------------- packet io

    def _add_controller_header(self, hdr: ast.HeaderDecl) -> None:
        if hdr.has_annotation("hidden"):
            return
        cp_name = naming.controller_header_name(hdr)
        assert cp_name is not None
        msg = self.p4info.controller_packet_metadata.add()
        rid = self.symbols.id_of(P4Ids.CONTROLLER_HEADER, naming.decl_name(hdr))
        _set_preamble(msg.preamble, rid, cp_name, cp_name, hdr)
        htype = _header_type(hdr)
        fields = flattened_fields(htype)
        ids = _field_ids([fd for _, _, fd in fields])
        for (fname, ftype, fd), fid in zip(fields, ids, strict=True):
            if fd is not None and fd.has_annotation("hidden"):
                continue
            md = msg.metadata.add()
            md.id = fid
            md.name = fname
            if fd is not None:
                md.annotations.extend(serialize_annotations(fd))
            md.bitwidth = control_plane_width(ftype)
            self._note_type(ftype)
            tn = new_type_name(ftype)
            if tn is not None:
                md.type_name.name = tn

    # ------------------------------------------------------------- digests

    def _add_digest(self, call: ast.Call, dtype: T.Type) -> None:
        name = self._digest_name(call, dtype)
        if name in self.digests_seen:
            return
        self.digests_seen.add(name)
        d = self.p4info.digests.add()
        rid = self.symbols.id_of(P4Ids.DIGEST, name)
        _set_preamble(d.preamble, rid, name, self.symbols.alias(name), None)
        d.type_spec.CopyFrom(self.types.spec(dtype))


# --------------------------------------------------------------------------- small helpers


def _walk_inlined(body: ast.Node, active: frozenset[int] = frozenset()) -> list[ast.Node]:
    """Nodes of `body`, continuing into the bodies of actions it calls (p4c
    inlines action calls made inside actions, so their extern calls count as
    the caller's)."""
    out: list[ast.Node] = []
    for n in walk(body):
        out.append(n)
        if isinstance(n, ast.Call) and isinstance(n.target, ast.ActionDecl):
            callee = n.target
            if callee.body is not None and id(callee) not in active:
                out.extend(_walk_inlined(callee.body, active | {id(callee)}))
    return out


def _nested(inst: naming.BlockInstance) -> list[naming.BlockInstance]:
    out: list[naming.BlockInstance] = []
    for c in inst.children:
        out.append(c)
        out.extend(_nested(c))
    return out


def _is_digest_call(call: ast.Call) -> bool:
    target = call.target
    if isinstance(target, ast.ExternFunctionDecl):
        return target.name == "digest"
    if call.kind in ("", "extern_function") and isinstance(call.func, ast.PathExpr):
        return call.func.name == "digest"
    return False


def _digest_type(call: ast.Call) -> T.Type:
    t = call.type_bindings.get("T")
    if t is None and call.type_args:
        t = call.type_args[0].resolved
    if t is None and len(call.args) == 2 and call.args[1].value is not None:
        t = call.args[1].value.type
    if t is None:
        raise P4Error(call.loc, "the type of the digest data was not resolved by the checker")
    return t


def _header_type(hdr: ast.HeaderDecl) -> T.HeaderT:
    fields: list[tuple[str, T.Type]] = []
    for f in hdr.fields:
        ft = getattr(f.type, "resolved", None)
        if ft is None:
            raise P4Error(f.loc, f"type of field '{f.name}' was not resolved by the checker")
        fields.append((f.name, ft))
    return T.HeaderT(hdr.name, fields, hdr)


def _kv_pairs(ann: ast.Annotation, quoted: bool = True) -> list[tuple[str, str]]:
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
