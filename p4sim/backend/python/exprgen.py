"""Expressions: P4 expressions compiled to Python expressions.

Values follow the model described in `codegen`: bit<W> and int<W> as ints kept in
range (masked after every operation that can leave it; int<W> as a negative int in
two's complement), bool as bool, error and enum members as ints. An expression may
emit statements before the statement that uses it (aggregate initializers, calls with
out arguments); `ex` returns the Python expression text.
"""

from __future__ import annotations

from typing import Any

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .emitter import Emitter
from .typegen import TypeClasses, is_aggregate, pyfield


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


class ExprGen:
    """Mixin of `Compiler`: the expression half of the code generator."""

    em: Emitter
    classes: TypeClasses
    vars: dict[int, str]
    errors: dict[str, int]
    fn: Any
    peek_dicts: dict[str, str]

    def call(self, e: ast.Call) -> str | None:
        raise NotImplementedError

    def error_code(self, name: str) -> int:
        code = self.errors.get(name)
        if code is None:
            raise P4Error(None, f"unknown error member '{name}'")
        return code

    def cls(self, t: T.StructLikeT) -> str:
        return self.classes.name_of(t)

    def line(self, text: str) -> None:
        self.em.line(text)

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

    def peek_member(self, e: ast.Expr) -> str | None:
        """For a header that is a member of a struct or union (`s.h`), an expression
        that is the header if it was ever built and `_NM` (an invalid stand-in,
        `runtime.NEVER_MADE`) if not; None for other expressions. Only for reading
        validity: it never builds the header (see `typegen` on lazy members)."""
        if not isinstance(e, ast.Member) or not isinstance(type_of(e), T.HeaderT):
            return None
        if not isinstance(type_of(e.expr), T.StructT | T.HeaderUnionT):
            return None
        base = self.ex(e.expr)
        d = self.peek_dicts.get(base) or f"{base}.__dict__"
        return f"({d}.get({pyfield(e.name)!r}) or _NM)"

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
