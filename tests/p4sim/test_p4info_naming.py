"""Control-plane names (p4sim.controlplane.naming) on hand-built syntax trees: prefixes from
the top-level control's declaration name, nested instances, relative and
absolute @name, top-level actions and instances, several instances of one
control."""

from __future__ import annotations

import pytest

from p4sim.controlplane import naming
from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error


def name_ann(value: str) -> ast.Annotation:
    return ast.Annotation(name="name", args=[ast.StringLit(value=value)], raw=f'"{value}"')


def action(name: str, *anns: ast.Annotation) -> ast.ActionDecl:
    return ast.ActionDecl(name=name, annotations=list(anns), body=ast.BlockStmt())


def table(name: str, *anns: ast.Annotation) -> ast.TableDecl:
    return ast.TableDecl(name=name, annotations=list(anns))


def inst(type_name: str, name: str, *anns: ast.Annotation) -> ast.Instantiation:
    return ast.Instantiation(name=name, annotations=list(anns), type=ast.NamedType(name=type_name))


def control(name: str, *locals_: ast.Decl) -> ast.ControlDecl:
    return ast.ControlDecl(name=name, locals=list(locals_))


def program(*decls: ast.Decl, main_args: list[ast.Expr]) -> ast.Program:
    pkg = ast.BlockTypeDecl(
        name="Pkg",
        kind="package",
        params=[ast.Param(name=f"p{i}") for i in range(len(main_args))],
    )
    main = ast.Instantiation(
        name="main",
        type=ast.NamedType(name="Pkg"),
        args=[ast.Argument(value=a) for a in main_args],
    )
    return ast.Program(decls=[pkg, *decls, main], main=main)


def ctor(name: str) -> ast.Call:
    return ast.Call(func=ast.PathExpr(name=name))


@pytest.fixture()
def nested():
    no_action = action("NoAction")
    a = action("a")
    abs_t = table("t", name_ann(".abs_t"))
    u = table("u")
    cnt = inst("counter", "c")
    sub = control("Sub", a, abs_t, u, cnt)
    drop = action("drop")
    ipv4 = table("ipv4", name_ann("fwd"))
    s1 = inst("Sub", "s1")
    s2 = inst("Sub", "s2", name_ann("x"))
    s3 = inst("Sub", "s3", name_ann(".g"))
    ing = control("MyIngress", drop, ipv4, s1, s2, s3)
    glob = inst("register", "r", name_ann(".global_reg"))
    prog = program(no_action, glob, sub, ing, main_args=[ctor("MyIngress")])
    return prog, locals()


def test_top_level_control_prefix_and_relative_name(nested):
    prog, n = nested
    names = naming.control_plane_names(prog)
    assert names[id(n["drop"])] == "MyIngress.drop"
    assert names[id(n["ipv4"])] == "MyIngress.fwd"


def test_top_level_action_and_absolute_instance(nested):
    prog, n = nested
    names = naming.control_plane_names(prog)
    assert names[id(n["no_action"])] == "NoAction"
    assert names[id(n["glob"])] == "global_reg"


def test_each_nested_instance_gets_its_own_names(nested):
    prog, n = nested
    by_inst = naming.instance_names(prog)
    assert by_inst[(("MyIngress", "s1"), id(n["a"]))] == "MyIngress.s1.a"
    assert by_inst[(("MyIngress", "s2"), id(n["a"]))] == "MyIngress.x.a"
    assert by_inst[(("MyIngress", "s3"), id(n["a"]))] == "g.a"
    assert by_inst[(("MyIngress", "s1"), id(n["u"]))] == "MyIngress.s1.u"
    assert by_inst[(("MyIngress", "s2"), id(n["cnt"]))] == "MyIngress.x.c"
    # An absolute @name inside the nested control ignores every prefix.
    assert by_inst[(("MyIngress", "s2"), id(n["abs_t"]))] == "abs_t"
    # The simple view keeps the first instance.
    assert naming.control_plane_names(prog)[id(n["u"])] == "MyIngress.s1.u"


