"""The P4 targets in one place: how to compile a program of p4src/v1model for p4sim or
bmv2, how to start the target's switch, wait until it serves P4Runtime, and stop it.

The namespace runner (`topo.net`), the PTF runner (`ptf-tests/run.py`), the Mininet
switch classes (`topo.mininet_switch`), `make build` and the benchmarks all use it, so
they agree on binaries, arguments and when to rebuild:

* Compiling: p4sim's `p4sim-compile`, or p4c's `p4c-bm2-ss` with `P4C_ARGS`. Outputs go
  to `build/<target>/<program>/` (`p4info.txt` and `<program>.p4sim` or `.json`).
* Rebuilding is by content: a build key (a SHA-256 over every `.p4` file under p4src,
  the compiler's command line, and the compiler itself — p4sim's sources, or the p4c
  binary's path, size and time) is written beside the outputs; a build whose key or
  outputs are missing or differ is redone. Touching a file does not rebuild; changing
  any byte that could change the output does.
* Starting: one command line per target (`SwitchSpec.command`): p4sim's is
  simple_switch_grpc's, so the two differ only in bmv2's `--` before its gRPC options.
  `start` runs it through a caller's `popen` (a namespace's, a Mininet node's), waits
  for the socket and for gRPC (polled, never a fixed sleep) and, if the switch exits or
  never answers, stops it and raises `LabError` with the end of its log.
* Stopping: `stop`, by the PID (process group) of the process started, never by name.

    python -m topo.targets build [--target p4sim|bmv2] PROGRAM...   # what `make build` runs
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from controller import p4consts

from .netns import LabError, command, grpc_ready, stop_group, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUILD = ROOT / "build"
TARGETS = ("p4sim", "bmv2")
#: p4c's arguments for every program of p4src/v1model.
P4C_ARGS = ("--std", "p4-16", "--arch", "v1model")
KEY_FILE = ".build-key"
_P4SIM_SOURCES = ("*.py", "*.p4", "*.c", "*.h")


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target '{target}' (expected one of: {', '.join(TARGETS)})")


def compiler(target: str) -> str:
    """The compiler's path (p4sim's, next to this Python) or name on PATH (p4c)."""
    _check_target(target)
    return str(BIN / "p4sim-compile") if target == "p4sim" else "p4c-bm2-ss"


def switch_binary(target: str) -> str:
    """The switch's path (p4sim's, next to this Python) or name on PATH (bmv2)."""
    _check_target(target)
    return str(BIN / "p4sim") if target == "p4sim" else "simple_switch_grpc"


def _available(binary: str) -> bool:
    return shutil.which(binary) is not None or Path(binary).is_file()


def missing_binaries(target: str, compile: bool = True) -> list[str]:
    """The target's binaries absent from PATH; compile=False asks only for the switch
    (a prebuilt device config is given)."""
    needed = [*([compiler(target)] if compile else []), switch_binary(target)]
    return [Path(b).name for b in needed if not _available(b)]


def missing(target: str, compile: bool = True) -> str | None:
    """Why the target cannot run here (a binary is absent from PATH), or None."""
    absent = missing_binaries(target, compile)
    if absent:
        return f"the {target} target needs {' and '.join(f'`{b}`' for b in absent)} on PATH"
    return None


# ---------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class Artifacts:
    """A compiled program: its P4Info and its device config."""

    p4info: Path
    device_config: Path


def source(program: str, arch: str = "v1model") -> Path:
    """p4src/<arch>/<program>.p4 (arch: v1model, or tna for the Tofino program)."""
    return ROOT / "p4src" / arch / f"{program}.p4"


def outputs(program: str, target: str = "p4sim", build: Path = BUILD,
            arch: str = "v1model") -> Artifacts:
    """Where `build_program` puts a program's outputs."""
    _check_target(target)
    out = build / target / (program if arch == "v1model" else f"{program}_{arch}")
    suffix = ".p4sim" if target == "p4sim" else ".json"
    return Artifacts(out / "p4info.txt", out / f"{program}{suffix}")


def compile_command(program: str, target: str = "p4sim", build: Path = BUILD,
                    arch: str = "v1model", defines: Sequence[str] = ()) -> list[str]:
    """The compiler's command line; `defines`: -D/-I options passed on as they are."""
    art = outputs(program, target, build, arch)
    src = str(source(program, arch))
    if target == "p4sim":
        return [compiler(target), src, *defines, "-o", str(art.device_config.parent)]
    return [compiler(target), *P4C_ARGS, *defines, "-o", str(art.device_config),
            "--p4runtime-files", str(art.p4info), src]


