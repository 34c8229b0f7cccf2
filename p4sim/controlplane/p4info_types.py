"""P4 types to P4Runtime `P4DataTypeSpec`s and `P4TypeInfo` entries.

Registers, digests, match fields and action parameters describe their data
with a type spec; named types (structs, headers, enums, new types, `error`)
are spelled out once in `P4Info.type_info`. This follows p4c's
TypeSpecConverter: typedefs are transparent, a `type` (new type) is named and
recorded with either its `@p4runtime_translation` or its original type, headers
are recorded with flattened bit-string members, and serializable enum values are
byte strings padded to the underlying width.
"""

from __future__ import annotations

import re

from p4.config.v1 import p4info_pb2, p4types_pb2

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error

from . import naming


def pad_bytes(value: int, width: int) -> bytes:
    """A non-negative value as a big-endian byte string of ceil(width/8) bytes,
    the padded form p4c (and PI) use in P4Info and static entries."""
    if value < 0:
        raise ValueError(f"negative value {value} has no P4Runtime byte string")
    nbytes = max(1, (width + 7) // 8)
    if value.bit_length() > max(width, 1):
        raise ValueError(f"{value} does not fit in {width} bits")
    return value.to_bytes(nbytes, "big")


def type_name(t: T.Type) -> str:
    """The control-plane name of a named type (struct, header, enum, new type)."""
    decl = getattr(t, "decl", None)
    if isinstance(decl, ast.Decl):
        return naming.decl_name(decl)
    return str(t)


def translation(t: T.Type) -> tuple[str, int | None] | None:
    """`@p4runtime_translation(uri, W)` on a new type: (uri, W), or (uri, None)
    when the controller type is `string`; None without the annotation."""
    decl = getattr(t, "decl", None)
    if not isinstance(t, T.NewT) or not isinstance(decl, ast.Annotated):
        return None
    ann = decl.annotation("p4runtime_translation")
    if ann is None:
        return None
    uri: str | None = None
    width: int | None = None
    is_string = False
    if len(ann.args) >= 1 and isinstance(ann.args[0], ast.StringLit):
        uri = ann.args[0].value
    if len(ann.args) == 2:
        second = ann.args[1]
        if isinstance(second, ast.IntLit):
            width = second.value
        elif isinstance(second.const, int) and not isinstance(second.const, bool):
            width = second.const
        elif isinstance(second, ast.PathExpr) and second.name == "string":
            is_string = True
        elif isinstance(second, ast.TypeArgExpr):
            is_string = isinstance(second.typeref, ast.BaseType) and second.typeref.name == "string"
    if uri is None or (width is None and not is_string):
        # The parser may keep only the raw body (e.g. when `string` is the second
        # argument): read it from there.
        parts = [p.strip() for p in ann.raw.split(",")]
        if len(parts) == 2 and parts[0].startswith('"') and parts[0].endswith('"'):
            uri = parts[0][1:-1]
            bit_w = re.fullmatch(r"bit\s*<\s*(\d+)\s*>", parts[1])
            if parts[1] == "string":
                is_string = True
            elif bit_w is not None:
                width = int(bit_w.group(1))
            else:
                try:
                    width = int(parts[1], 0)
                except ValueError:
                    width = None
    if uri is None or (width is None and not is_string):
        raise P4Error(ann.loc, '@p4runtime_translation expects ("uri", W) or ("uri", string)')
    return uri, (None if is_string else width)


def control_plane_width(t: T.Type) -> int:
    """Width the control plane sees: the translated width for a translated new
    type, 0 for `error`, else the representation width."""
    tr = translation(t)
    if tr is not None:
        return tr[1] or 0
    if isinstance(t, T.ErrorT):
        return 0
    return T.width_of(t)


def new_type_name(t: T.Type) -> str | None:
    """p4c's `type_name` for match fields, params and metadata: the new type's
    declared name, else None."""
    if isinstance(t, T.NewT):
        return t.name
    return None


class TypeInfoBuilder:
    """Converts types to specs and records named types in one P4TypeInfo."""

    def __init__(self, info: p4types_pb2.P4TypeInfo, error_members: list[str]) -> None:
        self.info = info
        self.error_members = error_members

    def spec(self, t: T.Type) -> p4types_pb2.P4DataTypeSpec:
        spec = p4types_pb2.P4DataTypeSpec()
        if isinstance(t, T.BitT):
            if t.signed:
                spec.bitstring.int.bitwidth = t.width
            else:
                spec.bitstring.bit.bitwidth = t.width
        elif isinstance(t, T.VarbitT):
            spec.bitstring.varbit.max_bitwidth = t.max_width
        elif isinstance(t, T.BoolT):
            spec.bool.SetInParent()
        elif isinstance(t, T.ErrorT):
            spec.error.SetInParent()
            self.record(t)
        elif isinstance(t, T.HeaderT):
            spec.header.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.HeaderUnionT):
            spec.header_union.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.StructT):
            spec.struct.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.StackT):
            if isinstance(t.elem, T.HeaderUnionT):
                spec.header_union_stack.header_union.name = type_name(t.elem)
                spec.header_union_stack.size = t.size
            else:
                spec.header_stack.header.name = type_name(t.elem)
                spec.header_stack.size = t.size
            self.record(t.elem)
        elif isinstance(t, T.EnumT):
            spec.enum.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.SerEnumT):
            spec.serializable_enum.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.NewT):
            spec.new_type.name = type_name(t)
            self.record(t)
        elif isinstance(t, T.TupleT):
            for elem in t.elems:
                spec.tuple.members.add().CopyFrom(self.spec(elem))
        else:
            raise P4Error(None, f"type {t} cannot be described to the control plane")
        return spec

    def record(self, t: T.Type) -> None:
        """Add a named type (and the types it uses) to type_info once."""
        info = self.info
        if isinstance(t, T.ErrorT):
            if not info.HasField("error"):
                info.error.members.extend(self.error_members)
            return
        if isinstance(t, T.NewT):
            self._record_new_type(t)
            return
        name = type_name(t)
        if isinstance(t, T.HeaderT):
            if name in info.headers:
                return
            hspec = p4types_pb2.P4HeaderTypeSpec()
            for fname, ftype in _flatten(t):
                m = hspec.members.add()
                m.name = fname
                sub = self.spec(ftype)
                if not sub.HasField("bitstring"):
                    raise P4Error(None, f"header {name}: field {fname} is not a bit string")
                m.type_spec.CopyFrom(sub.bitstring)
            info.headers[name].CopyFrom(hspec)
        elif isinstance(t, T.HeaderUnionT):
            if name in info.header_unions:
                return
            uspec = p4types_pb2.P4HeaderUnionTypeSpec()
            for fname, ftype in _fields(t):
                m = uspec.members.add()
                m.name = fname
                m.header.name = type_name(ftype)
                self.record(ftype)
            info.header_unions[name].CopyFrom(uspec)
        elif isinstance(t, T.StructT):
            if name in info.structs:
                return
            sspec = p4types_pb2.P4StructTypeSpec()
            members = [(fname, self.spec(ftype)) for fname, ftype in _fields(t)]
            for fname, fspec in members:
                m = sspec.members.add()
                m.name = fname
                m.type_spec.CopyFrom(fspec)
            info.structs[name].CopyFrom(sspec)
        elif isinstance(t, T.EnumT):
            if name in info.enums:
                return
            espec = p4types_pb2.P4EnumTypeSpec()
            for member in t.members:
                espec.members.add().name = member
            info.enums[name].CopyFrom(espec)
        elif isinstance(t, T.SerEnumT):
            if name in info.serializable_enums:
                return
            sespec = p4types_pb2.P4SerializableEnumTypeSpec()
            width = t.underlying.width
            sespec.underlying_type.bitwidth = width
            for member, value in t.members.items():
                m = sespec.members.add()
                m.name = member
                m.value = pad_bytes(value & ((1 << width) - 1), width)
            info.serializable_enums[name].CopyFrom(sespec)

    def _record_new_type(self, t: T.NewT) -> None:
        name = type_name(t)
        if name in self.info.new_types:
            return
        nspec = p4types_pb2.P4NewTypeSpec()
        under: T.Type = t
        while isinstance(under, T.NewT):
            under = under.underlying
        tr = translation(t)
        decl = t.decl
        if isinstance(decl, ast.Annotated):
            nspec.annotations.extend(serialize_annotations(decl, skip=("p4runtime_translation",)))
        if tr is not None:
            if not isinstance(under, T.BitT):
                raise P4Error(
                    getattr(decl, "loc", None),
                    f"{name}: P4Runtime requires the underlying type of a translated type "
                    f"to be bit<W>, not {under}",
                )
            nspec.translated_type.uri = tr[0]
            if tr[1] is None:
                nspec.translated_type.sdn_string.SetInParent()
            else:
                nspec.translated_type.sdn_bitwidth = tr[1]
        else:
            nspec.original_type.CopyFrom(self.spec(under))
        self.info.new_types[name].CopyFrom(nspec)


