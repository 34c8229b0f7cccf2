"""Control-plane names of the objects of a checked P4_16 program.

A controller finds tables, actions and extern instances by the *fully qualified
name* that p4c's P4Runtime serializer gives them, so p4sim must produce exactly
the same names or the same controller would not drive both targets. The rules,
as p4c applies them (front end passes `Inline`, `LocalizeAllActions` and
`HierarchicalNames`):

* An object's *local name* is its `@name("...")` annotation if it has one, else
  its identifier.
* Objects declared in a parser or control get `<block prefix>.<local name>`.
  The prefix of a parser or control that is an argument of the `main` package
  (directly, `V1Switch(MyIngress(), ...)`, or through a top-level
  instantiation, `MyIngress() ig; V1Switch(..., ig, ...)`) is the parser's or
  control's *declaration* name (`MyIngress`), never the instance name.
* A parser or control instantiated inside another one (`Sub() s;` in the
  locals of `MyIngress`) adds its instance's local name:
  `MyIngress.s.table_name`. Nesting repeats: `MyIngress.s.inner.t`.
* A local name that starts with a dot is absolute: the dot is dropped and no
  prefix is added (`@name(".x")` names the object `x`). An absolute instance
  name makes an absolute prefix for everything inside that instance.
* Top-level actions (`NoAction`) and top-level extern instances keep their
  local name (without a leading dot).

Because a control can be instantiated more than once, the same declaration can
stand for several control-plane objects. `block_instances(program)` therefore
lists every parser/control *instance* with its `path` and the names of its
locals; `instance_names(program)` flattens that to a dict keyed by
`(path, id(decl))`. A direct call of a control or parser type, `Sub.apply(...)`
(no instantiation), makes an implicit instance, as p4c's
InstantiateDirectCalls does: named like the type (`MyIngress.Sub.t`), placed
after the block's declared locals, one per call; its path element is
`<type>_inst` (`_inst_1`, ... for further calls) and `direct_call` points at
the call. `control_plane_names(program)` is the simple view keyed by
`id(decl)` alone: for a declaration inside a block instantiated more than once
it holds the name in the first instance (in program order), so code that must
tell instances apart (the backend) uses `block_instances` or `instance_names`.

An instance `path` is a tuple of identifiers: the top-level block's declaration
name first, then the identifier (not the `@name`) of each nested instantiation,
e.g. `("MyIngress", "s", "inner")`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error

# Declarations inside a block that the control plane can see by name.
_NAMED_LOCALS = (ast.TableDecl, ast.ActionDecl, ast.Instantiation)

InstancePath = tuple[str, ...]


@dataclass(eq=False)
class BlockInstance:
    """One parser or control instance of the program.

    `decl` is the ParserDecl/ControlDecl; `prefix` the control-plane prefix of its
    locals (e.g. "MyIngress.s"); `package_param` the parameter of the `main`
    package this block is bound to (for top-level blocks, e.g. "ig" for
    V1Switch), else None; `names` maps `id(local decl)` to the fully qualified
    name of every table, action and extern instance declared in this block;
    `children` the blocks instantiated in this block's locals."""

    path: InstancePath
    decl: ast.ControlDecl | ast.ParserDecl
    prefix: str
    package_param: str | None = None
    instantiation: ast.Instantiation | None = None
    direct_call: ast.Call | None = None
    names: dict[int, str] = field(default_factory=dict)
    children: list[BlockInstance] = field(default_factory=list)


def local_name(node: ast.Annotated, default: str) -> str:
    """The `@name` annotation's string if present, else `default` (the identifier).
    May start with a dot (absolute)."""
    ann = node.annotation("name")
    if ann is None:
        return default
    value = annotation_string(ann)
    if value is None or value == "":
        raise P4Error(ann.loc, "@name annotation expects one non-empty string")
    return value


def annotation_string(ann: ast.Annotation) -> str | None:
    """The single string argument of an annotation like `@name("x")`, or None."""
    if len(ann.args) == 1 and isinstance(ann.args[0], ast.StringLit):
        return ann.args[0].value
    raw = ann.raw.strip()
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return raw[1:-1]
    return None


def qualify(prefix: str, name: str) -> str:
    """Join a block prefix and a local name the way p4c does: an absolute local
    name (leading dot) ignores the prefix; an empty prefix means top level."""
    if name.startswith("."):
        return name[1:]
    if not prefix:
        return name
    return f"{prefix}.{name}"


def decl_name(decl: ast.Decl) -> str:
    """Control-plane name of a top-level declaration (action, extern instance,
    struct or header type): its `@name` or identifier, without a leading dot."""
    return qualify("", local_name(decl, decl.name))


