"""Calls: actions, functions, extern functions and methods (with overloads, named,
default and @optional arguments, and inference of generic type arguments), builtin
methods of headers, unions and stacks, `apply` of tables, parsers and controls, and
constructor calls (`MyParser()` in the `main` instantiation).
"""

from __future__ import annotations

from typing import Any

from . import ast
from . import types as T
from .check_expr import ExprChecker, describe, is_int_const
from .check_types import Signature
from .errors import Loc, P4Error, Unsupported
from .typeops import Bindings, has_vars, same, subst, unify

_HEADER_METHODS = {"isValid": T.BoolT(), "setValid": T.VoidT(), "setInvalid": T.VoidT()}
_SIZE_METHODS = {"minSizeInBits", "minSizeInBytes", "maxSizeInBits", "maxSizeInBytes"}


def _unbindable(t: T.Type) -> bool:
    """Types that say too little to bind a type variable (no width, no name)."""
    if isinstance(t, (T.IntLitT, T.StructExprT)):
        return True
    return isinstance(t, T.TupleT) and any(_unbindable(x) for x in t.elems)


def _emittable(t: T.Type) -> bool:
    if isinstance(t, (T.HeaderT, T.HeaderUnionT)):
        return True
    if isinstance(t, T.StackT):
        return True
    if isinstance(t, T.StructT):
        return all(_emittable(ft) for _, ft in t.fields)
    return False


def _type_vars(t: T.Type | None) -> set[T.TypeVarT]:
    """The type variables `t` mentions."""
    if isinstance(t, T.TypeVarT):
        return {t}
    if isinstance(t, (T.ExternT, T.BlockT)):
        return set().union(*map(_type_vars, t.type_args)) if t.type_args else set()
    return set()


def is_optional(p: ast.Param) -> bool:
    """`@optional` parameters may be left out of a call."""
    return bool(getattr(p, "optional", False)) or p.has_annotation("optional")


