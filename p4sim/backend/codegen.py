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

Externs and the v1model side effects are in `externgen`; what the generated code needs
from outside (device state objects, the packet context `_ctx`) is injected into its
namespace by the pipeline through `Compiler.globals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p4sim import naming
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .emitter import Emitter
from .typegen import TypeClasses, default_expr, is_aggregate, pyfield


def mask(width: int) -> int:
    return (1 << width) - 1


def sx(expr: str, width: int) -> str:
    """Wrap `expr` to int<width> (two's complement)."""
    half = 1 << (width - 1)
    return f"(((({expr}) + {half:#x}) & {mask(width):#x}) - {half:#x})"


def _u(t: Any) -> Any:
    return T.underlying(t) if isinstance(t, T.Type) else t


def type_of(e: ast.Expr) -> Any:
    return _u(e.type)


def resolved(tr: ast.TypeRef | None) -> Any:
    if tr is None:
        return None
    return tr.resolved


@dataclass
class TableSetup:
    """What the pipeline installs into a table's state at load: its initial default
    action and its `const entries` / `entries` (values already evaluated)."""

    name: str
    default_action: str
    default_args: tuple[int, ...]
    default_is_const: bool
    entries_const: bool = True
    entries: list[tuple[list[Any], str, tuple[int, ...], int | None]] = field(default_factory=list)


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


class Compiler:
    def __init__(self, program: ast.Program, binder: Binder) -> None:
        from . import externgen  # noqa: PLC0415 - mutual dependency

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
        self._gcount = 0
        # (dispatch dict, {action id: generated function name}), bound after exec.
        self.post_exec: list[tuple[dict[int, Any], dict[int, str]]] = []

    # ------------------------------------------------------------------ helpers

    def error_code(self, name: str) -> int:
        code = self.errors.get(name)
        if code is None:
            raise P4Error(None, f"unknown error member '{name}'")
        return code

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

    def cls(self, t: T.StructLikeT) -> str:
        return self.classes.name_of(t)

    def default(self, t: Any) -> str:
        return default_expr(t, self.classes)

    def line(self, text: str) -> None:
        self.em.line(text)

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

    # ------------------------------------------------------------------ constants

    def const_lit(self, e: ast.Expr) -> str | None:
        c = e.const
        if c is None:
            return None
        t = e.type
        if isinstance(c, bool):
            return "True" if c else "False"
        if isinstance(c, int):
            u = _u(t)
            if isinstance(u, T.BitT):
                c &= mask(u.width)
                if u.signed and c >> (u.width - 1):
                    c -= 1 << u.width
            if isinstance(u, T.BoolT):
                return "True" if c else "False"
            return repr(c)
        if isinstance(c, str):
            return self.member_lit(t, c)
        return None

    def member_lit(self, t: Any, text: str) -> str | None:
        member = text.rsplit(".", 1)[-1]
        if isinstance(t, T.ErrorT):
            return repr(self.error_code(member))
        if isinstance(t, T.SerEnumT):
            return repr(t.members[member])
        if isinstance(t, T.EnumT):
            return repr(t.members.index(member))
        if isinstance(t, T.StringT):
            return repr(text)
        return None

    # ------------------------------------------------------------------ expressions

    def ex(self, e: ast.Expr | None) -> str:
        if e is None:
            return "None"
        lit = self.const_lit(e)
        if lit is not None:
            return lit
        method = getattr(self, "ex_" + type(e).__name__, None)
        if method is None:
            raise Unsupported(e.loc, f"expression {type(e).__name__}")
        return method(e)

    def ex_IntLit(self, e: ast.IntLit) -> str:  # noqa: N802
        return repr(e.value)

    def ex_BoolLit(self, e: ast.BoolLit) -> str:  # noqa: N802
        return "True" if e.value else "False"

    def ex_StringLit(self, e: ast.StringLit) -> str:  # noqa: N802
        return repr(e.value)

    def ex_PathExpr(self, e: ast.PathExpr) -> str:  # noqa: N802
        d = e.decl
        if d is not None and id(d) in self.vars:
            return self.vars[id(d)]
        if isinstance(d, ast.ConstDecl) and d.value is not None:
            return self.ex(d.value)
        raise P4Error(e.loc, f"p4sim cannot evaluate '{e.name}' here")

    def ex_Member(self, e: ast.Member) -> str:  # noqa: N802
        bt = type_of(e.expr)
        if isinstance(bt, T.StructLikeT):
            return f"{self.ex(e.expr)}.{pyfield(e.name)}"
        if isinstance(bt, T.StackT):
            base = self.ex(e.expr)
            if e.name == "size":
                return repr(bt.size)
            if e.name == "lastIndex":
                return f"(({base}.next_index - 1) & 0xffffffff)"
            oob = self.error_code("StackOutOfBounds")
            if e.name == "next":
                return f"_rt.stack_next({base}, {oob})"
            if e.name == "last":
                return f"_rt.stack_last({base}, {oob})"
        if isinstance(bt, T.ApplyResultT) or isinstance(e.expr, ast.Call):
            base = self.ex(e.expr)
            if e.name == "hit":
                return f"{base}[0]"
            if e.name == "miss":
                return f"(not {base}[0])"
            if e.name == "action_run":
                return f"{base}[1]"
        lit = self.member_lit(e.type, f"x.{e.name}")
        if lit is not None:
            return lit
        raise Unsupported(e.loc, f"member '{e.name}' of {bt}")

    def ex_Index(self, e: ast.Index) -> str:  # noqa: N802
        base = self.ex(e.expr)
        st = type_of(e.expr)
        if isinstance(e.index.const, int) and isinstance(st, T.StackT):
            i = e.index.const
            if not 0 <= i < st.size:
                raise P4Error(e.loc, f"index {i} out of range for {st}")
            return f"{base}.elems[{i}]"
        if isinstance(st, T.TupleT):
            return f"{base}[{self.ex(e.index)}]"
        if self.fn.in_parser:
            oob = self.error_code("StackOutOfBounds")
            return f"_rt.stack_at_parser({base}, {self.ex(e.index)}, {oob})"
        return f"_rt.stack_at({base}, {self.ex(e.index)})"

    def ex_Slice(self, e: ast.Slice) -> str:  # noqa: N802
        hi, lo = self.slice_bounds(e)
        base = self.ex(e.expr)
        if isinstance(type_of(e.expr), T.BoolT):
            base = f"int({base})"
        return (
            f"(({base} >> {lo}) & {mask(hi - lo + 1):#x})"
            if lo
            else f"({base} & {mask(hi + 1):#x})"
        )

    def slice_bounds(self, e: ast.Slice) -> tuple[int, int]:
        hi, lo = e.hi_v, e.lo_v
        if hi < 0 or lo < 0:
            hi, lo = e.hi.const, e.lo.const
        if not isinstance(hi, int) or not isinstance(lo, int):
            raise Unsupported(e.loc, "slice with bounds not known at compile time")
        return hi, lo

    def ex_Unary(self, e: ast.Unary) -> str:  # noqa: N802
        v = self.ex(e.expr)
        t = type_of(e)
        if e.op == "!":
            return f"(not {v})"
        if e.op == "+":
            return v
        if not isinstance(t, T.BitT):
            return f"({e.op}{v})"
        if e.op == "~":
            return f"(~{v})" if t.signed else f"({v} ^ {mask(t.width):#x})"
        if e.op == "-":
            return sx(f"-{v}", t.width) if t.signed else f"((-{v}) & {mask(t.width):#x})"
        raise Unsupported(e.loc, f"unary operator {e.op}")

    def ex_Binary(self, e: ast.Binary) -> str:  # noqa: N802
        op = e.op
        if op == "&&":
            return f"({self.ex(e.left)} and {self.ex(e.right)})"
        if op == "||":
            return f"({self.ex(e.left)} or {self.ex(e.right)})"
        a = self.ex(e.left)
        b = self.ex(e.right)
        lt = type_of(e.left)
        if op in ("==", "!="):
            if is_aggregate(lt):
                r = f"{a}.eq({b})"
                return r if op == "==" else f"(not {r})"
            return f"({a} {op} {b})"
        if op in ("<", "<=", ">", ">="):
            return f"({a} {op} {b})"
        if op == "++":
            return self._concat(e, a, b)
        t = type_of(e)
        if not isinstance(t, T.BitT):  # compile-time ints
            pyop = {"/": "//"}.get(op, op)
            if op in ("|+|", "|-|"):
                pyop = op[1]
            return f"({a} {pyop} {b})"
        w = t.width
        m = mask(w)
        if op in ("+", "-", "*"):
            return sx(f"{a} {op} {b}", w) if t.signed else f"(({a} {op} {b}) & {m:#x})"
        if op in ("&", "|", "^"):
            return f"({a} {op} {b})"
        if op == "/":
            return f"_rt.div({a}, {b})"
        if op == "%":
            return f"_rt.mod({a}, {b})"
        if op == "<<":
            shift = e.right.const
            if isinstance(shift, int):
                if shift >= w:
                    return "0"
                return sx(f"{a} << {shift}", w) if t.signed else f"(({a} << {shift}) & {m:#x})"
            return f"_rt.shl_signed({a}, {b}, {w})" if t.signed else f"_rt.shl({a}, {b}, {w})"
        if op == ">>":
            return f"({a} >> {b})"
        if op == "|+|":
            if t.signed:
                return f"max(-{1 << (w - 1)}, min({(1 << (w - 1)) - 1}, {a} + {b}))"
            return f"min({m:#x}, {a} + {b})"
        if op == "|-|":
            if t.signed:
                return f"max(-{1 << (w - 1)}, min({(1 << (w - 1)) - 1}, {a} - {b}))"
            return f"max(0, {a} - {b})"
        raise Unsupported(e.loc, f"binary operator {op}")

    def _concat(self, e: ast.Binary, a: str, b: str) -> str:
        lt, rt = type_of(e.left), type_of(e.right)
        lw = T.width_of(lt)
        rw = T.width_of(rt)
        if isinstance(lt, T.BoolT):
            a = f"int({a})"
        elif isinstance(lt, T.BitT) and lt.signed:
            a = f"({a} & {mask(lw):#x})"
        if isinstance(rt, T.BoolT):
            b = f"int({b})"
        elif isinstance(rt, T.BitT) and rt.signed:
            b = f"({b} & {mask(rw):#x})"
        raw = f"(({a} << {rw}) | {b})"
        t = type_of(e)
        if isinstance(t, T.BitT) and t.signed:
            return sx(raw, t.width)
        return raw

    def ex_Ternary(self, e: ast.Ternary) -> str:  # noqa: N802
        return f"({self.ex(e.then)} if {self.ex(e.cond)} else {self.ex(e.other)})"

    def ex_Cast(self, e: ast.Cast) -> str:  # noqa: N802
        dst = _u(resolved(e.to) or e.type)
        src = type_of(e.expr)
        if isinstance(dst, T.StructLikeT):
            return self.build_agg(dst, e.expr)
        v = self.ex(e.expr)
        return self.convert(v, src, dst)

    def convert(self, v: str, src: Any, dst: Any) -> str:
        if isinstance(dst, T.BitT):
            if isinstance(src, T.BoolT):
                return f"int({v})"
            if isinstance(src, T.BitT):
                if dst.signed:
                    if src.signed and src.width <= dst.width:
                        return v
                    if not src.signed and src.width < dst.width:
                        return v
                    return sx(v, dst.width)
                if src.signed or src.width > dst.width:
                    return f"({v} & {mask(dst.width):#x})"
                return v
            return sx(v, dst.width) if dst.signed else f"({v} & {mask(dst.width):#x})"
        if isinstance(dst, T.BoolT):
            if isinstance(src, T.BoolT):
                return v
            return f"({v} != 0)"
        return v

    def ex_Call(self, e: ast.Call) -> str:  # noqa: N802
        r = self.call(e)
        if r is None:
            raise P4Error(e.loc, "a call without a value used as a value")
        return r

    def ex_ListExpr(self, e: ast.ListExpr) -> str:  # noqa: N802
        t = type_of(e)
        if isinstance(t, T.StructLikeT):
            return self.build_agg(t, e)
        items = [self.ex(i) for i in e.items]
        return "(" + "".join(i + ", " for i in items) + ")"

    def ex_StructInit(self, e: ast.StructInit) -> str:  # noqa: N802
        t = type_of(e)
        if isinstance(t, T.StructLikeT):
            return self.build_agg(t, e)
        return "(" + "".join(self.ex(v) + ", " for _, v in e.fields) + ")"

    def build_agg(self, t: T.StructLikeT, e: ast.Expr) -> str:
        """Build a header/struct value from a list or struct initializer (emits the
        construction as statements and returns the temporary)."""
        if isinstance(e, ast.ListExpr):
            pairs = list(zip((n for n, _ in t.fields), e.items, strict=False))
        elif isinstance(e, ast.StructInit):
            pairs = list(e.fields)
        else:
            return self.ex(e)
        vals = []
        for name, item in pairs:
            ft = _u(t.field_type(name))
            if isinstance(ft, T.StructLikeT):
                vals.append((name, self.build_agg(ft, item), True))
            else:
                vals.append((name, self.ex(item), is_aggregate(ft)))
        tmp = self.em.tmp("agg")
        self.line(f"{tmp} = {self.cls(t)}()")
        for name, val, agg in vals:
            if agg:
                self.line(f"{tmp}.{pyfield(name)}.assign({val})")
            else:
                self.line(f"{tmp}.{pyfield(name)} = {val}")
        if isinstance(t, T.HeaderT):
            self.line(f"{tmp}.valid = True")
        return tmp

    def ex_DefaultExpr(self, e: ast.DefaultExpr) -> str:  # noqa: N802
        return "None"

    ex_DontCare = ex_DefaultExpr

    def ex_TypeArgExpr(self, e: ast.TypeArgExpr) -> str:  # noqa: N802
        raise Unsupported(e.loc, "a type used as a value")

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
        self.line(f"{tmp} = {call}")
        self.copy_back(tmp, back)
        return f"{tmp}[0]" if returns_value else None

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

    def st_IfStmt(self, s: ast.IfStmt) -> None:  # noqa: N802
        cond = self.ex(s.cond)
        with self.em.block(f"if {cond}:"):
            self.stmt(s.then)
        other = s.other
        # `else if` chains become `elif` (Python limits indentation depth), unless a
        # condition needs statements of its own (a call with out arguments).
        while isinstance(other, ast.IfStmt):
            mark = len(self.em.lines)
            cond = self.ex(other.cond)
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
        from .tablegen import TableGen  # noqa: PLC0415

        for d in decl.locals:
            if isinstance(d, ast.TableDecl):
                TableGen(self, d).emit(self.inst_fns[(id(b), id(d))])
        with self.em.block(f"def {self.apply_fn[id(b)]}(c):"):
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
                from .parsergen import ParserGen  # noqa: PLC0415

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
    from . import hashes, runtime  # noqa: PLC0415

    ns: dict[str, Any] = {"_rt": runtime, "_h": hashes, "__name__": "p4sim_generated"}
    ns.update(globals_)
    code = compile(source, filename, "exec")
    exec(code, ns)  # noqa: S102 - our own generated code
    return ns
