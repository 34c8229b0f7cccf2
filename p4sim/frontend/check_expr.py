"""Expressions: typing rules of every P4_16 operator, implicit conversion of unsized
integers, casts, initializers, member access and constant folding.

Every checked expression gets `.type`; compile-time known ones also get `.const`
(int, bool, str, or "Type.Member" for enum and error members). Calls live in
`check_call.py`, which extends this class.
"""

from __future__ import annotations

import logging
from typing import Any

from . import ast, consts
from . import types as T
from .check_types import TypeResolver
from .errors import P4Error
from .typeops import same

log = logging.getLogger("p4sim.frontend")

_ARITH = {"+", "-", "*", "/", "%", "|+|", "|-|", "&", "|", "^"}
_COMPARE = {"<", "<=", ">", ">="}


def describe(e: ast.Expr) -> str:
    """Short source-like text of an expression, for messages."""
    if isinstance(e, ast.PathExpr):
        return ("." if e.top_level else "") + e.name
    if isinstance(e, ast.Member):
        return f"{describe(e.expr)}.{e.name}"
    if isinstance(e, ast.Index):
        return f"{describe(e.expr)}[{describe(e.index)}]"
    if isinstance(e, ast.Slice):
        return f"{describe(e.expr)}[{describe(e.hi)}:{describe(e.lo)}]"
    if isinstance(e, ast.IntLit):
        return e.text or str(e.value)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.Call):
        return f"{describe(e.func)}(...)"
    if isinstance(e, ast.TypeArgExpr):
        return str(e.typeref.resolved or "type")
    return "expression"


def is_int_const(e: ast.Expr) -> bool:
    return isinstance(e.const, int) and not isinstance(e.const, bool)


