"""The code generator: a checked P4_16 program compiled once into Python source.

Layout of the generated module
------------------------------
* one class per aggregate type (`typegen`);
* per parser/control *instance* (`naming.block_instances`): a frame class holding the
  block's parameters (`p_<name>`) and control/parser-local variables (`l<n>_<name>`),
  one function per action, one per table (`lookup` + action dispatch), and the apply
  function `B<k>_apply(c)` taking the frame;
* one function per top-level P4 function and action;
* `run_<role>(...)` entry points for the package's blocks (v1model: p, vr, ig, eg, ck,
  dep), which build the frame, run the block and catch `exit`.

Value model (see also `typegen`): bit<W> and int<W> are Python ints kept in range
(masked after every operation that can leave it; int<W> in two's complement as a
negative int), bool is bool, error and plain enum values are ints (declaration order),
serializable enums and new types are their representation.

Calling convention (copy-in/copy-out): scalar `in`/`inout` arguments are passed by
value and `out`/`inout` scalars come back in a result tuple `(ret, out1, ...)` that the
caller assigns; aggregate `inout` arguments are passed by reference (equivalent unless
arguments alias, which P4 programs do not rely on), aggregate `in` arguments as copies,
aggregate `out` arguments as fresh values copied back with `assign`.

Expressions are compiled by `exprgen` (a mixin of `Compiler`), parsers by `parsergen`,
tables by `tablegen`, externs and the v1model side effects by `externgen`. What the
generated code needs from outside (device state objects, the packet context `_ctx`)
is injected into its namespace by the pipeline through `Compiler.globals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p4sim.backend.common.tables import TableSetup
from p4sim.controlplane import naming
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .emitter import Emitter
from .exprgen import ExprGen, _u, mask, resolved, sx, type_of
from .typegen import TypeClasses, default_expr, is_aggregate, pyfield


class Binder:
    """What the compiler needs from the device: state objects and control-plane ids.
    `Pipeline` provides the real one, resolving names in the P4Info."""

    def table(self, name: str) -> Any:
        raise NotImplementedError

    def register(self, name: str) -> Any:
        raise NotImplementedError

    def counter(self, name: str) -> Any:
        raise NotImplementedError

    def meter(self, name: str) -> Any:
        raise NotImplementedError

    def action_id(self, name: str) -> int:
        raise NotImplementedError

    def digest_id(self, name: str) -> int:
        raise NotImplementedError


@dataclass
class FnCtx:
    """The function being generated: how `return` is written and whether a frame
    `c` is in scope."""

    outs: list[str] = field(default_factory=list)
    has_value: bool = False
    in_parser: bool = False
    return_type: Any = None


class Compiler(ExprGen):
    # Emit the per-packet trace hooks (`trace.Tracer`, bound as `_tr`): parser states,
    # extracts, table applies, mark_to_drop. Off: the generated code has none.
    trace = False

    def __init__(self, program: ast.Program, binder: Binder) -> None:
        from . import externgen  # mutual dependency

        self.prog = program
        self.binder = binder
        self.em = Emitter()
        self.classes = TypeClasses()
        self.globals: dict[str, Any] = {}
        self.vars: dict[int, str] = {}
        self.fn = FnCtx()
        self.inst: naming.BlockInstance | None = None
        self.inst_prefix = ""
        self.inst_fns: dict[tuple[int, int], str] = {}  # (id(inst), id(decl)) -> fn name
        self.top_names = naming.instance_names(program)
        self.errors = self._collect_errors()
        self.table_setups: list[TableSetup] = []
        self.roles: dict[str, str] = {}
        self.role_decls: dict[str, ast.ControlDecl | ast.ParserDecl] = {}
        self.ext = externgen.ExternGen(self)
        # Struct/union code -> a local holding its `__dict__` (see `st_IfStmt`).
        self.peek_dicts: dict[str, str] = {}
        self._gcount = 0
        # (dispatch dict, {action id: generated function name}), bound after exec.
        self.post_exec: list[tuple[dict[int, Any], dict[int, str]]] = []

    # ------------------------------------------------------------------ helpers

    def _collect_errors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.prog.decls:
            if isinstance(d, ast.ErrorDecl):
                for m in d.members:
                    out.setdefault(m, len(out))
        for core in ("NoError", "PacketTooShort", "NoMatch", "StackOutOfBounds", "HeaderTooShort"):
            out.setdefault(core, len(out))
        return out

    def glob(self, value: Any, hint: str) -> str:
        """Bind `value` to a fresh global name of the generated module."""
        self._gcount += 1
        name = f"G{self._gcount}_{''.join(ch if ch.isalnum() else '_' for ch in hint)}"
        self.globals[name] = value
        return name

    def default(self, t: Any) -> str:
        return default_expr(t, self.classes)

    def cp_name(self, decl: ast.Decl) -> str:
        """Control-plane name of a table/action/extern instance seen from the
        current block instance."""
        if self.inst is not None:
            name = self.inst.names.get(id(decl))
            if name is not None:
                return name
        name = self.top_names.get(((), id(decl)))
        if name is not None:
            return name
        return naming.decl_name(decl)

    # ------------------------------------------------------------------ calls

    def call(self, e: ast.Call) -> str | None:
        """Emit a call; returns the Python expression of its value (None if void)."""
        kind = e.kind
        if kind in ("action", "function"):
            return self.call_user(e)
        if kind == "table_apply":
            return f"{self.inst_fns[(id(self.inst), id(e.target))]}(c)"
        if kind in ("control_apply", "parser_apply"):
            self.call_block(e)
            return None
        if kind == "builtin":
            return self.call_builtin(e)
        if kind in ("extern_function", "extern_method"):
            return self.ext.call(e)
        raise Unsupported(e.loc, f"call of kind '{kind}'")

    def call_builtin(self, e: ast.Call) -> str | None:
        m = e.method
        recv = e.receiver
        if recv is None and isinstance(e.func, ast.Member):
            recv = e.func.expr
        if recv is None:
            raise Unsupported(e.loc, f"builtin '{m}' without receiver")
        rt = type_of(recv)
        if m in ("minSizeInBits", "minSizeInBytes", "maxSizeInBits", "maxSizeInBytes"):
            if isinstance(rt, T.HeaderT):
                bits = rt.bit_width()
                if m.startswith("max"):
                    bits += sum(ft.max_width for _, ft in rt.fields if isinstance(ft, T.VarbitT))
                return repr(bits if m.endswith("Bits") else (bits + 7) // 8)
        if m == "isValid" and isinstance(rt, T.HeaderT):
            peek = self.peek_member(recv)
            if peek is not None:
                return f"{peek}.valid"
        r = self.ex(recv)
        if m == "isValid":
            return f"{r}.is_valid()" if isinstance(rt, T.HeaderUnionT) else f"{r}.valid"
        if m == "setValid":
            self._set_valid(recv, r, True)
            return None
        if m == "setInvalid":
            self._set_valid(recv, r, False)
            return None
        if m in ("push_front", "pop_front"):
            self.line(
                f"{r}.{m}({self.ex(e.resolved_args[0] if e.resolved_args else e.args[0].value)})"
            )
            return None
        if m == "apply":  # defensive: apply calls should carry their own kind
            return None
        raise Unsupported(e.loc, f"method '{m}'")

    def _set_valid(self, recv: ast.Expr, r: str, valid: bool) -> None:
        if valid and isinstance(recv, ast.Member):
            if isinstance(type_of(recv.expr), T.HeaderUnionT):
                # A union member made valid makes the other members invalid.
                self.line(f"{self.ex(recv.expr)}.invalidate_all()")
        if not valid and self.peek_member(recv) is not None:
            assert isinstance(recv, ast.Member)
            # `s.h.setInvalid()`: a member never built is invalid already, so it is
            # not built for this; `h.setValid(); h.setInvalid();` (a P4 idiom to
            # clear a union) leaves `h` as it found it but invalid, so the first
            # half is dropped when the two are adjacent.
            lines = self.em.lines
            if lines and lines[-1] == "    " * self.em.depth + f"{r}.valid = True":
                del lines[-1]
            h = self.em.tmp("h")
            self.line(f"{h} = {self.ex(recv.expr)}.__dict__.get({pyfield(recv.name)!r})")
            with self.em.block(f"if {h} is not None:"):
                self.line(f"{h}.valid = False")
            return
        self.line(f"{r}.valid = {valid}")

    def args_for(
        self, params: list[ast.Param], args: list[ast.Expr | None]
    ) -> tuple[list[str], list[tuple[ast.Expr | None, bool]]]:
        """Python arguments for a copy-in/copy-out call and the copy-back list
        `(lvalue expr, is_aggregate)` in result-tuple order."""
        out_args: list[str] = []
        back: list[tuple[ast.Expr | None, bool]] = []
        for p, a in zip(params, args, strict=False):
            pt = _u(resolved(p.type))
            agg = is_aggregate(pt)
            if p.direction == "out":
                back.append((a, agg))
                continue
            if a is None:
                out_args.append(self.default(pt))
            elif (
                agg
                and isinstance(pt, T.StructLikeT)
                and isinstance(a, ast.ListExpr | ast.StructInit)
            ):
                out_args.append(self.build_agg(pt, a))
            else:
                v = self.ex(a)
                if agg and p.direction != "inout":
                    v = f"{v}.copy()"
                elif not agg and a is not None:
                    v = self.convert(v, type_of(a), pt) if isinstance(pt, T.BitT | T.BoolT) else v
                out_args.append(v)
            if p.direction == "inout" and not agg:
                back.append((a, False))
        return out_args, back

    def copy_back(self, res: str, back: list[tuple[ast.Expr | None, bool]]) -> None:
        for i, (a, agg) in enumerate(back, start=1):
            if a is None:
                continue
            if agg:
                self.line(f"{self.ex(a)}.assign({res}[{i}])")
            else:
                self.assign_scalar(a, f"{res}[{i}]")

    def call_user(self, e: ast.Call) -> str | None:
        target = e.target
        params = e.params or list(getattr(target, "params", []))
        args = list(e.resolved_args) if e.resolved_args else [a.value for a in e.args]
        pyargs, back = self.args_for(params, args)
        fn = self.fn_name(target)
        prefix = "c, " if isinstance(target, ast.ActionDecl) else ""
        if self.trace and prefix:
            self.line(f"_tr.action({self.cp_name(target)!r})")
        call = f"{fn}({prefix}{', '.join(pyargs)})"
        returns_value = not isinstance(target, ast.ActionDecl) and not isinstance(
            _u(resolved(getattr(target, "return_type", None))), T.VoidT | type(None)
        )
        if not back:
            if returns_value:
                return call
            self.line(call)
            return None
        tmp = self.em.tmp("r")
        targets = self.unpack_targets(back)
        if targets is not None:
            # One unpacking assignment (left to right, as copy-out) instead of an
            # indexing statement per out argument.
            self.line(f"{tmp}, {', '.join(targets)} = {call}")
            return tmp if returns_value else None
        self.line(f"{tmp} = {call}")
        self.copy_back(tmp, back)
        return f"{tmp}[0]" if returns_value else None

    def unpack_targets(self, back: list[tuple[ast.Expr | None, bool]]) -> list[str] | None:
        """Python assignment targets for a copy-back made of scalars written to plain
        variables and fields (no slices, no aggregates), or None."""
        out = []
        for a, agg in back:
            if a is None:
                out.append("_")
            elif agg or not isinstance(a, ast.PathExpr | ast.Member):
                return None
            elif isinstance(a, ast.Member) and not isinstance(type_of(a.expr), T.StructLikeT):
                return None
            else:
                out.append(self.ex(a))
        return out

    def fn_name(self, decl: ast.Decl) -> str:
        key = (id(self.inst), id(decl))
        if key in self.inst_fns:
            return self.inst_fns[key]
        key = (id(None), id(decl))
        if key in self.inst_fns:
            return self.inst_fns[key]
        raise P4Error(decl.loc, f"p4sim: '{decl.name}' is not callable from here")

    def call_block(self, e: ast.Call) -> None:
        inst_decl = e.target
        child = None
        if self.inst is not None:
            for ch in self.inst.children:
                if ch.instantiation is inst_decl:
                    child = ch
                    break
        if child is None:
            raise Unsupported(e.loc, "apply of a block that is not a local instance")
        params = child.decl.params
        args = list(e.resolved_args) if e.resolved_args else [a.value for a in e.args]
        frame = self.em.tmp("f")
        self.line(f"{frame} = {self.frame_cls[id(child)]}()")
        for p, a in zip(params, args, strict=False):
            pt = _u(resolved(p.type))
            agg = is_aggregate(pt)
            slot = f"{frame}.p_{p.name}"
            if p.direction == "out":
                self.line(f"{slot} = {self.default(pt)}")
            elif a is None:
                self.line(f"{slot} = {self.default(pt)}")
            elif agg and p.direction != "inout" and not isinstance(pt, T.ExternT):
                self.line(f"{slot} = {self.ex(a)}.copy()")
            else:
                self.line(f"{slot} = {self.ex(a)}")
        self.line(f"{self.apply_fn[id(child)]}({frame})")
        for p, a in zip(params, args, strict=False):
            if a is None or p.direction not in ("out", "inout"):
                continue
            pt = _u(resolved(p.type))
            if is_aggregate(pt):
                if p.direction == "out":
                    self.line(f"{self.ex(a)}.assign({frame}.p_{p.name})")
            else:
                self.assign_scalar(a, f"{frame}.p_{p.name}")

    # ------------------------------------------------------------------ statements

    def stmt(self, s: ast.Stmt | ast.Decl) -> None:
        method = getattr(self, "st_" + type(s).__name__, None)
        if method is None:
            raise Unsupported(s.loc, f"statement {type(s).__name__}")
        method(s)

    def stmts(self, items: list[Any]) -> None:
        for s in items:
            self.stmt(s)

    def st_BlockStmt(self, s: ast.BlockStmt) -> None:  # noqa: N802
        self.stmts(s.stmts)

    def st_EmptyStmt(self, s: ast.EmptyStmt) -> None:  # noqa: N802
        pass

    def st_ConstDecl(self, s: ast.ConstDecl) -> None:  # noqa: N802
        pass

    def st_VarDecl(self, s: ast.VarDecl) -> None:  # noqa: N802
        t = _u(resolved(s.type))
        name = self.em.tmp("v" + s.name[:20])
        init_s = None
        if s.init is not None and not is_aggregate(t):
            init_s = self.ex(s.init)
        self.vars[id(s)] = name
        if is_aggregate(t):
            self.line(f"{name} = {self.default(t)}")
            if s.init is not None:
                self.assign_agg(name, t, s.init)
        else:
            self.line(f"{name} = {init_s if init_s is not None else self.default(t)}")

    def st_Instantiation(self, s: ast.Instantiation) -> None:  # noqa: N802
        raise Unsupported(s.loc, "instantiation inside a block body")

    def st_AssignStmt(self, s: ast.AssignStmt) -> None:  # noqa: N802
        t = type_of(s.lhs)
        if (isinstance(t, T.HeaderT) and isinstance(s.lhs, ast.Member)
                and isinstance(type_of(s.lhs.expr), T.HeaderUnionT)):
            # `u.h = e`: a valid e makes u's other members invalid (as setValid
            # does); an invalid e leaves u.h invalid and the others as they were.
            # e may be another member of u itself: its validity is read first.
            v = self.em.tmp("h")
            self.line(f"{v} = {self.ex(s.rhs)}")
            with self.em.block(f"if {v}.valid:"):
                self.line(f"{self.ex(s.lhs.expr)}.invalidate_all()")
                self.line(f"{self.ex(s.lhs)}.assign({v})")
                self.line(f"{self.ex(s.lhs)}.valid = True")
            with self.em.block("else:"):
                self.line(f"{self.ex(s.lhs)}.assign({v})")
            return
        if is_aggregate(t):
            self.assign_agg(self.ex(s.lhs), t, s.rhs)
            return
        v = self.ex(s.rhs)
        src = type_of(s.rhs)
        if isinstance(t, T.BitT) and isinstance(src, T.BitT) and src != t:
            v = self.convert(v, src, t)
        self.assign_scalar(s.lhs, v)

    def assign_agg(self, target: str, t: Any, rhs: ast.Expr) -> None:
        if isinstance(t, T.StructLikeT) and isinstance(rhs, ast.ListExpr | ast.StructInit):
            self.line(f"{target}.assign({self.build_agg(t, rhs)})")
            return
        self.line(f"{target}.assign({self.ex(rhs)})")

    def assign_scalar(self, lhs: ast.Expr, value: str) -> None:
        if isinstance(lhs, ast.Slice):
            hi, lo = self.slice_bounds(lhs)
            bt = type_of(lhs.expr)
            w = T.width_of(bt)
            base = self.ex(lhs.expr)
            fm = mask(hi - lo + 1) << lo
            raw_base = f"({base} & {mask(w):#x})" if isinstance(bt, T.BitT) and bt.signed else base
            new = f"(({raw_base} & {mask(w) ^ fm:#x}) | ((({value}) << {lo}) & {fm:#x}))"
            if isinstance(bt, T.BitT) and bt.signed:
                new = sx(new, w)
            if isinstance(bt, T.BoolT):
                new = f"bool({new})"
            self.assign_scalar(lhs.expr, new)
            return
        if isinstance(lhs, ast.PathExpr | ast.Member | ast.Index):
            self.line(f"{self.ex(lhs)} = {value}")
            return
        raise Unsupported(lhs.loc, "assignment target")

    def st_CallStmt(self, s: ast.CallStmt) -> None:  # noqa: N802
        r = self.call(s.call)
        if r is not None:
            self.line(r)

    def _valid_base(self, cond: ast.Expr) -> str | None:
        """For `u.h.isValid()` with `u` a struct or union: the code of `u` (if it
        needs no statements of its own)."""
        if not (isinstance(cond, ast.Call) and cond.kind == "builtin"):
            return None
        if cond.method != "isValid":
            return None
        recv = cond.receiver
        if recv is None and isinstance(cond.func, ast.Member):
            recv = cond.func.expr
        if recv is None or self.peek_member(recv) is None:
            return None
        assert isinstance(recv, ast.Member)
        mark = len(self.em.lines)
        base = self.ex(recv.expr)
        if len(self.em.lines) != mark:
            del self.em.lines[mark:]
            return None
        return base

    def st_IfStmt(self, s: ast.IfStmt) -> None:  # noqa: N802
        # `if (u.a.isValid()) .. else if (u.b.isValid()) ..` (option handling): `u`'s
        # member dict is read once for the whole chain. Conditions run back to back
        # and the first one reads it anyway, so reading it before them is exact.
        # When every condition asks about a member of `u` and there is no `else`, an
        # empty dict (no member ever built: none valid) skips the whole chain.
        base = self._valid_base(s.cond)
        if base is not None:
            same = links = 0
            other: Any = s.other
            while isinstance(other, ast.IfStmt):
                same += self._valid_base(other.cond) == base
                links += 1
                other = other.other
            if same:
                d = self.em.tmp("ud")
                self.line(f"{d} = {base}.__dict__")
                self.peek_dicts = {base: d}
                if same == links and other is None:
                    with self.em.block(f"if {d}:"):
                        self._if_chain(s)
                    return
        self._if_chain(s)

    def _if_chain(self, s: ast.IfStmt) -> None:
        cond = self.ex(s.cond)
        saved, self.peek_dicts = self.peek_dicts, {}
        with self.em.block(f"if {cond}:"):
            self.stmt(s.then)
        other = s.other
        # `else if` chains become `elif` (Python limits indentation depth), unless a
        # condition needs statements of its own (a call with out arguments).
        while isinstance(other, ast.IfStmt):
            mark = len(self.em.lines)
            self.peek_dicts = saved
            cond = self.ex(other.cond)
            self.peek_dicts = {}
            if len(self.em.lines) != mark:
                del self.em.lines[mark:]
                break
            with self.em.block(f"elif {cond}:"):
                self.stmt(other.then)
            other = other.other
        if other is not None:
            with self.em.block("else:"):
                self.stmt(other)

    def st_ReturnStmt(self, s: ast.ReturnStmt) -> None:  # noqa: N802
        rt = self.fn.return_type
        if isinstance(rt, T.StructLikeT) and isinstance(s.value, ast.ListExpr | ast.StructInit):
            val = self.build_agg(rt, s.value)
        elif s.value is not None and is_aggregate(rt):
            val = f"{self.ex(s.value)}.copy()"  # the caller gets a value, not an alias
        elif s.value is not None:
            val = self.ex(s.value)
            src = type_of(s.value)
            if isinstance(rt, T.BitT) and isinstance(src, T.BitT | T.IntLitT) and src != rt:
                val = self.convert(val, src, rt)
        else:
            val = "None"
        self.line(self.return_text(val))

    def return_text(self, val: str) -> str:
        if self.fn.outs:
            return f"return ({val}, {', '.join(self.fn.outs)})"
        return f"return {val}" if val != "None" else "return"

    def st_ExitStmt(self, s: ast.ExitStmt) -> None:  # noqa: N802
        self.line("raise _rt.ExitSignal()")

    def st_SwitchStmt(self, s: ast.SwitchStmt) -> None:  # noqa: N802
        val = self.em.tmp("sw")
        self.line(f"{val} = {self.ex(s.expr)}")
        pending: list[str] = []
        first = True
        default_block: ast.BlockStmt | None = None
        has_default = False
        for case in s.cases:
            for label in case.labels:
                if isinstance(label, ast.DefaultExpr) or (
                    isinstance(label, ast.PathExpr) and label.name == "default"
                ):
                    has_default = True
                else:
                    pending.append(self.switch_label(label))
            if case.block is None:
                continue
            if has_default:
                default_block = case.block
                pending = []
                continue
            cond = " or ".join(f"{val} == {lab}" for lab in pending) or "False"
            with self.em.block(f"{'if' if first else 'elif'} {cond}:"):
                self.stmt(case.block)
            first = False
            pending = []
        if default_block is not None:
            if first:
                self.stmt(default_block)
            else:
                with self.em.block("else:"):
                    self.stmt(default_block)

    def switch_label(self, label: ast.Expr) -> str:
        decl = getattr(label, "decl", None)
        if isinstance(decl, ast.ActionDecl):
            try:
                return repr(self.binder.action_id(self.cp_name(decl)))
            except P4Error:
                return "-1"  # an action the P4Info does not have never runs
        return self.ex(label)

    # ------------------------------------------------------------------ callables

    def function(
        self,
        name: str,
        params: list[ast.Param],
        body: ast.BlockStmt | None,
        with_frame: bool,
        returns_value: bool,
        return_type: Any = None,
    ) -> None:
        """Write `def name(...)` for an action or function (see the calling convention)."""
        saved_fn = self.fn
        pynames = []
        outs = []
        inits = []
        for p in params:
            pn = self.em.tmp("a" + p.name[:20])
            self.vars[id(p)] = pn
            pt = _u(resolved(p.type))
            if p.direction == "out":
                inits.append(f"{pn} = {self.default(pt)}")
                outs.append(pn)
            else:
                pynames.append(pn)
                if p.direction == "inout" and not is_aggregate(pt):
                    outs.append(pn)
        self.fn = FnCtx(outs=outs, has_value=returns_value, return_type=return_type)
        sig = (["c"] if with_frame else []) + pynames
        with self.em.block(f"def {name}({', '.join(sig)}):"):
            for line in inits:
                self.line(line)
            if body is not None:
                self.stmts(body.stmts)
            if outs:
                self.line(self.return_text("None"))
        self.fn = saved_fn

    # ------------------------------------------------------------------ blocks

    def compile(self) -> str:
        self.frame_cls: dict[int, str] = {}
        self.apply_fn: dict[int, str] = {}
        tops = naming.block_instances(self.prog)
        everything: list[naming.BlockInstance] = []

        def walk(b: naming.BlockInstance) -> None:
            everything.append(b)
            for ch in b.children:
                walk(ch)

        for b in tops:
            walk(b)
        for k, b in enumerate(everything):
            self.frame_cls[id(b)] = f"Frame{k}_{b.decl.name}"
            self.apply_fn[id(b)] = f"B{k}_apply"
        # Top-level functions and actions first: they are called from blocks.
        for d in self.prog.decls:
            if isinstance(d, ast.FunctionDecl | ast.ActionDecl):
                # Numbered: functions may be overloaded on their parameter count.
                kind = "F" if isinstance(d, ast.FunctionDecl) else "A"
                self.inst_fns[(id(None), id(d))] = f"{kind}{len(self.inst_fns)}_{d.name}"
        for d in self.prog.decls:
            if isinstance(d, ast.FunctionDecl):
                rt = _u(resolved(d.return_type))
                self.function(
                    self.inst_fns[(id(None), id(d))],
                    d.params,
                    d.body,
                    False,
                    not isinstance(rt, T.VoidT | type(None)),
                    return_type=rt,
                )
            elif isinstance(d, ast.ActionDecl):
                self.function(self.inst_fns[(id(None), id(d))], d.params, d.body, True, False)
            elif isinstance(d, ast.Instantiation) and d is not self.prog.main:
                self.ext.instance(d, naming.decl_name(d))
        for k, b in enumerate(everything):
            self.block(k, b)
        for b in tops:
            if b.package_param:
                self.roles[b.package_param] = self.entry(b)
                self.role_decls[b.package_param] = b.decl
            for p in b.decl.params:  # the pipeline builds these aggregates itself
                pt = _u(resolved(p.type))
                if isinstance(pt, T.StructLikeT):
                    self.cls(pt)
        return self.classes.source() + "\n" + self.em.source()

    def block(self, k: int, b: naming.BlockInstance) -> None:
        self.inst = b
        self.vars = {}
        decl = b.decl
        slots = []
        for p in decl.params:
            self.vars[id(p)] = f"c.p_{p.name}"
            slots.append(f"p_{p.name}")
        for p in decl.ctor_params:
            raise Unsupported(p.loc, "constructor parameters of parsers and controls")
        local_vars = []
        for d in decl.locals:
            if isinstance(d, ast.VarDecl):
                slot = f"l{len(slots)}_{d.name}"
                slots.append(slot)
                self.vars[id(d)] = f"c.{slot}"
                local_vars.append((slot, d))
        with self.em.block(f"class {self.frame_cls[id(b)]}:"):
            self.line(f"__slots__ = {tuple(slots)!r}")
        # Names first (actions and tables refer to each other), then bodies.
        for d in decl.locals:
            if isinstance(d, ast.ActionDecl):
                self.inst_fns[(id(b), id(d))] = f"B{k}_A_{d.name}"
            elif isinstance(d, ast.TableDecl):
                self.inst_fns[(id(b), id(d))] = f"B{k}_T_{d.name}"
        for d in decl.locals:
            if isinstance(d, ast.ActionDecl):
                self.function(self.inst_fns[(id(b), id(d))], d.params, d.body, True, False)
            elif isinstance(d, ast.Instantiation):
                if any(ch.instantiation is d for ch in b.children):
                    continue
                self.ext.instance(d, self.cp_name(d))
        from .tablegen import TableGen

        for d in decl.locals:
            if isinstance(d, ast.TableDecl):
                TableGen(self, d).emit(self.inst_fns[(id(b), id(d))])
        with self.em.block(f"def {self.apply_fn[id(b)]}(c):"):
            # Aggregate and extern parameters are never rebound (aggregates are
            # assigned in place): the apply body reads them from Python locals.
            for p in decl.params:
                pt = _u(resolved(p.type))
                if is_aggregate(pt) or isinstance(pt, T.ExternT):
                    self.line(f"P_{p.name} = c.p_{p.name}")
                    self.vars[id(p)] = f"P_{p.name}"
            for slot, d in local_vars:
                t = _u(resolved(d.type))
                self.line(f"c.{slot} = {self.default(t)}")
                if d.init is not None:
                    if is_aggregate(t):
                        self.assign_agg(f"c.{slot}", t, d.init)
                    else:
                        self.line(f"c.{slot} = {self.ex(d.init)}")
            self.fn = FnCtx(in_parser=isinstance(decl, ast.ParserDecl))
            if isinstance(decl, ast.ParserDecl):
                from .parsergen import ParserGen

                ParserGen(self, decl).emit()
            else:
                self.stmts(decl.body.stmts)
        self.inst = None

    def entry(self, b: naming.BlockInstance) -> str:
        """`run_<role>(*params)`: builds the frame and runs a top-level block; a
        control's `exit` ends it normally."""
        name = f"run_{b.package_param}"
        params = [p.name for p in b.decl.params]
        with self.em.block(f"def {name}({', '.join('a_' + p for p in params)}):"):
            self.line(f"c = {self.frame_cls[id(b)]}()")
            for p in params:
                self.line(f"c.p_{p} = a_{p}")
            if isinstance(b.decl, ast.ParserDecl):
                self.line(f"{self.apply_fn[id(b)]}(c)")
            else:
                with self.em.block("try:"):
                    self.line(f"{self.apply_fn[id(b)]}(c)")
                with self.em.block("except _rt.ExitSignal:"):
                    self.line("pass")
        return name


def build_module(source: str, globals_: dict[str, Any], filename: str) -> dict[str, Any]:
    """`compile` + `exec` the generated source once; returns its namespace."""
    from p4sim.backend.common import hashes

    from . import runtime

    ns: dict[str, Any] = {
        "_rt": runtime,
        "_h": hashes,
        "_NM": runtime.NEVER_MADE,
        "__name__": "p4sim_generated",
    }
    ns.update(globals_)
    code = compile(source, filename, "exec")
    exec(code, ns)  # noqa: S102 - our own generated code
    return ns
