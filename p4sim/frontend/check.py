"""The P4_16 type checker: `check(program)` validates a parsed program and annotates the
tree in place as the contract at the top of `ast.py` describes.

Layers (each a class extending the previous one):
  check_types.TypeResolver  type declarations and type expressions
  check_expr.ExprChecker    expressions, casts, initializers, constant folding
  check_call.CallChecker    calls, overloads, generics, instantiations
  check.Checker             declarations, statements, parsers, controls, tables, main

Declarations are checked in source order, as P4 requires declaration before use;
parser states are the exception (they are visible across their parser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ast
from . import types as T
from .check_call import CallChecker, is_optional
from .check_expr import describe
from .check_types import Signature
from .errors import NOWHERE, P4Error, Unsupported
from .typeops import is_scalar_value, same, subst

# Shared stand-ins for the two built-in parser states, so that `ParserState.next_decl`
# and `SelectCase.state_decl` are always a ParserState.
ACCEPT = ast.ParserState(name="accept", transition="accept")
REJECT = ast.ParserState(name="reject", transition="reject")

_KEY_KINDS_WITH_MASK = {"ternary", "lpm"}
_KEY_KINDS_WITH_WILDCARD = {"ternary", "lpm", "range", "optional"}


@dataclass
class Ctx:
    """Where the statements being checked sit."""

    kind: str  # "parser" | "control" | "action" | "function" | "top"
    ret: T.Type | None = None
    block: Any = None  # the enclosing ParserDecl / ControlDecl


def always_returns(s: Any) -> bool:
    """True when every path through `s` ends in `return` (or `exit`)."""
    if isinstance(s, (ast.ReturnStmt, ast.ExitStmt)):
        return True
    if isinstance(s, ast.BlockStmt):
        return any(always_returns(x) for x in s.stmts)
    if isinstance(s, ast.IfStmt):
        return s.other is not None and always_returns(s.then) and always_returns(s.other)
    if isinstance(s, ast.SwitchStmt):
        has_default = any(isinstance(lab, ast.DefaultExpr) for c in s.cases for lab in c.labels)
        return has_default and all(c.block is None or always_returns(c.block) for c in s.cases)
    return False


def check(program: ast.Program, require_main: bool = True) -> None:
    """Type-check `program` in place. Raises P4Error (or Unsupported) at the first
    offending node. `require_main=False` accepts a program without `main` (for
    libraries and tests of fragments)."""
    Checker(program).run(require_main)


class Checker(CallChecker):
    def __init__(self, program: ast.Program) -> None:
        super().__init__()
        self.program = program
        self.ctx = Ctx("top")
        # direct_counter / direct_meter instance -> the one table it belongs to
        self.direct_owner: dict[int, ast.TableDecl] = {}

    def context_kind(self) -> str:
        return self.ctx.kind

    # ------------------------------------------------------------------ program

    def run(self, require_main: bool) -> None:
        for d in self.program.decls:
            self.top_decl(d)
        if self.program.main is None and require_main:
            raise P4Error(self.program.loc, "the program has no 'main' package instantiation")

    def top_decl(self, d: ast.Decl) -> None:
        if isinstance(d, ast.TypedefDecl):
            self.declare_typedef(d)
        elif isinstance(d, (ast.HeaderDecl, ast.StructDecl, ast.HeaderUnionDecl)):
            self.declare_struct_like(d)
        elif isinstance(d, ast.EnumDecl):
            self.declare_enum(d)
        elif isinstance(d, ast.ErrorDecl):
            self.declare_error(d)
        elif isinstance(d, ast.MatchKindDecl):
            self.declare_match_kind(d)
        elif isinstance(d, ast.ExternDecl):
            self.declare_extern(d)
        elif isinstance(d, ast.ExternFunctionDecl):
            self.declare_extern_function(d)
        elif isinstance(d, ast.BlockTypeDecl):
            self.declare_block_type(d)
        elif isinstance(d, ast.ConstDecl):
            self.const_decl(d)
        elif isinstance(d, ast.FunctionDecl):
            self.function_decl(d)
        elif isinstance(d, ast.ActionDecl):
            self.action_decl(d)
        elif isinstance(d, ast.ParserDecl):
            self.parser_decl(d)
        elif isinstance(d, ast.ControlDecl):
            self.control_decl(d)
        elif isinstance(d, ast.Instantiation):
            self.instantiation(d)
            if d.name == "main":
                self.check_main(d)
        elif isinstance(d, ast.VarDecl):
            raise P4Error(d.loc, "variables cannot be declared at the top level")
        elif isinstance(d, ast.TableDecl):
            raise P4Error(d.loc, "tables must be declared inside a control")
        else:
            raise Unsupported(d.loc, f"top-level {type(d).__name__}")

    def check_main(self, d: ast.Instantiation) -> None:
        assert d.type is not None
        t = d.type.resolved
        if not isinstance(t, T.BlockT) or t.kind != "package":
            raise P4Error(d.loc, f"'main' must be a package instantiation, not {t}")
        v1 = self.scope.root().lookup_local("V1Switch")
        if v1 and isinstance(v1[0], ast.BlockTypeDecl) and t.decl is not v1[0]:
            raise P4Error(d.loc, f"'main' must instantiate V1Switch, not {t.name}")
        self.program.main = d

    # ------------------------------------------------------------------ simple declarations

    def const_decl(self, d: ast.ConstDecl) -> None:
        t = self.resolve(d.type, d.loc)
        if isinstance(t, (T.StructLikeT, T.StackT, T.TupleT)):
            raise Unsupported(d.loc, f"constants of aggregate type ({t}); use a variable")
        if d.value is None:
            raise P4Error(d.loc, f"constant '{d.name}' needs a value")
        self.expr(d.value, t)
        if not self.coerce(d.value, t):
            raise P4Error(
                d.value.loc, f"cannot initialize constant {d.name} ({t}) with {d.value.type}"
            )
        if d.value.const is None:
            raise P4Error(d.value.loc, f"value of constant '{d.name}' must be compile-time known")
        self.declare(d.name, d, d.loc)

    def var_decl(self, d: ast.VarDecl) -> None:
        t = self.resolve(d.type, d.loc)
        if isinstance(t, (T.VoidT, T.DontCareT, T.IntLitT, T.StringT, T.MatchKindT)) or isinstance(
            t, (T.ExternT, T.BlockT)
        ):
            raise P4Error(d.loc, f"a variable cannot have type {t}")
        if d.init is not None:
            self.expr(d.init, t)
            if not self.coerce(d.init, t):
                hint = "; use a cast" if self.castable(d.init.type, t) else ""
                raise P4Error(
                    d.init.loc, f"cannot initialize {d.name} ({t}) with {d.init.type}{hint}"
                )
        self.declare(d.name, d, d.loc)

    def instantiation(self, d: ast.Instantiation) -> None:
        assert d.type is not None
        t = self.instantiate(d.type, d.args, d.loc)
        d.type.resolved = t
        if isinstance(t, T.BlockT) and t.kind == "package" and self.ctx.kind != "top":
            raise P4Error(d.loc, "packages can only be instantiated at the top level")
        self.abstract_implementations(d, t)
        self.declare(d.name, d, d.loc)

    def abstract_implementations(self, d: ast.Instantiation, t: T.Type) -> None:
        """`X(args) x = { void apply(...) { ... } };`: each function implements the
        extern's abstract method of its name, with the instance's type arguments
        (trailing @optional parameters may be left out); the bodies see the
        enclosing control's names. Every abstract method must be implemented."""
        abstract = (
            {m.name: m for m in t.decl.methods if m.is_abstract}
            if isinstance(t, T.ExternT) and isinstance(t.decl, ast.ExternDecl)
            else {}
        )
        if d.initializer is None and not abstract:
            return
        if not abstract:
            raise P4Error(d.loc, f"{t} has no abstract methods to implement")
        assert isinstance(t, T.ExternT)
        functions = d.initializer or []
        b = dict(zip(self.type_vars.get(t.decl, []), t.type_args, strict=False))
        done = {f.name for f in functions}
        if missing := sorted(set(abstract) - done):
            raise P4Error(d.loc, f"instance {d.name} does not implement {', '.join(missing)}")
        for f in functions:
            m = abstract.get(f.name)
            if m is None:
                raise P4Error(f.loc or d.loc, f"{t} has no abstract method '{f.name}'")
            msig = self.sigs[m]
            self.push("function")
            try:
                ret = self.resolve(f.return_type, f.loc)
                pts = self.declare_params(f.params, "function")
                if len(f.params) > len(m.params) or not all(
                    is_optional(p) for p in m.params[len(f.params) :]
                ):
                    raise P4Error(f.loc or d.loc, f"{f.name} of {d.name}: wrong parameters")
                for fp, ft, mp, mt in zip(f.params, pts, m.params, msig.param_types,
                                          strict=False):  # fmt: skip
                    want = subst(mt, b)
                    if fp.direction != mp.direction or not same(ft, want):
                        raise P4Error(
                            fp.loc or f.loc or d.loc,
                            f"parameter '{fp.name}' of {d.name}.{f.name} must be "
                            f"{mp.direction} {want}",
                        )
                if not same(ret, subst(msig.ret, b)):
                    raise P4Error(f.loc or d.loc, f"{d.name}.{f.name} must return {msig.ret}")
                self.sigs[f] = Signature(f.params, pts, ret)
                self.with_ctx(Ctx("function", ret, self.ctx.block), lambda f=f: self.block(f.body))
            finally:
                self.pop()

    def declare_params(self, params: list[ast.Param], what: str) -> list[T.Type]:
        pts = self.param_types(params)
        for p in params:
            self.declare(p.name, p, p.loc)
        return pts

    # ------------------------------------------------------------------ functions and actions

    def function_decl(self, d: ast.FunctionDecl) -> None:
        if d.type_params:
            raise Unsupported(d.loc, f"generic function {d.name}")
        self.push("function")
        try:
            ret = self.resolve(d.return_type, d.loc)
            pts = self.declare_params(d.params, "function")
            self.sigs[d] = Signature(d.params, pts, ret)
            self.with_ctx(Ctx("function", ret), lambda: self.block(d.body))
            if not isinstance(ret, T.VoidT) and not always_returns(d.body):
                raise P4Error(d.loc, f"function {d.name} does not return a value on every path")
        finally:
            self.pop()
        self.declare(d.name, d, d.loc)

    def action_decl(self, d: ast.ActionDecl) -> None:
        seen_data = False
        for p in d.params:
            if p.direction == "":
                seen_data = True
            elif seen_data:
                raise P4Error(
                    p.loc,
                    f"parameter '{p.name}' of action {d.name}: parameters with a "
                    "direction must come before action data (direction-less) parameters",
                )
        self.push("action")
        try:
            self.declare_params(d.params, "action")
            self.action_sig(d)
            self.with_ctx(Ctx("action", T.VoidT(), self.ctx.block), lambda: self.block(d.body))
        finally:
            self.pop()
        self.declare(d.name, d, d.loc)

    def with_ctx(self, ctx: Ctx, fn: Any) -> None:
        saved, self.ctx = self.ctx, ctx
        try:
            fn()
        finally:
            self.ctx = saved

    # ------------------------------------------------------------------ parsers

    def parser_decl(self, d: ast.ParserDecl) -> None:
        if d.type_params:
            raise Unsupported(d.loc, f"generic parser {d.name}")
        self.declare(d.name, d, d.loc)
        self.push("parser")
        try:
            self.declare_params(d.params, "parser")
            self.declare_params(d.ctor_params, "parser")
            self.block_sig(d)
            saved, self.ctx = self.ctx, Ctx("parser", None, d)
            try:
                for loc_d in d.locals:
                    self.local_decl(loc_d)
                states = self.collect_states(d)
                for s in d.states:
                    self.push("state")
                    try:
                        for st in s.stmts:
                            self.stmt(st)
                        self.transition(s, states)
                    finally:
                        self.pop()
            finally:
                self.ctx = saved
        finally:
            self.pop()

    def collect_states(self, d: ast.ParserDecl) -> dict[str, ast.ParserState]:
        states: dict[str, ast.ParserState] = {}
        for s in d.states:
            if s.name in ("accept", "reject"):
                raise P4Error(s.loc, f"state '{s.name}' is built in and cannot be declared")
            if s.name in states:
                raise P4Error(s.loc, f"duplicate state '{s.name}' in parser {d.name}")
            states[s.name] = s
        if "start" not in states:
            raise P4Error(d.loc, f"parser {d.name} has no 'start' state")
        return states

    def state_ref(self, name: str, states: dict[str, ast.ParserState], loc: Any) -> ast.ParserState:
        if name == "accept":
            return ACCEPT
        if name == "reject":
            return REJECT
        s = states.get(name)
        if s is None:
            raise P4Error(loc, f"no state '{name}' in this parser")
        return s

    def transition(self, s: ast.ParserState, states: dict[str, ast.ParserState]) -> None:
        tr = s.transition
        if isinstance(tr, str):
            s.next_decl = self.state_ref(tr, states, s.loc)
            return
        types = []
        for x in tr.exprs:
            t = self.expr(x)
            if not is_scalar_value(t):
                raise P4Error(x.loc, f"cannot select on a value of type {t}")
            if isinstance(t, T.IntLitT):
                raise P4Error(x.loc, "select on an int needs a width; cast it")
            types.append(t)
        for case in tr.cases:
            self.select_keyset(case.keyset, types)
            case.state_decl = self.state_ref(case.state, states, case.loc)

    def select_keyset(self, k: ast.Expr, types: list[T.Type]) -> None:
        if isinstance(k, (ast.DefaultExpr, ast.DontCare)):
            k.type = T.DontCareT()
            return
        if len(types) == 1:
            if isinstance(k, ast.ListExpr) and len(k.items) == 1:
                self.keyset(k.items[0], types[0], "select")
                k.type = types[0]
                return
            self.keyset(k, types[0], "select")
            return
        if not isinstance(k, ast.ListExpr) or len(k.items) != len(types):
            raise P4Error(k.loc, f"keyset must have {len(types)} elements, like the select")
        for item, t in zip(k.items, types, strict=True):
            self.keyset(item, t, "select")
        k.type = T.TupleT(tuple(types))

    def keyset(self, k: ast.Expr, t: T.Type, where: str, match_kind: str = "") -> None:
        """One element of a select keyset or table entry key, typed against `t`."""
        if isinstance(k, (ast.DefaultExpr, ast.DontCare)):
            if where == "entry" and match_kind not in _KEY_KINDS_WITH_WILDCARD:
                raise P4Error(k.loc, f"a {match_kind} key cannot be a wildcard")
            k.type = T.DontCareT()
            return
        if isinstance(k, ast.MaskExpr):
            if where == "entry" and match_kind not in _KEY_KINDS_WITH_MASK:
                raise P4Error(k.loc, f"a {match_kind} key cannot be masked with &&&")
            self.keyset_value(k.value, t, where)
            self.keyset_value(k.mask, t, where)
            if where == "entry" and match_kind == "lpm":
                self.check_prefix_mask(k.mask, t)
            k.type = t
            return
        if isinstance(k, ast.RangeExpr):
            if where == "entry" and match_kind != "range":
                raise P4Error(k.loc, f"a {match_kind} key cannot be a range")
            self.keyset_value(k.lo, t, where)
            self.keyset_value(k.hi, t, where)
            k.type = t
            return
        self.keyset_value(k, t, where)

    def keyset_value(self, v: ast.Expr, t: T.Type, where: str) -> None:
        self.expr(v, t)
        if not self.coerce(v, t):
            raise P4Error(v.loc, f"{where} keyset value has type {v.type}, expected {t}")
        if v.const is None:
            raise P4Error(v.loc, f"{where} keyset values must be compile-time known")

    def check_prefix_mask(self, mask: ast.Expr, t: T.Type) -> None:
        m = self.int_value(mask)
        w = T.width_of(t)
        bits = m & ((1 << w) - 1)
        inv = ~bits & ((1 << w) - 1)
        if inv & (inv + 1):
            raise P4Error(mask.loc, f"lpm mask {m:#x} is not a prefix")

    # ------------------------------------------------------------------ controls

    def control_decl(self, d: ast.ControlDecl) -> None:
        if d.type_params:
            raise Unsupported(d.loc, f"generic control {d.name}")
        self.declare(d.name, d, d.loc)
        self.push("control")
        try:
            self.declare_params(d.params, "control")
            self.declare_params(d.ctor_params, "control")
            self.block_sig(d)
            saved, self.ctx = self.ctx, Ctx("control", T.VoidT(), d)
            try:
                for loc_d in d.locals:
                    self.local_decl(loc_d)
                self.block(d.body)
            finally:
                self.ctx = saved
        finally:
            self.pop()

    def local_decl(self, d: ast.Decl) -> None:
        if isinstance(d, ast.VarDecl):
            self.var_decl(d)
        elif isinstance(d, ast.ConstDecl):
            self.const_decl(d)
        elif isinstance(d, ast.Instantiation):
            self.instantiation(d)
        elif isinstance(d, ast.ActionDecl):
            if self.ctx.kind != "control":
                raise P4Error(d.loc, "actions can only be declared in controls or at the top level")
            self.action_decl(d)
        elif isinstance(d, ast.TableDecl):
            if self.ctx.kind != "control":
                raise P4Error(d.loc, "tables can only be declared in controls")
            self.table_decl(d)
        elif isinstance(d, ast.FunctionDecl):
            self.function_decl(d)
        else:
            raise Unsupported(d.loc, f"{type(d).__name__} inside a {self.ctx.kind}")

    # ------------------------------------------------------------------ tables

    def table_decl(self, d: ast.TableDecl) -> None:
        key_types: list[T.Type] = []
        for k in d.keys:
            t = self.expr(k.expr)
            if not is_scalar_value(t) or isinstance(t, T.IntLitT):
                raise P4Error(k.expr.loc, f"table key {describe(k.expr)} cannot have type {t}")
            if k.match_kind not in self.match_kinds:
                raise P4Error(k.loc, f"'{k.match_kind}' is not a declared match_kind")
            key_types.append(t)
        listed: dict[int, ast.ActionRef] = {}
        for ref in d.actions:
            decl = self.action_ref(ref, d)
            if id(decl) in listed:
                raise P4Error(ref.loc, f"action {ref.name} listed twice in table {d.name}")
            listed[id(decl)] = ref
            self.action_ref_args(ref, decl, d, full=False)
        if d.default_action is not None:
            ref = d.default_action
            decl = self.action_ref(ref, d)
            if id(decl) not in listed:
                raise P4Error(
                    ref.loc, f"default action {ref.name} is not in the actions of table {d.name}"
                )
            if listed[id(decl)].has_annotation("tableonly"):
                raise P4Error(ref.loc, f"action {ref.name} is @tableonly in table {d.name}")
            self.action_ref_args(ref, decl, d, full=True)
        for entry in d.entries:
            self.table_entry(entry, d, key_types, listed)
        if d.size is not None:
            n = self.const_int(d.size, "table size")
            if n <= 0:
                raise P4Error(d.size.loc, f"table size must be positive, not {n}")
        for name, v in d.properties.items():
            self.table_property(d, name, v)
        self.declare(d.name, d, d.loc)

    def action_ref(self, ref: ast.ActionRef, table: ast.TableDecl) -> ast.ActionDecl:
        found = self.lookup(ref.name, ref.loc)
        decl = found[0]
        if not isinstance(decl, ast.ActionDecl):
            raise P4Error(ref.loc, f"'{ref.name}' in table {table.name} is not an action")
        ref.decl = decl
        return decl

    def action_ref_args(
        self, ref: ast.ActionRef, decl: ast.ActionDecl, table: ast.TableDecl, full: bool
    ) -> None:
        """Arguments written with an action in a table: in `actions` they bind the
        parameters with a direction only (data comes from the control plane); in
        `default_action` and entries they bind every parameter."""
        params = decl.params if full else [p for p in decl.params if p.direction]
        where = f"action {decl.name} in table {table.name}"
        if len(ref.args) != len(params):
            if full:
                msg = f"{where} needs {len(params)} argument(s) (action data included)"
            else:
                msg = f"{where} needs {len(params)} argument(s) for its directional parameters"
            raise P4Error(ref.loc, f"{msg}, {len(ref.args)} given")
        placed = self.bind_args(params, ref.args, ref.loc, f"action {decl.name}")
        for p, a in zip(params, placed, strict=True):
            assert a is not None
            pt = p.type.resolved if p.type is not None else None
            assert pt is not None
            if a.value is None or isinstance(a.value, ast.DontCare):
                raise P4Error(a.loc, f"argument '{p.name}' of {where} cannot be '_'")
            self.expr(a.value, pt)
            self.check_arg(p, pt, a.value, f"action {decl.name}")
            if not p.direction and a.value.const is None:
                raise P4Error(
                    a.value.loc, f"action data '{p.name}' of {where} must be compile-time known"
                )

    def table_entry(
        self,
        entry: ast.TableEntry,
        d: ast.TableDecl,
        key_types: list[T.Type],
        listed: dict[int, ast.ActionRef],
    ) -> None:
        keys = entry.keys
        if (
            len(keys) == 1
            and len(key_types) != 1
            and isinstance(keys[0], (ast.DefaultExpr, ast.DontCare))
        ):
            keys = keys * len(key_types)
        if len(keys) != len(key_types):
            raise P4Error(
                entry.loc, f"entry has {len(keys)} key(s), table {d.name} has {len(key_types)}"
            )
        for k, kt, ke in zip(keys, key_types, d.keys, strict=True):
            self.keyset(k, kt, "entry", ke.match_kind)
        if entry.action is None:
            raise P4Error(entry.loc, "entry needs an action")
        decl = self.action_ref(entry.action, d)
        if id(decl) not in listed:
            raise P4Error(
                entry.action.loc, f"action {decl.name} is not in the actions of table {d.name}"
            )
        if listed[id(decl)].has_annotation("defaultonly"):
            raise P4Error(entry.action.loc, f"action {decl.name} is @defaultonly in table {d.name}")
        self.action_ref_args(entry.action, decl, d, full=True)
        if entry.priority is not None:
            p = self.const_int(entry.priority, "entry priority")
            if p < 0:
                raise P4Error(entry.priority.loc, "entry priority must not be negative")

    def table_property(self, d: ast.TableDecl, name: str, v: Any) -> None:
        if not isinstance(v, ast.Expr):
            return
        t = self.expr(v)
        want = {"counters": "direct_counter", "meters": "direct_meter"}.get(name)
        # v1model's extern, or TNA's (DirectCounter, DirectMeter).
        tna = {"counters": "DirectCounter", "meters": "DirectMeter"}.get(name)
        if want is not None and not (isinstance(t, T.ExternT) and t.name in (want, tna)):
            raise P4Error(v.loc, f"'{name}' of table {d.name} must be a {want} instance, not {t}")
        if want is not None and isinstance(v, ast.PathExpr):
            owner = self.direct_owner.setdefault(id(v.decl), d)
            if owner is not d:
                raise P4Error(v.loc, f"{v.name} is already the {name} of table {owner.name}")
        if name == "implementation" and not (
            isinstance(t, T.ExternT) and t.name in ("action_profile", "action_selector")
        ):
            raise P4Error(
                v.loc, f"'implementation' of table {d.name} must be an action profile or selector"
            )
        if name == "support_timeout" and not isinstance(v.const, bool):
            raise P4Error(v.loc, "'support_timeout' must be true or false")

    # ------------------------------------------------------------------ statements

    def block(self, b: ast.BlockStmt | None) -> None:
        if b is None:
            return
        self.push("block")
        try:
            for s in b.stmts:
                self.stmt(s)
        finally:
            self.pop()

    def stmt(self, s: Any) -> None:
        if isinstance(s, ast.AssignStmt):
            self.assign(s)
        elif isinstance(s, ast.CallStmt):
            self.expr(s.call)
        elif isinstance(s, ast.IfStmt):
            t = self.expr(s.cond)
            if not isinstance(t, T.BoolT):
                raise P4Error(s.cond.loc, f"if condition must be bool, not {t}")
            self.sub_stmt(s.then)
            if s.other is not None:
                self.sub_stmt(s.other)
        elif isinstance(s, ast.BlockStmt):
            self.block(s)
        elif isinstance(s, ast.SwitchStmt):
            self.switch(s)
        elif isinstance(s, ast.ReturnStmt):
            self.return_stmt(s)
        elif isinstance(s, ast.ExitStmt):
            if self.ctx.kind not in ("control", "action"):
                raise P4Error(s.loc, f"exit is not allowed in a {self.ctx.kind}")
        elif isinstance(s, ast.EmptyStmt):
            pass
        elif isinstance(s, ast.VarDecl):
            self.var_decl(s)
        elif isinstance(s, ast.ConstDecl):
            self.const_decl(s)
        elif isinstance(s, ast.Instantiation):
            raise P4Error(
                s.loc,
                "instances are declared among a parser's or control's locals, not in statements",
            )
        else:
            raise Unsupported(getattr(s, "loc", NOWHERE), f"statement {type(s).__name__}")

    def sub_stmt(self, s: Any) -> None:
        self.push("block")
        try:
            self.stmt(s)
        finally:
            self.pop()

    def assign(self, s: ast.AssignStmt) -> None:
        lt = self.expr(s.lhs)
        self.require_lvalue(s.lhs, "the left side of an assignment")
        self.expr(s.rhs, lt)
        if not self.coerce(s.rhs, lt):
            hint = "; use a cast" if self.castable(s.rhs.type, lt) else ""
            raise P4Error(
                s.rhs.loc, f"cannot assign {s.rhs.type} to {lt} ({describe(s.lhs)}){hint}"
            )

    def return_stmt(self, s: ast.ReturnStmt) -> None:
        ret = self.ctx.ret
        if self.ctx.kind == "parser":
            raise P4Error(s.loc, "return is not allowed in a parser")
        if s.value is None:
            if ret is not None and not isinstance(ret, T.VoidT):
                raise P4Error(s.loc, f"return needs a value of type {ret}")
            return
        if ret is None or isinstance(ret, T.VoidT):
            raise P4Error(s.value.loc, "return with a value outside a function returning one")
        self.expr(s.value, ret)
        self.coerce_or_fail(s.value, ret, "return value")

    def switch(self, s: ast.SwitchStmt) -> None:
        t = self.expr(s.expr)
        seen: set[Any] = set()
        for i, case in enumerate(s.cases):
            if case.block is None and i == len(s.cases) - 1:
                raise P4Error(case.loc, "the last switch case needs a block")
            for label in case.labels:
                if isinstance(label, ast.DefaultExpr):
                    if i != len(s.cases) - 1 or label is not case.labels[-1]:
                        raise P4Error(label.loc, "default must be the last switch label")
                    label.type = T.DontCareT()
                    key: Any = "default"
                elif isinstance(t, T.ActionRunT):
                    key = self.switch_action_label(label, t)
                else:
                    key = self.switch_value_label(label, t)
                if key in seen:
                    raise P4Error(label.loc, f"duplicate switch label {describe(label)}")
                seen.add(key)
            if case.block is not None:
                self.block(case.block)

    def switch_action_label(self, label: ast.Expr, t: T.ActionRunT) -> int:
        table: ast.TableDecl = t.table
        if not isinstance(label, ast.PathExpr):
            raise P4Error(
                label.loc, f"labels of a switch on {table.name}.apply().action_run are action names"
            )
        found = self.lookup(label.name, label.loc, label.top_level)
        decl = found[0]
        if not isinstance(decl, ast.ActionDecl) or not any(r.decl is decl for r in table.actions):
            raise P4Error(label.loc, f"'{label.name}' is not an action of table {table.name}")
        label.decl, label.type = decl, T.ActionT(decl)
        return id(decl)

    def switch_value_label(self, label: ast.Expr, t: T.Type) -> Any:
        vt = self.value_type(t)
        if not isinstance(vt, (T.BitT, T.EnumT, T.ErrorT)):
            raise P4Error(
                label.loc,
                f"switch needs t.apply().action_run or a bit<W>/int<W>/enum value, not {t}",
            )
        self.expr(label, t)
        if not self.coerce(label, t):
            raise P4Error(label.loc, f"switch label has type {label.type}, expected {t}")
        if label.const is None:
            raise P4Error(label.loc, "switch labels must be compile-time known")
        return label.const

    # ------------------------------------------------------------------ call placement

    def call(self, e: ast.Call, expected: T.Type | None) -> T.Type:
        t = super().call(e, expected)
        kind = self.ctx.kind
        if e.kind == "table_apply" and kind != "control":
            raise P4Error(
                e.loc, f"tables can only be applied in a control's apply block, not in a {kind}"
            )
        if e.kind == "control_apply" and kind != "control":
            raise P4Error(e.loc, f"controls can only be applied in controls, not in a {kind}")
        if e.kind == "parser_apply" and kind != "parser":
            raise P4Error(e.loc, f"parsers can only be applied in parsers, not in a {kind}")
        if e.kind == "action" and kind not in ("control", "action"):
            raise P4Error(e.loc, f"actions cannot be called from a {kind}")
        return t


__all__ = ["ACCEPT", "REJECT", "Checker", "always_returns", "check"]
