"""`p4sim-compile`: the p4sim counterpart of `p4c-bm2-ss --p4runtime-files`.

    p4sim-compile prog.p4 -o build/prog [-D NAME[=VAL]]... [-I DIR]...
                  [--p4runtime-files FILE[,FILE...]] [--backend {python,c}]
    p4sim-compile --p4v 16 --p4runtime-files build/prog.p4info.txtpb -o build/prog.json prog.p4

`-o` names a directory or a file. A directory (an existing one, or a path without a
suffix such as `build/prog`) gets OUTDIR/p4info.txt (text protobuf) and
OUTDIR/<prog>.p4sim (the device config, see p4sim.devconfig). A file (`-o
prog.json`, as p4c is called) gets the device config only, and the P4Info goes where
`--p4runtime-files` says. Like p4c, `--p4runtime-files` writes the P4Info to each
listed file in the format its suffix names: `.txt`/`.txtpb` text, `.json` JSON,
`.bin` binary; p4c's older `--p4runtime-file FILE --p4runtime-format
text|json|binary` is taken as well. `--p4v 16`, `--std p4-16`, `--arch v1model` and
`--target bmv2` are accepted (p4sim compiles P4_16 for v1model only).

A program the front end rejects prints `file:line:col: error: message` on
stderr and exits 1; bad command-line usage exits 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format
from p4.config.v1 import p4info_pb2

from .cliutil import DefaultsHelpFormatter
from .controlplane.p4info import build_p4info
from .devconfig import encode_device_config
from .frontend import parse_and_check, preprocess
from .frontend.errors import P4Error

PROG = "p4sim-compile"


class CompileError(Exception):
    """A failure to report as `p4sim-compile: error: ...` (exit 1)."""


def p4info_text(p4info: p4info_pb2.P4Info) -> str:
    """Text format with the header comments p4c writes (protobuf text parsers
    skip comments, and tools that sniff the header see what they expect)."""
    return (
        "# proto-file: p4/config/v1/p4info.proto\n"
        "# proto-message: p4.config.v1.P4Info\n\n" + text_format.MessageToString(p4info)
    )


def serialize_p4info(
    p4info: p4info_pb2.P4Info, path: str, fmt: str | None = None
) -> bytes:
    """The P4Info in the format `fmt` (text/json/binary) or, without one, the one
    `path`'s suffix selects, as p4c does."""
    if fmt is not None:
        path = _FORMAT_SUFFIX[fmt]
    if path.endswith(".json"):
        return json_format.MessageToJson(p4info, indent=2).encode() + b"\n"
    if path.endswith(".bin"):
        return p4info.SerializeToString()
    if path.endswith(".txt") or path.endswith(".txtpb"):
        return p4info_text(p4info).encode()
    raise CompileError(
        f"{path}: could not detect the P4Runtime file format from its suffix "
        "(use .txt, .txtpb, .json or .bin)"
    )


def parse_defines(values: Sequence[str]) -> dict[str, str | None]:
    """`-D NAME` and `-D NAME=VALUE` as the preprocessor's defines."""
    out: dict[str, str | None] = {}
    for v in values:
        name, sep, value = v.partition("=")
        out[name] = value if sep else None
    return out


_FORMAT_SUFFIX = {"text": ".txt", "json": ".json", "binary": ".bin"}


