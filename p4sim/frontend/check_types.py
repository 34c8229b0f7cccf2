"""Type declarations and type expressions: the first layer of the type checker.

Resolves every `ast.TypeRef` into a `types.Type` (typedefs resolved away, `type`
declarations kept distinct as `NewT`), builds header/struct/union/enum types from their
declarations, collects `error` and `match_kind` members from every declaration, and
prepares the signatures of generic externs (their `TypeVarT`s). Expression checking
(needed for widths and sizes, which are constant expressions) lives in the subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ast
from . import types as T
from .consts import fits
from .errors import Loc, P4Error, Unsupported
from .scope import Scope

_BASE_TYPES: dict[str, T.Type] = {
    "bool": T.BoolT(),
    "int": T.IntLitT(),
    "string": T.StringT(),
    "void": T.VoidT(),
    "error": T.ErrorT(),
    "match_kind": T.MatchKindT(),
    "_": T.DontCareT(),
}

_TYPE_DECLS = (
    ast.TypedefDecl,
    ast.HeaderDecl,
    ast.StructDecl,
    ast.HeaderUnionDecl,
    ast.EnumDecl,
    ast.ExternDecl,
    ast.BlockTypeDecl,
    ast.ParserDecl,
    ast.ControlDecl,
    ast.ErrorDecl,
    ast.MatchKindDecl,
)


@dataclass
class Signature:
    """A callable's parameter types and return type, with the type variables it may
    bind at a call (`free`); types mention those variables as `TypeVarT`."""

    params: list[ast.Param]
    param_types: list[T.Type]
    ret: T.Type
    free: list[T.TypeVarT] = field(default_factory=list)


class TypeResolver:
    """Holds the scopes and the per-declaration type tables of one check."""

    def __init__(self) -> None:
        self.scope = Scope(kind="top")
        self.decl_types: dict[Any, T.Type] = {}
        self.type_vars: dict[Any, list[T.TypeVarT]] = {}
        self.sigs: dict[Any, Signature] = {}
        self.error_members: list[str] = []
        self.match_kinds: list[str] = []
        self.first_error_decl: ast.ErrorDecl | None = None
        # Parameters of extern functions and methods: direction-less ones take
        # compile-time known values only.
        self.extern_params: set[int] = set()

    # ------------------------------------------------------------------ hooks

    def expr(self, e: ast.Expr, expected: T.Type | None = None) -> T.Type:  # pragma: no cover
        raise NotImplementedError

    def context_kind(self) -> str:
        """Where the expression being checked sits ("parser", "control", ...)."""
        return "top"

    def const_int(self, e: ast.Expr, what: str) -> int:
        """A compile-time known integer (widths, sizes, slice bounds, table sizes)."""
        t = self.expr(e)
        if (
            not isinstance(t, (T.IntLitT, T.BitT))
            or not isinstance(e.const, int)
            or isinstance(e.const, bool)
        ):
            raise P4Error(e.loc, f"{what} must be a compile-time known integer")
        return e.const

    # ------------------------------------------------------------------ scopes

    def push(self, kind: str = "block") -> Scope:
        self.scope = Scope(self.scope, kind)
        return self.scope

    def pop(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def declare(self, name: str, what: Any, loc: Loc) -> None:
        self.scope.declare(name, what, loc)

    def lookup(self, name: str, loc: Loc, top_level: bool = False) -> list[Any]:
        if name.startswith("."):
            name, top_level = name[1:], True
        scope = self.scope.root() if top_level else self.scope
        found = scope.lookup(name)
        if not found:
            raise P4Error(loc, f"'{name}' is not declared")
        return found

    # ------------------------------------------------------------------ type expressions

    def resolve(self, tr: ast.TypeRef | None, loc: Loc | None = None) -> T.Type:
        if tr is None:
            raise P4Error(loc, "missing type")
        t = self._resolve(tr)
        tr.resolved = t
        return t

    def _resolve(self, tr: ast.TypeRef) -> T.Type:
        if isinstance(tr, ast.BitType):
            w = self.const_int(tr.width, "a bit width")
            if w < 0 or (tr.signed and w == 0):
                kind = "int" if tr.signed else "bit"
                raise P4Error(tr.width.loc, f"invalid width {w} for {kind}<W>")
            return T.BitT(w, tr.signed)
        if isinstance(tr, ast.VarbitType):
            w = self.const_int(tr.width, "a varbit width")
            if w <= 0:
                raise P4Error(tr.width.loc, f"invalid width {w} for varbit<W>")
            return T.VarbitT(w)
        if isinstance(tr, ast.BaseType):
            bt = _BASE_TYPES.get(tr.name)
            if bt is None:
                raise P4Error(tr.loc, f"unknown type '{tr.name}'")
            return bt
        if isinstance(tr, ast.StackType):
            elem = self.resolve(tr.elem)
            if not T.is_header_like(elem) and not isinstance(elem, T.TypeVarT):
                raise P4Error(tr.loc, f"a header stack holds headers or header unions, not {elem}")
            size = self.const_int(tr.size, "a header stack size")
            if size <= 0:
                raise P4Error(tr.size.loc, f"header stack size must be positive, not {size}")
            return T.StackT(elem, size)
        if isinstance(tr, ast.TupleType):
            return T.TupleT(tuple(self.resolve(x) for x in tr.elems))
        if isinstance(tr, ast.NamedType):
            return self._resolve_named(tr)
        raise Unsupported(tr.loc, f"type expression {type(tr).__name__}")

    def _resolve_named(self, tr: ast.NamedType) -> T.Type:
        if tr.name in _BASE_TYPES and not self.scope.lookup(tr.name):
            return _BASE_TYPES[tr.name]
        if tr.name == "value_set" and not self.scope.lookup(tr.name):
            raise Unsupported(tr.loc, "parser value sets (value_set)")
        found = self.lookup(tr.name, tr.loc)
        what = found[0]
        name = tr.name.lstrip(".")
        if isinstance(what, T.Type):
            if tr.type_args:
                raise P4Error(tr.loc, f"type variable '{name}' takes no type arguments")
            return what
        args = tuple(self.resolve(a) for a in tr.type_args)
        if isinstance(what, (ast.ExternDecl, ast.BlockTypeDecl)):
            tvars = self.type_vars.get(what, [])
            if args and len(args) != len(tvars):
                raise P4Error(
                    tr.loc,
                    f"'{name}' takes {len(tvars)} type argument(s), {len(args)} given",
                )
            if isinstance(what, ast.ExternDecl):
                return T.ExternT(what.name, args, what)
            return T.BlockT(what.kind, what.name, what, args)
        if args:
            raise P4Error(tr.loc, f"'{name}' is not generic")
        if isinstance(what, (ast.ParserDecl, ast.ControlDecl)):
            kind = "parser" if isinstance(what, ast.ParserDecl) else "control"
            return T.BlockT(kind, what.name, what)
        if isinstance(what, _TYPE_DECLS) and what in self.decl_types:
            return self.decl_types[what]
        raise P4Error(tr.loc, f"'{name}' is not a type")

    # ------------------------------------------------------------------ type declarations

    def type_vars_for(self, decl: Any, names: list[str]) -> list[T.TypeVarT]:
        tvs = [T.TypeVarT(n) for n in names]
        self.type_vars[decl] = tvs
        return tvs

    def declare_type_params(self, tvs: list[T.TypeVarT], loc: Loc) -> None:
        for tv in tvs:
            self.declare(tv.name, tv, loc)

    def declare_typedef(self, d: ast.TypedefDecl) -> None:
        target = self.resolve(d.type, d.loc)
        if isinstance(target, (T.VoidT, T.DontCareT)):
            raise P4Error(d.loc, f"cannot define a type as {target}")
        t: T.Type = T.NewT(d.name, target, d) if d.is_newtype else target
        if d.is_newtype and not isinstance(T.underlying(target), (T.BitT, T.BoolT)):
            if not isinstance(target, T.NewT):
                raise P4Error(d.loc, f"'type' needs a bit<W>, int<W> or bool, not {target}")
        self.declare(d.name, d, d.loc)
        self.decl_types[d] = t

    def declare_struct_like(self, d: ast.HeaderDecl | ast.StructDecl | ast.HeaderUnionDecl) -> None:
        cls: type[T.StructLikeT]
        if isinstance(d, ast.HeaderDecl):
            cls = T.HeaderT
        elif isinstance(d, ast.StructDecl):
            cls = T.StructT
        else:
            cls = T.HeaderUnionT
        fields: list[tuple[str, T.Type]] = []
        seen: set[str] = set()
        varbits = 0
        for f in d.fields:
            if f.name in seen:
                raise P4Error(f.loc, f"duplicate field '{f.name}' in {d.name}")
            seen.add(f.name)
            ft = self.resolve(f.type, f.loc)
            self._check_field_type(cls, d.name, f, ft)
            varbits += isinstance(ft, T.VarbitT)
            fields.append((f.name, ft))
        if varbits > 1:
            raise P4Error(d.loc, f"header {d.name} has more than one varbit field")
        self.declare(d.name, d, d.loc)
        self.decl_types[d] = cls(d.name, fields, d)

    def _check_field_type(
        self, cls: type[T.StructLikeT], owner: str, f: ast.FieldDecl, ft: T.Type
    ) -> None:
        if cls is T.HeaderT:
            ok = isinstance(ft, (T.BitT, T.VarbitT, T.BoolT, T.SerEnumT)) or (
                isinstance(ft, T.NewT) and isinstance(T.underlying(ft), (T.BitT, T.BoolT))
            )
            if not ok:
                raise P4Error(f.loc, f"header field {owner}.{f.name} cannot have type {ft}")
        elif cls is T.HeaderUnionT:
            if not isinstance(ft, T.HeaderT):
                raise P4Error(f.loc, f"header union member {owner}.{f.name} must be a header")
        elif isinstance(
            ft,
            (T.VoidT, T.DontCareT, T.IntLitT, T.ExternT, T.BlockT, T.MatchKindT, T.StringT),
        ):
            raise P4Error(f.loc, f"struct field {owner}.{f.name} cannot have type {ft}")

    def declare_enum(self, d: ast.EnumDecl) -> None:
        if len(set(d.members)) != len(d.members):
            raise P4Error(d.loc, f"enum {d.name} declares a member twice")
        if d.underlying is None:
            self.declare(d.name, d, d.loc)
            self.decl_types[d] = T.EnumT(d.name, list(d.members), d)
            return
        under = T.underlying(self.resolve(d.underlying, d.loc))
        if not isinstance(under, T.BitT):
            raise P4Error(d.underlying.loc, f"enum {d.name} needs a bit<W> or int<W> type")
        if len(d.values) != len(d.members):
            raise P4Error(d.loc, f"every member of serializable enum {d.name} needs a value")
        members: dict[str, int] = {}
        for name, v in zip(d.members, d.values, strict=True):
            self.expr(v)
            if not isinstance(v.const, int) or isinstance(v.const, bool):
                raise P4Error(v.loc, f"value of {d.name}.{name} must be a compile-time constant")
            if isinstance(v.type, T.BitT) and v.type != under:
                raise P4Error(v.loc, f"value of {d.name}.{name} is {v.type}, expected {under}")
            if not fits(v.const, under):
                raise P4Error(v.loc, f"value {v.const} of {d.name}.{name} does not fit in {under}")
            v.type = under
            members[name] = v.const
        self.declare(d.name, d, d.loc)
        self.decl_types[d] = T.SerEnumT(d.name, under, members, d)

    def declare_error(self, d: ast.ErrorDecl) -> None:
        if self.first_error_decl is None:
            self.first_error_decl = d
        for m in d.members:
            if m in self.error_members:
                raise P4Error(d.loc, f"error member '{m}' declared twice")
            self.error_members.append(m)
        self.decl_types[d] = T.ErrorT()

    def declare_match_kind(self, d: ast.MatchKindDecl) -> None:
        for m in d.members:
            if m in self.match_kinds:
                raise P4Error(d.loc, f"match_kind '{m}' declared twice")
            self.match_kinds.append(m)
        self.decl_types[d] = T.MatchKindT()

    # ------------------------------------------------------------------ generic signatures

    def param_types(self, params: list[ast.Param]) -> list[T.Type]:
        out = []
        for p in params:
            if p.direction not in ("", "in", "out", "inout"):
                raise P4Error(p.loc, f"unknown direction '{p.direction}'")
            pt = self.resolve(p.type, p.loc)
            if isinstance(pt, (T.VoidT, T.DontCareT)):
                raise P4Error(p.loc, f"parameter '{p.name}' cannot have type {pt}")
            out.append(pt)
        return out

    def declare_extern(self, d: ast.ExternDecl) -> None:
        tvs = self.type_vars_for(d, d.type_params)
        self.declare(d.name, d, d.loc)
        self.push("extern")
        try:
            self.declare_type_params(tvs, d.loc)
            seen: dict[tuple[str, int], ast.MethodDecl] = {}
            for m in d.methods:
                key = (m.name, len(m.params))
                if key in seen:
                    raise P4Error(
                        m.loc,
                        f"method '{m.name}' of {d.name} with {key[1]} parameters declared twice",
                    )
                seen[key] = m
                if m.is_constructor and m.name != d.name:
                    raise P4Error(m.loc, f"constructor of {d.name} must be named {d.name}")
                self.push("method")
                try:
                    mtvs = self.type_vars_for(m, m.type_params)
                    self.declare_type_params(mtvs, m.loc)
                    pts = self.param_types(m.params)
                    self.extern_params.update(id(p) for p in m.params)
                    ret = T.VoidT() if m.is_constructor else self.resolve(m.return_type, m.loc)
                    self.sigs[m] = Signature(m.params, pts, ret, mtvs)
                    self.check_param_defaults(m.params, pts)
                finally:
                    self.pop()
        finally:
            self.pop()

    def declare_extern_function(self, d: ast.ExternFunctionDecl) -> None:
        self.push("method")
        try:
            tvs = self.type_vars_for(d, d.type_params)
            self.declare_type_params(tvs, d.loc)
            pts = self.param_types(d.params)
            self.extern_params.update(id(p) for p in d.params)
            ret = self.resolve(d.return_type, d.loc)
            self.sigs[d] = Signature(d.params, pts, ret, tvs)
            self.check_param_defaults(d.params, pts)
        finally:
            self.pop()
        self.declare(d.name, d, d.loc)

    def declare_block_type(self, d: ast.BlockTypeDecl) -> None:
        if d.kind not in ("parser", "control", "package"):
            raise P4Error(d.loc, f"unknown block kind '{d.kind}'")
        tvs = self.type_vars_for(d, d.type_params)
        self.push("method")
        try:
            self.declare_type_params(tvs, d.loc)
            pts = self.param_types(d.params)
            self.sigs[d] = Signature(d.params, pts, T.VoidT(), tvs)
        finally:
            self.pop()
        self.declare(d.name, d, d.loc)
        self.decl_types[d] = T.BlockT(d.kind, d.name, d, tuple(tvs))

    def check_param_defaults(self, params: list[ast.Param], pts: list[T.Type]) -> None:
        """Default values of parameters must be constants of the parameter's type."""
        for p, pt in zip(params, pts, strict=True):
            if p.default is None:
                continue
            if p.direction in ("out", "inout"):
                raise P4Error(
                    p.default.loc, f"{p.direction} parameter '{p.name}' cannot have a default"
                )
            self.expr(p.default, pt)
            self.coerce_or_fail(p.default, pt, f"default value of parameter '{p.name}'")

    def coerce_or_fail(self, e: ast.Expr, target: T.Type, what: str) -> None:  # pragma: no cover
        raise NotImplementedError
