"""The types of checked P4_16 programs.

The type checker (`check.py`) gives every expression a `.type` drawn from here and
resolves every type expression of the syntax tree (`ast.TypeRef` and friends) into
one of these. Typedefs are resolved away; `type` (new types) stay distinct.
Aggregate types keep a reference to their declaration so that later passes can read
annotations (`@controller_header`, `@name`, field annotations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Type:
    """Base of all types."""

    def is_bits(self) -> bool:
        return isinstance(self, BitT)


@dataclass(frozen=True, slots=True)
class BitT(Type):
    """`bit<W>` (signed=False) or `int<W>` (signed=True). Values are Python ints kept
    in range: 0..2^W-1 for bit, -2^(W-1)..2^(W-1)-1 for int."""

    width: int
    signed: bool = False

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'bit'}<{self.width}>"


@dataclass(frozen=True, slots=True)
class VarbitT(Type):
    max_width: int

    def __str__(self) -> str:
        return f"varbit<{self.max_width}>"


@dataclass(frozen=True, slots=True)
class IntLitT(Type):
    """The arbitrary-precision `int` of unsized literals and compile-time constants."""

    def __str__(self) -> str:
        return "int"


@dataclass(frozen=True, slots=True)
class BoolT(Type):
    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class StringT(Type):
    def __str__(self) -> str:
        return "string"


@dataclass(frozen=True, slots=True)
class VoidT(Type):
    def __str__(self) -> str:
        return "void"


@dataclass(frozen=True, slots=True)
class ErrorT(Type):
    """The `error` type; its members are collected from every `error { }` declaration."""

    def __str__(self) -> str:
        return "error"


@dataclass(frozen=True, slots=True)
class MatchKindT(Type):
    def __str__(self) -> str:
        return "match_kind"


@dataclass(frozen=True, slots=True)
class DontCareT(Type):
    """The type of `_` (a don't-care argument or keyset)."""

    def __str__(self) -> str:
        return "_"


@dataclass(eq=False, slots=True)
class StructLikeT(Type):
    """Common shape of header, struct and header union types. `fields` keeps
    declaration order, which is also wire order for headers."""

    name: str
    fields: list[tuple[str, Type]]
    decl: Any = None  # the ast.HeaderDecl / StructDecl / HeaderUnionDecl

    def field_type(self, name: str) -> Type | None:
        for n, t in self.fields:
            if n == name:
                return t
        return None

    def __str__(self) -> str:
        return self.name


class HeaderT(StructLikeT):
    def bit_width(self) -> int:
        """Fixed part width in bits (a varbit field counts as 0)."""
        return sum(t.width for _, t in self.fields if isinstance(t, BitT)) + sum(
            1 for _, t in self.fields if isinstance(t, BoolT)
        )


class StructT(StructLikeT):
    pass


class HeaderUnionT(StructLikeT):
    pass


@dataclass(frozen=True, slots=True)
class StackT(Type):
    """A header stack `H[size]` (element a header or header union type)."""

    elem: Type
    size: int

    def __str__(self) -> str:
        return f"{self.elem}[{self.size}]"


@dataclass(eq=False, slots=True)
class EnumT(Type):
    """A plain `enum` (members have no numeric value)."""

    name: str
    members: list[str]
    decl: Any = None

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class SerEnumT(Type):
    """A serializable `enum bit<W> E { A = 1, ... }`; members carry values."""

    name: str
    underlying: BitT
    members: dict[str, int] = field(default_factory=dict)
    decl: Any = None

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class NewT(Type):
    """`type bit<9> PortId_t;` — a distinct type with the representation of `underlying`."""

    name: str
    underlying: Type
    decl: Any = None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class TupleT(Type):
    """`tuple<...>` and the type of a list expression `{a, b}`."""

    elems: tuple[Type, ...]

    def __str__(self) -> str:
        return "tuple<" + ", ".join(map(str, self.elems)) + ">"


@dataclass(eq=False, slots=True)
class StructExprT(Type):
    """The type of a struct-valued expression `{a = 1, b = 2}` before it meets its target."""

    fields: list[tuple[str, Type]]


@dataclass(eq=False, slots=True)
class TypeVarT(Type):
    """An unbound type parameter of a generic extern, function, parser or control."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class ExternT(Type):
    """An extern object type, with its type arguments bound (e.g. register<bit<32>>)."""

    name: str
    type_args: tuple[Type, ...]
    decl: Any = None  # ast.ExternDecl

    def __str__(self) -> str:
        if self.type_args:
            return f"{self.name}<{', '.join(map(str, self.type_args))}>"
        return self.name


@dataclass(eq=False, slots=True)
class BlockT(Type):
    """Parser, control and package types (declared or instantiated)."""

    kind: str  # "parser" | "control" | "package"
    name: str
    decl: Any = None
    type_args: tuple[Type, ...] = ()

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class TableT(Type):
    """The type of a table name; `.apply()` returns ApplyResultT."""

    decl: Any = None


@dataclass(eq=False, slots=True)
class ApplyResultT(Type):
    """Result of `t.apply()`: members `hit`, `miss` (bool) and `action_run`."""

    table: Any = None


@dataclass(eq=False, slots=True)
class ActionRunT(Type):
    """`t.apply().action_run`: which of table `table`'s actions ran; only usable as the
    expression of a `switch`, whose labels are that table's actions."""

    table: Any = None

    def __str__(self) -> str:
        return f"action_run of {getattr(self.table, 'name', '?')}"


@dataclass(eq=False, slots=True)
class ActionT(Type):
    """The type of an action name (usable in tables and called directly)."""

    decl: Any = None


@dataclass(eq=False, slots=True)
class FunctionT(Type):
    """Functions, extern functions and methods."""

    decl: Any = None


def is_header_like(t: Type) -> bool:
    return isinstance(t, (HeaderT, HeaderUnionT))


def underlying(t: Type) -> Type:
    """The representation type: new types and serializable enums reduce to their bits."""
    while True:
        if isinstance(t, NewT):
            t = t.underlying
        elif isinstance(t, SerEnumT):
            t = t.underlying
        else:
            return t


def width_of(t: Type) -> int:
    """Width in bits of a fixed-width scalar type (bit/int/bool/new type/ser enum)."""
    t = underlying(t)
    if isinstance(t, BitT):
        return t.width
    if isinstance(t, BoolT):
        return 1
    raise TypeError(f"{t} has no fixed width")