def digest_name(struct_type: object) -> str:
    """p4c names a digest after the struct type of its data: the struct's
    `@name` or declared name. Accepts a types.StructLikeT or an ast.StructDecl."""
    decl = getattr(struct_type, "decl", None)
    if isinstance(struct_type, ast.Decl):
        decl = struct_type
    if isinstance(decl, ast.Decl):
        return decl_name(decl)
    name = getattr(struct_type, "name", None)
    if isinstance(name, str) and name:
        return name
    raise TypeError(f"digest data must be a struct type, not {struct_type!r}")


def controller_header_name(header: ast.HeaderDecl) -> str | None:
    """The name given by `@controller_header("packet_in")`, or None when the
    header is not a controller header."""
    ann = header.annotation("controller_header")
    if ann is None:
        return None
    value = annotation_string(ann)
    if not value:
        raise P4Error(ann.loc, "@controller_header expects one non-empty string")
    return value


# --------------------------------------------------------------------------- block walk


def _block_decls(program: ast.Program) -> dict[str, ast.ControlDecl | ast.ParserDecl]:
    return {d.name: d for d in program.decls if isinstance(d, (ast.ControlDecl, ast.ParserDecl))}


def _type_decl(typeref: ast.TypeRef | None, blocks: dict[str, ast.ControlDecl | ast.ParserDecl]):
    """The parser/control declaration a type expression names, if any."""
    if typeref is None:
        return None
    resolved = getattr(typeref, "resolved", None)
    decl = getattr(resolved, "decl", None)
    if isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
        return decl
    if isinstance(typeref, ast.NamedType):
        return blocks.get(typeref.name.lstrip("."))
    return None


def _expr_block(
    expr: ast.Expr | None,
    blocks: dict[str, ast.ControlDecl | ast.ParserDecl],
) -> tuple[ast.ControlDecl | ast.ParserDecl | None, ast.Instantiation | None]:
    """Resolve an argument of `main` to the parser/control it instantiates:
    a constructor call `MyIngress()` (in whatever shape the parser gives it) or
    a name bound to a top-level instantiation."""
    if expr is None:
        return None, None
    if isinstance(expr, ast.Call):
        target = expr.target
        if isinstance(target, (ast.ControlDecl, ast.ParserDecl)):
            return target, None
        return _expr_block(expr.func, blocks)
    if isinstance(expr, ast.TypeArgExpr):
        return _type_decl(expr.typeref, blocks), None
    if isinstance(expr, ast.PathExpr):
        decl = expr.decl
        if isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
            return decl, None
        if isinstance(decl, ast.Instantiation):
            return _type_decl(decl.type, blocks), decl
        if decl is None:
            found = blocks.get(expr.name)
            if found is not None:
                return found, None
        # An unresolved name may still be a top-level instantiation.
        return None, None
    return None, None


def _top_level_instances(program: ast.Program) -> dict[str, ast.Instantiation]:
    return {d.name: d for d in program.decls if isinstance(d, ast.Instantiation)}


def _fill_block(
    inst: BlockInstance,
    blocks: dict[str, ast.ControlDecl | ast.ParserDecl],
    stack: tuple[int, ...],
) -> None:
    """Name the locals of `inst` and recurse into nested parser/control instances."""
    if id(inst.decl) in stack:
        raise P4Error(inst.decl.loc, f"'{inst.decl.name}' instantiates itself")
    for local in inst.decl.locals:
        if not isinstance(local, _NAMED_LOCALS):
            continue
        if isinstance(local, ast.Instantiation):
            sub = _type_decl(local.type, blocks)
            if sub is not None:
                child = BlockInstance(
                    path=inst.path + (local.name,),
                    decl=sub,
                    prefix=qualify(inst.prefix, local_name(local, local.name)),
                    instantiation=local,
                )
                inst.children.append(child)
                _fill_block(child, blocks, stack + (id(inst.decl),))
                continue
        inst.names[id(local)] = qualify(inst.prefix, local_name(local, local.name))
    taken = {local.name for local in inst.decl.locals if isinstance(local, ast.Decl)}
    for call, sub in _direct_calls(inst.decl):
        base = f"{sub.name}_inst"
        elem, n = base, 0
        while elem in taken:
            n += 1
            elem = f"{base}_{n}"
        taken.add(elem)
        child = BlockInstance(
            path=inst.path + (elem,),
            decl=sub,
            prefix=qualify(inst.prefix, sub.name),
            direct_call=call,
        )
        inst.children.append(child)
        _fill_block(child, blocks, stack + (id(inst.decl),))


def _direct_calls(
    decl: ast.ControlDecl | ast.ParserDecl,
) -> list[tuple[ast.Call, ast.ControlDecl | ast.ParserDecl]]:
    """`Sub.apply(...)` calls on a control/parser type inside `decl`."""
    from p4sim.frontend.astwalk import walk

    roots: list[ast.Node] = [decl.body] if isinstance(decl, ast.ControlDecl) else list(decl.states)
    out: list[tuple[ast.Call, ast.ControlDecl | ast.ParserDecl]] = []
    for root in roots:
        for n in walk(root):
            if isinstance(n, ast.Call) and n.kind in ("control_apply", "parser_apply"):
                if isinstance(n.target, (ast.ControlDecl, ast.ParserDecl)):
                    out.append((n, n.target))
    return out