class CallChecker(ExprChecker):
    # ------------------------------------------------------------------ l-values

    def lvalue_error(self, e: ast.Expr) -> str | None:
        """Why `e` cannot be written, or None when it is an l-value."""
        if isinstance(e, ast.PathExpr):
            d = e.decl
            if isinstance(d, ast.VarDecl):
                return None
            if isinstance(d, ast.Param):
                if d.direction in ("out", "inout"):
                    return None
                if d.direction == "in":
                    return f"'{e.name}' is an 'in' parameter"
                return f"'{e.name}' is a direction-less parameter (read-only)"
            if isinstance(d, ast.ConstDecl):
                return f"'{e.name}' is a constant"
            return f"'{e.name}' is not a variable"
        if isinstance(e, ast.Member):
            if isinstance(e.expr.type, T.StackT) and e.name in ("size", "lastIndex", "last"):
                return f"{describe(e)} is read-only"
            if e.expr.type is not None and isinstance(e.expr.type, (T.StructLikeT, T.StackT)):
                return self.lvalue_error(e.expr)
            return f"{describe(e)} is not a variable"
        if isinstance(e, (ast.Index, ast.Slice)):
            return self.lvalue_error(e.expr)
        return f"{describe(e)} is not a variable"

    def require_lvalue(self, e: ast.Expr, what: str) -> None:
        why = self.lvalue_error(e)
        if why is not None:
            raise P4Error(e.loc, f"{what} must be an l-value: {why}")

    # ------------------------------------------------------------------ dispatch

    def call(self, e: ast.Call, expected: T.Type | None) -> T.Type:
        f = e.func
        if isinstance(f, ast.Member):
            return self._method_call(e, f)
        if isinstance(f, ast.PathExpr):
            found = self.lookup(f.name, f.loc, f.top_level)
            d = found[0]
            f.decl = d
            if isinstance(d, ast.ActionDecl):
                f.type = T.ActionT(d)
                return self._call_action(e, d)
            if isinstance(d, ast.FunctionDecl):
                f.type = T.FunctionT(d)
                return self.call_sig(e, "function", d, self.sigs[d], {})
            if isinstance(d, ast.ExternFunctionDecl):
                chosen = self.pick_overload(found, e, f.name)
                f.decl = chosen
                f.type = T.FunctionT(chosen)
                return self.call_sig(e, "extern_function", chosen, self.sigs[chosen], {})
            if isinstance(d, (ast.ParserDecl, ast.ControlDecl, ast.ExternDecl, ast.BlockTypeDecl)):
                return self.constructor_call(e, d, f.loc)
            raise P4Error(f.loc, f"'{f.name}' is not callable")
        raise P4Error(e.loc, "this expression cannot be called")

    def _method_call(self, e: ast.Call, f: ast.Member) -> T.Type:
        name = f.name
        e.method = name
        tt = self.type_name(f.expr)
        if tt is not None:
            if name not in _SIZE_METHODS:
                raise P4Error(f.loc, f"type {tt} has no method '{name}'")
            self.no_args(e, name)
            e.kind, e.receiver = "builtin", f.expr
            f.type = T.FunctionT(None)
            e.const = self.size_method(tt, name, f.loc)
            return T.IntLitT()
        rt = self.expr(f.expr)
        e.receiver = f.expr
        if isinstance(rt, T.TableT):
            if name != "apply":
                raise P4Error(f.loc, f"table {rt.decl.name} has no method '{name}'")
            self.no_args(e, "apply")
            e.kind, e.target = "table_apply", rt.decl
            f.type = T.FunctionT(rt.decl)
            return T.ApplyResultT(rt.decl)
        if isinstance(rt, T.BlockT):
            return self._block_apply(e, f, rt)
        if isinstance(rt, T.ExternT):
            return self._extern_method(e, f, rt)
        return self._builtin_method(e, f, rt)

    def no_args(self, e: ast.Call, name: str) -> None:
        if e.args or e.type_args:
            raise P4Error(e.loc, f"{name}() takes no arguments")

    # ------------------------------------------------------------------ methods

    def _block_apply(self, e: ast.Call, f: ast.Member, rt: T.BlockT) -> T.Type:
        if f.name != "apply" or rt.kind == "package":
            raise P4Error(f.loc, f"{rt.kind} {rt.name} has no method '{f.name}'")
        decl = rt.decl
        if isinstance(decl, ast.BlockTypeDecl):
            sig = self.sigs[decl]
            b: Bindings = dict(zip(self.type_vars.get(decl, []), rt.type_args, strict=False))
            self.call_sig(e, f"{rt.kind}_apply", getattr(f.expr, "decl", None), sig, b)
        else:
            sig = self.block_sig(decl)
            self.call_sig(e, f"{rt.kind}_apply", getattr(f.expr, "decl", None), sig, {})
        f.type = T.FunctionT(decl)
        return T.VoidT()

    def block_sig(self, decl: ast.ParserDecl | ast.ControlDecl) -> Signature:
        """The apply signature of a parser or control declaration (types already
        resolved when the declaration was checked)."""
        if decl not in self.sigs:
            pts = [p.type.resolved for p in decl.params if p.type is not None]
            self.sigs[decl] = Signature(decl.params, pts, T.VoidT())
        return self.sigs[decl]

    def _extern_method(self, e: ast.Call, f: ast.Member, rt: T.ExternT) -> T.Type:
        decl: ast.ExternDecl = rt.decl
        cands = [m for m in decl.methods if m.name == f.name and not m.is_constructor]
        if not cands:
            raise P4Error(f.loc, f"extern {rt} has no method '{f.name}'")
        m = self.pick_overload(cands, e, f"{decl.name}.{f.name}")
        tvs = self.type_vars.get(decl, [])
        b: Bindings = {}
        if rt.type_args:
            b = dict(zip(tvs, rt.type_args, strict=True))
        sig = self.sigs[m]
        if not rt.type_args and tvs:
            sig = Signature(sig.params, sig.param_types, sig.ret, [*tvs, *sig.free])
        f.type = T.FunctionT(m)
        ret = self.call_sig(e, "extern_method", m, sig, b)
        if decl.name in ("packet_in", "packet_out"):
            self._check_packet_method(e, m, ret)
        return ret

    def _check_packet_method(self, e: ast.Call, m: ast.MethodDecl, ret: T.Type) -> None:
        """The core library's packet methods constrain their type parameter: extract
        fills a header (with a varbit field in the two-argument form), lookahead reads
        a fixed-width value, emit takes headers or aggregates of them."""
        arg = e.resolved_args[0] if e.resolved_args else None
        if m.name == "extract" and arg is not None:
            t = arg.type
            if not isinstance(t, T.HeaderT):
                raise P4Error(arg.loc, f"extract needs a header, not {t}")
            has_varbit = any(isinstance(ft, T.VarbitT) for _, ft in t.fields)
            if len(m.params) == 2 and not has_varbit:
                raise P4Error(
                    arg.loc, f"two-argument extract needs a header with a varbit field ({t})"
                )
            if len(m.params) == 1 and has_varbit:
                raise P4Error(arg.loc, f"header {t} has a varbit field; extract it with a size")
        elif m.name == "lookahead":
            if not isinstance(T.underlying(ret), (T.BitT, T.HeaderT, T.BoolT)) or (
                isinstance(ret, T.HeaderT)
                and any(isinstance(ft, T.VarbitT) for _, ft in ret.fields)
            ):
                raise P4Error(e.loc, f"lookahead needs a fixed-width type, not {ret}")
        elif m.name == "emit" and arg is not None and not _emittable(arg.type):
            raise P4Error(
                arg.loc,
                f"emit needs a header, header stack, union or struct of them, not {arg.type}",
            )

    def _builtin_method(self, e: ast.Call, f: ast.Member, rt: T.Type) -> T.Type:
        name = f.name
        e.kind = "builtin"
        f.type = T.FunctionT(None)
        if name in _SIZE_METHODS:
            self.no_args(e, name)
            e.const = self.size_method(rt, name, f.loc)
            return T.IntLitT()
        if isinstance(rt, T.HeaderT) and name in _HEADER_METHODS:
            self.no_args(e, name)
            if name != "isValid":
                self.require_lvalue(f.expr, f"the header of {name}()")
            return _HEADER_METHODS[name]
        if isinstance(rt, T.HeaderUnionT) and name == "isValid":
            self.no_args(e, name)
            return T.BoolT()
        if isinstance(rt, T.StackT) and name in ("push_front", "pop_front"):
            if len(e.args) != 1 or e.type_args or e.args[0].value is None:
                raise P4Error(e.loc, f"{name}() takes one argument, the count")
            arg = e.args[0].value
            self.expr(arg)
            if not is_int_const(arg) or arg.const < 0:
                raise P4Error(arg.loc, f"count of {name}() must be a non-negative constant")
            if not isinstance(arg.type, (T.IntLitT, T.BitT)):
                raise P4Error(arg.loc, f"count of {name}() must be an integer")
            self.require_lvalue(f.expr, f"the stack of {name}()")
            if self.context_kind() == "parser":
                raise P4Error(f.loc, f"{name}() cannot be used in a parser")
            e.resolved_args = [arg]
            return T.VoidT()
        raise P4Error(f.loc, f"{describe(f.expr)} ({rt}) has no method '{name}'")

    # ------------------------------------------------------------------ actions

    def _call_action(self, e: ast.Call, d: ast.ActionDecl) -> T.Type:
        """A direct action call: every parameter, action data included, is supplied."""
        if e.type_args:
            raise P4Error(e.loc, f"action {d.name} takes no type arguments")
        sig = self.action_sig(d)
        return self.call_sig(e, "action", d, sig, {})

    def action_sig(self, d: ast.ActionDecl) -> Signature:
        if d not in self.sigs:
            pts = [p.type.resolved for p in d.params if p.type is not None]
            self.sigs[d] = Signature(d.params, pts, T.VoidT())
        return self.sigs[d]

    # ------------------------------------------------------------------ overloads

    def pick_overload(self, cands: list[Any], e: ast.Call, name: str) -> Any:
        """Choose among same-named callables by argument count and names."""
        if len(cands) == 1:
            return cands[0]
        n = len(e.args)
        names = {a.name for a in e.args if a.name}
        fits = []
        for c in cands:
            params = c.params
            pnames = {p.name for p in params}
            required = sum(1 for p in params if p.default is None and not is_optional(p))
            if names and not names <= pnames:
                continue
            if required <= n <= len(params):
                fits.append(c)
        exact = [c for c in fits if len(c.params) == n]
        if len(exact) == 1:
            return exact[0]
        if len(fits) == 1:
            return fits[0]
        if not fits:
            raise P4Error(e.loc, f"no overload of '{name}' takes {n} argument(s)")
        raise P4Error(e.loc, f"call of '{name}' with {n} argument(s) is ambiguous")

    # ------------------------------------------------------------------ argument binding

    def bind_args(
        self,
        params: list[ast.Param],
        args: list[ast.Argument],
        loc: Loc,
        callee: str,
        skip: int = 0,
    ) -> list[ast.Argument | None]:
        """Place `args` on `params[skip:]` (positional or by name); returns one entry
        per parameter from `skip` on, None when not supplied."""
        params = params[skip:]
        named = [a for a in args if a.name]
        if named and len(named) != len(args):
            raise P4Error(loc, f"call of {callee} mixes named and positional arguments")
        placed: list[ast.Argument | None] = [None] * len(params)
        if named:
            index = {p.name: i for i, p in enumerate(params)}
            for a in args:
                i = index.get(a.name or "")
                if i is None:
                    raise P4Error(a.loc, f"{callee} has no parameter '{a.name}'")
                if placed[i] is not None:
                    raise P4Error(a.loc, f"parameter '{a.name}' of {callee} given twice")
                placed[i] = a
        else:
            if len(args) > len(params):
                raise P4Error(loc, f"{callee} takes {len(params)} argument(s), {len(args)} given")
            for i, a in enumerate(args):
                placed[i] = a
        return placed

    def call_sig(
        self,
        e: ast.Call,
        kind: str,
        target: Any,
        sig: Signature,
        pre: Bindings,
        callee: str | None = None,
    ) -> T.Type:
        """Check the arguments of `e` against `sig`, infer its type variables, fill in
        the Call's resolution fields and return the result type. For constructors the
        written type arguments belong to the type and arrive in `pre` instead."""
        name = callee or getattr(target, "name", "") or e.method or "callee"
        e.kind, e.target, e.params = kind, target, list(sig.params)
        b: Bindings = dict(pre)
        free = set(sig.free)
        if e.type_args and kind != "constructor":
            own = [tv for tv in sig.free if tv not in pre]
            mvars = self.type_vars.get(target, own)
            if len(e.type_args) != len(mvars):
                raise P4Error(
                    e.loc, f"{name} takes {len(mvars)} type argument(s), {len(e.type_args)} given"
                )
            for tv, tr in zip(mvars, e.type_args, strict=True):
                b[tv] = self.resolve(tr)
        placed = self.bind_args(sig.params, e.args, e.loc, name)
        # First pass: type the arguments and infer type variables from them. An
        # argument that cannot bind a variable by itself (an unsized int, `{...}`) waits
        # until the other arguments have bound it, as in random(r, 0, 255).
        deferred: list[tuple[ast.Param, T.Type, ast.Expr]] = []
        for p, pt, a in zip(sig.params, sig.param_types, placed, strict=True):
            if a is None or a.value is None or isinstance(a.value, ast.DontCare):
                continue
            want = subst(pt, b)
            if has_vars(want):
                at = self.expr(a.value)
                if _unbindable(at):
                    deferred.append((p, pt, a.value))
                elif not unify(want, at, b, free):
                    raise P4Error(
                        a.value.loc, f"argument '{p.name}' of {name}: expected {want}, got {at}"
                    )
            else:
                self.expr(a.value, want)
        for p, pt, late in deferred:
            want = subst(pt, b)
            if has_vars(want):
                raise P4Error(
                    late.loc,
                    f"cannot infer the type of parameter '{p.name}' of {name} from "
                    f"{late.type}; give the value a width or a type",
                )
            self.expr(late, want)
        resolved: list[ast.Expr | None] = []
        for p, pt, a in zip(sig.params, sig.param_types, placed, strict=True):
            want = subst(pt, b)
            if a is None:
                if p.default is not None:
                    resolved.append(p.default)
                    continue
                if is_optional(p):
                    resolved.append(None)
                    continue
                raise P4Error(e.loc, f"missing argument for parameter '{p.name}' of {name}")
            v = a.value
            if v is None or isinstance(v, ast.DontCare):
                if p.direction != "out" and not is_optional(p):
                    raise P4Error(a.loc, f"'_' can only be passed to an out parameter ({p.name})")
                if v is not None:
                    v.type = want
                resolved.append(None)
                continue
            if has_vars(want):
                raise P4Error(v.loc, f"cannot infer the type of parameter '{p.name}' of {name}")
            self.check_arg(p, want, v, name)
            resolved.append(v)
        e.resolved_args = resolved
        ret = subst(sig.ret, b)
        if has_vars(ret):
            raise P4Error(e.loc, f"cannot infer the result type of {name}; give type arguments")
        e.type_bindings = {tv.name: t for tv, t in b.items()}
        return ret

    def check_arg(self, p: ast.Param, want: T.Type, v: ast.Expr, callee: str) -> None:
        if p.direction in ("out", "inout"):
            self.require_lvalue(v, f"argument for {p.direction} parameter '{p.name}' of {callee}")
            if not same(v.type, want):
                raise P4Error(
                    v.loc,
                    f"argument '{p.name}' of {callee}: expected {want}, got {v.type} "
                    f"({p.direction} arguments must have exactly the parameter's type)",
                )
            return
        self.coerce_or_fail(v, want, f"argument '{p.name}' of {callee}")
        if not p.direction and self._extern_param(p) and not self.compile_time_known(v):
            raise P4Error(
                v.loc,
                f"argument '{p.name}' of {callee} has no direction, so it must be "
                "compile-time known",
            )

    def _extern_param(self, p: ast.Param) -> bool:
        return id(p) in self.extern_params

    # ------------------------------------------------------------------ constructors

    def constructor_call(self, e: ast.Call, d: Any, loc: Loc) -> T.Type:
        """`X(args)` as an expression: instantiating a parser, control, package or
        extern in place (as in `V1Switch(MyParser(), ...) main;`)."""
        tr = ast.NamedType(d.name, list(e.type_args), loc=loc)
        t = self.instantiate(tr, e.args, e.loc, e)
        e.kind, e.target, e.method = "constructor", d, d.name
        e.func.type = t
        return t

    def instantiate(
        self, tr: ast.TypeRef, args: list[ast.Argument], loc: Loc, call: ast.Call | None = None
    ) -> T.Type:
        """The type of an instance of `tr` built with constructor `args` (type
        arguments inferred from them when not written). `call`, when the instance is
        made by a constructor-call expression, receives the argument resolution."""
        t = self.resolve(tr, loc)
        if isinstance(t, T.ExternT):
            return self._instantiate_extern(t, args, loc, call)
        if isinstance(t, T.BlockT):
            d = t.decl
            if isinstance(d, (ast.ParserDecl, ast.ControlDecl)):
                cparams = d.ctor_params
                ctypes = [p.type.resolved for p in cparams if p.type is not None]
                fake = call or ast.Call(ast.PathExpr(d.name, loc=loc), [], list(args), loc=loc)
                self.call_sig(fake, "constructor", d, Signature(cparams, ctypes, T.VoidT()), {})
                self.require_constant_args(fake)
                return t
            if isinstance(d, ast.BlockTypeDecl) and d.kind == "package":
                return self._instantiate_package(t, d, args, loc)
            raise P4Error(
                loc,
                f"{t.kind} type {t.name} cannot be instantiated; instantiate a declaration of it",
            )
        raise P4Error(loc, f"{t} cannot be instantiated")

    def _instantiate_extern(
        self, t: T.ExternT, args: list[ast.Argument], loc: Loc, call: ast.Call | None
    ) -> T.Type:
        d: ast.ExternDecl = t.decl
        ctors = [m for m in d.methods if m.is_constructor]
        if not ctors:
            raise P4Error(loc, f"extern {d.name} has no constructor")
        fake = call or ast.Call(ast.PathExpr(d.name, loc=loc), [], list(args), loc=loc)
        ctor = self.pick_overload(ctors, fake, d.name)
        tvs = self.type_vars.get(d, [])
        sig = self.sigs[ctor]
        pre: Bindings = dict(zip(tvs, t.type_args, strict=True)) if t.type_args else {}
        free_sig = Signature(sig.params, sig.param_types, T.VoidT(), [*tvs, *sig.free])
        self.call_sig(fake, "constructor", ctor, free_sig, pre, d.name)
        self.require_constant_args(fake)
        bound = [self._binding(fake, tv) for tv in tvs]
        if any(x is None for x in bound):
            if tvs and not t.type_args:
                raise P4Error(loc, f"cannot infer the type arguments of {d.name}; write them")
        return T.ExternT(d.name, tuple(x for x in bound if x is not None), d)

    @staticmethod
    def _binding(call: ast.Call, tv: T.TypeVarT) -> T.Type | None:
        return call.type_bindings.get(tv.name)

    def require_constant_args(self, call: ast.Call) -> None:
        """Constructor arguments are compile-time known (values or other instances)."""
        for p, v in zip(call.params, call.resolved_args, strict=False):
            if v is None or isinstance(v.type, (T.ExternT, T.BlockT)):
                continue
            if not self.compile_time_known(v):
                raise P4Error(
                    v.loc, f"constructor argument '{p.name}' must be a compile-time constant"
                )

    def _instantiate_package(
        self, t: T.BlockT, d: ast.BlockTypeDecl, args: list[ast.Argument], loc: Loc
    ) -> T.Type:
        sig = self.sigs[d]
        tvs = self.type_vars.get(d, [])
        b: Bindings = dict(zip(tvs, t.type_args, strict=True)) if t.type_args else {}
        placed = self.bind_args(sig.params, args, loc, f"package {d.name}")
        for p, pt, a in zip(sig.params, sig.param_types, placed, strict=True):
            if a is None or a.value is None:
                if is_optional(p) or p.default is not None:
                    continue
                raise P4Error(loc, f"missing argument for parameter '{p.name}' of {d.name}")
            at = self.expr(a.value)
            want = subst(pt, b)
            if isinstance(want, T.BlockT) and isinstance(at, T.BlockT):
                self.match_block(want, at, b, set(tvs), a.value.loc, p.name)
            elif not unify(want, at, b, set(tvs)):
                raise P4Error(
                    a.value.loc, f"argument '{p.name}' of {d.name}: expected {want}, got {at}"
                )
        self._bind_left_out(sig.params, placed, b, tvs)
        if any(tv not in b for tv in tvs):
            raise P4Error(loc, f"cannot infer the type arguments of package {d.name}")
        return T.BlockT(d.kind, d.name, d, tuple(b[tv] for tv in tvs))

    def _bind_left_out(
        self, params: list[ast.Param], placed: list[Any], b: Bindings, tvs: list[T.TypeVarT]
    ) -> None:
        """Type variables only the left-out @optional parameters mention (TNA's
        Switch with pipe1..3 absent) are bound to `_`: nothing uses them."""
        used: set[T.TypeVarT] = set()
        for p, a in zip(params, placed, strict=True):
            if a is not None and a.value is not None and p.type is not None:
                used |= _type_vars(p.type.resolved)
        for tv in tvs:
            if tv not in b and tv not in used:
                b[tv] = T.DontCareT()

    def match_block(
        self,
        want: T.BlockT,
        got: T.BlockT,
        b: Bindings,
        free: set[T.TypeVarT],
        loc: Loc,
        pname: str,
    ) -> None:
        """A parser/control passed where a block type (e.g. `Parser<H, M>`) is expected:
        same kind, same number of parameters, same directions, and parameter types that
        unify with the block type's (binding the package's type variables)."""
        wd = want.decl
        if not isinstance(wd, ast.BlockTypeDecl):
            raise Unsupported(loc, f"package parameter '{pname}' of a declared block type")
        if got.kind != wd.kind:
            raise P4Error(
                loc, f"argument '{pname}' must be a {wd.kind}, not a {got.kind} ({got.name})"
            )
        gd = got.decl
        if wd.kind == "package":
            # A package of packages (TNA's Switch of Pipelines): the same package type.
            if gd is not wd or not unify(want, got, b, free):
                raise P4Error(loc, f"argument '{pname}' must be a {wd.name}, not {got}")
            return
        if not isinstance(gd, (ast.ParserDecl, ast.ControlDecl)):
            raise P4Error(loc, f"argument '{pname}' must be an instance of a {wd.kind}")
        wsig = self.sigs[wd]
        inner = dict(zip(self.type_vars.get(wd, []), want.type_args, strict=False))
        gsig = self.block_sig(gd)
        # TNA's block types end in @optional parameters a block may leave out.
        left_out = wsig.params[len(gsig.params) :]
        if len(gsig.params) > len(wsig.params) or not all(map(is_optional, left_out)):
            raise P4Error(
                loc,
                f"{got.kind} {gd.name} has {len(gsig.params)} parameters but {wd.name} "
                f"needs {len(wsig.params)}",
            )
        for wp, wt, gp, gt in zip(
            wsig.params, wsig.param_types, gsig.params, gsig.param_types, strict=False
        ):
            if wp.direction != gp.direction:
                raise P4Error(
                    gp.loc,
                    f"parameter '{gp.name}' of {gd.name} must be '{wp.direction or 'no direction'}'"
                    f" as in {wd.name}, not '{gp.direction}'",
                )
            pattern = subst(subst(wt, inner), b)
            if not unify(pattern, gt, b, free):
                raise P4Error(
                    gp.loc,
                    f"parameter '{gp.name}' of {gd.name} has type {gt}, but {wd.name} "
                    f"needs {subst(pattern, b)} there",
                )
