"""Round trip: parse, print the tree back as P4, parse again, and compare the trees.

A parser that drops an annotation, a default value, a priority or an operand, or
nests operators the wrong way, produces a printed program whose tree differs from
the first one (the printer parenthesises everything, so it cannot hide a
precedence mistake of the parser). The printer lives here because only the tests
need it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from p4sim.frontend import ast, parse, preprocess
from p4sim.frontend.errors import P4Error

from .test_parser_decls import PARSER, TABLE

HERE = Path(__file__).parent
ROOT = HERE.parents[1]

# --------------------------------------------------------------------------- printer


def p_str(s: str) -> str:
    return json.dumps(s)  # the lexer's escapes are a superset of JSON's for these


def p_anns(anns: list[ast.Annotation], sep: str = " ") -> str:
    return "".join(f"@{a.name}({a.raw}){sep}" if a.raw else f"@{a.name}{sep}" for a in anns)


def p_type(t: ast.TypeRef | None) -> str:
    match t:
        case ast.BitType():
            w = t.width.text if isinstance(t.width, ast.IntLit) else f"({p_expr(t.width)})"
            return f"{'int' if t.signed else 'bit'}<{w}>"
        case ast.VarbitType():
            w = t.width.text if isinstance(t.width, ast.IntLit) else f"({p_expr(t.width)})"
            return f"varbit<{w}>"
        case ast.BaseType():
            return t.name
        case ast.NamedType():
            args = f"<{', '.join(p_type(a) for a in t.type_args)}>" if t.type_args else ""
            return t.name + args
        case ast.StackType():
            return f"{p_type(t.elem)}[{p_expr(t.size)}]"
        case ast.TupleType():
            return f"tuple<{', '.join(p_type(a) for a in t.elems)}>"
    raise AssertionError(f"no printer for {type(t).__name__}")


def p_args(args: list[ast.Argument]) -> str:
    out = []
    for a in args:
        value = "_" if a.value is None else p_expr(a.value)
        out.append(f"{a.name} = {value}" if a.name else value)
    return "(" + ", ".join(out) + ")"


def p_expr(e: ast.Expr | None) -> str:
    match e:
        case ast.IntLit():
            return e.text
        case ast.BoolLit():
            return "true" if e.value else "false"
        case ast.StringLit():
            return p_str(e.value)
        case ast.PathExpr():
            return ("." if e.top_level else "") + e.name
        case ast.Member():
            return f"{p_expr(e.expr)}.{e.name}"
        case ast.Index():
            return f"{p_expr(e.expr)}[{p_expr(e.index)}]"
        case ast.Slice():
            return f"{p_expr(e.expr)}[{p_expr(e.hi)}:{p_expr(e.lo)}]"
        case ast.Unary():
            return f"({e.op}{p_expr(e.expr)})"
        case ast.Binary():
            return f"({p_expr(e.left)} {e.op} {p_expr(e.right)})"
        case ast.Ternary():
            return f"({p_expr(e.cond)} ? {p_expr(e.then)} : {p_expr(e.other)})"
        case ast.Cast():
            return f"(({p_type(e.to)}) {p_expr(e.expr)})"
        case ast.TypeArgExpr():
            return p_type(e.typeref)
        case ast.Call():
            targs = f"<{', '.join(p_type(t) for t in e.type_args)}>" if e.type_args else ""
            return p_expr(e.func) + targs + p_args(e.args)
        case ast.ListExpr():
            return "{" + ", ".join(p_expr(i) for i in e.items) + "}"
        case ast.StructInit():
            return "{" + ", ".join(f"{n} = {p_expr(v)}" for n, v in e.fields) + "}"
        case ast.DontCare():
            return "_"
        case ast.DefaultExpr():
            return "default"
        case ast.MaskExpr():
            return f"{p_expr(e.value)} &&& {p_expr(e.mask)}"
        case ast.RangeExpr():
            return f"{p_expr(e.lo)} .. {p_expr(e.hi)}"
    raise AssertionError(f"no printer for {type(e).__name__}")


def p_keyset(keys: list[ast.Expr]) -> str:
    return p_expr(keys[0]) if len(keys) == 1 else "(" + ", ".join(p_expr(k) for k in keys) + ")"


def p_params(params: list[ast.Param]) -> str:
    out = []
    for p in params:
        direction = f"{p.direction} " if p.direction else ""
        default = f" = {p_expr(p.default)}" if p.default is not None else ""
        out.append(f"{p_anns(p.annotations)}{direction}{p_type(p.type)} {p.name}{default}")
    return "(" + ", ".join(out) + ")"


def p_tps(tps: list[str]) -> str:
    return f"<{', '.join(tps)}>" if tps else ""


def p_stmt(s: ast.Stmt | ast.Decl, ind: str) -> str:
    match s:
        case ast.AssignStmt():
            return f"{ind}{p_expr(s.lhs)} = {p_expr(s.rhs)};\n"
        case ast.CallStmt():
            return f"{ind}{p_expr(s.call)};\n"
        case ast.IfStmt():
            out = f"{ind}if ({p_expr(s.cond)})\n{p_stmt(s.then, ind + '  ')}"
            if s.other is not None:
                out += f"{ind}else\n{p_stmt(s.other, ind + '  ')}"
            return out
        case ast.BlockStmt():
            return ind + p_block(s, ind) + "\n"
        case ast.SwitchStmt():
            out = f"{ind}switch ({p_expr(s.expr)}) {{\n"
            for c in s.cases:
                block = p_block(c.block, ind + "  ") if c.block is not None else ""
                out += f"{ind}  {p_expr(c.labels[0])}: {block}\n"
            return out + ind + "}\n"
        case ast.ReturnStmt():
            value = f" {p_expr(s.value)}" if s.value is not None else ""
            return f"{ind}return{value};\n"
        case ast.ExitStmt():
            return f"{ind}exit;\n"
        case ast.EmptyStmt():
            return f"{ind};\n"
        case ast.Decl():
            return p_decl(s, ind)
    raise AssertionError(f"no printer for {type(s).__name__}")


def p_block(b: ast.BlockStmt, ind: str) -> str:
    body = "".join(p_stmt(s, ind + "  ") for s in b.stmts)
    return f"{p_anns(b.annotations)}{{\n{body}{ind}}}"


def p_action_ref(r: ast.ActionRef) -> str:
    return p_anns(r.annotations) + r.name + (p_args(r.args) if r.args else "")


def p_table(t: ast.TableDecl, ind: str) -> str:
    i2 = ind + "  "
    out = f"{ind}{p_anns(t.annotations)}table {t.name} {{\n"
    if t.keys:
        keys = "".join(
            f"{i2}  {p_expr(k.expr)} : {k.match_kind} {p_anns(k.annotations)};\n" for k in t.keys
        )
        out += f"{i2}key = {{\n{keys}{i2}}}\n"
    if t.actions:
        out += f"{i2}actions = {{ {' '.join(p_action_ref(a) + ';' for a in t.actions)} }}\n"
    if t.default_action is not None:
        const = "const " if t.default_is_const else ""
        out += f"{i2}{const}default_action = {p_action_ref(t.default_action)};\n"
    if t.entries or not t.entries_const:
        lines = ""
        for e in t.entries:
            const = "const " if e.is_const and not t.entries_const else ""
            prio = f"priority = {p_expr(e.priority)}: " if e.priority is not None else ""
            assert e.action is not None
            lines += (
                f"{i2}  {p_anns(e.annotations)}{const}{prio}{p_keyset(e.keys)} : "
                f"{p_action_ref(e.action)};\n"
            )
        const = "const " if t.entries_const else ""
        out += f"{i2}{const}entries = {{\n{lines}{i2}}}\n"
    if t.size is not None:
        out += f"{i2}size = {p_expr(t.size)};\n"
    for name, value in t.properties.items():
        out += f"{i2}{name} = {p_expr(value)};\n"
    return out + ind + "}\n"


def p_state(st: ast.ParserState, ind: str) -> str:
    body = "".join(p_stmt(s, ind + "  ") for s in st.stmts)
    tr = st.transition
    if isinstance(tr, str):
        trans = f"{ind}  transition {tr};\n"
    else:
        cases = ""
        for c in tr.cases:
            keys = c.keyset.items if isinstance(c.keyset, ast.ListExpr) else [c.keyset]
            cases += f"{ind}    {p_keyset(keys)}: {c.state};\n"
        exprs = ", ".join(p_expr(e) for e in tr.exprs)
        trans = f"{ind}  transition select({exprs}) {{\n{cases}{ind}  }}\n"
    return f"{ind}{p_anns(st.annotations)}state {st.name} {{\n{body}{trans}{ind}}}\n"


def p_decl(d: ast.Decl, ind: str = "") -> str:
    a = p_anns(d.annotations)
    match d:
        case ast.ConstDecl():
            return f"{ind}{a}const {p_type(d.type)} {d.name} = {p_expr(d.value)};\n"
        case ast.VarDecl():
            init = f" = {p_expr(d.init)}" if d.init is not None else ""
            return f"{ind}{a}{p_type(d.type)} {d.name}{init};\n"
        case ast.Instantiation():
            return f"{ind}{a}{p_type(d.type)}{p_args(d.args)} {d.name};\n"
        case ast.TypedefDecl():
            kw = "type" if d.is_newtype else "typedef"
            return f"{ind}{a}{kw} {p_type(d.type)} {d.name};\n"
        case ast.HeaderDecl() | ast.StructDecl() | ast.HeaderUnionDecl():
            kw = {ast.HeaderDecl: "header", ast.StructDecl: "struct"}.get(type(d), "header_union")
            fields = "".join(
                f"{ind}  {p_anns(f.annotations)}{p_type(f.type)} {f.name};\n" for f in d.fields
            )
            return f"{ind}{a}{kw} {d.name} {{\n{fields}{ind}}}\n"
        case ast.EnumDecl():
            if d.underlying is None:
                return f"{ind}{a}enum {d.name} {{ {', '.join(d.members)} }}\n"
            members = ", ".join(
                f"{m} = {p_expr(v)}" for m, v in zip(d.members, d.values, strict=True)
            )
            return f"{ind}{a}enum {p_type(d.underlying)} {d.name} {{ {members} }}\n"
        case ast.ErrorDecl():
            return f"{ind}{a}error {{ {', '.join(d.members)} }}\n"
        case ast.MatchKindDecl():
            return f"{ind}{a}match_kind {{ {', '.join(d.members)} }}\n"
        case ast.ExternDecl():
            methods = ""
            for m in d.methods:
                ma = p_anns(m.annotations)
                if m.is_constructor:
                    methods += f"{ind}  {ma}{m.name}{p_params(m.params)};\n"
                else:
                    ab = "abstract " if m.is_abstract else ""
                    methods += (
                        f"{ind}  {ma}{ab}{p_type(m.return_type)} {m.name}{p_tps(m.type_params)}"
                        f"{p_params(m.params)};\n"
                    )
            return f"{ind}{a}extern {d.name}{p_tps(d.type_params)} {{\n{methods}{ind}}}\n"
        case ast.ExternFunctionDecl():
            return (
                f"{ind}{a}extern {p_type(d.return_type)} {d.name}{p_tps(d.type_params)}"
                f"{p_params(d.params)};\n"
            )
        case ast.FunctionDecl():
            assert d.body is not None
            return (
                f"{ind}{a}{p_type(d.return_type)} {d.name}{p_tps(d.type_params)}"
                f"{p_params(d.params)} {p_block(d.body, ind)}\n"
            )
        case ast.ActionDecl():
            assert d.body is not None
            return f"{ind}{a}action {d.name}{p_params(d.params)} {p_block(d.body, ind)}\n"
        case ast.BlockTypeDecl():
            return f"{ind}{a}{d.kind} {d.name}{p_tps(d.type_params)}{p_params(d.params)};\n"
        case ast.TableDecl():
            return p_table(d, ind)
        case ast.ParserDecl():
            ctor = p_params(d.ctor_params) if d.ctor_params else ""
            body = "".join(p_decl(x, ind + "  ") for x in d.locals)
            body += "".join(p_state(s, ind + "  ") for s in d.states)
            head = f"parser {d.name}{p_tps(d.type_params)}{p_params(d.params)}{ctor}"
            return f"{ind}{a}{head} {{\n{body}{ind}}}\n"
        case ast.ControlDecl():
            ctor = p_params(d.ctor_params) if d.ctor_params else ""
            body = "".join(p_decl(x, ind + "  ") for x in d.locals)
            body += f"{ind}  apply {p_block(d.body, ind + '  ')}\n"
            head = f"control {d.name}{p_tps(d.type_params)}{p_params(d.params)}{ctor}"
            return f"{ind}{a}{head} {{\n{body}{ind}}}\n"
    raise AssertionError(f"no printer for {type(d).__name__}")


def p_program(prog: ast.Program) -> str:
    return "".join(p_decl(d) for d in prog.decls)


# --------------------------------------------------------------------------- comparison

# Fields the checker fills in or that only say where a node came from.
_IGNORED = {"loc", "resolved", "decl", "state_decl", "next_decl", "hi_v", "lo_v"}
_IGNORED_EXPR = {"type", "const"}
_IGNORED_CALL = {"kind", "target", "receiver", "method", "params", "resolved_args",
                 "type_bindings"}  # fmt: skip


def differences(a: Any, b: Any, path: str = "program") -> list[str]:
    """Where two trees differ (ignoring locations and checker annotations)."""
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]  # fmt: skip
    if isinstance(a, tuple):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]  # fmt: skip
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} != {list(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, ast.Node):
        skip = set(_IGNORED)
        if isinstance(a, ast.Expr):
            skip |= _IGNORED_EXPR
        if isinstance(a, ast.Call):
            skip |= _IGNORED_CALL
        if isinstance(a, ast.Annotation):
            skip.add("raw")  # printing normalises blanks in the body
        return [
            d
            for f in dataclasses.fields(a)
            if f.name not in skip
            for d in differences(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def roundtrip(prog: ast.Program) -> list[str]:
    printed = p_program(prog)
    try:
        again = parse(printed, "printed.p4")
    except P4Error as e:
        line = printed.splitlines()[e.loc.line - 1] if e.loc.line else ""
        return [f"printed program does not parse: {e}\n    {line}"]
    return differences(prog.decls, again.decls, "decls")


# --------------------------------------------------------------------------- tests


def _sources() -> list[Path]:
    files = sorted((HERE / "programs").glob("*.p4"))
    files += sorted((ROOT / "p4sim" / "frontend" / "arch").glob("*.p4"))
    files += sorted((ROOT / "p4src" / "v1model").glob("*.p4"))
    return files


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_program_roundtrip(path: Path) -> None:
    prog = parse(preprocess(path), str(path))
    assert roundtrip(prog) == []


@pytest.mark.parametrize("src", [PARSER, TABLE], ids=["parser", "table"])
def test_construct_roundtrip(src: str) -> None:
    assert roundtrip(parse(src, "t.p4")) == []


def test_differences_catch_a_changed_tree() -> None:
    # The comparison itself must notice what a faulty parser would change.
    a = parse("const bit<8> X = 1 + 2 * 3;")
    b = parse("const bit<8> X = (1 + 2) * 3;")
    c = parse('@name("x") const bit<8> X = 1 + 2 * 3;')
    assert differences(a.decls, b.decls)
    assert differences(a.decls, c.decls)
    assert not differences(a.decls, parse(p_program(a)).decls)
