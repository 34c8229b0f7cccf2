"""The C code generator: a checked P4_16 program compiled into one C translation unit.

It follows the Python back end (`p4sim.backend.python.codegen`) construct by construct, with
the same semantics, so that the differential test finds no difference:

* one frame struct per parser/control instance (`F<k>_<name>`: parameters, aggregate
  ones by pointer, and control-local variables), one C function per action
  (`B<k>_A_<name>`), per table (`B<k>_T_<name>`, see `ctables`), per top-level
  function/action, and the apply function `B<k>_apply`;
* copy-in/copy-out: scalar `out`/`inout` arguments go by pointer to a caller-side
  temporary that the caller assigns back, and the callee works on a local copy that it
  writes back when it returns (so an `exit` skips the copy-back, as in Python);
  aggregate `inout` by pointer, `in` as copies, `out` as fresh zero values;
* `exit`, parser `reject`/errors and packet faults leave through `p4_throw`
  (`longjmp` to the nearest handler that catches them; see `cpipeline`);
* every statement carries a comment with its P4 source line.

Values: see `ctypes_gen`. Externs and the parser are in `cextern` and `cparser`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from p4sim.backend.common.tables import TableSetup
from p4sim.controlplane import naming
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .ctypes_gen import CTypes, ident, is_agg, is_wide, scalar_ctype, u


def mask(width: int) -> int:
    return (1 << width) - 1


def resolved(tr: ast.TypeRef | None) -> Any:
    return None if tr is None else tr.resolved


def type_of(e: ast.Expr) -> Any:
    return u(e.type)


def lit(value: int, t: Any) -> str:
    """A C literal for an int already in the range of `t`."""
    t = u(t)
    if isinstance(t, T.BoolT):
        return "true" if value else "false"
    if isinstance(t, T.BitT) and t.signed:
        if value == -(1 << 63):
            return "INT64_MIN"
        return f"INT64_C({value})"
    if isinstance(t, T.BitT) and t.width > 64:
        value &= mask(128)
        hi, lo = value >> 64, value & mask(64)
        if not hi:
            return f"((p4_u128)UINT64_C({lo:#x}))"
        return f"(((p4_u128)UINT64_C({hi:#x}) << 64) | UINT64_C({lo:#x}))"
    if value < 0:
        if value < -(1 << 63):
            raise Unsupported(None, f"the constant {value} in the C back end")
        return f"INT64_C({value})"
    if value >= 1 << 64:
        raise Unsupported(None, f"the constant {value} in the C back end (over 64 bits)")
    return f"UINT64_C({value:#x})"


def mask_lit(width: int) -> str:
    if width > 64:
        return lit(mask(width), T.BitT(width))
    return f"UINT64_C({mask(width):#x})"


@dataclass
class Fn:
    """The function being generated."""

    kind: str = "apply"  # "apply" | "action" | "function" | "parser"
    has_value: bool = False
    return_type: Any = None
    in_parser: bool = False
    ret_used: bool = False


class CBinder:
    """What the C compiler needs from the device: indices of bound objects and ids."""

    def table(self, name: str) -> int:
        raise NotImplementedError

    def register(self, name: str) -> int:
        raise NotImplementedError

    def counter(self, name: str) -> int:
        raise NotImplementedError

    def meter(self, name: str) -> int:
        raise NotImplementedError

    def action_id(self, name: str) -> int:
        raise NotImplementedError

    def digest_id(self, name: str) -> int:
        raise NotImplementedError


class CCompiler:
    def __init__(self, program: ast.Program, binder: CBinder) -> None:
        from .cextern import CExterns  # mutual dependency

        self.prog = program
        self.binder = binder
        self.types = CTypes()
        self.lines: list[str] = []
        self.depth = 1
        self._tmp = 0
        self.vars: dict[int, str] = {}
        self.fn = Fn()
        self.inst: naming.BlockInstance | None = None
        self.inst_fns: dict[tuple[int, int], str] = {}
        self.top_names = naming.instance_names(program)
        self.errors = _collect_errors(program)
        self.protos: list[str] = []
        self.bodies: list[str] = []
        self.roles: dict[str, naming.BlockInstance] = {}
        self.ext = CExterns(self)
        self.table_setups: list[TableSetup] = []
        self.key_widths: dict[str, list[int]] = {}
        self.binder_counts: dict[str, int] = {}
        self.frame_name: dict[int, str] = {}
        self.apply_name: dict[int, str] = {}

    # ------------------------------------------------------------------ emission

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def open(self, header: str) -> None:
        self.line(header + " {")
        self.depth += 1

    def close(self, tail: str = "") -> None:
        self.depth -= 1
        self.line("}" + tail)

    def tmp(self, hint: str = "t") -> str:
        self._tmp += 1
        return f"_{ident(hint).removeprefix('f_')}{self._tmp}"

    def loc_comment(self, node: Any) -> None:
        loc = getattr(node, "loc", None)
        if loc is not None and getattr(loc, "line", None):
            self.line(f"/* {loc.file.rsplit('/', 1)[-1]}:{loc.line} */")

    def begin_fn(self) -> list[str]:
        saved = self.lines
        self.lines = []
        self.depth = 1
        return saved

    def end_fn(self, proto: str, saved: list[str]) -> None:
        self.protos.append("__attribute__((unused)) " + proto + ";")
        self.bodies.append(proto + "\n{\n" + "\n".join(self.lines) + "\n}\n")
        self.lines = saved

    # ------------------------------------------------------------------ names

    def error_code(self, name: str) -> int:
        code = self.errors.get(name)
        if code is None:
            raise P4Error(None, f"unknown error member '{name}'")
        return code

    def cp_name(self, decl: ast.Decl) -> str:
        if self.inst is not None:
            name = self.inst.names.get(id(decl))
            if name is not None:
                return name
        name = self.top_names.get(((), id(decl)))
        if name is not None:
            return name
        return naming.decl_name(decl)

    def member_lit(self, t: Any, text: str) -> str | None:
        member = text.rsplit(".", 1)[-1]
        if isinstance(t, T.ErrorT):
            return str(self.error_code(member))
        if isinstance(t, T.SerEnumT):
            return str(t.members[member])
        if isinstance(t, T.EnumT):
            return str(t.members.index(member))
        return None

    def ctype(self, t: Any, where: Any = None) -> str:
        t = u(t)
        if is_agg(t):
            return self.types.name(t)
        return scalar_ctype(t, where)

    def zero(self, t: Any) -> str:
        t = u(t)
        if isinstance(t, T.BoolT):
            return "false"
        if is_wide(t):
            return "(p4_u128)0"
        return "0"

    def declare(self, name: str, t: Any, where: Any = None) -> None:
        """Declare a zero-valued local `name` of type `t`."""
        if is_agg(t):
            self.line(f"{self.ctype(t)} {name};")
            self.line(f"memset(&{name}, 0, sizeof {name});")
        else:
            self.line(f"{self.ctype(t, where)} {name} = {self.zero(t)};")

    # ------------------------------------------------------------------ constants

    def const_lit(self, e: ast.Expr) -> str | None:
        c = e.const
        if c is None:
            return None
        t = type_of(e)
        if isinstance(c, bool):
            return "true" if c else "false"
        if isinstance(c, int):
            if isinstance(t, T.BitT):
                c &= mask(t.width)
                if t.signed and c >> (t.width - 1):
                    c -= 1 << t.width
            if isinstance(t, T.BoolT):
                return "true" if c else "false"
            return lit(c, t)
        if isinstance(c, str):
            return self.member_lit(e.type, c)
        return None

    # ------------------------------------------------------------------ expressions

    def ex(self, e: ast.Expr | None) -> str:
        if e is None:
            raise Unsupported(None, "a missing expression in the C back end")
        c = self.const_lit(e)
        if c is not None:
            return c
        method = getattr(self, "ex_" + type(e).__name__, None)
        if method is None:
            raise Unsupported(e.loc, f"expression {type(e).__name__} in the C back end")
        return method(e)

    def ex_BoolLit(self, e: ast.BoolLit) -> str:  # noqa: N802
        return "true" if e.value else "false"

    def ex_IntLit(self, e: ast.IntLit) -> str:  # noqa: N802
        return lit(e.value, type_of(e))

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
            ft = u(bt.field_type(e.name))
            if isinstance(ft, T.VarbitT):
                raise Unsupported(e.loc, "a varbit field used as a value in the C back end")
            return f"{self.ex(e.expr)}.{ident(e.name)}"
        if isinstance(bt, T.StackT):
            base = self.ex(e.expr)
            if e.name == "size":
                return f"UINT64_C({bt.size})"
            if e.name == "lastIndex":
                return f"((uint64_t)({base}.next_index - 1) & 0xffffffffu)"
            if e.name in ("next", "last"):
                idx = self.tmp("i")
                oob = self.error_code("StackOutOfBounds")
                if e.name == "next":
                    self.line(f"uint32_t {idx} = {base}.next_index;")
                    self.line(f"if ({idx} >= {bt.size})")
                else:
                    self.line(f"uint32_t {idx} = {base}.next_index - 1;")
                    self.line(f"if ({base}.next_index == 0)")
                self.line(f"    {self.oob_throw(oob)};")
                return f"{base}.e[{idx}]"
        if isinstance(bt, T.ApplyResultT) or isinstance(e.expr, ast.Call):
            base = self.ex(e.expr)
            if e.name == "hit":
                return f"{base}.hit"
            if e.name == "miss":
                return f"(!{base}.hit)"
            if e.name == "action_run":
                return f"{base}.action_run"
        lit_ = self.member_lit(e.type, f"x.{e.name}")
        if lit_ is not None:
            return lit_
        raise Unsupported(e.loc, f"member '{e.name}' of {bt} in the C back end")

    def oob_throw(self, code: int) -> str:
        """Leaving on a stack index out of range: a parser error in a parser (as
        the Python back end's ParserReject), a packet fault elsewhere."""
        if self.fn.in_parser:
            return f"p4_reject(ctx, {code})"
        return "p4_throw(ctx, P4_SIG_FAULT)"

    def ex_Index(self, e: ast.Index) -> str:  # noqa: N802
        base = self.ex(e.expr)
        st = type_of(e.expr)
        if not isinstance(st, T.StackT):
            raise Unsupported(e.loc, "indexing something other than a header stack")
        if isinstance(e.index.const, int):
            i = e.index.const
            if not 0 <= i < st.size:
                raise P4Error(e.loc, f"index {i} out of range for {st}")
            return f"{base}.e[{i}]"
        idx = self.tmp("i")
        self.line(f"uint64_t {idx} = (uint64_t)({self.ex(e.index)});")
        self.line(f"if ({idx} >= {st.size})")
        if self.fn.in_parser:
            self.line(f"    p4_reject(ctx, {self.error_code('StackOutOfBounds')});")
        else:
            self.line("    p4_throw(ctx, P4_SIG_DROP);")
        return f"{base}.e[{idx}]"

    def slice_bounds(self, e: ast.Slice) -> tuple[int, int]:
        hi, lo = e.hi_v, e.lo_v
        if hi < 0 or lo < 0:
            hi, lo = e.hi.const, e.lo.const
        if not isinstance(hi, int) or not isinstance(lo, int):
            raise Unsupported(e.loc, "slice with bounds not known at compile time")
        return hi, lo

    def ex_Slice(self, e: ast.Slice) -> str:  # noqa: N802
        hi, lo = self.slice_bounds(e)
        bt = type_of(e.expr)
        base = self.ex(e.expr)
        w = hi - lo + 1
        if is_wide(bt):
            v = f"(({base} >> {lo}) & {mask_lit(w)})"
            return v if w > 64 else f"((uint64_t){v})"
        return f"(((uint64_t)({base}) >> {lo}) & {mask_lit(w)})"

    def ex_Unary(self, e: ast.Unary) -> str:  # noqa: N802
        v = self.ex(e.expr)
        t = type_of(e)
        if e.op == "!":
            return f"(!{v})"
        if e.op == "+":
            return v
        if not isinstance(t, T.BitT):
            raise Unsupported(e.loc, f"unary {e.op} on {t} in the C back end")
        if e.op == "~":
            return f"(~{v})" if t.signed else f"(~{v} & {mask_lit(t.width)})"
        if e.op == "-":
            if t.signed:
                return f"p4_sx64(0 - (uint64_t)({v}), {t.width})"
            return f"((0 - {v}) & {mask_lit(t.width)})"
        raise Unsupported(e.loc, f"unary operator {e.op}")

    def ex_Binary(self, e: ast.Binary) -> str:  # noqa: N802
        op = e.op
        if op in ("&&", "||"):
            return f"({self.ex(e.left)} {op} {self.ex(e.right)})"
        a = self.ex(e.left)
        b = self.ex(e.right)
        lt = type_of(e.left)
        if op in ("==", "!="):
            if is_agg(lt):
                r = f"eq_{self.types.name(lt)}(&{a}, &{b})"
                return r if op == "==" else f"(!{r})"
            return f"({a} {op} {b})"
        if op in ("<", "<=", ">", ">="):
            return f"({a} {op} {b})"
        if op == "++":
            return self._concat(e, a, b)
        t = type_of(e)
        if not isinstance(t, T.BitT):
            raise Unsupported(e.loc, f"operator {op} on {t} in the C back end")
        w = t.width
        m = mask_lit(w)
        wide = w > 64
        if op in ("&", "|", "^"):
            return f"({a} {op} {b})"
        if op in ("+", "-", "*"):
            if t.signed:
                return f"p4_sx64((uint64_t)({a}) {op} (uint64_t)({b}), {w})"
            if w == 64 or w == 128:
                return f"({a} {op} {b})"
            return f"(({a} {op} {b}) & {m})"
        if op in ("/", "%"):
            if t.signed or wide:
                raise Unsupported(e.loc, f"{op} on {t} in the C back end")
            return f"p4_{'div' if op == '/' else 'mod'}_u({a}, {b})"
        shift_t = type_of(e.right)
        amount = f"(uint64_t)({b})"
        if is_wide(shift_t):
            amount = f"({b} > 255 ? UINT64_C(255) : (uint64_t)({b}))"
        if op == "<<":
            s = e.right.const
            if isinstance(s, int):
                if s >= w:
                    return self.zero(t)
                if t.signed:
                    return f"p4_sx64((uint64_t)({a}) << {s}, {w})"
                return f"(({a} << {s}) & {m})"
            if t.signed:
                return f"p4_shl_s({a}, {amount}, {w})"
            if wide:
                return f"p4_shl_u128({a}, {amount}, {w})"
            return f"p4_shl_u({a}, {amount}, {w})"
        if op == ">>":
            s = e.right.const
            if isinstance(s, int) and s < (128 if wide else 64):
                return f"({a} >> {s})"
            if t.signed:
                return f"p4_shr_s({a}, {amount})"
            if wide:
                return f"p4_shr_u128({a}, {amount})"
            return f"p4_shr_u({a}, {amount})"
        if op in ("|+|", "|-|"):
            if wide:
                raise Unsupported(e.loc, f"saturating {op} on {t} in the C back end")
            kind = "add" if op == "|+|" else "sub"
            if t.signed:
                return f"p4_sat_{kind}_s({a}, {b}, {w})"
            return f"p4_sat_add_u({a}, {b}, {w})" if kind == "add" else f"p4_sat_sub_u({a}, {b})"
        raise Unsupported(e.loc, f"binary operator {op}")

    def _concat(self, e: ast.Binary, a: str, b: str) -> str:
        lt, rt, t = type_of(e.left), type_of(e.right), type_of(e)
        lw, rw = T.width_of(lt), T.width_of(rt)
        w = T.width_of(t)
        cont = "p4_u128" if w > 64 else "uint64_t"

        def raw(v: str, vt: Any, vw: int) -> str:
            if isinstance(vt, T.BitT) and vt.signed:
                return f"(({cont})((uint64_t)({v}) & {mask_lit(vw)}))"
            return f"(({cont})({v}))"

        r = f"(({raw(a, lt, lw)} << {rw}) | {raw(b, rt, rw)})"
        if isinstance(t, T.BitT) and t.signed:
            return f"p4_sx64((uint64_t){r}, {w})"
        return r

    def ex_Ternary(self, e: ast.Ternary) -> str:  # noqa: N802
        t = type_of(e)
        if is_agg(t):
            tmp = self.tmp("sel")
            self.line(
                f"{self.ctype(t)} {tmp} = ({self.ex(e.cond)}) ? {self.ex(e.then)} : {self.ex(e.other)};"
            )
            return tmp
        return f"({self.ex(e.cond)} ? {self.ex(e.then)} : {self.ex(e.other)})"

    def ex_Cast(self, e: ast.Cast) -> str:  # noqa: N802
        dst = u(resolved(e.to) or e.type)
        src = type_of(e.expr)
        if isinstance(dst, T.StructLikeT):
            return self.build_agg(dst, e.expr)
        return self.convert(self.ex(e.expr), src, dst)

    def convert(self, v: str, src: Any, dst: Any) -> str:
        src, dst = u(src), u(dst)
        if isinstance(dst, T.BitT):
            if isinstance(src, T.BoolT):
                return f"(({scalar_ctype(dst)})({v}))"
            if dst.signed:
                if isinstance(src, T.BitT) and (
                    (src.signed and src.width <= dst.width)
                    or (not src.signed and src.width < dst.width)
                ):
                    return f"((int64_t)({v}))"
                return f"p4_sx64((uint64_t)({v}), {dst.width})"
            if isinstance(src, T.BitT):
                if src.signed or src.width > dst.width:
                    if dst.width > 64:
                        return f"((p4_u128)(int64_t)({v}) & {mask_lit(dst.width)})"
                    return f"((uint64_t)({v}) & {mask_lit(dst.width)})"
                if dst.width > 64 and src.width <= 64:
                    return f"((p4_u128)({v}))"
                return v
            if dst.width > 64:
                return f"((p4_u128)({v}) & {mask_lit(dst.width)})"
            return f"((uint64_t)({v}) & {mask_lit(dst.width)})"
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
        raise Unsupported(e.loc, "a tuple value in the C back end")

    def ex_StructInit(self, e: ast.StructInit) -> str:  # noqa: N802
        t = type_of(e)
        if isinstance(t, T.StructLikeT):
            return self.build_agg(t, e)
        raise Unsupported(e.loc, "a structure expression of unknown type in the C back end")

    def build_agg(self, t: T.StructLikeT, e: ast.Expr) -> str:
        if isinstance(e, ast.ListExpr):
            pairs = list(zip((n for n, _ in t.fields), e.items, strict=False))
        elif isinstance(e, ast.StructInit):
            pairs = list(e.fields)
        else:
            return self.ex(e)
        vals = []
        for name, item in pairs:
            ft = u(t.field_type(name))
            if isinstance(ft, T.StructLikeT):
                vals.append((name, self.build_agg(ft, item)))
            elif isinstance(ft, T.VarbitT):
                raise Unsupported(e.loc, "a varbit field in an initializer (C back end)")
            else:
                v = self.ex(item)
                it = type_of(item)
                if isinstance(ft, T.BitT) and isinstance(it, T.BitT) and it != ft:
                    v = self.convert(v, it, ft)
                vals.append((name, v))
        tmp = self.tmp("agg")
        self.declare(tmp, t)
        for name, val in vals:
            self.line(f"{tmp}.{ident(name)} = {val};")
        if isinstance(t, T.HeaderT):
            self.line(f"{tmp}._valid = true;")
        return tmp

    def ex_DefaultExpr(self, e: ast.DefaultExpr) -> str:  # noqa: N802
        raise Unsupported(e.loc, "a don't-care value in the C back end")

    # ------------------------------------------------------------------ calls

    def call(self, e: ast.Call) -> str | None:
        kind = e.kind
        if kind in ("action", "function"):
            return self.call_user(e)
        if kind == "table_apply":
            return f"{self.inst_fns[(id(self.inst), id(e.target))]}(c, ctx)"
        if kind in ("control_apply", "parser_apply"):
            self.call_block(e)
            return None
        if kind == "builtin":
            return self.call_builtin(e)
        if kind in ("extern_function", "extern_method"):
            return self.ext.call(e)
        raise Unsupported(e.loc, f"call of kind '{kind}' in the C back end")

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
                return f"UINT64_C({bits if m.endswith('Bits') else (bits + 7) // 8})"
        r = self.ex(recv)
        if m == "isValid":
            if isinstance(rt, T.HeaderUnionT):
                return "(" + " || ".join(f"{r}.{ident(n)}._valid" for n, _ in rt.fields) + ")"
            return f"{r}._valid"
        if m in ("setValid", "setInvalid"):
            if m == "setValid" and isinstance(recv, ast.Member):
                ut = type_of(recv.expr)
                if isinstance(ut, T.HeaderUnionT):
                    self.invalidate_union(self.ex(recv.expr), ut)
            self.line(f"{r}._valid = {'true' if m == 'setValid' else 'false'};")
            return None
        if m in ("push_front", "pop_front"):
            if not isinstance(rt, T.StackT):
                raise Unsupported(e.loc, f"{m} on {rt}")
            arg = e.resolved_args[0] if e.resolved_args else e.args[0].value
            self.stack_shift(r, rt, self.ex(arg), m == "push_front")
            return None
        raise Unsupported(e.loc, f"method '{m}' in the C back end")

    def invalidate_union(self, r: str, t: T.StructLikeT) -> None:
        for n, _ in t.fields:
            self.line(f"{r}.{ident(n)}._valid = false;")

    def invalidate_all(self, r: str, t: Any) -> None:
        """Make every header inside `r` invalid (the elements a stack shift drops)."""
        t = u(t)
        if isinstance(t, T.HeaderT):
            self.line(f"{r}._valid = false;")
        elif isinstance(t, T.StructLikeT):
            for n, ft in t.fields:
                if is_agg(ft):
                    self.invalidate_all(f"{r}.{ident(n)}", ft)
        elif isinstance(t, T.StackT):
            i = self.tmp("j")
            self.open(f"for (int {i} = 0; {i} < {t.size}; {i}++)")
            self.invalidate_all(f"{r}.e[{i}]", t.elem)
            self.close()
            self.line(f"{r}.next_index = 0;")

    def stack_shift(self, r: str, st: T.StackT, count: str, front: bool) -> None:
        n = self.tmp("n")
        i = self.tmp("i")
        size = st.size
        self.line(f"uint64_t {n} = (uint64_t)({count});")
        if front:
            self.open(f"for (int64_t {i} = {size - 1}; {i} >= 0; {i}--)")
            self.line(f"if ((uint64_t){i} >= {n})")
            self.line(f"    {r}.e[{i}] = {r}.e[(uint64_t){i} - {n}];")
            self.open("else")
            self.invalidate_all(f"{r}.e[{i}]", st.elem)
            self.close()
            self.close()
            self.line(
                f"{r}.next_index = (uint32_t)({r}.next_index + {n} < {size} ? "
                f"{r}.next_index + {n} : {size});"
            )
        else:
            self.open(f"for (int64_t {i} = 0; {i} < {size}; {i}++)")
            self.line(f"if ((uint64_t){i} + {n} < {size})")
            self.line(f"    {r}.e[{i}] = {r}.e[(uint64_t){i} + {n}];")
            self.open("else")
            self.invalidate_all(f"{r}.e[{i}]", st.elem)
            self.close()
            self.close()
            self.line(
                f"{r}.next_index = (uint32_t)({r}.next_index > {n} ? {r}.next_index - {n} : 0);"
            )

    def args_for(
        self, params: list[ast.Param], args: list[ast.Expr | None]
    ) -> tuple[list[str], list[tuple[ast.Expr, str, Any]]]:
        """C arguments for a copy-in/copy-out call, and the copy-back list
        `(lvalue expr, temporary, type)`."""
        out: list[str] = []
        back: list[tuple[ast.Expr, str, Any]] = []
        for p, a in zip(params, args, strict=False):
            pt = u(resolved(p.type))
            if isinstance(pt, T.ExternT):
                raise Unsupported(p.loc, "an extern passed to an action or function (C back end)")
            if is_agg(pt):
                if p.direction == "inout" and a is not None:
                    out.append(f"&{self.ex(a)}")
                    continue
                tmp = self.tmp("ag")
                if p.direction == "out" or a is None:
                    self.declare(tmp, pt)
                else:
                    v = self.build_agg(pt, a) if isinstance(pt, T.StructLikeT) else self.ex(a)
                    self.line(f"{self.ctype(pt)} {tmp} = {v};")
                out.append(f"&{tmp}")
                if p.direction == "out" and a is not None:
                    back.append((a, tmp, pt))
                continue
            if p.direction in ("out", "inout"):
                tmp = self.tmp("o")
                if p.direction == "inout" and a is not None:
                    v = self.convert(self.ex(a), type_of(a), pt)
                    self.line(f"{self.ctype(pt, p.loc)} {tmp} = {v};")
                else:
                    self.declare(tmp, pt, p.loc)
                out.append(f"&{tmp}")
                if a is not None:
                    back.append((a, tmp, pt))
                continue
            if a is None:
                out.append(self.zero(pt))
            else:
                out.append(self.convert(self.ex(a), type_of(a), pt))
        return out, back

    def copy_back(self, back: list[tuple[ast.Expr, str, Any]]) -> None:
        for a, tmp, pt in back:
            if is_agg(pt):
                self.line(f"{self.ex(a)} = {tmp};")
            else:
                self.assign_scalar(a, tmp)

    def call_user(self, e: ast.Call) -> str | None:
        target = e.target
        params = e.params or list(getattr(target, "params", []))
        args = list(e.resolved_args) if e.resolved_args else [a.value for a in e.args]
        cargs, back = self.args_for(params, args)
        fn = self.fn_name(target)
        pre = self.fn_prefix(target)
        call = f"{fn}({', '.join(pre + cargs)})"
        rt = u(resolved(getattr(target, "return_type", None)))
        returns_value = not isinstance(target, ast.ActionDecl) and not isinstance(
            rt, T.VoidT | type(None)
        )
        if not returns_value:
            self.line(call + ";")
            self.copy_back(back)
            return None
        tmp = self.tmp("r")
        self.line(f"{self.ctype(rt)} {tmp} = {call};")
        self.copy_back(back)
        return tmp

    def fn_prefix(self, decl: ast.Decl) -> list[str]:
        if self.inst is not None and (id(self.inst), id(decl)) in self.inst_fns:
            return ["c", "ctx"]
        return ["ctx"]

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
        del inst_decl
        child = naming.child_for_call(self.inst, e) if self.inst is not None else None
        if child is None:
            raise Unsupported(e.loc, "apply of a block that is not a local instance")
        params = child.decl.params
        args = list(e.resolved_args) if e.resolved_args else [a.value for a in e.args]
        frame = self.tmp("f")
        self.line(f"{self.frame_name[id(child)]} {frame};")
        self.line(f"memset(&{frame}, 0, sizeof {frame});")
        backs: list[tuple[ast.Expr, str, Any]] = []
        for p, a in zip(params, args, strict=False):
            pt = u(resolved(p.type))
            slot = f"{frame}.{ident(p.name)}"
            if isinstance(pt, T.ExternT):
                if a is None:
                    raise Unsupported(p.loc, "a missing extern argument")
                self.line(f"{slot} = {self.extern_ptr(a)};")
            elif is_agg(pt):
                if p.direction == "inout" and a is not None:
                    self.line(f"{slot} = &{self.ex(a)};")
                    continue
                tmp = self.tmp("ag")
                if p.direction == "out" or a is None:
                    self.declare(tmp, pt)
                else:
                    self.line(f"{self.ctype(pt)} {tmp} = {self.ex(a)};")
                self.line(f"{slot} = &{tmp};")
                if p.direction == "out" and a is not None:
                    backs.append((a, tmp, pt))
            elif p.direction == "out" or a is None:
                self.line(f"{slot} = {self.zero(pt)};")
            else:
                self.line(f"{slot} = {self.convert(self.ex(a), type_of(a), pt)};")
        self.line(f"{self.apply_name[id(child)]}(&{frame}, ctx);")
        self.copy_back(backs)
        for p, a in zip(params, args, strict=False):
            pt = u(resolved(p.type))
            if a is None or p.direction not in ("out", "inout") or is_agg(pt):
                continue
            if isinstance(pt, T.ExternT):
                continue
            self.assign_scalar(a, f"{frame}.{ident(p.name)}")

    def extern_ptr(self, a: ast.Expr) -> str:
        d = getattr(a, "decl", None)
        if d is not None and id(d) in self.vars:
            v = self.vars[id(d)]
            return v[2:-1] if v.startswith("(*") else f"&{v}"
        raise Unsupported(a.loc, "this extern argument in the C back end")

    # ------------------------------------------------------------------ statements

    def stmt(self, s: Any) -> None:
        method = getattr(self, "st_" + type(s).__name__, None)
        if method is None:
            raise Unsupported(s.loc, f"statement {type(s).__name__} in the C back end")
        if not isinstance(s, ast.BlockStmt | ast.EmptyStmt | ast.ConstDecl):
            self.loc_comment(s)
        method(s)

    def stmts(self, items: list[Any]) -> None:
        for s in items:
            self.stmt(s)

    def st_BlockStmt(self, s: ast.BlockStmt) -> None:  # noqa: N802
        self.open("")
        self.stmts(s.stmts)
        self.close()

    def st_EmptyStmt(self, s: ast.EmptyStmt) -> None:  # noqa: N802
        pass

    def st_ConstDecl(self, s: ast.ConstDecl) -> None:  # noqa: N802
        pass

    def st_VarDecl(self, s: ast.VarDecl) -> None:  # noqa: N802
        t = u(resolved(s.type))
        name = self.tmp("v" + s.name[:24])
        if is_agg(t):
            self.declare(name, t, s.loc)
            self.vars[id(s)] = name
            if s.init is not None:
                self.line(f"{name} = {self.agg_value(t, s.init)};")
            return
        init = None
        if s.init is not None:
            init = self.convert(self.ex(s.init), type_of(s.init), t)
        self.vars[id(s)] = name
        self.line(f"{self.ctype(t, s.loc)} {name} = {init if init is not None else self.zero(t)};")

    def agg_value(self, t: Any, rhs: ast.Expr) -> str:
        if isinstance(t, T.StructLikeT) and isinstance(rhs, ast.ListExpr | ast.StructInit):
            return self.build_agg(t, rhs)
        return self.ex(rhs)

    def st_AssignStmt(self, s: ast.AssignStmt) -> None:  # noqa: N802
        t = type_of(s.lhs)
        if (
            isinstance(t, T.HeaderT)
            and isinstance(s.lhs, ast.Member)
            and isinstance(type_of(s.lhs.expr), T.HeaderUnionT)
        ):
            v = self.tmp("h")
            self.line(f"{self.ctype(t)} {v} = {self.ex(s.rhs)};")
            self.open(f"if ({v}._valid)")
            self.invalidate_union(self.ex(s.lhs.expr), type_of(s.lhs.expr))
            self.close()
            self.line(f"{self.ex(s.lhs)} = {v};")
            return
        if is_agg(t):
            v = self.agg_value(t, s.rhs)
            self.line(f"{self.ex(s.lhs)} = {v};")
            return
        v = self.convert(self.ex(s.rhs), type_of(s.rhs), t)
        self.assign_scalar(s.lhs, v)

    def assign_scalar(self, lhs: ast.Expr, value: str) -> None:
        if isinstance(lhs, ast.Slice):
            hi, lo = self.slice_bounds(lhs)
            bt = type_of(lhs.expr)
            w = T.width_of(bt)
            base = self.ex(lhs.expr)
            fm = mask(hi - lo + 1) << lo
            cont = "p4_u128" if w > 64 else "uint64_t"
            fml = lit(fm, T.BitT(max(w, 1))) if w > 64 else f"UINT64_C({fm:#x})"
            keep = lit(mask(w) ^ fm, T.BitT(w)) if w > 64 else f"UINT64_C({mask(w) ^ fm:#x})"
            raw = f"(({cont})({base}) & {keep})"
            new = f"({raw} | ((({cont})({value}) << {lo}) & {fml}))"
            if isinstance(bt, T.BitT) and bt.signed:
                new = f"p4_sx64((uint64_t){new}, {w})"
            elif isinstance(bt, T.BoolT):
                new = f"({new} != 0)"
            self.assign_scalar(lhs.expr, new)
            return
        if isinstance(lhs, ast.PathExpr | ast.Member | ast.Index):
            self.line(f"{self.ex(lhs)} = {value};")
            return
        raise Unsupported(lhs.loc, "assignment target in the C back end")

    def st_CallStmt(self, s: ast.CallStmt) -> None:  # noqa: N802
        r = self.call(s.call)
        if r is not None:
            self.line(f"(void){r};")

    def st_IfStmt(self, s: ast.IfStmt) -> None:  # noqa: N802
        self.open(f"if ({self.ex(s.cond)})")
        self.stmt(s.then)
        if s.other is not None:
            self.close(" else {")
            self.depth += 1
            self.stmt(s.other)
        self.close()

    def st_SwitchStmt(self, s: ast.SwitchStmt) -> None:  # noqa: N802
        val = self.tmp("sw")
        st = type_of(s.expr)
        ctype = "uint64_t" if isinstance(st, T.ActionRunT) else self.ctype(st)
        self.line(f"{ctype} {val} = {self.ex(s.expr)};")
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
            cond = " || ".join(f"{val} == {lab}" for lab in pending) or "false"
            self.open(f"{'if' if first else 'else if'} ({cond})")
            self.stmt(case.block)
            self.close()
            first = False
            pending = []
        if default_block is not None:
            if first:
                self.stmt(default_block)
            else:
                self.open("else")
                self.stmt(default_block)
                self.close()
        self.line(f"(void){val};")

    def switch_label(self, label: ast.Expr) -> str:
        decl = getattr(label, "decl", None)
        if isinstance(decl, ast.ActionDecl):
            try:
                return f"UINT64_C({self.binder.action_id(self.cp_name(decl))})"
            except P4Error:
                return "UINT64_MAX"  # an action the P4Info does not have never runs
        return self.ex(label)

    def st_ReturnStmt(self, s: ast.ReturnStmt) -> None:  # noqa: N802
        if self.fn.kind == "apply":
            self.line("return;")
            return
        rt = self.fn.return_type
        if s.value is not None and self.fn.has_value:
            if is_agg(rt):
                self.line(f"rv = {self.agg_value(rt, s.value)};")
            else:
                self.line(f"rv = {self.convert(self.ex(s.value), type_of(s.value), rt)};")
        self.fn.ret_used = True
        self.line("goto L_ret;")

    def st_ExitStmt(self, s: ast.ExitStmt) -> None:  # noqa: N802
        self.line("p4_throw(ctx, P4_SIG_EXIT);")

    def st_Instantiation(self, s: ast.Instantiation) -> None:  # noqa: N802
        raise Unsupported(s.loc, "instantiation inside a block body")

    # ------------------------------------------------------------------ callables

    def function(
        self,
        name: str,
        params: list[ast.Param],
        body: ast.BlockStmt | None,
        frame: str | None,
        kind: str,
        return_type: Any = None,
    ) -> None:
        """Write an action or function: `static RT name([F *c,] p4_ctx *ctx, params)`."""
        saved_fn = self.fn
        saved = self.begin_fn()
        sig = ([f"{frame} *c"] if frame else []) + ["p4_ctx *ctx"]
        writebacks = []
        for p in params:
            pt = u(resolved(p.type))
            pn = self.tmp("a" + p.name[:24])
            if is_agg(pt):
                if p.direction in ("out", "inout"):
                    sig.append(f"{self.ctype(pt)} *{pn}")
                    self.vars[id(p)] = f"(*{pn})"
                else:
                    sig.append(f"const {self.ctype(pt)} *{pn}_in")
                    self.line(f"{self.ctype(pt)} {pn} = *{pn}_in;")
                    self.vars[id(p)] = pn
                continue
            ct = self.ctype(pt, p.loc)
            if p.direction in ("out", "inout"):
                sig.append(f"{ct} *{pn}_p")
                init = f"*{pn}_p" if p.direction == "inout" else self.zero(pt)
                self.line(f"{ct} {pn} = {init};")
                writebacks.append(f"*{pn}_p = {pn};")
            else:
                sig.append(f"{ct} {pn}")
            self.vars[id(p)] = pn
        has_value = kind == "function" and not isinstance(return_type, T.VoidT | type(None))
        rct = self.ctype(return_type) if has_value else "void"
        if has_value:
            self.declare("rv", return_type)
        self.line("(void)ctx;")
        if frame:
            self.line("(void)c;")
        self.fn = Fn(kind=kind, has_value=has_value, return_type=return_type)
        if body is not None:
            self.stmts(body.stmts)
        if self.fn.ret_used:
            self.depth = 0
            self.line("L_ret:;")
            self.depth = 1
        for wb in writebacks:
            self.line(wb)
        self.line("return rv;" if has_value else "return;")
        self.fn = saved_fn
        self.end_fn(f"static {rct} {name}({', '.join(sig)})", saved)

    # ------------------------------------------------------------------ blocks

    def compile(self) -> str:
        tops = naming.block_instances(self.prog)
        everything: list[naming.BlockInstance] = []

        def walk(b: naming.BlockInstance) -> None:
            everything.append(b)
            for ch in b.children:
                walk(ch)

        for b in tops:
            walk(b)
        for k, b in enumerate(everything):
            self.frame_name[id(b)] = f"F{k}_{ident(b.decl.name).removeprefix('f_')}"
            self.apply_name[id(b)] = f"B{k}_apply"
        for d in self.prog.decls:
            if isinstance(d, ast.FunctionDecl | ast.ActionDecl):
                kind = "F" if isinstance(d, ast.FunctionDecl) else "A"
                self.inst_fns[(id(None), id(d))] = f"{kind}{len(self.inst_fns)}_{ident(d.name)}"
        for d in self.prog.decls:
            if isinstance(d, ast.FunctionDecl):
                rt = u(resolved(d.return_type))
                self.function(
                    self.inst_fns[(id(None), id(d))], d.params, d.body, None, "function", rt
                )
            elif isinstance(d, ast.ActionDecl):
                self.function(self.inst_fns[(id(None), id(d))], d.params, d.body, None, "action")
            elif isinstance(d, ast.Instantiation) and d is not self.prog.main:
                self.ext.instance(d, naming.decl_name(d))
        frames = [self.frame_decl(b) for b in everything]
        for k, b in enumerate(everything):
            self.block(k, b)
        for b in tops:
            if b.package_param:
                self.roles[b.package_param] = b
        return "\n".join(frames)

    def frame_decl(self, b: naming.BlockInstance) -> str:
        members = []
        for p in b.decl.params:
            pt = u(resolved(p.type))
            if isinstance(pt, T.ExternT):
                ctype = {"packet_in": "p4_pkt", "packet_out": "p4_bitbuf"}.get(pt.name)
                if ctype is None:
                    raise Unsupported(p.loc, f"a {pt.name} parameter in the C back end")
                members.append(f"    {ctype} *{ident(p.name)};")
            elif is_agg(pt):
                members.append(f"    {self.ctype(pt)} *{ident(p.name)};")
            else:
                members.append(f"    {self.ctype(pt, p.loc)} {ident(p.name)};")
        for p in b.decl.ctor_params:
            raise Unsupported(p.loc, "constructor parameters of parsers and controls")
        for d in b.decl.locals:
            if isinstance(d, ast.VarDecl):
                t = u(resolved(d.type))
                members.append(f"    {self.ctype(t, d.loc)} l_{ident(d.name).removeprefix('f_')};")
        body = "\n".join(members) or "    uint8_t _empty;"
        return f"typedef struct {{\n{body}\n}} {self.frame_name[id(b)]}; /* {'.'.join(b.path)} */\n"

    def block(self, k: int, b: naming.BlockInstance) -> None:
        self.inst = b
        self.vars = {}
        decl = b.decl
        frame = self.frame_name[id(b)]
        for p in decl.params:
            pt = u(resolved(p.type))
            if is_agg(pt) or isinstance(pt, T.ExternT):
                self.vars[id(p)] = f"(*c->{ident(p.name)})"
            else:
                self.vars[id(p)] = f"c->{ident(p.name)}"
        local_vars = []
        for d in decl.locals:
            if isinstance(d, ast.VarDecl):
                slot = f"c->l_{ident(d.name).removeprefix('f_')}"
                self.vars[id(d)] = slot
                local_vars.append((slot, d))
        for d in decl.locals:
            if isinstance(d, ast.ActionDecl):
                self.inst_fns[(id(b), id(d))] = f"B{k}_A_{ident(d.name)}"
            elif isinstance(d, ast.TableDecl):
                self.inst_fns[(id(b), id(d))] = f"B{k}_T_{ident(d.name)}"
        for d in decl.locals:
            if isinstance(d, ast.ActionDecl):
                self.function(self.inst_fns[(id(b), id(d))], d.params, d.body, frame, "action")
            elif isinstance(d, ast.Instantiation):
                if any(ch.instantiation is d for ch in b.children):
                    continue
                self.ext.instance(d, self.cp_name(d))
        from .ctables import CTable

        for d in decl.locals:
            if isinstance(d, ast.TableDecl):
                CTable(self, d).emit(self.inst_fns[(id(b), id(d))], frame)
        saved = self.begin_fn()
        self.fn = Fn(kind="apply", in_parser=isinstance(decl, ast.ParserDecl))
        self.line("(void)c;")
        self.line("(void)ctx;")
        for slot, d in local_vars:
            t = u(resolved(d.type))
            if is_agg(t):
                self.line(f"memset(&{slot}, 0, sizeof {slot});")
                if d.init is not None:
                    self.line(f"{slot} = {self.agg_value(t, d.init)};")
            else:
                init = self.zero(t)
                if d.init is not None:
                    init = self.convert(self.ex(d.init), type_of(d.init), t)
                self.line(f"{slot} = {init};")
        if isinstance(decl, ast.ParserDecl):
            from .cparser import CParser

            CParser(self, decl).emit()
        else:
            self.stmts(decl.body.stmts)
        self.fn = Fn()
        self.end_fn(f"static void {self.apply_name[id(b)]}({frame} *c, p4_ctx *ctx)", saved)
        self.inst = None


def _collect_errors(prog: ast.Program) -> dict[str, int]:
    """Error member numbers, as the Python back end numbers them."""
    out: dict[str, int] = {}
    for d in prog.decls:
        if isinstance(d, ast.ErrorDecl):
            for m in d.members:
                out.setdefault(m, len(out))
    for core in ("NoError", "PacketTooShort", "NoMatch", "StackOutOfBounds", "HeaderTooShort"):
        out.setdefault(core, len(out))
    return out
