"""Recursive-descent parser for P4_16: tokens -> `ast.Program` (no checking).

P4's grammar is not context free in the way C's is not: whether `a < b` starts a
comparison or a type-argument list, whether `(x) y` is a cast, and whether a
statement starting with a name is a declaration depend on whether the names are
types. The parser therefore keeps a stack of scopes holding the type names in
force (header/struct/union/enum/typedef/type/extern/parser/control/package names
and type parameters), exactly as the P4 lexer/parser pair of the reference
compiler does, and uses it only where the grammar is ambiguous. Where the grammar
requires a type, any identifier is accepted as a type name (the checker reports
unknown ones).

Locations: every node's `loc` is the location of its first token, except
`Binary` (the operator), `Member` (the member name) and `Ternary` (the `?`),
which point where a checker error about them is most useful.

Shapes the tree takes beyond what ast.py spells out:

* a `switch` case has one label; `a: b: { }` gives a case `a` with block None
  (fall-through) followed by `b`;
* `x op= e` (including `<<=` and `>>=`) becomes `x = x op e`, and the indexed slice
  `e[b +: w]` becomes `e[b + w - 1 : b]`;
* a select case with a tuple keyset has a `ListExpr` keyset; a table entry's
  keyset is always unpacked into `keys` (also when written as `{k1, k2}`);
* names written with a leading dot keep it in `NamedType.name` and
  `ActionRef.name` (`PathExpr` uses `top_level` instead);
* a constructor call in an expression (`MyParser()`, `action_profile(32w128)`)
  is a `Call` whose `func` names the type;
* `bit<8>` and friends where an expression stands are `TypeArgExpr`;
* `#pragma n body` and `@pragma n body` both give the annotation `@n` with
  `raw` = body.

Constructs that are valid P4_16 but not implemented raise `errors.Unsupported`;
syntax errors raise `errors.P4Error` at the offending token, saying what was
expected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TypeVar

from . import ast
from .errors import Loc, P4Error, Unsupported
from .lexer import BAD, EOF, ID, INT, OP, STRING, Token, tokenize

T = TypeVar("T")

# Words that can never be names. `key`, `actions`, `entries`, `apply`, `state`,
# `type`, `priority` and `list` are keywords only where the grammar wants them.
RESERVED = frozenset(
    """abstract action bit bool break const continue control default else enum error
    exit extern false for header header_union if in inout int match_kind out package
    parser return select string struct switch table this transition true tuple
    typedef varbit void value_set""".split()
)
_TYPE_KEYWORDS = frozenset("bit int varbit bool string void error match_kind tuple".split())
_DIRECTIONS = ("in", "out", "inout")
_COMPOUND_ASSIGN = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&",
                    "|=": "|", "^=": "^"}  # fmt: skip

# Binary operators by precedence level, lowest first (P4_16 spec, grammar appendix):
# unlike C, `&` `^` `|` bind tighter than the comparisons.
_BINARY_LEVELS: list[tuple[str, ...]] = [
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("|",),
    ("^",),
    ("&",),
    ("<<", ">>"),
    ("++", "+", "-", "|+|", "|-|"),
    ("*", "/", "%"),
]
_LEVEL_OF = {op: i for i, ops in enumerate(_BINARY_LEVELS) for op in ops}
_EXPR_START_OPS = frozenset(["(", "{", "!", "~", "-", "+", "."])


class Parser:
    """One parse of one token list. Use `parse_program` (or the module-level
    `parse`)."""

    def __init__(self, tokens: list[Token], text: str = "") -> None:
        self.toks = tokens
        self.text = text
        self.i = 0
        # Inside `bit<...>` a bare `>` closes the width instead of comparing.
        self.in_angle = False
        # Innermost last; each maps a name to True (a type) or False (a value that
        # shadows any type of that name).
        self.scopes: list[dict[str, bool]] = [{}]

    # ------------------------------------------------------------------ token helpers

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != EOF:
            self.i += 1
        return t

    @staticmethod
    def _is(t: Token, text: str) -> bool:
        # Only words and punctuation are ever asked for; a string token's text
        # keeps its quotes and the EOF token's text is a phrase, so neither can
        # be mistaken for one.
        return t.text == text

    def at(self, text: str) -> bool:
        return self.toks[self.i].text == text

    def accept(self, text: str) -> Token | None:
        if self.at(text):
            return self.advance()
        return None

    def error(self, expected: str, tok: Token | None = None) -> P4Error:
        t = tok or self.tok
        if t.kind == EOF:
            # Point just past the last real token, not at the end of the blob.
            loc = t.loc
            if len(self.toks) > 1:
                prev = self.toks[-2]
                loc = Loc(prev.loc.file, prev.loc.line, prev.loc.col + prev.end - prev.start)
            return P4Error(loc, f"syntax error: expected {expected}, found end of input")
        if t.kind == BAD:
            return P4Error(t.loc, f"unexpected character {t.text!r}")
        return P4Error(t.loc, f"syntax error: expected {expected}, found '{t.text}'")

    def expect(self, text: str, expected: str | None = None) -> Token:
        if self.at(text):
            return self.advance()
        raise self.error(expected or f"'{text}'")

    def is_name_token(self, t: Token) -> bool:
        return t.kind == ID and t.text not in RESERVED

    def expect_name(self, what: str = "a name") -> Token:
        if self.is_name_token(self.tok):
            return self.advance()
        raise self.error(what)

    def speculate(self, fn: Callable[[], T]) -> T | None:
        """Run `fn`; on a syntax error rewind and return None (used only to
        resolve the grammar's few ambiguities)."""
        save = self.i
        try:
            return fn()
        except Unsupported:
            raise
        except P4Error:
            self.i = save
            return None

    # ------------------------------------------------------------------ type-name scopes

    def is_type_name(self, name: str) -> bool:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return False

    def declare_type(self, name: str) -> None:
        self.scopes[-1][name] = True

    def declare_value(self, name: str) -> None:
        self.scopes[-1][name] = False

    def push_scope(self, names: list[str] | None = None) -> None:
        self.scopes.append(dict.fromkeys(names or (), True))

    def pop_scope(self) -> None:
        self.scopes.pop()

    def starts_type(self, k: int = 0) -> bool:
        """Does the token at offset k certainly begin a type (not an expression)?"""
        t = self.peek(k)
        if t.kind != ID:
            return (
                self._is(t, ".")
                and self.peek(k + 1).kind == ID
                and self.is_type_name(self.peek(k + 1).text)
            )
        if t.text == "_":
            return True  # the don't-care type, as in `C<_>()`
        if t.text in _TYPE_KEYWORDS:
            # `error.X` is an expression; `error e` a declaration.
            return not (t.text == "error" and self._is(self.peek(k + 1), "."))
        return self.is_type_name(t.text)

    # ------------------------------------------------------------------ annotations

    def parse_annotations(self) -> list[ast.Annotation]:
        out: list[ast.Annotation] = []
        while self.at("@"):
            at = self.advance()
            if self.tok.kind != ID:
                raise self.error("an annotation name after '@'")
            name_tok = self.advance()
            name = name_tok.text
            ann = ast.Annotation(name, loc=at.loc)
            if name == "pragma" and self.tok.kind == ID and self._same_line(name_tok, self.tok):
                # `@pragma name tokens...` (the P4_14-style form): the body runs to
                # the end of the line.
                ann.name = self.advance().text
                first = self.i
                while self.tok.kind != EOF and self._same_line(name_tok, self.tok):
                    self.advance()
                body = self.toks[first : self.i]
                if body:
                    ann.raw = self.text[body[0].start : body[-1].end] if self.text else ""
                    ann.args = self._annotation_args(body, self.tok)
                out.append(ann)
                continue
            if self.at("("):
                ann.raw, ann.args = self._annotation_body("(", ")")
            elif self.at("["):
                ann.raw, ann.args = self._annotation_body("[", "]")
            out.append(ann)
        return out

    @staticmethod
    def _same_line(a: Token, b: Token) -> bool:
        return a.loc.file == b.loc.file and a.loc.line == b.loc.line

    def _annotation_body(self, open_: str, close: str) -> tuple[str, list[ast.Expr]]:
        start_tok = self.advance()
        depth = 1
        body_start = self.i
        while depth:
            t = self.tok
            if t.kind == EOF:
                raise P4Error(start_tok.loc, f"unterminated annotation body: missing '{close}'")
            if t.kind == OP and t.text in "([{":
                depth += 1
            elif t.kind == OP and t.text in ")]}":
                depth -= 1
                if depth == 0:
                    break
            self.advance()
        body = self.toks[body_start : self.i]
        end_tok = self.advance()
        raw = (
            self.text[start_tok.end : end_tok.start]
            if self.text
            else " ".join(t.text for t in body)
        )
        return raw.strip(), self._annotation_args(body, end_tok)

    def _annotation_args(self, body: list[Token], end_tok: Token) -> list[ast.Expr]:
        if not body:
            return []
        sub = Parser([*body, Token(EOF, "end of input", end_tok.loc, end_tok.start,
                                   end_tok.start)], self.text)  # fmt: skip
        sub.scopes = self.scopes
        try:
            args = [sub.parse_expr()]
            while sub.accept(","):
                if sub.tok.kind == EOF:
                    break
                args.append(sub.parse_expr())
            if sub.tok.kind != EOF:
                return []
            return args
        except Unsupported:
            return []
        except P4Error:
            return []

    # ------------------------------------------------------------------ types

    def parse_type(self, allow_void: bool = True) -> ast.TypeRef:
        t = self.tok
        base = self._parse_base_type(allow_void)
        while self.at("["):
            # A header stack `H[n]`.
            self.advance()
            size = self.parse_expr()
            self.expect("]")
            base = ast.StackType(base, size, loc=t.loc)
        return base

    def _width(self) -> ast.Expr:
        """The width of `bit<W>`: an expression in which `>` ends the width."""
        self.expect("<")
        saved, self.in_angle = self.in_angle, True
        try:
            w = self.parse_expr()
        finally:
            self.in_angle = saved
        self.expect_close_angle()
        return w

    def expect_close_angle(self) -> Token:
        return self.expect(">")

    def _parse_base_type(self, allow_void: bool) -> ast.TypeRef:
        t = self.tok
        if t.kind != ID and not self.at("."):
            raise self.error("a type")
        word = t.text
        if word == "bit" or word == "int":
            self.advance()
            if self.at("<"):
                return ast.BitType(self._width(), signed=word == "int", loc=t.loc)
            if word == "int":
                return ast.BaseType("int", loc=t.loc)
            return ast.BitType(ast.IntLit(1, loc=t.loc, text="1"), loc=t.loc)
        if word == "varbit":
            self.advance()
            return ast.VarbitType(self._width(), loc=t.loc)
        if word in ("bool", "string", "error", "match_kind") or (word == "void" and allow_void):
            self.advance()
            return ast.BaseType(word, loc=t.loc)
        if word == "_":
            self.advance()
            return ast.BaseType("_", loc=t.loc)
        if word == "tuple":
            self.advance()
            self.expect("<")
            elems: list[ast.TypeRef] = []
            if not self.at(">"):
                elems.append(self.parse_type())
                while self.accept(","):
                    elems.append(self.parse_type())
            self.expect_close_angle()
            return ast.TupleType(elems, loc=t.loc)
        if word == "list":
            raise Unsupported(t.loc, "the list<T> type")
        top = False
        if self.at("."):
            self.advance()
            top = True
        if not self.is_name_token(self.tok):
            raise self.error("a type")
        name_tok = self.advance()
        nt = ast.NamedType(("." if top else "") + name_tok.text, loc=t.loc)
        if self.at("<"):
            nt.type_args = self.parse_type_args()
        return nt

    def parse_type_args(self) -> list[ast.TypeRef]:
        self.expect("<")
        args: list[ast.TypeRef] = []
        if not self.at(">"):
            args.append(self.parse_type())
            while self.accept(","):
                args.append(self.parse_type())
        self.expect_close_angle()
        return args

    def parse_type_params(self) -> list[str]:
        """`<T, U>` after a declaration's name (empty when absent)."""
        if not self.at("<"):
            return []
        self.advance()
        names = [self.expect_name("a type parameter name").text]
        while self.accept(","):
            names.append(self.expect_name("a type parameter name").text)
        self.expect_close_angle()
        return names

    # ------------------------------------------------------------------ expressions

    def _int_lit(self, t: Token) -> ast.IntLit:
        assert isinstance(t.value, int)
        return ast.IntLit(t.value, t.width, t.signed, t.text, loc=t.loc)

    def parse_expr(self) -> ast.Expr:
        cond = self._binary(0)
        if self.at("?"):
            q = self.advance()
            then = self.parse_expr()
            self.expect(":", "':' of a conditional expression")
            other = self.parse_expr()
            return ast.Ternary(cond, then, other, loc=q.loc)
        return cond

    def _binop(self) -> tuple[str, int] | None:
        """The binary operator at the cursor and how many tokens it spans: `>`
        joins an adjacent `>` into a shift and an adjacent `=` into `>=`."""
        t = self.tok
        if t.kind != OP:
            return None
        if t.text == ">":
            if self.in_angle:
                return None
            nxt = self.peek()
            if nxt.kind == OP and nxt.start == t.end and nxt.text in (">", "="):
                if nxt.text == ">" and self._adjacent_eq(2):
                    return None  # `>>=`, a compound assignment
                return (">>" if nxt.text == ">" else ">="), 2
            return ">", 1
        if t.text == "<<" and self._adjacent_eq(1):
            return None  # `<<=`, a compound assignment
        if t.text == "+":
            nxt = self.peek()
            if nxt.kind == OP and nxt.text == ":" and nxt.start == t.end:
                return None  # the `+:` of an indexed slice `e[base +: width]`
        if t.text in _LEVEL_OF:
            return t.text, 1
        return None

    def _adjacent_eq(self, k: int) -> bool:
        """Is the token k ahead an `=` glued to the token before it?"""
        prev, nxt = self.peek(k - 1), self.peek(k)
        return nxt.kind == OP and nxt.text == "=" and nxt.start == prev.end

    def _binary(self, min_level: int) -> ast.Expr:
        """Precedence climbing: operators at `min_level` or tighter, left-associative.
        Recursion grows with operator changes, not with the number of levels."""
        left = self._unary()
        while True:
            op = self._binop()
            if op is None or _LEVEL_OF[op[0]] < min_level:
                return left
            level = _LEVEL_OF[op[0]]
            optok = self.advance()
            if op[1] == 2:
                self.advance()
            right = self._binary(level + 1)
            left = ast.Binary(op[0], left, right, loc=optok.loc)

    def _unary(self) -> ast.Expr:
        t = self.tok
        if t.kind == OP and t.text in ("!", "~", "-", "+"):
            self.advance()
            return ast.Unary(t.text, self._unary(), loc=t.loc)
        return self._postfix(self._primary())

    def _primary(self) -> ast.Expr:
        t = self.tok
        if t.kind == INT:
            self.advance()
            return self._int_lit(t)
        if t.kind == STRING:
            self.advance()
            assert isinstance(t.value, str)
            return ast.StringLit(t.value, loc=t.loc)
        if self.at("("):
            to = self.speculate(self._cast_prefix)
            if to is not None:
                # Committed: the operand is parsed outside the speculation, so
                # chains of casts cost linear time even when they end in an error.
                return ast.Cast(to, self._unary(), loc=t.loc)
            self.advance()
            saved, self.in_angle = self.in_angle, False
            try:
                e = self.parse_expr()
            finally:
                self.in_angle = saved
            self.expect(")")
            return e
        if self.at("{"):
            return self._brace_init()
        if self.at("#"):
            raise Unsupported(t.loc, "'#' (invalid-value) initializers")
        if self.at("..") and self._is(self.peek(), ".") and self.peek().start == t.end:
            raise Unsupported(t.loc, "'...' default initializers")
        if self.at("."):
            self.advance()
            name = self.expect_name("a name after '.'")
            return ast.PathExpr(name.text, top_level=True, loc=t.loc)
        if t.kind == ID:
            w = t.text
            if w in ("true", "false"):
                self.advance()
                return ast.BoolLit(w == "true", loc=t.loc)
            if w == "_":
                self.advance()
                return ast.DontCare(loc=t.loc)
            if w == "error":
                self.advance()
                return ast.PathExpr("error", loc=t.loc)
            if w == "this":
                raise Unsupported(t.loc, "'this' in abstract method implementations")
            if w in ("bit", "int", "varbit", "bool", "tuple", "string"):
                return ast.TypeArgExpr(self.parse_type(), loc=t.loc)
            if w not in RESERVED:
                self.advance()
                return ast.PathExpr(w, loc=t.loc)
        raise self.error("an expression")

    def _cast_prefix(self) -> ast.TypeRef:
        """`(Type)` followed by something that can start the cast's operand."""
        self.expect("(")
        if not self.starts_type():
            raise self.error("a type")
        to = self.parse_type(allow_void=False)
        self.expect(")")
        nt = self.tok
        if not (
            nt.kind in (INT, STRING)
            or (nt.kind == ID and (nt.text not in RESERVED or nt.text in
                                   ("true", "false", "error", "bit", "int")))
            or (nt.kind == OP and nt.text in _EXPR_START_OPS)
        ):  # fmt: skip
            raise self.error("an expression after a cast")
        return to

    def _brace_init(self) -> ast.Expr:
        lb = self.expect("{")
        if self.accept("}"):
            return ast.ListExpr([], loc=lb.loc)
        if self.is_name_token(self.tok) and self._is(self.peek(), "="):
            fields: list[tuple[str, ast.Expr]] = []
            while True:
                name = self.expect_name("a field name").text
                self.expect("=")
                fields.append((name, self.parse_expr()))
                if not self.accept(",") or self.at("}"):
                    break
            self.expect("}", "',' or '}'")
            return ast.StructInit(fields, loc=lb.loc)
        items = [self.parse_expr()]
        while self.accept(","):
            if self.at("}"):
                break
            items.append(self.parse_expr())
        self.expect("}", "',' or '}'")
        return ast.ListExpr(items, loc=lb.loc)

    def _postfix(self, e: ast.Expr) -> ast.Expr:
        while True:
            if self.at("."):
                self.advance()
                if self.tok.kind != ID:
                    raise self.error("a member name after '.'")
                n = self.advance()
                e = ast.Member(e, n.text, loc=n.loc)
            elif self.at("["):
                self.advance()
                idx = self.parse_expr()
                if (
                    self.at("+")
                    and self._is(self.peek(), ":")
                    and self.peek().start == self.tok.end
                ):
                    # `e[base +: width]`: `width` bits starting at bit `base`.
                    self.advance()
                    self.advance()
                    width = self.parse_expr()
                    self.expect("]")
                    one = ast.IntLit(1, text="1", loc=width.loc)
                    hi = ast.Binary(
                        "-", ast.Binary("+", copy.deepcopy(idx), width, loc=width.loc), one,
                        loc=width.loc,
                    )  # fmt: skip
                    e = ast.Slice(e, hi, idx, loc=e.loc)
                elif self.accept(":"):
                    lo = self.parse_expr()
                    self.expect("]")
                    e = ast.Slice(e, idx, lo, loc=e.loc)
                else:
                    self.expect("]", "']' or ':'")
                    e = ast.Index(e, idx, loc=e.loc)
            elif self.at("("):
                e = ast.Call(e, [], self.parse_args(), loc=e.loc)
            elif self.at("<") and isinstance(e, (ast.PathExpr, ast.Member)) and self.starts_type(1):
                targs = self.speculate(self._call_type_args)
                if targs is None:
                    return e
                e = ast.Call(e, targs, self.parse_args(), loc=e.loc)
            else:
                return e

    def _call_type_args(self) -> list[ast.TypeRef]:
        targs = self.parse_type_args()
        if not self.at("("):
            raise self.error("'('")
        return targs

    def parse_args(self) -> list[ast.Argument]:
        self.expect("(")
        args: list[ast.Argument] = []
        if self.accept(")"):
            return args
        while True:
            t = self.tok
            name: str | None = None
            if t.kind == ID and self._is(self.peek(), "=") and t.text not in ("true", "false"):
                name = t.text
                self.advance()
                self.advance()
            vt = self.tok
            if self._is(vt, "_") and (self._is(self.peek(), ",") or self._is(self.peek(), ")")):
                self.advance()
                args.append(ast.Argument(None, name, loc=t.loc))
            else:
                args.append(ast.Argument(self.parse_expr(), name, loc=t.loc))
            if not self.accept(","):
                break
        self.expect(")", "',' or ')'")
        return args

    # ------------------------------------------------------------------ keysets

    def _simple_keyset(self) -> ast.Expr:
        t = self.tok
        if self.at("default"):
            self.advance()
            return ast.DefaultExpr(loc=t.loc)
        if self._is(t, "_") and not self._is(self.peek(), "."):
            self.advance()
            return ast.DontCare(loc=t.loc)
        e = self.parse_expr()
        if self.at("&&&"):
            self.advance()
            return ast.MaskExpr(e, self.parse_expr(), loc=t.loc)
        if self.at(".."):
            self.advance()
            return ast.RangeExpr(e, self.parse_expr(), loc=t.loc)
        return e

    def _tuple_keyset(self) -> list[ast.Expr]:
        self.expect("(")
        items = [self._simple_keyset()]
        while self.accept(","):
            items.append(self._simple_keyset())
        self.expect(")")
        if not self.at(":"):
            raise self.error("':'")
        return items

    def parse_keyset(self) -> list[ast.Expr]:
        """A keyset: one simple keyset, or a parenthesised tuple of them."""
        if self.at("("):
            items = self.speculate(self._tuple_keyset)
            if items is not None:
                return items
        return [self._simple_keyset()]

    # ------------------------------------------------------------------ statements

    def parse_block(self) -> ast.BlockStmt:
        lb = self.expect("{")
        self.push_scope()
        stmts: list[ast.Stmt | ast.Decl] = []
        while not self.at("}"):
            if self.tok.kind == EOF:
                raise self.error("'}'")
            stmts.append(self.parse_statement())
        self.advance()
        self.pop_scope()
        return ast.BlockStmt(stmts=stmts, loc=lb.loc)

    def parse_statement(self) -> ast.Stmt:
        t = self.tok
        annotations = self.parse_annotations()
        s = self._statement()
        if annotations:
            if not isinstance(s, ast.Annotated):
                raise P4Error(t.loc, "annotations are allowed here only on blocks and declarations")
            s.annotations = annotations + s.annotations
            s.loc = t.loc
        return s

    def _statement(self) -> ast.Stmt:
        t = self.tok
        w = t.text if t.kind == ID else None
        if self.at("{"):
            return self.parse_block()
        if self.at(";"):
            self.advance()
            return ast.EmptyStmt(loc=t.loc)
        if w == "if":
            self.advance()
            self.expect("(")
            cond = self.parse_expr()
            self.expect(")")
            then = self.parse_statement()
            other = self.parse_statement() if self.accept("else") else None
            return ast.IfStmt(cond, then, other, loc=t.loc)
        if w == "switch":
            return self._switch()
        if w == "return":
            self.advance()
            value = None if self.at(";") else self.parse_expr()
            self.expect(";")
            return ast.ReturnStmt(value, loc=t.loc)
        if w == "exit":
            self.advance()
            self.expect(";")
            return ast.ExitStmt(loc=t.loc)
        if w == "const":
            return self.parse_const()
        if w in ("for", "break", "continue"):
            raise Unsupported(t.loc, f"'{w}' statements")
        if w == "transition":
            raise P4Error(t.loc, "'transition' must be the last statement of a parser state")
        if self.starts_type() and not self._is(self.peek(), "."):
            if not self._is(self.peek(), "("):
                return self.parse_var_or_instance()
            # `T(args) name;` instantiates; `T(...)` alone is not a statement.
            inst = self.speculate(self.parse_var_or_instance)
            if inst is not None:
                return inst
        lhs = self.parse_expr()
        if self.at("="):
            self.advance()
            rhs = self.parse_expr()
            self.expect(";")
            return ast.AssignStmt(lhs, rhs, loc=t.loc)
        shift = self._compound_shift()
        if shift or (self.tok.kind == OP and self.tok.text in _COMPOUND_ASSIGN):
            op = shift or _COMPOUND_ASSIGN[self.advance().text]
            rhs = self.parse_expr()
            self.expect(";")
            return ast.AssignStmt(lhs, ast.Binary(op, copy.deepcopy(lhs), rhs, loc=lhs.loc),
                                  loc=t.loc)  # fmt: skip
        if isinstance(lhs, ast.Call):
            self.expect(";")
            return ast.CallStmt(lhs, loc=t.loc)
        if isinstance(lhs, ast.PathExpr) and self.is_name_token(self.tok):
            # `foo_t x;` with foo_t never declared as a type.
            raise P4Error(lhs.loc, f"'{lhs.name}' is not a type declared before this point")
        raise self.error("'=' or a method call")

    def _compound_shift(self) -> str | None:
        """Consume `<<=` or `>>=` (lexed as `<<` `=` and `>` `>` `=`)."""
        if self.at("<<") and self._adjacent_eq(1):
            self.advance()
            self.advance()
            return "<<"
        if self.at(">") and self._is(self.peek(), ">") and self.peek().start == self.tok.end:
            if self._adjacent_eq(2):
                for _ in range(3):
                    self.advance()
                return ">>"
        return None

    def _switch(self) -> ast.SwitchStmt:
        t = self.advance()
        self.expect("(")
        e = self.parse_expr()
        self.expect(")")
        self.expect("{")
        cases: list[ast.SwitchCase] = []
        while not self.accept("}"):
            lt = self.tok
            label: ast.Expr
            if self.at("default"):
                self.advance()
                label = ast.DefaultExpr(loc=lt.loc)
            else:
                label = self.parse_expr()
            self.expect(":", "':' after a switch label")
            block = self.parse_block() if self.at("{") else None
            cases.append(ast.SwitchCase([label], block, loc=lt.loc))
        return ast.SwitchStmt(e, cases, loc=t.loc)

    def parse_const(self) -> ast.ConstDecl:
        t = self.expect("const")
        typ = self.parse_type(allow_void=False)
        name = self.expect_name("the constant's name")
        self.declare_value(name.text)
        self.expect("=", "'=' and the constant's value")
        value = self.parse_expr()
        self.expect(";")
        return ast.ConstDecl(name=name.text, type=typ, value=value, loc=t.loc)

    def parse_var_or_instance(self) -> ast.VarDecl | ast.Instantiation:
        """`T name [= init];` or `T(args) name;` (type already known to start here)."""
        t = self.tok
        if self._is(t, "value_set"):
            raise Unsupported(t.loc, "value_set")
        typ = self.parse_type(allow_void=False)
        if self.at(".") and isinstance(typ, ast.NamedType) and typ.type_args:
            raise Unsupported(self.tok.loc, "direct invocation of a specialised type")
        if self.at("("):
            args = self.parse_args()
            name = self.expect_name("the instance's name")
            initializer = self._instance_end()
            self.declare_value(name.text)
            return ast.Instantiation(name=name.text, type=typ, args=args, loc=t.loc,
                                     initializer=initializer)  # fmt: skip
        name = self.expect_name("a variable name")
        self.declare_value(name.text)
        init = None
        if self.accept("="):
            init = self.parse_expr()
        self.expect(";", "';' or '='")
        return ast.VarDecl(name=name.text, type=typ, init=init, loc=t.loc)

    def _instance_end(self) -> list[ast.FunctionDecl] | None:
        """`;`, or `= { functions };`: the implementations of abstract methods."""
        if self.at("["):
            raise Unsupported(self.tok.loc, "arrays of extern instances")
        functions: list[ast.FunctionDecl] | None = None
        if self.accept("="):
            functions = []
            self.expect("{", "'{' and the abstract methods' implementations")
            while not self.accept("}"):
                d = self._function_or_instance()
                if not isinstance(d, ast.FunctionDecl):
                    raise Unsupported(d.loc, "instances inside an initializer block")
                functions.append(d)
        self.expect(";")
        return functions

    # ------------------------------------------------------------------ parameters

    def parse_params(self) -> list[ast.Param]:
        self.expect("(")
        params: list[ast.Param] = []
        if self.accept(")"):
            return params
        while True:
            t = self.tok
            anns = self.parse_annotations()
            direction = ""
            if self.tok.kind == ID and self.tok.text in _DIRECTIONS:
                direction = self.advance().text
            typ = self.parse_type(allow_void=False)
            name = self.expect_name("a parameter name")
            self.declare_value(name.text)
            default = self.parse_expr() if self.accept("=") else None
            params.append(ast.Param(name=name.text, direction=direction, type=typ,
                                    default=default, annotations=anns, loc=t.loc))  # fmt: skip
            if not self.accept(","):
                break
        self.expect(")", "',' or ')'")
        return params

    # ------------------------------------------------------------------ declarations

    def parse_program(self) -> ast.Program:
        decls: list[ast.Decl] = []
        first = self.tok
        while self.tok.kind != EOF:
            if self.accept(";"):
                continue
            decls.append(self.parse_declaration())
        prog = ast.Program(decls=decls, loc=first.loc)
        for d in decls:
            if isinstance(d, ast.Instantiation) and d.name == "main":
                prog.main = d
        return prog

    def parse_declaration(self) -> ast.Decl:
        t = self.tok
        anns = self.parse_annotations()
        d = self._declaration()
        d.annotations = anns + d.annotations
        d.loc = t.loc
        return d

    def _declaration(self) -> ast.Decl:
        t = self.tok
        w = t.text if t.kind == ID else ""
        if w in ("header", "struct", "header_union"):
            return self._struct_like(w)
        if w == "enum":
            return self._enum()
        if w in ("typedef", "type"):
            self.advance()
            if self.tok.kind == ID and self.tok.text in (
                "header",
                "struct",
                "header_union",
                "enum",
            ):
                raise Unsupported(self.tok.loc, f"{w} of an inline {self.tok.text} declaration")
            typ = self.parse_type(allow_void=False)
            name = self.expect_name("the new type's name")
            self.expect(";")
            self.declare_type(name.text)
            return ast.TypedefDecl(name=name.text, type=typ, is_newtype=w == "type")
        if w == "const":
            return self.parse_const()
        if w in ("error", "match_kind") and self._is(self.peek(), "{"):
            self.advance()
            members = self._name_list()
            if w == "error":
                return ast.ErrorDecl(name="error", members=members)
            return ast.MatchKindDecl(name="match_kind", members=members)
        if w == "extern":
            return self._extern()
        if w == "action":
            return self._action()
        if w in ("parser", "control"):
            return self._block_decl(w)
        if w == "package":
            self.advance()
            name = self.expect_name("the package's name")
            self.declare_type(name.text)
            tps = self.parse_type_params()
            self.push_scope(tps)
            params = self.parse_params()
            self.pop_scope()
            self.expect(";")
            return ast.BlockTypeDecl(name=name.text, kind="package", type_params=tps,
                                     params=params)  # fmt: skip
        if w == "value_set":
            raise Unsupported(t.loc, "value_set")
        if w == "table":
            raise P4Error(t.loc, "tables may only be declared inside a control")
        if t.kind == ID and (w not in RESERVED or w in _TYPE_KEYWORDS) or self.at("."):
            return self._function_or_instance()
        raise self.error("a declaration")

    def _name_list(self) -> list[str]:
        self.expect("{")
        names: list[str] = []
        while not self.at("}"):
            names.append(self.expect_name("a member name").text)
            if not self.accept(","):
                break
        self.expect("}", "',' or '}'")
        return names

    def _struct_like(self, kind: str) -> ast.Decl:
        self.advance()
        name = self.expect_name(f"the {kind}'s name")
        self.declare_type(name.text)
        if self.at("<"):
            raise Unsupported(self.tok.loc, f"generic {kind} types")
        self.expect("{")
        fields: list[ast.FieldDecl] = []
        while not self.accept("}"):
            ft = self.tok
            anns = self.parse_annotations()
            typ = self.parse_type(allow_void=False)
            fname = self.expect_name("a field name")
            if self.at("["):
                raise Unsupported(
                    self.tok.loc, "array-style fields 'T name[N]' (use a header stack)"
                )
            self.expect(";")
            fields.append(ast.FieldDecl(name=fname.text, type=typ, annotations=anns, loc=ft.loc))
        if kind == "header":
            return ast.HeaderDecl(name=name.text, fields=fields)
        if kind == "struct":
            return ast.StructDecl(name=name.text, fields=fields)
        return ast.HeaderUnionDecl(name=name.text, fields=fields)

    def _enum(self) -> ast.EnumDecl:
        self.advance()
        underlying: ast.TypeRef | None = None
        if not (self.is_name_token(self.tok) and self._is(self.peek(), "{")):
            underlying = self.parse_type(allow_void=False)
        name = self.expect_name("the enum's name")
        self.declare_type(name.text)
        self.expect("{")
        members: list[str] = []
        values: list[ast.Expr] = []
        while not self.at("}"):
            self.parse_annotations()
            members.append(self.expect_name("an enum member").text)
            if underlying is not None:
                self.expect("=", "'=' and the member's value (serializable enum)")
                values.append(self.parse_expr())
            if not self.accept(","):
                break
        self.expect("}", "',' or '}'")
        return ast.EnumDecl(name=name.text, members=members, underlying=underlying, values=values)

    def _extern(self) -> ast.Decl:
        self.advance()
        # `extern Name [<T>] {` declares an object type; anything else is a function.
        if self.is_name_token(self.tok) and (
            self._is(self.peek(), "{") or (self._is(self.peek(), "<") and self._extern_obj_ahead())
        ):
            return self._extern_object()
        ret = self.parse_type()
        name = self.expect_name("the extern function's name")
        tps = self.parse_type_params()
        self.push_scope(tps)
        params = self.parse_params()
        self.pop_scope()
        self.expect(";")
        return ast.ExternFunctionDecl(name=name.text, return_type=ret, type_params=tps,
                                      params=params)  # fmt: skip

    def _extern_obj_ahead(self) -> bool:
        """After `extern Name <`: does the type-parameter list end in `{`?"""
        j = self.i + 2
        while j < len(self.toks) and self.toks[j].kind != EOF:
            t = self.toks[j]
            if self._is(t, ">"):
                return self._is(self.toks[j + 1], "{")
            if not (t.kind == ID or self._is(t, ",")):
                return False
            j += 1
        return False

    def _extern_object(self) -> ast.ExternDecl:
        name = self.advance().text
        self.declare_type(name)
        tps = self.parse_type_params()
        self.push_scope(tps)
        self.expect("{")
        methods: list[ast.MethodDecl] = []
        while not self.accept("}"):
            mt = self.tok
            anns = self.parse_annotations()
            is_abstract = bool(self.accept("abstract"))
            if self._is(self.tok, name) and self._is(self.peek(), "("):
                self.advance()
                params = self.parse_params()
                self.expect(";")
                m = ast.MethodDecl(name=name, params=params, is_constructor=True)
            else:
                ret = self._return_type()
                mname = self.expect_name("a method name")
                mtps = self.parse_type_params()
                self.push_scope(mtps)
                params = self.parse_params()
                self.pop_scope()
                if self.at("{"):
                    raise Unsupported(self.tok.loc, "method bodies in extern declarations")
                self.expect(";")
                m = ast.MethodDecl(name=mname.text, return_type=ret, type_params=mtps,
                                   params=params, is_abstract=is_abstract)  # fmt: skip
            m.annotations = anns
            m.loc = mt.loc
            methods.append(m)
        self.pop_scope()
        return ast.ExternDecl(name=name, type_params=tps, methods=methods)

    def _return_type(self) -> ast.TypeRef:
        """A return type that may name a type parameter declared after the
        function's name (`T lookahead<T>();`)."""
        return self.parse_type()

    def _action(self) -> ast.ActionDecl:
        self.advance()
        name = self.expect_name("the action's name")
        self.declare_value(name.text)
        self.push_scope()
        try:
            params = self.parse_params()
            body = self.parse_block()
        finally:
            self.pop_scope()
        return ast.ActionDecl(name=name.text, params=params, body=body)

    def _block_decl(self, kind: str) -> ast.Decl:
        self.advance()
        name = self.expect_name(f"the {kind}'s name")
        self.declare_type(name.text)
        tps = self.parse_type_params()
        self.push_scope(tps)
        params = self.parse_params()
        if self.accept(";"):
            self.pop_scope()
            return ast.BlockTypeDecl(name=name.text, kind=kind, type_params=tps, params=params)
        ctor = self.parse_params() if self.at("(") else []
        self.expect("{", "'{' or ';'")
        locals_: list[ast.Decl] = []
        try:
            if kind == "parser":
                states: list[ast.ParserState] = []
                while not self.accept("}"):
                    lt = self.tok
                    anns = self.parse_annotations()
                    if self.at("state"):
                        st = self._state()
                        st.annotations = anns
                        st.loc = lt.loc
                        states.append(st)
                        continue
                    if states:
                        raise self.error("'state' or '}'")
                    d = self._local_decl(kind)
                    d.annotations = anns + d.annotations
                    d.loc = lt.loc
                    locals_.append(d)
                return ast.ParserDecl(name=name.text, type_params=tps, params=params,
                                      ctor_params=ctor, locals=locals_, states=states)  # fmt: skip
            body: ast.BlockStmt | None = None
            while not self.accept("}"):
                lt = self.tok
                anns = self.parse_annotations()
                if self.at("apply") and (self._is(self.peek(), "{") or self._is(self.peek(), "@")):
                    if body is not None:
                        raise P4Error(lt.loc, "a control has only one apply block")
                    self.advance()
                    anns += self.parse_annotations()
                    body = self.parse_block()
                    body.annotations = anns
                    continue
                if body is not None:
                    raise self.error("'}' (the apply block ends the control)")
                d = self._local_decl(kind)
                d.annotations = anns + d.annotations
                d.loc = lt.loc
                locals_.append(d)
            if body is None:
                raise P4Error(name.loc, f"control '{name.text}' has no apply block")
            return ast.ControlDecl(name=name.text, type_params=tps, params=params,
                                   ctor_params=ctor, locals=locals_, body=body)  # fmt: skip
        finally:
            self.pop_scope()

    def _local_decl(self, kind: str) -> ast.Decl:
        t = self.tok
        if self.at("const"):
            return self.parse_const()
        if kind == "control" and self.at("action"):
            return self._action()
        if kind == "control" and self.at("table"):
            return self._table()
        if self.at("value_set"):
            raise Unsupported(t.loc, "value_set")
        if t.kind == ID and (t.text not in RESERVED or t.text in _TYPE_KEYWORDS) or self.at("."):
            return self.parse_var_or_instance()
        what = "a declaration or 'state'" if kind == "parser" else "a declaration or 'apply'"
        raise self.error(what)

    def _function_or_instance(self) -> ast.Decl:
        """At top level: `T(args) name;` or a function `T name<..>(params) { }`."""
        t = self.tok
        if self._is(t, "value_set"):
            raise Unsupported(t.loc, "value_set")
        typ = self.parse_type()
        if self.at("("):
            args = self.parse_args()
            name = self.expect_name("the instance's name")
            initializer = self._instance_end()
            self.declare_value(name.text)
            return ast.Instantiation(name=name.text, type=typ, args=args,
                                     initializer=initializer)  # fmt: skip
        name = self.expect_name("a name")
        self.declare_value(name.text)
        if self.at("<") or self.at("("):
            tps = self.parse_type_params()
            self.push_scope(tps)
            try:
                params = self.parse_params()
                body = self.parse_block()
            finally:
                self.pop_scope()
            return ast.FunctionDecl(name=name.text, return_type=typ, type_params=tps,
                                    params=params, body=body)  # fmt: skip
        if self.at(";") or self.at("="):
            raise P4Error(t.loc, "top-level variables are not allowed; declare a 'const'")
        raise self.error("'(' (a function or an instantiation)")

    # ------------------------------------------------------------------ parser states

    def _state(self) -> ast.ParserState:
        self.expect("state")
        name = self.expect_name("the state's name")
        self.expect("{")
        self.push_scope()
        stmts: list[ast.Stmt | ast.Decl] = []
        transition: str | ast.SelectExpr = "reject"
        while not self.at("}"):
            if self.tok.kind == EOF:
                raise self.error("'}'")
            if self.at("transition"):
                self.advance()
                transition = self._transition()
                if not self.at("}"):
                    raise self.error("'}' (transition ends the state)")
                break
            stmts.append(self.parse_statement())
        self.expect("}")
        self.pop_scope()
        return ast.ParserState(name=name.text, stmts=stmts, transition=transition)

    def _transition(self) -> str | ast.SelectExpr:
        t = self.tok
        if self.at("select"):
            self.advance()
            self.expect("(")
            exprs: list[ast.Expr] = []
            if not self.at(")"):
                exprs.append(self.parse_expr())
                while self.accept(","):
                    exprs.append(self.parse_expr())
            self.expect(")", "',' or ')'")
            self.expect("{")
            cases: list[ast.SelectCase] = []
            while not self.accept("}"):
                ct = self.tok
                keys = self.parse_keyset()
                keyset = keys[0] if len(keys) == 1 else ast.ListExpr(keys, loc=ct.loc)
                self.expect(":", "':' after a keyset")
                state = self.expect_name("a state name")
                self.expect(";")
                cases.append(ast.SelectCase(keyset, state.text, loc=ct.loc))
            return ast.SelectExpr(exprs, cases, loc=t.loc)
        name = self.expect_name("a state name or 'select'")
        self.expect(";")
        return name.text

    # ------------------------------------------------------------------ tables

    def _table(self) -> ast.TableDecl:
        self.expect("table")
        name = self.expect_name("the table's name")
        self.declare_value(name.text)
        table = ast.TableDecl(name=name.text)
        self.expect("{")
        seen: set[str] = set()
        while not self.accept("}"):
            pt = self.tok
            self.parse_annotations()
            is_const = bool(self.accept("const"))
            if self.tok.kind != ID:
                raise self.error("a table property")
            prop = self.advance().text
            if prop in seen:
                raise P4Error(pt.loc, f"table property '{prop}' given twice")
            seen.add(prop)
            self.expect("=", f"'=' after '{prop}'")
            if prop == "key":
                table.keys = self._table_keys()
            elif prop == "actions":
                table.actions = self._table_actions()
            elif prop == "default_action":
                table.default_action = self._action_ref()
                table.default_is_const = is_const
                self.expect(";")
            elif prop == "entries":
                table.entries = self._table_entries(is_const)
                table.entries_const = is_const
            elif prop == "size":
                table.size = self.parse_expr()
                self.expect(";")
            else:
                table.properties[prop] = self.parse_expr()
                self.expect(";")
        return table

    def _table_keys(self) -> list[ast.KeyElement]:
        self.expect("{")
        keys: list[ast.KeyElement] = []
        while not self.accept("}"):
            kt = self.tok
            anns = self.parse_annotations()  # leniency: the grammar puts them after
            e = self.parse_expr()
            self.expect(":", "':' and a match kind")
            mk = self.expect_name("a match kind")
            anns += self.parse_annotations()
            self.expect(";")
            keys.append(ast.KeyElement(expr=e, match_kind=mk.text, annotations=anns, loc=kt.loc))
        return keys

    def _action_ref(self) -> ast.ActionRef:
        t = self.tok
        anns = self.parse_annotations()
        top = bool(self.accept("."))
        name = self.expect_name("an action name")
        args = self.parse_args() if self.at("(") else []
        return ast.ActionRef(name=("." if top else "") + name.text, args=args,
                             annotations=anns, loc=t.loc)  # fmt: skip

    def _table_actions(self) -> list[ast.ActionRef]:
        self.expect("{")
        refs: list[ast.ActionRef] = []
        while not self.accept("}"):
            refs.append(self._action_ref())
            if not self.at("}"):
                self.expect(";", "';' after an action")
        self.accept(";")
        return refs

    def _table_entries(self, is_const: bool) -> list[ast.TableEntry]:
        self.expect("{")
        entries: list[ast.TableEntry] = []
        while not self.accept("}"):
            et = self.tok
            anns = self.parse_annotations()
            entry_const = bool(self.accept("const")) or is_const
            priority: ast.Expr | None = None
            if self.at("priority") and self._is(self.peek(), "="):
                self.advance()
                self.advance()
                priority = self._primary() if not self.at("(") else self._paren_expr()
                self.expect(":", "':' after the entry priority")
            keys = self.parse_keyset()
            if len(keys) == 1 and isinstance(keys[0], ast.ListExpr):
                keys = keys[0].items  # `{k1, k2}` written as a list expression
            self.expect(":", "':' and the entry's action")
            action = self._action_ref()
            anns += self.parse_annotations()
            self.expect(";")
            entries.append(ast.TableEntry(keys=keys, action=action, priority=priority,
                                          is_const=entry_const, annotations=anns,
                                          loc=et.loc))  # fmt: skip
        self.accept(";")
        return entries

    def _paren_expr(self) -> ast.Expr:
        self.expect("(")
        e = self.parse_expr()
        self.expect(")")
        return e


def parse(text: str, filename: str = "<input>") -> ast.Program:
    """Parse preprocessed P4_16 text into an unchecked `ast.Program`. `filename`
    names the text until a line marker names another file."""
    toks, files = tokenize(text, filename)
    parser = Parser(toks, text)
    try:
        prog = parser.parse_program()
    except RecursionError:
        raise P4Error(parser.tok.loc, "expression or statement nested too deeply") from None
    prog.source_text = text
    prog.files = files
    if prog.loc is None:
        prog.loc = Loc(filename, 1, 1)
    return prog
