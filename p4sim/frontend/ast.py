"""The syntax tree of P4_16 programs, shared by the parser, the type checker, the
P4Info generator and the code generator.

Contract between passes
-----------------------
The parser builds these nodes with `loc` set on every node. The type checker
(`check.py`) then fills in, in place:

* `Expr.type`: the `types.Type` of every expression (after implicit casts of
  unsized literals, the literal's `type` is the type it was converted to).
* `Expr.const`: the folded Python value for compile-time known expressions
  (int for bits/ints, bool for booleans, str for strings and for enum/error
  members as "Type.Member"), else `None`.
* `PathExpr.decl`: the declaration a name refers to: VarDecl, Param, ConstDecl,
  Instantiation, ActionDecl, TableDecl, FunctionDecl, ExternFunctionDecl,
  ParserState, or a type declaration (for `error.X`, `E.X` and type names).
* `Call` resolution: `kind`, `target`, `receiver`, `method`, `params`,
  `resolved_args` (see Call).
* Every type expression (`TypeRef` and its subclasses) gets `.resolved`, a
  `types.Type`; `VarDecl.type`, `Param.type` etc. stay TypeRefs, so read
  `decl.type.resolved`.
* `Program.decls` keeps declaration order, with the built-in architecture
  declarations (core.p4 / v1model.p4) first; `Program.main` is the `main`
  package instantiation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import NOWHERE, Loc

# --------------------------------------------------------------------------- base


@dataclass(eq=False)
class Node:
    loc: Loc = field(default=NOWHERE, kw_only=True)


@dataclass(eq=False)
class Annotation(Node):
    """`@name` or `@name(expr, ...)` or `@name[kv, ...]`. `args` holds parsed
    expressions when the body parses as an expression list (as for @name("x"),
    @id(3), @field_list(1)); `raw` keeps the body text in every case."""

    name: str
    args: list[Expr] = field(default_factory=list)
    raw: str = ""


@dataclass(eq=False)
class Annotated(Node):
    annotations: list[Annotation] = field(default_factory=list, kw_only=True)

    def annotation(self, name: str) -> Annotation | None:
        for a in self.annotations:
            if a.name == name:
                return a
        return None

    def has_annotation(self, name: str) -> bool:
        return self.annotation(name) is not None


# --------------------------------------------------------------------------- types (syntax)


@dataclass(eq=False)
class TypeRef(Node):
    """A type as written. Subclasses below; `resolved` filled by the checker."""

    resolved: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class NamedType(TypeRef):
    """A type name, possibly specialised: `H`, `register<bit<32>>`, `.X`."""

    name: str
    type_args: list[TypeRef] = field(default_factory=list)


@dataclass(eq=False)
class BitType(TypeRef):
    """`bit<W>` / `int<W>`; `width` is an expression (usually a literal or const);
    a bare `bit` is bit<1>."""

    width: Expr
    signed: bool = False


@dataclass(eq=False)
class VarbitType(TypeRef):
    width: Expr


@dataclass(eq=False)
class BaseType(TypeRef):
    """`bool`, `int` (unsized), `string`, `void`, `error`, `match_kind`, `_`."""

    name: str


@dataclass(eq=False)
class StackType(TypeRef):
    elem: TypeRef
    size: Expr


@dataclass(eq=False)
class TupleType(TypeRef):
    elems: list[TypeRef]


# --------------------------------------------------------------------------- expressions


@dataclass(eq=False)
class Expr(Node):
    type: Any = field(default=None, kw_only=True)
    const: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class IntLit(Expr):
    """`5`, `0x1F`, `8w5`, `4s-3`... `width` is None for unsized literals."""

    value: int
    width: int | None = None
    signed: bool = False
    text: str = ""


@dataclass(eq=False)
class BoolLit(Expr):
    value: bool


@dataclass(eq=False)
class StringLit(Expr):
    value: str


@dataclass(eq=False)
class PathExpr(Expr):
    """A name; `top_level` for `.name`. `decl` filled by the checker."""

    name: str
    top_level: bool = False
    decl: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class Member(Expr):
    """`expr.name`: header/struct field, stack `next`/`last`/`size`/`lastIndex`,
    `error.X`, `E.X`, table-apply result `hit`/`miss`/`action_run`, or a method
    name when it is the `func` of a Call."""

    expr: Expr
    name: str


@dataclass(eq=False)
class Index(Expr):
    """`stack[i]`."""

    expr: Expr
    index: Expr


@dataclass(eq=False)
class Slice(Expr):
    """`e[hi:lo]` with compile-time-known bounds (checker sets `hi_v`, `lo_v`)."""

    expr: Expr
    hi: Expr
    lo: Expr
    hi_v: int = field(default=-1, kw_only=True)
    lo_v: int = field(default=-1, kw_only=True)


@dataclass(eq=False)
class Unary(Expr):
    """op in: `!` `~` `-` `+`."""

    op: str
    expr: Expr


@dataclass(eq=False)
class Binary(Expr):
    """op in: `*` `/` `%` `+` `-` `|+|` `|-|` `<<` `>>` `<=` `>=` `<` `>` `==` `!=`
    `&` `^` `|` `++` `&&` `||`."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@dataclass(eq=False)