def block_instances(program: ast.Program) -> list[BlockInstance]:
    """The top-level parser/control instances bound to `main`'s arguments, in
    argument order, each with its nested instances in `children`."""
    main = program.main
    if main is None:
        raise P4Error(program.loc, "the program has no 'main' package instantiation")
    return _package_blocks(program, main, ())


def _package_blocks(
    program: ast.Program, pkg: ast.Instantiation, outer: InstancePath
) -> list[BlockInstance]:
    """The blocks bound to the arguments of package instance `pkg`. An argument
    that is itself a package instance (TNA's `Switch(pipe)` of a `Pipeline`)
    contributes its blocks, named under the instance, as bf-p4c names them
    (`pipe.SwitchIngress.t`); their `package_param` is the inner package's
    parameter (`ingress`)."""
    blocks = _block_decls(program)
    top_insts = _top_level_instances(program)
    params = _package_params(pkg, program)
    result: list[BlockInstance] = []
    for i, arg in enumerate(pkg.args):
        decl, inst_decl = _expr_block(arg.value, blocks)
        if decl is None and isinstance(arg.value, ast.PathExpr):
            inst_decl = top_insts.get(arg.value.name)
            if inst_decl is not None:
                decl = _type_decl(inst_decl.type, blocks)
                if decl is None and _is_package(inst_decl) and not outer:
                    result += _package_blocks(program, inst_decl, (inst_decl.name,))
                    continue
        if decl is None:
            continue  # an extern or other non-block package argument
        param = arg.name or (params[i] if i < len(params) else None)
        top = BlockInstance(
            path=(*outer, decl.name),
            decl=decl,
            prefix=".".join((*outer, decl.name)),
            package_param=param,
            instantiation=inst_decl,
        )
        _fill_block(top, blocks, ())
        result.append(top)
    return result


def _is_package(inst: ast.Instantiation) -> bool:
    resolved = getattr(inst.type, "resolved", None)
    return getattr(resolved, "kind", None) == "package"


def _package_params(main: ast.Instantiation, program: ast.Program) -> list[str]:
    """Parameter names of the package type `main` instantiates (V1Switch's p, vr,
    ig, eg, ck, dep), used to tell BACKEND which block plays which role."""
    name = main.type.name if isinstance(main.type, ast.NamedType) else None
    resolved = getattr(main.type, "resolved", None)
    pkg = getattr(resolved, "decl", None)
    if not isinstance(pkg, ast.BlockTypeDecl):
        pkg = next(
            (
                d
                for d in program.decls
                if isinstance(d, ast.BlockTypeDecl) and d.kind == "package" and d.name == name
            ),
            None,
        )
    if pkg is None:
        return []
    return [p.name for p in pkg.params]


def child_for_call(inst: BlockInstance, call: ast.Call) -> BlockInstance | None:
    """The nested instance a `x.apply(...)` call in `inst` runs: the child made
    by the instantiation the call's target names, or the implicit child of a
    direct `Sub.apply(...)` call; None when the call applies no nested block."""
    for child in inst.children:
        if child.direct_call is call:
            return child
        if child.instantiation is not None and child.instantiation is call.target:
            return child
    return None


def iter_instances(program: ast.Program) -> list[BlockInstance]:
    """Every block instance, depth first (parent before its children)."""
    out: list[BlockInstance] = []

    def walk(b: BlockInstance) -> None:
        out.append(b)
        for c in b.children:
            walk(c)

    for top in block_instances(program):
        walk(top)
    return out


def instance_names(program: ast.Program) -> dict[tuple[InstancePath, int], str]:
    """Fully qualified names keyed by `(instance path, id(decl))` for every table,
    action and extern instance declared in a parser or control, plus top-level
    actions and extern instances under the empty path `()`."""
    out: dict[tuple[InstancePath, int], str] = {}
    blocks = _block_decls(program)
    for d in program.decls:
        if isinstance(d, ast.ActionDecl) or (
            isinstance(d, ast.Instantiation)
            and d is not program.main
            and _type_decl(d.type, blocks) is None
        ):
            out[((), id(d))] = decl_name(d)
    for b in iter_instances(program):
        for key, name in b.names.items():
            out[(b.path, key)] = name
    return out


def control_plane_names(program: ast.Program) -> dict[int, str]:
    """Fully qualified names keyed by `id(decl)` (TableDecl, ActionDecl,
    Instantiation of an extern). For a declaration in a block instantiated more
    than once, the first instance's name wins (see the module docstring)."""
    out: dict[int, str] = {}
    for (_path, key), name in instance_names(program).items():
        out.setdefault(key, name)
    return out
