"""Run the C preprocessor over a P4 file, as the reference compiler does.

p4c hands P4 sources to `cpp -C -undef -nostdinc -x assembler-with-cpp` (no standard
include directories, no predefined system macros, comments kept), then lexes the
output with its line markers. We do the
same so that `#include <core.p4>`, `#include <v1model.p4>`, `#define`, `#ifdef`
and macros behave exactly as they do with p4c; the architecture folder
(`p4sim/frontend/arch/`) stands in for p4c's `p4include/`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import Loc, P4Error

ARCH_DIR = Path(__file__).resolve().parent / "arch"

# gcc/cpp diagnostics: `file:line:col: error: message` (col optional).
_DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
                      r"(?:fatal error|error):\s*(?P<msg>.*)$", re.M)  # fmt: skip


def _compiler() -> list[str]:
    """The preprocessor command: `cpp` if present, else `cc -E`/`gcc -E`."""
    for name, cmd in (("cpp", []), ("cc", ["-E"]), ("gcc", ["-E"])):
        exe = shutil.which(name)
        if exe:
            return [exe, *cmd]
    raise P4Error(None, "no C preprocessor found (install cpp or gcc)")


def _command(
    src: Path,
    defines: Mapping[str, str | int | None] | None,
    include_dirs: Iterable[str | os.PathLike[str]] | None,
) -> list[str]:
    """The preprocessor command line for `src` (without the output-mode flags)."""
    # The reference compiler's flags: keep comments, no system macros or headers,
    # and assembler mode so that a stray quote in P4 text is not a C char literal.
    cmd = [*_compiler(), "-C", "-undef", "-nostdinc", "-x", "assembler-with-cpp", "-w"]
    # The P4 compiler's own macro, which programs test with #ifdef.
    cmd += ["-D__p4c__=1", "-D__TARGET_BMV2__=1", "-D__p4sim__=1"]
    for name, value in (defines or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise P4Error(None, f"invalid macro name {name!r} in defines")
        cmd.append(f"-D{name}" if value is None else f"-D{name}={value}")
    cmd += ["-I", str(src.parent)]
    for d in include_dirs or ():
        cmd += ["-I", str(d)]
    return [*cmd, "-I", str(ARCH_DIR), str(src)]


def _run(src: Path, cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise P4Error(None, f"could not run the C preprocessor: {e}") from None
    if res.returncode != 0:
        m = _DIAG_RE.search(res.stderr)
        if m:
            loc = Loc(m.group("file"), int(m.group("line")), int(m.group("col") or 1))
            raise P4Error(loc, f"preprocessor: {m.group('msg').strip()}")
        raise P4Error(Loc(str(src), 1, 1), f"preprocessor failed: {res.stderr.strip()}")
    return res.stdout


def preprocess(
    path: str | os.PathLike[str],
    defines: Mapping[str, str | int | None] | None = None,
    include_dirs: Iterable[str | os.PathLike[str]] | None = None,
) -> str:
    """Preprocess the P4 file `path`; return the text with `# N "file"` markers.

    `defines` maps macro names to values (None defines the macro as `1`, as `-D`
    does). Include search order: the file's own folder (for `"..."`), then
    `include_dirs`, then the architecture folder. A failure (missing include,
    `#error`) raises P4Error at the location the preprocessor reports.
    """
    src = Path(path)
    if not src.is_file():
        raise P4Error(None, f"{src}: no such file")
    return _run(src, _command(src, defines, include_dirs))


def macros(
    path: str | os.PathLike[str],
    defines: Mapping[str, str | int | None] | None = None,
    include_dirs: Iterable[str | os.PathLike[str]] | None = None,
) -> dict[str, str]:
    """The object-like macros defined once `path` is preprocessed (name -> replacement
    text), as the preprocessor itself lists them (`-dM`); same arguments as
    `preprocess`. Function-like macros are left out."""
    src = Path(path)
    if not src.is_file():
        raise P4Error(None, f"{src}: no such file")
    out: dict[str, str] = {}
    for line in _run(src, [*_command(src, defines, include_dirs), "-dM"]).splitlines():
        _, name, value = (line.split(None, 2) + ["", "", ""])[:3]
        if name and "(" not in name:
            out[name] = value.strip()
    return out