def _field_decls(t: T.StructLikeT) -> dict[str, ast.FieldDecl]:
    decl = t.decl
    fields = getattr(decl, "fields", None) or []
    return {f.name: f for f in fields if isinstance(f, ast.FieldDecl)}


def field_name(t: T.StructLikeT, name: str) -> str:
    """A struct/header field's control-plane name: its `@name` or identifier."""
    fd = _field_decls(t).get(name)
    if fd is None:
        return name
    return naming.local_name(fd, name)


def _fields(t: T.StructLikeT) -> list[tuple[str, T.Type]]:
    return [(field_name(t, n), ft) for n, ft in t.fields]


def _needs_flattening(t: T.StructLikeT) -> bool:
    return any(isinstance(ft, T.StructT) for _, ft in t.fields)


def flattened_fields(t: T.StructLikeT) -> list[tuple[str, T.Type, ast.FieldDecl | None]]:
    """Header fields as the control plane sees them, with the field declaration
    (for annotations and @id). As in p4c's FlattenHeader, a header with a struct
    field is flattened and every leaf is named by the dot-joined identifiers of
    its path (`outer.inner`); otherwise each field keeps its control-plane name."""
    decls = _field_decls(t)
    if not _needs_flattening(t):
        return [(field_name(t, n), ft, decls.get(n)) for n, ft in t.fields]
    out: list[tuple[str, T.Type, ast.FieldDecl | None]] = []

    def walk(st: T.StructLikeT, path: list[str]) -> None:
        sdecls = _field_decls(st)
        for n, ft in st.fields:
            if isinstance(ft, T.StructLikeT):
                walk(ft, path + [n])
            else:
                out.append((".".join(path + [n]), ft, sdecls.get(n)))

    walk(t, [])
    return out