class Cast(Expr):
    to: TypeRef
    expr: Expr


@dataclass(eq=False)
class TypeArgExpr(Expr):
    """A type used where an expression stands, e.g. the receiver of
    `H.minSizeInBits()` or in `error.X`; rarely needed."""

    typeref: TypeRef


@dataclass(eq=False)
class Argument(Node):
    """A call argument; `name` for named arguments; `value` None for `_`."""

    value: Expr | None
    name: str | None = None


@dataclass(eq=False)
class Call(Expr):
    """`func<type_args>(args)`. The checker sets:

    * `kind`: "action" | "function" | "extern_function" | "extern_method" |
      "builtin" | "table_apply" | "parser_apply" | "control_apply"
    * `target`: the called declaration (ActionDecl, FunctionDecl,
      ExternFunctionDecl, the extern's MethodDecl, TableDecl, Instantiation of a
      parser/control) or None for builtins;
    * `receiver`: for methods (extern/builtin/apply), the object expression;
    * `method`: the method name (`extract`, `isValid`, `read`, `apply`, ...);
    * `params`: the callee's Param list (empty for builtins);
    * `resolved_args`: one entry per parameter in parameter order (named
      arguments placed, defaults filled from the declaration, `None` for `_`
      / omitted optional parameters);
    * `type_bindings`: dict of type-parameter name -> types.Type for generic callees.
    """

    func: Expr
    type_args: list[TypeRef] = field(default_factory=list)
    args: list[Argument] = field(default_factory=list)
    kind: str = field(default="", kw_only=True)
    target: Any = field(default=None, kw_only=True)
    receiver: Expr | None = field(default=None, kw_only=True)
    method: str = field(default="", kw_only=True)
    params: list[Param] = field(default_factory=list, kw_only=True)
    resolved_args: list[Expr | None] = field(default_factory=list, kw_only=True)
    type_bindings: dict[str, Any] = field(default_factory=dict, kw_only=True)


@dataclass(eq=False)
class ListExpr(Expr):
    """`{a, b, c}`: a tuple / list / struct initializer by position."""

    items: list[Expr]


@dataclass(eq=False)
class StructInit(Expr):
    """`{a = 1, b = 2}` or `(T){...}`-style named initializer."""

    fields: list[tuple[str, Expr]]


@dataclass(eq=False)
class DontCare(Expr):
    """`_` in an expression position (keysets, arguments)."""


@dataclass(eq=False)
class DefaultExpr(Expr):
    """`default` in a keyset."""


@dataclass(eq=False)
class MaskExpr(Expr):
    """`value &&& mask` in keysets."""

    value: Expr
    mask: Expr


@dataclass(eq=False)
class RangeExpr(Expr):
    """`lo .. hi` in keysets."""

    lo: Expr
    hi: Expr


# --------------------------------------------------------------------------- statements


@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class AssignStmt(Stmt):
    lhs: Expr
    rhs: Expr


@dataclass(eq=False)
class CallStmt(Stmt):
    call: Call


@dataclass(eq=False)
class IfStmt(Stmt):
    cond: Expr
    then: Stmt
    other: Stmt | None = None


@dataclass(eq=False)
class BlockStmt(Stmt, Annotated):
    stmts: list[Stmt | Decl] = field(default_factory=list)


@dataclass(eq=False)
class SwitchCase(Node):
    """`label: block` or `label:` (fall-through, block None); labels are
    Exprs: action names (PathExpr), constants, or DefaultExpr."""

    labels: list[Expr]
    block: BlockStmt | None


@dataclass(eq=False)
class SwitchStmt(Stmt):
    expr: Expr
    cases: list[SwitchCase]


@dataclass(eq=False)
class ReturnStmt(Stmt):
    value: Expr | None = None


@dataclass(eq=False)
class ExitStmt(Stmt):
    pass


@dataclass(eq=False)
class EmptyStmt(Stmt):
    pass


# --------------------------------------------------------------------------- declarations


@dataclass(eq=False)
class Decl(Annotated):
    name: str = ""


@dataclass(eq=False)
class Param(Decl):
    """direction in "", "in", "out", "inout"; `default` for optional/defaulted
    parameters; `optional` for @optional."""

    direction: str = ""
    type: TypeRef | None = None
    default: Expr | None = None


@dataclass(eq=False)
class ConstDecl(Decl, Stmt):
    type: TypeRef | None = None
    value: Expr | None = None


@dataclass(eq=False)
class VarDecl(Decl, Stmt):
    type: TypeRef | None = None
    init: Expr | None = None


@dataclass(eq=False)
class TypedefDecl(Decl):
    """`typedef T N;` (is_newtype False) or `type T N;` (is_newtype True)."""

    type: TypeRef | None = None
    is_newtype: bool = False


@dataclass(eq=False)
class FieldDecl(Annotated):
    name: str = ""
    type: TypeRef | None = None


@dataclass(eq=False)
class HeaderDecl(Decl):
    fields: list[FieldDecl] = field(default_factory=list)