def _only(allowed: tuple[str, ...], what: str) -> Any:
    def check(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(
                f"{what} {text!r} is not supported: p4sim compiles "
                + " / ".join(repr(a) for a in allowed)
            )
        return text

    return check


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Compile a P4_16 v1model program for p4sim: P4Info and device config.",
        formatter_class=DefaultsHelpFormatter,
    )
    ap.add_argument("source", help="the P4 program (main file)")
    ap.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="a directory (existing, or a path without a suffix): write OUT/p4info.txt and "
        "OUT/<prog>.p4sim; a file (e.g. prog.json, as with p4c): write the device config "
        "there",
    )
    ap.add_argument(
        "--p4v", type=_only(("16",), "--p4v"), default="16", help="language version"
    )
    ap.add_argument(
        "--std", type=_only(("p4-16",), "--std"), default="p4-16", help="language version"
    )
    ap.add_argument(
        "--arch", type=_only(("v1model",), "--arch"), default="v1model", help="architecture"
    )
    ap.add_argument(
        "--target", type=_only(("bmv2", "p4sim"), "--target"), default="p4sim", help="target"
    )
    ap.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        metavar="NAME[=VAL]",
        help="define a preprocessor macro",
    )
    ap.add_argument(
        "-I",
        dest="include_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help="add a directory to the include path",
    )
    ap.add_argument(
        "--p4runtime-files",
        metavar="FILE[,FILE...]",
        help="write the P4Info to these files (.txt/.txtpb text, .json, .bin)",
    )
    ap.add_argument(
        "--p4runtime-file",
        metavar="FILE",
        help="p4c's older form: write the P4Info to FILE in --p4runtime-format",
    )
    ap.add_argument(
        "--p4runtime-format",
        choices=sorted(_FORMAT_SUFFIX),
        default="binary",
        help="format of --p4runtime-file (as p4c)",
    )
    ap.add_argument(
        "--backend",
        choices=("python", "c"),
        default="python",
        help="also compile the program to C with the system C compiler, as loading it "
        "with `p4sim --backend c` will, and write <prog>.c to OUTDIR (default: python, "
        "which needs no more than the device config)",
    )
    return ap


def output_is_file(output: str) -> bool:
    """`-o prog.json` names a file (p4c's meaning); `-o build/prog` or an existing
    directory names a directory (p4sim's original meaning)."""
    path = Path(output)
    if path.is_dir():
        return False
    return path.suffix != "" and not output.endswith(os.sep)


def _write(path: Path, data: bytes) -> None:
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise CompileError(f"cannot write {path}: {e.strerror or e}") from None


def compile_program(
    source: str,
    outdir: str | None,
    defines: dict[str, str | None],
    include_dirs: list[str],
    p4runtime_files: list[str],
    formatted: list[tuple[str, str]] | None = None,
    backend: str = "python",
) -> list[Path]:
    """Compile and write the outputs; return the paths written. `outdir` is a
    directory or a file (see `output_is_file`); `formatted` lists P4Info files with
    an explicit format, `(path, text|json|binary)`."""
    text = preprocess(source, defines, include_dirs)
    program = parse_and_check(text, source)
    p4info = build_p4info(program)
    outputs: list[tuple[Path, bytes]] = []
    for f in p4runtime_files:
        outputs.append((Path(f), serialize_p4info(p4info, f)))
    for f, fmt in formatted or []:
        outputs.append((Path(f), serialize_p4info(p4info, f, fmt)))
    if outdir is not None and output_is_file(outdir):
        outputs.append((Path(outdir), encode_device_config(text, source)))
    elif outdir is not None:
        stem = Path(source).stem
        outputs.append((Path(outdir) / "p4info.txt", p4info_text(p4info).encode()))
        outputs.append((Path(outdir) / f"{stem}.p4sim", encode_device_config(text, source)))
    if backend == "c":
        from p4sim.backend.c.native import compile_native

        csource = compile_native(program, p4info)
        if outdir is not None and output_is_file(outdir):
            outputs.append((Path(outdir).with_suffix(".c"), csource.encode()))
        elif outdir is not None:
            outputs.append((Path(outdir) / f"{Path(source).stem}.c", csource.encode()))
    for path, data in outputs:
        _write(path, data)
    return [p for p, _ in outputs]


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    files = [f for f in (args.p4runtime_files or "").split(",") if f]
    formatted = [(args.p4runtime_file, args.p4runtime_format)] if args.p4runtime_file else []
    if args.output is None and not files and not formatted:
        ap.error("nothing to write: give -o OUT and/or --p4runtime-files FILE")
    for name in parse_defines(args.defines):
        if not name:
            ap.error("-D needs a macro name")
    if not os.path.isfile(args.source):
        print(f"{PROG}: error: {args.source}: no such file", file=sys.stderr)
        return 1
    try:
        compile_program(
            args.source,
            args.output,
            parse_defines(args.defines),
            args.include_dirs,
            files,
            formatted,
            backend=args.backend,
        )
    except P4Error as e:
        print(str(e), file=sys.stderr)
        return 1
    except CompileError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"{PROG}: error: {args.source}: program nests too deeply", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