def test_block_instances_tree(nested):
    prog, n = nested
    (top,) = naming.block_instances(prog)
    assert top.decl is n["ing"]
    assert top.package_param == "p0"
    assert [c.path for c in top.children] == [
        ("MyIngress", "s1"),
        ("MyIngress", "s2"),
        ("MyIngress", "s3"),
    ]
    assert [c.prefix for c in top.children] == ["MyIngress.s1", "MyIngress.x", "g"]
    # Nested block instantiations are blocks, not named control-plane objects.
    assert id(n["s1"]) not in top.names


def test_main_argument_through_top_level_instantiation():
    t = table("t")
    ing = control("Ing", t)
    ig = inst("Ing", "ig")
    prog = program(ing, ig, main_args=[ast.PathExpr(name="ig")])
    names = naming.control_plane_names(prog)
    # p4c prefixes with the control's declaration name, not the instance name.
    assert names[id(t)] == "Ing.t"
    assert id(ig) not in names
    (top,) = naming.block_instances(prog)
    assert top.instantiation is ig


def test_doubly_nested_and_absolute_middle():
    t = table("t")
    inner = control("Inner", t)
    mid = control("Mid", inst("Inner", "i"))
    top_c = control("Top", inst("Mid", "m"), inst("Mid", "m2", name_ann(".abs")))
    prog = program(inner, mid, top_c, main_args=[ctor("Top")])
    by_inst = naming.instance_names(prog)
    assert by_inst[(("Top", "m", "i"), id(t))] == "Top.m.i.t"
    assert by_inst[(("Top", "m2", "i"), id(t))] == "abs.i.t"


def test_parser_locals_named_after_parser():
    vs = inst("counter", "pc")
    prs = ast.ParserDecl(name="MyParser", locals=[vs])
    prog = program(prs, main_args=[ctor("MyParser")])
    assert naming.control_plane_names(prog)[id(vs)] == "MyParser.pc"


def test_self_instantiation_is_an_error():
    loop = control("Loop")
    loop.locals.append(inst("Loop", "again"))
    prog = program(loop, main_args=[ctor("Loop")])
    with pytest.raises(P4Error, match="instantiates itself"):
        naming.block_instances(prog)


def test_empty_name_annotation_is_an_error():
    t = table("t", name_ann(""))
    prog = program(control("C", t), main_args=[ctor("C")])
    with pytest.raises(P4Error, match="@name"):
        naming.control_plane_names(prog)


def test_no_main_is_an_error():
    with pytest.raises(P4Error, match="main"):
        naming.block_instances(ast.Program(decls=[]))


def test_digest_and_controller_header_names():
    st = ast.StructDecl(name="learn_t")
    assert naming.digest_name(st) == "learn_t"
    st2 = ast.StructDecl(name="learn2_t", annotations=[name_ann(".L")])
    assert naming.digest_name(st2) == "L"
    hdr = ast.HeaderDecl(
        name="packet_in_t",
        annotations=[
            ast.Annotation(name="controller_header", args=[ast.StringLit(value="packet_in")])
        ],
    )
    assert naming.controller_header_name(hdr) == "packet_in"
    assert naming.controller_header_name(ast.HeaderDecl(name="h")) is None


def test_child_for_call_finds_instantiated_and_direct_children():
    t = table("t")
    sub = control("Sub", t)
    s1 = inst("Sub", "s1")
    via_instance = ast.Call(func=ast.Member(expr=ast.PathExpr(name="s1"), name="apply"))
    via_instance.kind, via_instance.target = "control_apply", s1
    direct = ast.Call(func=ast.Member(expr=ast.PathExpr(name="Sub"), name="apply"))
    direct.kind, direct.target = "control_apply", sub
    other = ast.Call(func=ast.PathExpr(name="f"))
    ing = control("Ing", s1)
    ing.body = ast.BlockStmt(stmts=[ast.CallStmt(call=via_instance), ast.CallStmt(call=direct)])
    prog = program(sub, ing, main_args=[ctor("Ing")])
    (top,) = naming.block_instances(prog)
    first = naming.child_for_call(top, via_instance)
    second = naming.child_for_call(top, direct)
    assert first is not None and first.instantiation is s1 and first.prefix == "Ing.s1"
    assert second is not None and second.direct_call is direct
    assert second.path == ("Ing", "Sub_inst") and second.prefix == "Ing.Sub"
    assert second.names[id(t)] == "Ing.Sub.t"
    assert naming.child_for_call(top, other) is None
