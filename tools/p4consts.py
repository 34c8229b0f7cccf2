"""Generate `controller/p4consts.py`, the program's constants for Python (`make deps`).

Every integer constant the P4 programs share — the `const` declarations and the
object-like `#define`s of p4src/common/*.p4 and of the v1model hook file (CPU_PORT,
REFLECT_SESSION_BASE) — is read through p4sim's own front end: the preprocessor lists
the macros (`cpp -dM`), and the type checker folds every value, macros included (each
becomes a `const bit<64>` of a small wrapper program; a macro that is no integer,
such as a target hook, is left out). The module it writes holds the
values (defaults: sizes can be changed with -D at compile time, which is why the
controller reads the sizes it relies on from the P4Info) and the named groups the
tests and the operator's tools use (events, session states, service modes, flags).

Generated once, at build time, so that the controller needs no P4 front end on the
box it runs on; `--check` (and tests/p4src/test_p4consts.py) fails when the module
and the program disagree.

    python tools/p4consts.py [--out controller/p4consts.py] [--check]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from p4sim.frontend import P4Error, ast, parse, preprocess  # noqa: E402
from p4sim.frontend.check import check  # noqa: E402
from p4sim.frontend.preprocess import macros  # noqa: E402

OUT = ROOT / "controller" / "p4consts.py"
#: The files whose constants the module carries, in include order.
SOURCES = (
    "p4src/v1model/target.p4",
    "p4src/common/defines.p4",
    "p4src/common/sizes.p4",
    "p4src/common/ids.p4",
    "p4src/common/headers.p4",
)
ARCH = "#include <core.p4>\n#include <v1model.p4>\n"
#: Named groups of consts (macros are sizes and ids, never members): dict name ->
#: (prefix, prefixes left out). Keys are the names
#: without the prefix: EVENTS["SYN_IN"] is EV_SYN_IN.
GROUPS = {
    "EVENTS": ("EV_", ()),
    "SESSION_STATES": ("SESSION_", ("SESSION_EV_",)),
    "SESSION_EVENTS": ("SESSION_EV_", ()),
    "PROXY_MODES": ("PROXY_MODE_", ()),
    "SVC_FLAGS": ("SVC_FLAG_", ()),
    "PUNT_REASONS": ("PUNT_", ()),
    "DIRECTIONS": ("DIR_", ()),
}
_MACRO_PREFIX = "P4CONSTS_MACRO_"


def _wrapper(root: Path) -> str:
    return ARCH + "".join(f'#include "{root / s}"\n' for s in SOURCES)


def _checked(wrapper: Path, base: str, names: list[str]) -> tuple[ast.Program, list[str]]:
    """The wrapper program with one `const bit<64>` per macro of `names`, checked.
    A macro whose replacement is no integer expression (a target hook, a statement)
    is left out: the checker's error names its line, and the rest is checked again."""
    names = list(names)
    first = base.count("\n") + 1   # the wrapper line of the first macro's const
    while True:
        wrapper.write_text(base + "".join(
            f"const bit<64> {_MACRO_PREFIX}{n} = (bit<64>)({n});\n" for n in names))
        try:
            program = parse(preprocess(wrapper), str(wrapper))
            check(program, require_main=False)
            return program, names
        except P4Error as e:
            index = e.loc.line - first
            if Path(e.loc.file).name != wrapper.name or not 0 <= index < len(names):
                raise
            del names[index]


def collect(root: Path = ROOT) -> dict[str, tuple[int, str]]:
    """name -> (value, how to write it) of every integer constant of SOURCES: consts
    first (in declaration order, the way written: "0x..." or "" for decimal), then the
    object-like macros with an integer value (sorted, written "#define")."""
    sources = {str((root / s).resolve()) for s in SOURCES}
    with tempfile.TemporaryDirectory() as tmp:
        arch_only, wrapper = Path(tmp, "arch.p4"), Path(tmp, "consts.p4")
        arch_only.write_text(ARCH)
        wrapper.write_text(_wrapper(root))
        before = macros(arch_only)
        names = sorted(name for name, value in macros(wrapper).items()
                       if value and name not in before)
        program, names = _checked(wrapper, _wrapper(root), names)
    out: dict[str, tuple[int, str]] = {}
    macro_values: dict[str, tuple[int, str]] = {}
    for decl in program.decls:
        if not isinstance(decl, ast.ConstDecl) or not isinstance(decl.value, ast.Expr):
            continue
        value = decl.value.const
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if decl.name.startswith(_MACRO_PREFIX):
            name = decl.name.removeprefix(_MACRO_PREFIX)
            macro_values[name] = (value, "#define")
        elif str(Path(decl.loc.file).resolve()) in sources:
            lit = decl.value
            text = lit.text.lower() if isinstance(lit, ast.IntLit) else ""
            out[decl.name] = (value, text if text.startswith("0x") else "")
    clash = sorted(set(out) & set(macro_values))
    if clash:
        raise P4Error(None, f"names both const and macro: {', '.join(clash)}")
    return out | macro_values


def _literal(value: int, form: str) -> str:
    """Hex as wide as the source wrote it, else decimal."""
    return f"0x{value:0{len(form) - 2}x}" if form.startswith("0x") else str(value)


def render(values: dict[str, tuple[int, str]]) -> str:
    """The text of the generated module."""
    lines = [
        '"""The P4 program\'s constants (p4src/common/*.p4, p4src/v1model/target.p4).',
        "",
        "Generated by tools/p4consts.py through p4sim's front end (`make deps`); do not",
        "edit. Sizes are the defaults of sizes.p4 (a build may change them with -D; the",
        'controller reads the sizes it relies on from the P4Info)."""',
        "",
        "from typing import Final",
        "",
    ]
    lines += [f"{name}: Final = {_literal(v, h)}" for name, (v, h) in values.items()]
    for group, (prefix, excluded) in GROUPS.items():
        members = [n for n, (_, form) in values.items() if form != "#define"
                   and n.startswith(prefix) and not n.startswith(excluded)]
        lines += ["", f"{group}: Final[dict[str, int]] = {{"]
        lines += [f'    "{n.removeprefix(prefix)}": {n},' for n in members]
        lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help="module to write (%(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail when the module differs from the program")
    args = ap.parse_args(argv)
    try:
        text = render(collect())
    except P4Error as e:
        print(f"p4consts: {e}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"p4consts: {args.out} does not match the P4 program; "
                  "run `make deps` (or tools/p4consts.py)", file=sys.stderr)
            return 1
        return 0
    if not args.out.is_file() or args.out.read_text() != text:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