def _flatten(t: T.StructLikeT) -> list[tuple[str, T.Type]]:
    return [(n, ft) for n, ft, _ in flattened_fields(t)]


# --------------------------------------------------------------------------- annotations

# Annotations p4c never copies into P4Info (they become names, ids or docs).
_NEVER_SERIALIZED = {"name", "id", "brief", "description"}


def _expr_text(e: ast.Expr) -> str:
    if isinstance(e, ast.StringLit):
        escaped = e.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.IntLit):
        return e.text or str(e.value)
    if isinstance(e, ast.PathExpr):
        return ("." if e.top_level else "") + e.name
    if isinstance(e, ast.Member):
        return f"{_expr_text(e.expr)}.{e.name}"
    raise ValueError("not a simple expression")


def annotation_text(ann: ast.Annotation) -> str:
    """An annotation as P4 source text, the form P4Info's `annotations` hold:
    `@noWarn("unused")`, `@my_tag`, `@pragma(1, "x")`."""
    body: str | None
    try:
        body = ", ".join(_expr_text(a) for a in ann.args) if ann.args else None
    except ValueError:
        body = None
    if body is None:
        raw = ann.raw.strip()
        body = raw if raw else None
    if body is None:
        return f"@{ann.name}"
    return f"@{ann.name}({body})"


def serialize_annotations(node: ast.Annotated, skip: tuple[str, ...] = ()) -> list[str]:
    return [
        annotation_text(a)
        for a in node.annotations
        if a.name not in _NEVER_SERIALIZED and a.name not in skip
    ]


def documentation(node: ast.Annotated) -> p4info_pb2.Documentation | None:
    """`@brief("...")` and `@description("...")` as a P4Info Documentation."""
    doc = p4info_pb2.Documentation()
    found = False
    for a in node.annotations:
        if a.name in ("brief", "description"):
            text = naming.annotation_string(a)
            if text is None:
                raise P4Error(a.loc, f"@{a.name} expects one string")
            setattr(doc, a.name, text)
            found = True
    return doc if found else None
