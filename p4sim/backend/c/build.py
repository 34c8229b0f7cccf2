"""Compiling generated C with the system C compiler, cached by content hash.

The shared object of a program is `<cache>/<sha256>.so`, where the hash covers the
generated source, the runtime sources and the compiler command, and `<cache>` is
`$P4SIM_CACHE_DIR`, else `$XDG_CACHE_HOME/p4sim`, else `~/.cache/p4sim`. The
generated source is kept beside it (`<sha256>.c`) for reading. A compiler failure,
or no compiler, raises `CompileError` with the compiler's own diagnostics.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "native" / "runtime"
RUNTIME_SOURCES = ("p4_hash.c", "p4_table.c")  # the runtime's own unit tests link these
PROGRAM_SOURCES = (*RUNTIME_SOURCES, "p4_io.c")  # a program links these too
CFLAGS = ("-std=gnu11", "-O2", "-Wall", "-Wextra", "-fPIC", "-shared")


class CompileError(Exception):
    """The C compiler is missing or rejected the generated program."""


def cache_dir() -> Path:
    explicit = os.environ.get("P4SIM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "p4sim"


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise CompileError("no C compiler found (install gcc: `make deps`)")
    return cc


def runtime_text() -> str:
    parts = []
    for p in sorted(RUNTIME_DIR.iterdir()):
        if p.suffix in (".c", ".h"):
            parts.append(p.name + "\n" + p.read_text())
    return "\n".join(parts)


def build(source: str, werror: bool = True) -> Path:
    """The path of the shared object for `source`, compiling it if not cached."""
    cc = compiler()
    flags = list(CFLAGS) + (["-Werror"] if werror else [])
    key = hashlib.sha256("\0".join([source, runtime_text(), cc, *flags]).encode()).hexdigest()[:32]
    out_dir = cache_dir()
    so = out_dir / f"{key}.so"
    if so.exists():
        return so
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / f"{key}.c"
    src.write_text(source)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".so.tmp")
    os.close(fd)
    cmd = [cc, *flags, f"-I{RUNTIME_DIR}", "-o", tmp, str(src)]
    cmd += [str(RUNTIME_DIR / name) for name in PROGRAM_SOURCES]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(tmp)
        raise CompileError(f"running {cc} failed: {exc}") from exc
    if proc.returncode != 0:
        os.unlink(tmp)
        diag = (proc.stderr or proc.stdout).strip()
        raise CompileError(f"{cc} failed on the generated program ({src}):\n{diag[:4000]}")
    os.replace(tmp, so)  # atomic: a concurrent loader sees the old state or the whole file
    return so
