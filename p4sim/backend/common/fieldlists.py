"""The `@field_list(N)` annotations of a program's user metadata: which fields a
`resubmit_preserving_field_list(N)`, `recirculate_preserving_field_list(N)` or
`clone_preserving_field_list(..., N)` carries to the new packet."""

from __future__ import annotations

from typing import Any

from p4sim.frontend import ast
from p4sim.frontend import types as T


def field_lists(meta_t: Any) -> dict[int, list[list[str]]]:
    """Field list index -> attribute paths (`f_<field>` per level) of the user
    metadata fields tagged with it."""
    out: dict[int, list[list[str]]] = {}

    def walk(t: Any, prefix: list[str]) -> None:
        decl = getattr(t, "decl", None)
        fields = getattr(decl, "fields", None) or []
        for fd in fields:
            path = prefix + ["f_" + fd.name]
            ann = fd.annotation("field_list") if hasattr(fd, "annotation") else None
            if ann is not None:
                for idx in annotation_ints(ann):
                    out.setdefault(idx, []).append(path)
            ft = t.field_type(fd.name)
            ft = T.underlying(ft) if isinstance(ft, T.Type) else ft
            if isinstance(ft, T.StructT):
                walk(ft, path)

    if isinstance(meta_t, T.StructLikeT):
        walk(meta_t, [])
    return out


def annotation_ints(ann: ast.Annotation) -> list[int]:
    """The integer arguments of an annotation (parsed, else read from its raw text)."""
    vals = []
    for a in ann.args:
        v = a.const if a.const is not None else getattr(a, "value", None)
        if isinstance(v, int) and not isinstance(v, bool):
            vals.append(v)
    if not vals and ann.raw:
        for part in ann.raw.split(","):
            part = part.strip()
            if part.isdigit():
                vals.append(int(part))
    return vals


__all__ = ["annotation_ints", "field_lists"]