@dataclass(eq=False)
class StructDecl(Decl):
    fields: list[FieldDecl] = field(default_factory=list)


@dataclass(eq=False)
class HeaderUnionDecl(Decl):
    fields: list[FieldDecl] = field(default_factory=list)


@dataclass(eq=False)
class EnumDecl(Decl):
    """Plain enum (underlying None, values empty) or serializable enum."""

    members: list[str] = field(default_factory=list)
    underlying: TypeRef | None = None
    values: list[Expr] = field(default_factory=list)


@dataclass(eq=False)
class ErrorDecl(Decl):
    members: list[str] = field(default_factory=list)


@dataclass(eq=False)
class MatchKindDecl(Decl):
    members: list[str] = field(default_factory=list)


@dataclass(eq=False)
class MethodDecl(Decl):
    """A method prototype inside an extern, or a constructor (is_constructor).
    `is_abstract` for `abstract` methods."""

    return_type: TypeRef | None = None
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    is_constructor: bool = False
    is_abstract: bool = False


@dataclass(eq=False)
class ExternDecl(Decl):
    type_params: list[str] = field(default_factory=list)
    methods: list[MethodDecl] = field(default_factory=list)


@dataclass(eq=False)
class ExternFunctionDecl(Decl):
    return_type: TypeRef | None = None
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)


@dataclass(eq=False)
class FunctionDecl(Decl):
    return_type: TypeRef | None = None
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    body: BlockStmt | None = None


@dataclass(eq=False)
class ActionDecl(Decl):
    """Parameters with a direction are bound at the call site; direction-less
    ones are action data (from the control plane)."""

    params: list[Param] = field(default_factory=list)
    body: BlockStmt | None = None


@dataclass(eq=False)
class BlockTypeDecl(Decl):
    """`parser P<...>(...);`, `control C<...>(...);` or `package Pkg<...>(...);`."""

    kind: str = ""  # "parser" | "control" | "package"
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)


@dataclass(eq=False)
class Instantiation(Decl, Stmt):
    """`T<args>(ctor args) name;` — extern objects, parsers, controls, `main`.
    `initializer`: the functions of `T(args) name = { ... };`, which implement the
    extern's abstract methods (TNA's RegisterAction.apply); None without `= {}`."""

    type: TypeRef | None = None
    args: list[Argument] = field(default_factory=list)
    initializer: list[FunctionDecl] | None = None


# ---- parsers


@dataclass(eq=False)
class SelectCase(Node):
    """One `keyset : state;` line. `keyset` is an Expr (value, MaskExpr,
    RangeExpr, DefaultExpr, DontCare) or a ListExpr of those for tuples."""

    keyset: Expr
    state: str
    state_decl: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class SelectExpr(Node):
    exprs: list[Expr]
    cases: list[SelectCase]


@dataclass(eq=False)
class ParserState(Decl):
    """`transition` is either a state name (str: "accept", "reject", or a state)
    or a SelectExpr. `next_decl` is set by the checker for the name form."""

    stmts: list[Stmt | Decl] = field(default_factory=list)
    transition: str | SelectExpr = "reject"
    next_decl: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class ParserDecl(Decl):
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    ctor_params: list[Param] = field(default_factory=list)
    locals: list[Decl] = field(default_factory=list)
    states: list[ParserState] = field(default_factory=list)


# ---- controls


@dataclass(eq=False)
class KeyElement(Annotated):
    expr: Expr = None  # type: ignore[assignment]
    match_kind: str = ""


@dataclass(eq=False)
class ActionRef(Annotated):
    """An action named in a table's `actions`, `default_action` or entry;
    `args` are the (possibly partial) arguments written there."""

    name: str = ""
    args: list[Argument] = field(default_factory=list)
    decl: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class TableEntry(Annotated):
    """A `const entries` / `entries` line: keyset (one Expr per key; a ListExpr
    is unpacked by the parser), action, optional `priority`."""

    keys: list[Expr] = field(default_factory=list)
    action: ActionRef | None = None
    priority: Expr | None = None
    is_const: bool = False


@dataclass(eq=False)
class TableDecl(Decl):
    keys: list[KeyElement] = field(default_factory=list)
    actions: list[ActionRef] = field(default_factory=list)
    default_action: ActionRef | None = None
    default_is_const: bool = False
    entries: list[TableEntry] = field(default_factory=list)
    entries_const: bool = True
    size: Expr | None = None
    # Every other property by name: `counters`, `meters`, `support_timeout`,
    # `implementation`, `psa_*`..., value as written.
    properties: dict[str, Expr] = field(default_factory=dict)


@dataclass(eq=False)
class ControlDecl(Decl):
    type_params: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    ctor_params: list[Param] = field(default_factory=list)
    locals: list[Decl] = field(default_factory=list)
    body: BlockStmt = field(default_factory=BlockStmt)


# --------------------------------------------------------------------------- program


@dataclass(eq=False)
class Program(Node):
    decls: list[Decl] = field(default_factory=list)
    main: Instantiation | None = None
    # The source as preprocessed (for the device config) and the files read.
    source_text: str = ""
    files: list[str] = field(default_factory=list)