def build_key(command: Sequence[str], target: str) -> str:
    """What the outputs depend on, hashed: the P4 sources, the command, the compiler."""
    h = hashlib.sha256("\0".join(command).encode())
    files = sorted((ROOT / "p4src").rglob("*.p4"))
    if target == "p4sim":
        pkg = ROOT / "p4sim"
        files += sorted(p for pattern in _P4SIM_SOURCES for p in pkg.rglob(pattern))
    else:
        exe = shutil.which(command[0]) or command[0]
        st = os.stat(exe)
        h.update(f"{os.path.realpath(exe)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build_program(program: str, target: str = "p4sim", build: Path = BUILD,
                  force: bool = False, arch: str = "v1model",
                  defines: Sequence[str] = ()) -> Artifacts:
    """Compile p4src/<arch>/<program>.p4 for `target` unless an identical build is
    there (see the module's rule); return its outputs. A failed compile raises
    LabError with the compiler's messages."""
    src = source(program, arch)
    if not src.is_file():
        raise LabError(f"no such program: {src}")
    if (why := missing(target) if target == "bmv2" else None) is not None:
        raise LabError(why)
    art = outputs(program, target, build, arch)
    cmd = compile_command(program, target, build, arch, defines)
    key_file = art.device_config.parent / KEY_FILE
    key = build_key(cmd, target)
    fresh = (key_file.is_file() and key_file.read_text() == key
             and art.p4info.is_file() and art.device_config.is_file())
    if fresh and not force:
        return art
    art.device_config.parent.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise LabError(f"{Path(cmd[0]).name} failed on {src.name} ({run.returncode}):\n"
                       f"{(run.stderr or run.stdout)[-3000:]}")
    key_file.write_text(key)
    return art


# ---------------------------------------------------------------------- the switch


@dataclass
class SwitchSpec:
    """What to start: a target on P4 ports (number -> interface), serving P4Runtime
    on `grpc_address`. `config` (with `p4info`, p4sim only) is the pipeline to start
    with; None starts empty (`--no-p4`) for the controller to push. `options` are
    target options (p4sim's `--test-clock`, bmv2's `--thrift-port` ...), placed before
    bmv2's `--`."""

    target: str
    ports: dict[int, str]
    grpc_address: str
    cpu_port: int = p4consts.CPU_PORT
    device_id: int = 0
    log_level: str = "warn"
    config: Path | None = None
    p4info: Path | None = None
    options: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        _check_target(self.target)
        if self.config is None:
            first = ["--no-p4"]
        elif self.target == "p4sim" and self.p4info is not None:
            first = [str(self.config), "--p4info", str(self.p4info)]
        else:
            first = [str(self.config)]
        ports = [a for port, ifname in self.ports.items() for a in ("-i", f"{port}@{ifname}")]
        common = [*first, *ports, "--device-id", str(self.device_id), "-L", self.log_level,
                  "--log-console", *self.options]
        grpc = ["--grpc-server-addr", self.grpc_address, "--cpu-port", str(self.cpu_port)]
        if self.target == "p4sim":
            return [switch_binary("p4sim"), *common, *grpc]
        return [switch_binary("bmv2"), *common, "--", *grpc]


def log_tail(log_path: Path | str | None, chars: int = 3000) -> str:
    if log_path is None:
        return ""
    try:
        return Path(log_path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_ready(proc: subprocess.Popen, grpc_address: str, timeout: float = 60.0,
               log_path: Path | str | None = None, what: str = "the switch") -> None:
    """Return once the switch `proc` serves P4Runtime on `grpc_address` (for a unix
    socket, first the socket file); raise LabError, with the end of its log, if it
    exits or does not answer within `timeout` seconds."""
    if grpc_address.startswith("unix:"):
        sock = Path(grpc_address[len("unix:"):])
        wait_for(lambda: proc.poll() is not None or sock.exists(), timeout,
                 what=f"{what} to open {sock}")
    if proc.poll() is not None:
        raise LabError(f"{what} exited at start ({proc.returncode}):\n{log_tail(log_path)}")
    try:
        grpc_ready(grpc_address, timeout)
    except LabError as e:
        raise LabError(f"{e}\n{log_tail(log_path)}") from None


def start(spec: SwitchSpec, popen: Callable[[list[str]], subprocess.Popen],
          log_path: Path | str | None = None, timeout: float = 60.0,
          what: str | None = None) -> subprocess.Popen:
    """Start the switch with `popen` (which runs a command where the switch belongs
    and sends its output to `log_path`) and wait until it is ready; on failure the
    process is stopped before LabError is raised."""
    if (why := missing(spec.target, compile=False)) is not None:
        raise LabError(why)
    proc = popen(spec.command())
    try:
        wait_ready(proc, spec.grpc_address, timeout, log_path, what or spec.target)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Stop a switch by its process group (SIGTERM, then SIGKILL). Idempotent."""
    if proc is not None:
        stop_group(proc, timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Compile programs of p4src/v1model for a target.")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="compile (if changed) into build/<target>/<program>")
    b.add_argument("programs", nargs="+")
    b.add_argument("--target", default="p4sim", choices=TARGETS)
    b.add_argument("--build", type=Path, default=BUILD)
    b.add_argument("--force", action="store_true", help="compile even if unchanged")
    args = ap.parse_args(argv)

    def build() -> None:
        for program in args.programs:
            art = build_program(program, args.target, args.build, args.force)
            print(f"{program}: {art.p4info} {art.device_config}")

    return command("topo.targets", build)


if __name__ == "__main__":
    sys.exit(main())
