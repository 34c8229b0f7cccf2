"""Parser tests: each construct parses to the expected nodes of p4sim.frontend.ast."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4sim.frontend import ast, load, parse, preprocess
from p4sim.frontend.errors import P4Error, Unsupported

PROGRAMS = Path(__file__).parent / "programs"


def decl(prog: ast.Program, name: str) -> ast.Decl:
    found = [d for d in prog.decls if d.name == name]
    assert found, f"no declaration {name}"
    return found[-1]


def control(body: str, locals_: str = "", params: str = "inout H hdr") -> ast.ControlDecl:
    src = f"header H {{ bit<8> a; bit<8> b; }}\ncontrol C({params}) {{ {locals_} apply {{ {body} }} }}"
    c = decl(parse(src), "C")
    assert isinstance(c, ast.ControlDecl)
    return c


def stmt(body: str, locals_: str = "") -> ast.Stmt:
    s = control(body, locals_).body.stmts[0]
    assert isinstance(s, ast.Stmt)
    return s


def expr(text: str) -> ast.Expr:
    s = stmt(f"x = {text};", "bit<32> x; bit<32> y; bit<32> z;")
    assert isinstance(s, ast.AssignStmt)
    return s.rhs


# ----------------------------------------------------------------------------- programs


@pytest.mark.parametrize("path", sorted(PROGRAMS.glob("*.p4")), ids=lambda p: p.name)
def test_sample_programs_parse(path: Path) -> None:
    prog = parse(preprocess(path), str(path))
    assert prog.main is not None and prog.main.name == "main"
    assert str(path) in prog.files
    assert any(f.endswith("v1model.p4") for f in prog.files)
    # Architecture declarations come first.
    assert isinstance(prog.decls[0], ast.ErrorDecl)
    assert prog.decls[0].loc.file.endswith("core.p4")


def test_basic_fwd_structure() -> None:
    path = PROGRAMS / "basic_fwd.p4"
    prog = parse(preprocess(path), str(path))
    ingress = decl(prog, "FwdIngress")
    assert isinstance(ingress, ast.ControlDecl)
    table = next(d for d in ingress.locals if isinstance(d, ast.TableDecl))
    assert table.name == "ipv4_lpm"
    assert [k.match_kind for k in table.keys] == ["lpm"]
    key_name = table.keys[0].annotation("name")
    assert key_name is not None and isinstance(key_name.args[0], ast.StringLit)
    assert key_name.args[0].value == "dst_addr"
    assert [a.name for a in table.actions] == ["ipv4_forward", "drop", "NoAction"]
    assert table.actions[2].has_annotation("defaultonly")
    assert table.default_action is not None and table.default_action.name == "drop"
    assert table.default_is_const
    assert isinstance(table.size, ast.IntLit) and table.size.value == 1024
    assert isinstance(table.properties["counters"], ast.PathExpr)
    assert table.loc.file == str(path)


def test_arch_files_parse() -> None:
    v1 = Path(__file__).resolve().parents[2] / "p4sim" / "frontend" / "arch" / "v1model.p4"
    prog = parse(preprocess(v1), str(v1))
    sm = decl(prog, "standard_metadata_t")
    assert isinstance(sm, ast.StructDecl)
    names = [f.name for f in sm.fields]
    for f in (
        "ingress_port",
        "egress_spec",
        "egress_port",
        "instance_type",
        "packet_length",
        "enq_timestamp",
        "enq_qdepth",
        "deq_timedelta",
        "deq_qdepth",
        "ingress_global_timestamp",
        "egress_global_timestamp",
        "mcast_grp",
        "egress_rid",
        "checksum_error",
        "parser_error",
        "priority",
    ):
        assert f in names
    reg = decl(prog, "register")
    assert isinstance(reg, ast.ExternDecl) and reg.type_params == ["T"]
    assert [m.name for m in reg.methods] == ["register", "read", "write"]
    assert reg.methods[0].is_constructor
    assert reg.methods[1].has_annotation("noSideEffects")
    sw = decl(prog, "V1Switch")
    assert isinstance(sw, ast.BlockTypeDecl) and sw.kind == "package"
    assert [p.name for p in sw.params] == ["p", "vr", "ig", "eg", "ck", "dep"]
    drops = [d for d in prog.decls if d.name == "mark_to_drop"]
    assert len(drops) == 2 and drops[1].has_annotation("pure")
    pi = decl(prog, "packet_in")
    assert isinstance(pi, ast.ExternDecl)
    la = next(m for m in pi.methods if m.name == "lookahead")
    assert la.type_params == ["T"]
    assert isinstance(la.return_type, ast.NamedType) and la.return_type.name == "T"


def test_v1model_version_selects_new_api() -> None:
    v1 = Path(__file__).resolve().parents[2] / "p4sim" / "frontend" / "arch" / "v1model.p4"
    prog = parse(preprocess(v1, defines={"V1MODEL_VERSION": 20200408}), str(v1))
    assert isinstance(decl(prog, "PortId_t"), ast.TypedefDecl)
    reg = decl(prog, "register")
    assert isinstance(reg, ast.ExternDecl) and reg.type_params == ["T", "I"]


# ----------------------------------------------------------------------------- errors


def test_syntax_error_location() -> None:
    with pytest.raises(P4Error) as ei:
        parse("header H {\n  bit<8> a\n}\n", "x.p4")
    assert str(ei.value.loc) == "x.p4:3:1"
    assert "expected ';'" in ei.value.message


def test_unsupported_raises() -> None:
    with pytest.raises(Unsupported):
        parse("struct S<T> { T x; }")


@pytest.mark.parametrize("path", sorted(PROGRAMS.glob("*.p4")), ids=lambda p: p.name)
def test_sample_programs_pass_the_checker(path: Path) -> None:
    # The sample programs are meant for every stage's tests: they must be valid P4.
    prog = load(path)
    assert prog.main is not None and prog.main.type is not None
    assert prog.main.type.resolved is not None


def test_tcp_options_structure() -> None:
    path = PROGRAMS / "tcp_options.p4"
    prog = parse(preprocess(path), str(path))
    hdrs = decl(prog, "headers_t")
    assert isinstance(hdrs, ast.StructDecl)
    opts = hdrs.fields[3].type
    assert isinstance(opts, ast.StackType)
    assert isinstance(opts.size, ast.IntLit) and opts.size.value == 10  # MAX_OPTIONS expanded
    assert isinstance(decl(prog, "tcp_option_u"), ast.HeaderUnionDecl)
    parser = decl(prog, "OptParser")
    assert isinstance(parser, ast.ParserDecl)
    kind = next(s for s in parser.states if s.name == "option_kind")
    assert isinstance(kind.transition, ast.SelectExpr)
    sel = kind.transition.exprs[0]
    assert isinstance(sel, ast.Call) and sel.type_args and isinstance(sel.func, ast.Member)
    assert sel.func.name == "lookahead"
    other = next(s for s in parser.states if s.name == "parse_other")
    assert isinstance(other.stmts[0], ast.VarDecl)
    ingress = decl(prog, "OptIngress")
    assert isinstance(ingress, ast.ControlDecl)
    acl = next(d for d in ingress.locals if isinstance(d, ast.TableDecl))
    assert [e.priority is not None for e in acl.entries] == [True, True, True]
    assert any(isinstance(s, ast.SwitchStmt) for s in ingress.body.stmts)


def test_replicate_structure() -> None:
    path = PROGRAMS / "replicate.p4"
    prog = parse(preprocess(path), str(path))
    meta = decl(prog, "metadata_t")
    assert isinstance(meta, ast.StructDecl)
    fl = meta.fields[0].annotation("field_list")
    assert fl is not None and [a.value for a in fl.args] == [1, 2]  # type: ignore[attr-defined]
    ingress = decl(prog, "RepIngress")
    assert isinstance(ingress, ast.ControlDecl)
    meter = ingress.locals[0]
    assert isinstance(meter, ast.Instantiation) and isinstance(meter.type, ast.NamedType)
    assert meter.type.name == "direct_meter" and len(meter.type.type_args) == 1
    table = next(d for d in ingress.locals if isinstance(d, ast.TableDecl))
    assert isinstance(table.properties["meters"], ast.PathExpr)
