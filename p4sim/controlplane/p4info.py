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

from typing import Any

from p4.config.v1 import p4info_pb2

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from . import naming
from .p4info_externs import ExternsMixin
from .p4info_helpers import (
    ARCH,
    DEFAULT_TABLE_SIZE,
    EXTERN_PREFIX,
    MATCH_TYPES,
    PLATFORM_PROPERTIES,
    Local,
    Top,
    const_bytes,
    data_params,
    digest_type,
    explicit_id,
    extern_type_name,
    field_ids,
    int_value,
    is_digest_call,
    is_true,
    key_name,
    kv_pairs,
    nested,
    param_type,
    set_preamble,
    walk_inlined,
)
from .p4info_ids import P4Ids, SymbolTable
from .p4info_types import (
    TypeInfoBuilder,
    control_plane_width,
    documentation,
    new_type_name,
    serialize_annotations,
)
from .p4info_usage import Usage


def build_p4info(program: ast.Program) -> p4info_pb2.P4Info:
    """The P4Info of a checked v1model program. Raises P4Error for programs the
    P4Runtime serializer rejects (bad @id, complex key without @name, ...)."""
    return _Builder(program).build()


# --------------------------------------------------------------------------- builder


class _Builder(ExternsMixin):
    """One P4Info build: collect every control-plane symbol first (ids depend on
    all names), assign ids, then fill each section in p4c's order."""

    def __init__(self, program: ast.Program) -> None:
        if program.main is None:
            raise P4Error(program.loc, "the program has no 'main' package instantiation")
        self.program = program
        self.p4info = p4info_pb2.P4Info()
        self.symbols = SymbolTable()
        self.usage = Usage(program)
        self.tops = [Top(t, self._flatten(t)) for t in naming.block_instances(program)]
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
            and extern_type_name(d) in EXTERN_PREFIX
        ]
        self.types = TypeInfoBuilder(self.p4info.type_info, self._error_members())
        self.digests_seen: set[str] = set()
        self._auto_digest_names: dict[int, str] = {}
        self._block_names = {
            d.name for d in program.decls if isinstance(d, (ast.ControlDecl, ast.ParserDecl))
        }

    # ------------------------------------------------------------- structure

    def _flatten(self, inst: naming.BlockInstance) -> list[Local]:
        """Locals of a block with used nested instances spliced in at their
        instantiation, as p4c's inliner leaves them."""
        out: list[Local] = []
        children = {id(c.instantiation): c for c in inst.children if c.instantiation}
        for local in inst.decl.locals:
            child = children.get(id(local))
            if child is not None:
                if self.usage.is_used(local):
                    out.extend(self._flatten(child))
                continue
            name = inst.names.get(id(local))
            if name is not None and isinstance(local, ast.Decl):
                out.append(Local(local, name, inst))
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

    def _tables(self) -> list[Local]:
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
                    extern_type_name(loc.decl) in EXTERN_PREFIX
                ):
                    out.append((loc.decl, loc.name, loc.inst))
        return out

    def _value_sets(self) -> list[Local]:
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
            bodies += [c.decl.body for c in nested(top.inst) if isinstance(c.decl, ast.ControlDecl)]
            for body in bodies:
                for n in walk_inlined(body):
                    if isinstance(n, ast.Call) and is_digest_call(n):
                        calls.append((n, digest_type(n)))
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
        tables: list[Local],
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
            or any(data_params(a) and self.usage.has_params(a) for a, _ in actions)
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
            bodies += [c.decl.body for c in nested(top.inst) if isinstance(c.decl, ast.ControlDecl)]
            bodies += [a.body for a, _ in actions if a.body is not None]
            for body in bodies:
                for n in walk_inlined(body):
                    if isinstance(n, ast.Call) and (
                        n.kind == "extern_function" or isinstance(n.target, ast.ExternFunctionDecl)
                    ):
                        return True
        return False

    def _collect_symbols(
        self,
        tables: list[Local],
        actions: list[tuple[ast.ActionDecl, str]],
        externs: list[tuple[ast.Instantiation, str, naming.BlockInstance | None]],
        digests: list[tuple[ast.Call, T.Type]],
        value_sets: list[Local],
        headers: list[ast.HeaderDecl],
    ) -> None:
        s = self.symbols
        for loc in tables:
            s.add(P4Ids.TABLE, loc.name, explicit_id(loc.decl), loc.decl.loc)
        for decl, name in actions:
            s.add(P4Ids.ACTION, name, explicit_id(decl), decl.loc)
        for inst_decl, name, _ in externs:
            kind = extern_type_name(inst_decl) or ""
            s.add(EXTERN_PREFIX[kind], name, explicit_id(inst_decl), inst_decl.loc)
        for loc in value_sets:
            s.add(P4Ids.VALUE_SET, loc.name, explicit_id(loc.decl), loc.decl.loc)
        for hdr in headers:
            s.add(P4Ids.CONTROLLER_HEADER, naming.decl_name(hdr), explicit_id(hdr), hdr.loc)
        for call, dtype in digests:
            s.add(P4Ids.DIGEST, self._digest_name(call, dtype))

    def _pkg_info(self) -> p4info_pb2.PkgInfo:
        info = p4info_pb2.PkgInfo()
        info.arch = ARCH
        main = self.program.main
        assert main is not None
        # The package type's own @pkginfo(arch=...) (TNA's Switch: "tna", as bf-p4c).
        pkg_decl = getattr(getattr(main.type, "resolved", None), "decl", None)
        arch_info = pkg_decl.annotation("pkginfo") if isinstance(pkg_decl, ast.Decl) else None
        for key, value in kv_pairs(arch_info) if arch_info is not None else []:
            if key == "arch":
                info.arch = value.lower()
        pkg = main.annotation("pkginfo")
        if pkg is not None:
            for key, value in kv_pairs(pkg):
                if key in ("name", "version", "organization", "contact", "url", "arch"):
                    setattr(info, key, value)
                else:
                    raise P4Error(pkg.loc, f"unknown key '{key}' in @pkginfo")
        props = main.annotation("platform_property")
        if props is not None:
            for key, value in kv_pairs(props, quoted=False):
                if key not in PLATFORM_PROPERTIES:
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

    def _add_table(self, loc: Local) -> None:
        table = loc.decl
        assert isinstance(table, ast.TableDecl)
        if table.has_annotation("hidden"):
            return
        inst = loc.inst
        msg = self.p4info.tables.add()
        set_preamble(
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
            size = int_value(size_expr, "table size", size_expr.loc) or DEFAULT_TABLE_SIZE
        msg.size = size

        if table.entries and table.entries_const:
            msg.is_const_table = True
        if table.entries:
            msg.has_initial_entries = True
        self._table_properties(msg, loc)

    def _add_match_fields(self, msg: p4info_pb2.Table, table: ast.TableDecl) -> None:
        ids = field_ids(list(table.keys))
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
            mt = MATCH_TYPES.get(key.match_kind)
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
        params = data_params(decl)
        args = [a.value for a in ref.args][-len(params) :] if params else []
        ids = field_ids(list(params))
        for param, pid, arg in zip(params, ids, args, strict=False):
            if arg is None:
                continue
            value = const_bytes(arg, param_type(param))
            if value is None:
                continue
            a = msg.initial_default_action.arguments.add()
            a.param_id = pid
            a.value = value

    def _table_properties(self, msg: p4info_pb2.Table, loc: Local) -> None:
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
        # support_timeout (P4Runtime, v1model), idle_timeout (TNA)
        if is_true(props.get("support_timeout")) or is_true(props.get("idle_timeout")):
            msg.idle_timeout_behavior = p4info_pb2.Table.NOTIFY_CONTROL

    # ------------------------------------------------------------- actions

    def _add_action(self, decl: ast.ActionDecl, name: str, aid: int) -> None:
        msg = self.p4info.actions.add()
        set_preamble(msg.preamble, aid, name, self.symbols.alias(name), decl)
        params = data_params(decl) if self.usage.has_params(decl) else []
        ids = field_ids(list(params))
        for param, pid in zip(params, ids, strict=True):
            ptype = param_type(param)
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
