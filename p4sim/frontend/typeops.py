"""Relations between checked types: equality, substitution of type variables and
unification (inference of generic type arguments).

Aggregate, enum and new types are nominal (the same declaration), the rest are
structural. Type variables are compared by identity: each generic declaration owns its
own `TypeVarT` objects, so an extern's `T` and a method's `T` never get mixed up.
"""

from __future__ import annotations

from . import types as T

Bindings = dict[T.TypeVarT, T.Type]


def same(a: T.Type, b: T.Type) -> bool:
    """True when `a` and `b` denote the same P4 type."""
    if a is b:
        return True
    if isinstance(a, T.StructLikeT) or isinstance(b, T.StructLikeT):
        return (
            type(a) is type(b)
            and isinstance(a, T.StructLikeT)
            and isinstance(b, T.StructLikeT)
            and a.decl is not None
            and a.decl is b.decl
        )
    if isinstance(a, (T.EnumT, T.SerEnumT, T.NewT)):
        return type(a) is type(b) and a.decl is not None and a.decl is getattr(b, "decl", None)
    if isinstance(a, T.StackT) and isinstance(b, T.StackT):
        return a.size == b.size and same(a.elem, b.elem)
    if isinstance(a, T.TupleT) and isinstance(b, T.TupleT):
        return len(a.elems) == len(b.elems) and all(map(same, a.elems, b.elems))
    if isinstance(a, T.ExternT) and isinstance(b, T.ExternT):
        return (
            a.decl is b.decl
            and len(a.type_args) == len(b.type_args)
            and all(map(_same_type_arg, a.type_args, b.type_args))
        )
    if isinstance(a, T.BlockT) and isinstance(b, T.BlockT):
        return a.decl is b.decl and all(map(same, a.type_args, b.type_args))
    if isinstance(a, T.TypeVarT) or isinstance(b, T.TypeVarT):
        return False
    if isinstance(a, (T.TableT, T.ApplyResultT, T.ActionT, T.FunctionT, T.StructExprT)):
        return False
    return a == b


def _same_type_arg(a: T.Type, b: T.Type) -> bool:
    """Type arguments of extern types: `_` (as in TNA's `Register<_, _> reg`) is any."""
    return isinstance(a, T.DontCareT) or isinstance(b, T.DontCareT) or same(a, b)


def subst(t: T.Type, b: Bindings) -> T.Type:
    """`t` with bound type variables replaced."""
    if not b:
        return t
    if isinstance(t, T.TypeVarT):
        return b.get(t, t)
    if isinstance(t, T.StackT):
        return T.StackT(subst(t.elem, b), t.size)
    if isinstance(t, T.TupleT):
        return T.TupleT(tuple(subst(e, b) for e in t.elems))
    if isinstance(t, T.ExternT) and t.type_args:
        return T.ExternT(t.name, tuple(subst(e, b) for e in t.type_args), t.decl)
    if isinstance(t, T.BlockT) and t.type_args:
        return T.BlockT(t.kind, t.name, t.decl, tuple(subst(e, b) for e in t.type_args))
    return t


def has_vars(t: T.Type) -> bool:
    if isinstance(t, T.TypeVarT):
        return True
    if isinstance(t, T.StackT):
        return has_vars(t.elem)
    if isinstance(t, T.TupleT):
        return any(has_vars(e) for e in t.elems)
    if isinstance(t, (T.ExternT, T.BlockT)):
        return any(has_vars(e) for e in t.type_args)
    return False


def unify(pattern: T.Type, actual: T.Type, b: Bindings, free: set[T.TypeVarT]) -> bool:
    """Match `pattern` (which may mention the type variables in `free`) against
    `actual`, extending `b`. Returns False on a mismatch; bindings already made stay."""
    if isinstance(pattern, T.TypeVarT) and pattern in free:
        bound = b.get(pattern)
        if bound is None:
            b[pattern] = actual
            return True
        return same(bound, actual)
    if isinstance(pattern, T.StackT) and isinstance(actual, T.StackT):
        return pattern.size == actual.size and unify(pattern.elem, actual.elem, b, free)
    if isinstance(pattern, T.TupleT) and isinstance(actual, T.TupleT):
        return len(pattern.elems) == len(actual.elems) and all(
            unify(p, a, b, free) for p, a in zip(pattern.elems, actual.elems, strict=True)
        )
    if isinstance(pattern, (T.ExternT, T.BlockT)) and isinstance(actual, type(pattern)):
        return (
            pattern.decl is actual.decl
            and len(pattern.type_args) == len(actual.type_args)
            and all(
                unify(p, a, b, free)
                for p, a in zip(pattern.type_args, actual.type_args, strict=True)
            )
        )
    return same(subst(pattern, b), actual)


def is_fixed(t: T.Type) -> bool:
    """bit<W> or int<W>."""
    return isinstance(t, T.BitT)


def is_scalar_value(t: T.Type) -> bool:
    """Types a table key, select expression or switch may use."""
    return isinstance(t, (T.BitT, T.BoolT, T.EnumT, T.SerEnumT, T.ErrorT, T.NewT, T.IntLitT))