class ExprChecker(TypeResolver):
    # ------------------------------------------------------------------ entry points

    def expr(self, e: ast.Expr, expected: T.Type | None = None) -> T.Type:
        """Type `e` (and fold it); `expected` guides list/struct initializers and
        ternaries of unsized integers, it does not convert anything by itself."""
        if expected is not None and isinstance(e, (ast.ListExpr, ast.StructInit)):
            if isinstance(expected, (T.StructT, T.HeaderT, T.TupleT, T.StackT)):
                t = self.initializer(e, expected)
                e.type = t
                return t
        t = self._expr(e, expected)
        e.type = t
        return t

    def coerce(self, e: ast.Expr, target: T.Type) -> bool:
        """Apply the implicit conversions P4 allows from `e` to `target` (unsized int to
        a fixed-width type, serializable enum to its underlying type, initializer to
        aggregate). Returns False when `e` does not fit `target`."""
        src = e.type
        if same(src, target):
            return True
        if isinstance(src, T.IntLitT) and isinstance(target, T.BitT):
            if is_int_const(e):
                v = e.const
                if not consts.fits(v, target):
                    log.warning("%s: warning: value %d does not fit in %s", e.loc, v, target)
                e.const = consts.wrap(v, target)
            e.type = target
            return True
        if isinstance(src, T.SerEnumT) and same(src.underlying, target):
            return True
        if isinstance(e, (ast.ListExpr, ast.StructInit)) and isinstance(
            target, (T.StructT, T.HeaderT, T.TupleT, T.StackT)
        ):
            e.type = self.initializer(e, target)
            return True
        return False

    def coerce_or_fail(self, e: ast.Expr, target: T.Type, what: str) -> None:
        if not self.coerce(e, target):
            hint = "; use a cast" if self.castable(e.type, target) else ""
            raise P4Error(e.loc, f"{what}: expected {target}, got {e.type}{hint}")

    def compile_time_known(self, e: ast.Expr) -> bool:
        """Known when the program is instantiated, if not yet folded: constants, and
        direction-less parameters (action data, constructor parameters), which P4
        treats as compile-time known, and expressions built from them only."""
        if e.const is not None:
            return True
        if isinstance(e, ast.PathExpr):
            d = e.decl
            return isinstance(d, (ast.ConstDecl, ast.Instantiation)) or (
                isinstance(d, ast.Param) and d.direction == ""
            )
        if isinstance(e, (ast.Unary, ast.Cast, ast.Slice)):
            return self.compile_time_known(e.expr)
        if isinstance(e, ast.Binary):
            return self.compile_time_known(e.left) and self.compile_time_known(e.right)
        if isinstance(e, ast.Ternary):
            return all(map(self.compile_time_known, (e.cond, e.then, e.other)))
        if isinstance(e, ast.ListExpr):
            return all(map(self.compile_time_known, e.items))
        if isinstance(e, ast.StructInit):
            return all(self.compile_time_known(v) for _, v in e.fields)
        return False

    # ------------------------------------------------------------------ dispatch

    def _expr(self, e: ast.Expr, expected: T.Type | None) -> T.Type:
        if isinstance(e, ast.IntLit):
            return self._int_lit(e)
        if isinstance(e, ast.BoolLit):
            e.const = e.value
            return T.BoolT()
        if isinstance(e, ast.StringLit):
            e.const = e.value
            return T.StringT()
        if isinstance(e, ast.PathExpr):
            return self._path(e)
        if isinstance(e, ast.Member):
            return self._member(e)
        if isinstance(e, ast.Index):
            return self._index(e)
        if isinstance(e, ast.Slice):
            return self._slice(e)
        if isinstance(e, ast.Unary):
            return self._unary(e)
        if isinstance(e, ast.Binary):
            return self._binary(e)
        if isinstance(e, ast.Ternary):
            return self._ternary(e, expected)
        if isinstance(e, ast.Cast):
            return self._cast(e)
        if isinstance(e, ast.TypeArgExpr):
            return self.resolve(e.typeref)
        if isinstance(e, ast.Call):
            return self.call(e, expected)
        if isinstance(e, ast.ListExpr):
            return T.TupleT(tuple(self.expr(x) for x in e.items))
        if isinstance(e, ast.StructInit):
            return self._struct_expr(e)
        if isinstance(e, ast.DontCare):
            return T.DontCareT()
        if isinstance(e, (ast.DefaultExpr, ast.MaskExpr, ast.RangeExpr)):
            raise P4Error(e.loc, "keyset expression outside a select or table entry")
        raise P4Error(e.loc, f"unexpected expression {type(e).__name__}")

    def call(self, e: ast.Call, expected: T.Type | None) -> T.Type:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ leaves

    def _int_lit(self, e: ast.IntLit) -> T.Type:
        if e.width is None:
            e.const = e.value
            return T.IntLitT()
        if e.width < 0 or (e.signed and e.width == 0):
            raise P4Error(e.loc, f"invalid width {e.width} in literal")
        t = T.BitT(e.width, e.signed)
        if not consts.fits(e.value, t):
            log.warning("%s: warning: value %d does not fit in %s", e.loc, e.value, t)
        e.const = consts.wrap(e.value, t)
        return t

    def _path(self, e: ast.PathExpr) -> T.Type:
        if e.name == "error" and not self.scope.lookup("error"):
            e.decl = self.first_error_decl
            return T.ErrorT()
        found = self.lookup(e.name, e.loc, e.top_level)
        d = found[0]
        e.decl = d
        if isinstance(d, T.Type):
            return d
        if isinstance(d, ast.ConstDecl):
            assert d.type is not None
            e.const = d.value.const if d.value is not None else None
            return d.type.resolved
        if isinstance(d, (ast.VarDecl, ast.Param)):
            assert d.type is not None
            return d.type.resolved
        if isinstance(d, ast.Instantiation):
            assert d.type is not None
            return d.type.resolved
        if isinstance(d, ast.ActionDecl):
            return T.ActionT(d)
        if isinstance(d, ast.TableDecl):
            return T.TableT(d)
        if isinstance(d, (ast.FunctionDecl, ast.ExternFunctionDecl)):
            return T.FunctionT(d)
        if d in self.decl_types:
            return self.decl_types[d]
        if isinstance(d, (ast.ParserDecl, ast.ControlDecl)):
            kind = "parser" if isinstance(d, ast.ParserDecl) else "control"
            return T.BlockT(kind, d.name, d)
        if isinstance(d, ast.ExternDecl):
            return T.ExternT(d.name, (), d)
        raise P4Error(e.loc, f"'{e.name}' cannot be used as a value")

    def type_name(self, e: ast.Expr) -> T.Type | None:
        """If `e` names a type (`error`, an enum, a header type...), that type."""
        if isinstance(e, ast.TypeArgExpr):
            e.type = self.resolve(e.typeref)
            return e.type
        if not isinstance(e, ast.PathExpr):
            return None
        if e.name == "error" and not self.scope.lookup("error"):
            e.decl, e.type = self.first_error_decl, T.ErrorT()
            return e.type
        found = self.lookup(e.name, e.loc, e.top_level)
        d = found[0]
        if isinstance(
            d, (ast.EnumDecl, ast.HeaderDecl, ast.StructDecl, ast.HeaderUnionDecl, ast.TypedefDecl)
        ):
            e.decl, e.type = d, self.decl_types[d]
            return e.type
        return None

    # ------------------------------------------------------------------ member access

    def _member(self, e: ast.Member) -> T.Type:
        tt = self.type_name(e.expr)
        if tt is not None:
            return self._type_member(e, tt)
        base = self.expr(e.expr)
        if isinstance(base, T.StructLikeT):
            ft = base.field_type(e.name)
            if ft is None:
                raise P4Error(e.loc, f"{base} has no field '{e.name}'")
            return ft
        if isinstance(base, T.StackT):
            if e.name in ("next", "last", "lastIndex") and self.context_kind() != "parser":
                raise P4Error(e.loc, f"stack member '{e.name}' can only be used in a parser")
            if e.name in ("next", "last"):
                return base.elem
            if e.name == "size":
                e.const = base.size
                return T.BitT(32)
            if e.name == "lastIndex":
                return T.BitT(32)
            raise P4Error(e.loc, f"header stack {base} has no member '{e.name}'")
        if isinstance(base, T.ApplyResultT):
            if e.name in ("hit", "miss"):
                return T.BoolT()
            if e.name == "action_run":
                return T.ActionRunT(base.table)
            raise P4Error(e.loc, f"a table apply result has no member '{e.name}'")
        if isinstance(base, (T.ExternT, T.TableT, T.BlockT)):
            raise P4Error(e.loc, f"method '{e.name}' of {describe(e.expr)} must be called")
        raise P4Error(e.loc, f"{describe(e.expr)} ({base}) has no member '{e.name}'")

    def _type_member(self, e: ast.Member, tt: T.Type) -> T.Type:
        if isinstance(tt, T.ErrorT):
            if e.name not in self.error_members:
                raise P4Error(e.loc, f"error.{e.name} is not declared")
            e.const = f"error.{e.name}"
            return tt
        if isinstance(tt, T.EnumT):
            if e.name not in tt.members:
                raise P4Error(e.loc, f"enum {tt.name} has no member '{e.name}'")
            e.const = f"{tt.name}.{e.name}"
            return tt
        if isinstance(tt, T.SerEnumT):
            if e.name not in tt.members:
                raise P4Error(e.loc, f"enum {tt.name} has no member '{e.name}'")
            e.const = f"{tt.name}.{e.name}"
            return tt
        raise P4Error(e.loc, f"type {tt} has no member '{e.name}'")

    def _index(self, e: ast.Index) -> T.Type:
        base = self.expr(e.expr)
        if isinstance(base, T.TupleT):
            i = self.const_int(e.index, "a tuple index")
            if not 0 <= i < len(base.elems):
                raise P4Error(e.index.loc, f"index {i} out of bounds of {base}")
            return base.elems[i]
        if not isinstance(base, T.StackT):
            raise P4Error(e.expr.loc, f"only header stacks and tuples can be indexed, not {base}")
        it = self.value_type(self.expr(e.index))
        if not (isinstance(it, T.IntLitT) or (isinstance(it, T.BitT) and not it.signed)):
            raise P4Error(e.index.loc, f"stack index must be an unsigned integer, not {it}")
        if is_int_const(e.index):
            i = e.index.const
            if not 0 <= i < base.size:
                raise P4Error(e.index.loc, f"index {i} out of bounds of {base}")
            if isinstance(it, T.IntLitT):
                e.index.type = T.BitT(32)
        return base.elem

    def _slice(self, e: ast.Slice) -> T.Type:
        base = self.value_type(self.expr(e.expr))
        if not isinstance(base, T.BitT):
            raise P4Error(e.expr.loc, f"only bit<W> and int<W> values can be sliced, not {base}")
        hi = self.const_int(e.hi, "a slice bound")
        lo = self.const_int(e.lo, "a slice bound")
        if not (0 <= lo <= hi < base.width):
            raise P4Error(
                e.loc,
                f"slice [{hi}:{lo}] is out of range for {base} (need {base.width - 1} >= hi >= lo >= 0)",
            )
        e.hi_v, e.lo_v = hi, lo
        if is_int_const(e.expr):
            e.const = consts.slice_bits(e.expr.const, base.width, hi, lo)
        return T.BitT(hi - lo + 1)

    # ------------------------------------------------------------------ operators

    def value_type(self, t: T.Type) -> T.Type:
        """The type operators see: a serializable enum converts to its underlying type."""
        return t.underlying if isinstance(t, T.SerEnumT) else t

    def int_value(self, e: ast.Expr) -> Any:
        """`e.const` with serializable enum members turned into their numbers."""
        if isinstance(e.type, T.SerEnumT) and isinstance(e.const, str):
            return e.type.members[e.const.split(".", 1)[1]]
        return e.const

    def _unary(self, e: ast.Unary) -> T.Type:
        t = self.value_type(self.expr(e.expr))
        c = self.int_value(e.expr)
        if e.op == "!":
            if not isinstance(t, T.BoolT):
                raise P4Error(e.loc, f"operator ! needs a bool, not {t}")
            if isinstance(c, bool):
                e.const = not c
            return t
        if e.op == "~":
            if not isinstance(t, T.BitT):
                raise P4Error(e.loc, f"operator ~ needs bit<W> or int<W>, not {t}")
            if isinstance(c, int):
                e.const = consts.wrap(~c, t)
            return t
        if e.op in ("-", "+"):
            if not isinstance(t, (T.BitT, T.IntLitT)):
                raise P4Error(e.loc, f"unary {e.op} needs a number, not {t}")
            if isinstance(c, int) and not isinstance(c, bool):
                v = -c if e.op == "-" else c
                e.const = consts.wrap(v, t) if isinstance(t, T.BitT) else v
            return t
        raise P4Error(e.loc, f"unknown unary operator {e.op}")

    def unify_operands(self, e: ast.Binary) -> T.Type:
        """Bring both operands of a binary operator to one type: an unsized int takes the
        other side's fixed-width type, a serializable enum becomes its underlying type."""
        lt, rt = e.left.type, e.right.type
        if same(lt, rt):
            return lt
        lv, rv = self.value_type(lt), self.value_type(rt)
        if isinstance(lv, T.IntLitT) and isinstance(rv, T.BitT):
            self.coerce(e.left, rv)
            return rv
        if isinstance(rv, T.IntLitT) and isinstance(lv, T.BitT):
            self.coerce(e.right, lv)
            return lv
        if same(lv, rv):
            return lv
        raise P4Error(
            e.loc, f"operands of {e.op} have different types: {lt} and {rt}; cast one of them"
        )

    def _binary(self, e: ast.Binary) -> T.Type:
        op = e.op
        lt, rt = self.expr(e.left), self.expr(e.right)
        if op in ("&&", "||"):
            for side, t in ((e.left, lt), (e.right, rt)):
                if not isinstance(t, T.BoolT):
                    raise P4Error(side.loc, f"operator {op} needs bool operands, not {t}")
            lc, rc = e.left.const, e.right.const
            if isinstance(lc, bool) and isinstance(rc, bool):
                e.const = (lc and rc) if op == "&&" else (lc or rc)
            elif isinstance(lc, bool) and (lc is False) == (op == "&&"):
                e.const = lc  # short-circuit: the right side cannot change the result
            return T.BoolT()
        if op in ("<<", ">>"):
            return self._shift(e, lt, rt)
        if op == "++":
            return self._concat(e, lt, rt)
        if op in ("==", "!="):
            t = self.unify_operands(e)
            if isinstance(t, (T.ExternT, T.TableT, T.BlockT, T.ActionT, T.FunctionT, T.VoidT)):
                raise P4Error(e.loc, f"values of type {t} cannot be compared")
            lc, rc = self.int_value(e.left), self.int_value(e.right)
            if lc is not None and rc is not None:
                e.const = (lc == rc) if op == "==" else (lc != rc)
            return T.BoolT()
        t = self.unify_operands(e)
        if not isinstance(t, (T.BitT, T.IntLitT)):
            raise P4Error(e.loc, f"operator {op} needs bit<W>, int<W> or int operands, not {t}")
        lc, rc = self.int_value(e.left), self.int_value(e.right)
        known = isinstance(lc, int) and isinstance(rc, int)
        if op in _COMPARE:
            if known:
                e.const = {"<": lc < rc, "<=": lc <= rc, ">": lc > rc, ">=": lc >= rc}[op]
            return T.BoolT()
        if op not in _ARITH:
            raise P4Error(e.loc, f"unknown operator {op}")
        if op in ("/", "%"):
            self._check_division(e, t, lc, rc)
        if isinstance(t, T.IntLitT):
            if op in ("|+|", "|-|"):
                raise P4Error(
                    e.loc, f"saturating {op} needs fixed-width operands; cast one of them"
                )
            if not known:
                raise P4Error(e.loc, "int operands must be compile-time known")
            e.const = consts.fold_int(op, lc, rc)
            return t
        if known:
            e.const = consts.fold_fixed(op, lc, rc, t)
        return t

    def _check_division(self, e: ast.Binary, t: T.Type, lc: Any, rc: Any) -> None:
        if isinstance(t, T.BitT) and t.signed:
            raise P4Error(e.loc, f"operator {e.op} is not defined on signed values ({t})")
        if isinstance(rc, int) and rc == 0:
            raise P4Error(e.right.loc, "division by zero")
        if isinstance(t, T.IntLitT) and (
            (isinstance(lc, int) and lc < 0) or (isinstance(rc, int) and rc < 0)
        ):
            raise P4Error(e.loc, f"operator {e.op} is not defined on negative int values")

    def _shift(self, e: ast.Binary, lt: T.Type, rt: T.Type) -> T.Type:
        lv, rv = self.value_type(lt), self.value_type(rt)
        if not isinstance(lv, (T.BitT, T.IntLitT)):
            raise P4Error(e.left.loc, f"operator {e.op} needs a number to shift, not {lt}")
        if isinstance(rv, T.BitT):
            if rv.signed:
                raise P4Error(e.right.loc, f"shift amount must be unsigned, not {rt}")
        elif isinstance(rv, T.IntLitT):
            if is_int_const(e.right) and e.right.const < 0:
                raise P4Error(e.right.loc, "shift amount must not be negative")
        else:
            raise P4Error(e.right.loc, f"shift amount must be an unsigned integer, not {rt}")
        lc, rc = self.int_value(e.left), self.int_value(e.right)
        if isinstance(lv, T.IntLitT) and not isinstance(rc, int):
            raise P4Error(
                e.loc, "shifting an int needs a compile-time known amount; give the int a width"
            )
        if isinstance(lc, int) and isinstance(rc, int):
            e.const = consts.fold_shift(e.op, lc, rc, lv if isinstance(lv, T.BitT) else None)
        return lv

    def _concat(self, e: ast.Binary, lt: T.Type, rt: T.Type) -> T.Type:
        lv, rv = self.value_type(lt), self.value_type(rt)
        for side, t in ((e.left, lv), (e.right, rv)):
            if isinstance(t, T.IntLitT):
                raise P4Error(side.loc, "operand of ++ needs a width; cast it to bit<W>")
            if not isinstance(t, T.BitT):
                raise P4Error(side.loc, f"operator ++ needs bit<W> or int<W> operands, not {t}")
        assert isinstance(lv, T.BitT) and isinstance(rv, T.BitT)
        lc, rc = self.int_value(e.left), self.int_value(e.right)
        if isinstance(lc, int) and isinstance(rc, int):
            e.const = consts.concat(lc, lv, rc, rv)
        return T.BitT(lv.width + rv.width, lv.signed)

    def _ternary(self, e: ast.Ternary, expected: T.Type | None) -> T.Type:
        ct = self.expr(e.cond)
        if not isinstance(ct, T.BoolT):
            raise P4Error(e.cond.loc, f"condition must be bool, not {ct}")
        tt = self.expr(e.then, expected)
        ot = self.expr(e.other, expected)
        if (
            isinstance(tt, T.IntLitT)
            and isinstance(ot, T.IntLitT)
            and not isinstance(e.cond.const, bool)
        ):
            if expected is None or not isinstance(expected, T.BitT):
                raise P4Error(e.loc, "both branches are int; give one branch a width with a cast")
            self.coerce(e.then, expected)
            self.coerce(e.other, expected)
            tt = ot = expected
        if not same(tt, ot):
            if isinstance(tt, T.IntLitT) and self.coerce(e.then, ot):
                tt = ot
            elif isinstance(ot, T.IntLitT) and self.coerce(e.other, tt):
                ot = tt
            else:
                raise P4Error(e.loc, f"branches of ?: have different types: {tt} and {ot}")
        if isinstance(e.cond.const, bool):
            e.const = e.then.const if e.cond.const else e.other.const
        return tt

    # ------------------------------------------------------------------ casts

    def castable(self, src: T.Type | None, dst: T.Type) -> bool:
        """Explicit casts allowed by the specification (section "Explicit casts")."""
        if src is None:
            return False
        if same(src, dst):
            return True
        if isinstance(src, T.NewT):
            return same(src.underlying, dst) or self.castable(src.underlying, dst)
        if isinstance(dst, T.NewT):
            return same(src, dst.underlying) or self.castable(src, dst.underlying)
        if isinstance(src, T.SerEnumT):
            return self.castable(src.underlying, dst)
        if isinstance(dst, T.SerEnumT):
            return self.castable(src, dst.underlying)
        if isinstance(src, T.BitT) and isinstance(dst, T.BitT):
            return src.signed == dst.signed or src.width == dst.width
        if isinstance(src, T.BitT) and isinstance(dst, T.BoolT):
            return src.width == 1 and not src.signed
        if isinstance(src, T.BoolT) and isinstance(dst, T.BitT):
            return dst.width == 1 and not dst.signed
        if isinstance(src, T.IntLitT):
            return isinstance(dst, (T.BitT, T.BoolT))
        if isinstance(src, T.BitT) and isinstance(dst, T.IntLitT):
            return True
        return False

    def _cast(self, e: ast.Cast) -> T.Type:
        dst = self.resolve(e.to)
        if isinstance(e.expr, (ast.ListExpr, ast.StructInit)):
            self.expr(e.expr, dst)
            if not self.coerce(e.expr, dst):
                raise P4Error(e.loc, f"cannot cast an initializer to {dst}")
            return dst
        src = self.expr(e.expr)
        if not self.castable(src, dst):
            raise P4Error(e.loc, f"cannot cast {src} to {dst}")
        c = self.int_value(e.expr)
        if c is None or isinstance(dst, T.SerEnumT):
            return dst
        target = T.underlying(dst)
        if isinstance(target, T.BoolT):
            if isinstance(c, bool):
                e.const = c
            elif c in (0, 1):
                e.const = c == 1
            else:
                raise P4Error(e.loc, f"only 0 and 1 can be cast to bool, not {c}")
        elif isinstance(target, T.BitT):
            e.const = consts.wrap(int(c), target)
        elif isinstance(target, T.IntLitT):
            e.const = int(c)
        return dst

    # ------------------------------------------------------------------ initializers

    def _struct_expr(self, e: ast.StructInit) -> T.Type:
        seen: set[str] = set()
        fields = []
        for name, v in e.fields:
            if name in seen:
                raise P4Error(v.loc, f"field '{name}' initialized twice")
            seen.add(name)
            fields.append((name, self.expr(v)))
        return T.StructExprT(fields)

    def initializer(self, e: ast.ListExpr | ast.StructInit, target: T.Type) -> T.Type:
        """Check `{...}` against the aggregate it initializes; items are converted to
        the field types as in an assignment."""
        if isinstance(e, ast.StructInit):
            if not isinstance(target, (T.StructT, T.HeaderT)):
                raise P4Error(e.loc, f"a {{name = value}} initializer cannot make a {target}")
            given = {n: v for n, v in e.fields}
            if len(given) != len(e.fields):
                raise P4Error(e.loc, "a field is initialized twice")
            for fname, ft in target.fields:
                v = given.pop(fname, None)
                if v is None:
                    raise P4Error(e.loc, f"initializer of {target} misses field '{fname}'")
                self.expr(v, ft)
                self.coerce_or_fail(v, ft, f"field '{fname}' of {target}")
            if given:
                raise P4Error(e.loc, f"{target} has no field '{next(iter(given))}'")
            return target
        items = e.items
        if isinstance(target, (T.StructT, T.HeaderT)):
            ftypes = [ft for _, ft in target.fields]
            names = [n for n, _ in target.fields]
        elif isinstance(target, T.TupleT):
            ftypes, names = list(target.elems), [str(i) for i in range(len(target.elems))]
        else:
            assert isinstance(target, T.StackT)
            if len(items) > target.size:
                raise P4Error(e.loc, f"{len(items)} elements do not fit in {target}")
            ftypes, names = [target.elem] * len(items), [str(i) for i in range(len(items))]
        if len(items) != len(ftypes):
            raise P4Error(
                e.loc, f"{target} has {len(ftypes)} fields but the initializer gives {len(items)}"
            )
        for item, ft, n in zip(items, ftypes, names, strict=True):
            self.expr(item, ft)
            self.coerce_or_fail(item, ft, f"element '{n}' of {target}")
        return target

    # ------------------------------------------------------------------ builtin sizes

    def size_method(self, t: T.Type, name: str, loc: Any) -> int:
        """minSizeInBits() and friends, for headers and other fixed-size types."""
        if isinstance(t, T.HeaderT):
            fixed = t.bit_width()
            var = sum(v.max_width for _, v in t.fields if isinstance(v, T.VarbitT))
            bits = fixed + var if name.startswith("max") else fixed
        elif isinstance(t, (T.StructT, T.HeaderUnionT)):
            sizes = [self.size_method(ft, name.replace("Bytes", "Bits"), loc) for _, ft in t.fields]
            bits = max(sizes, default=0) if isinstance(t, T.HeaderUnionT) else sum(sizes)
        elif isinstance(t, T.StackT):
            bits = t.size * self.size_method(t.elem, name.replace("Bytes", "Bits"), loc)
        else:
            try:
                bits = T.width_of(t)
            except TypeError:
                raise P4Error(loc, f"{name}() is not defined for {t}") from None
        return (bits + 7) // 8 if name.endswith("Bytes") else bits
