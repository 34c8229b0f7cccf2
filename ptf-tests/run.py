#!/usr/bin/env python3
"""Run the PTF suite against a P4 target on real veth interfaces.

    TARGET=p4sim .venv/bin/python ptf-tests/run.py            # every program's tests
    TARGET=bmv2  .venv/bin/python ptf-tests/run.py forwarding # needs p4c-bm2-ss + simple_switch_grpc
    .venv/bin/python ptf-tests/run.py synproxy -- SynCookie    # extra args go to ptf
    .venv/bin/python ptf-tests/run.py --rig inproc             # p4sim in PTF's process, no root

Each folder under ptf-tests/tests/ holds the tests of one program of p4src/v1model/.
For each, the runner makes two network namespaces (switch, tester) joined by veth
pairs, starts the target in the switch namespace with its gRPC server on a unix
socket, runs `ptf` in the tester namespace, and removes everything afterwards.
p4sim runs with a test clock (`--test-clock`, its file passed to the tests as the
`clock_file` parameter) so that tests can move its time forward.
With `--rig inproc` there are no namespaces: p4sim runs inside the PTF process on
socket pairs (ptf-tests/lib/p4sim_inproc.py), the same tests, no root needed.
The last line is a summary: `ptf: N passed, N failed, N skipped`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller import p4consts  # noqa: E402
from topo import targets  # noqa: E402
from topo.netns import Lab, LabError  # noqa: E402

TESTS = ROOT / "ptf-tests" / "tests"
NUM_PORTS = 4
CPU_PORT = p4consts.CPU_PORT  # the program's (p4src/v1model/target.p4)


def count_results(xunit_dir: Path) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for xml in xunit_dir.glob("*.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                skipped += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            else:
                passed += 1
    return passed, failed, skipped


def test_params(socket: str, p4info: Path, config: Path, target: str, clock_file: Path) -> str:
    return (f"grpcaddr='{socket}';p4info='{p4info}';config='{config}';"
            f"target='{target}';cpu_port={CPU_PORT};clock_file='{clock_file}'")


def ptf_command(program: str, params: str, logdir: Path, port_args: list[str],
                ptf_args: list[str]) -> list[str]:
    return [str(Path(sys.executable).parent / "ptf"), "--test-dir", str(TESTS / program),
            "--pypath", str(ROOT / "ptf-tests" / "lib"), "--pypath", str(ROOT),
            "--test-params", params, "--xunit", "--xunit-dir", str(logdir / "xunit"),
            "--log-file", str(logdir / "ptf.log"), *port_args, *ptf_args]


def result(proc: subprocess.CompletedProcess, logdir: Path) -> tuple[int, int, int]:
    passed, failed, skipped = count_results(logdir / "xunit")
    if proc.returncode != 0 and failed == 0:
        failed = 1  # ptf failed before running tests: never report that as a pass
    return passed, failed, skipped


def fresh_logdir(build: Path, program: str, rig: str) -> Path:
    logdir = build / ("ptf-logs" if rig == "veth" else f"ptf-logs-{rig}") / program
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    return logdir


def run_inproc(program: str, ptf_args: list[str], build: Path) -> tuple[int, int, int]:
    """The program's PTF tests with p4sim in PTF's own process (ptf-tests/lib/
    p4sim_inproc.py): socket pairs instead of veths, no namespaces, no root."""
    art = targets.build_program(program, "p4sim", build)
    logdir = fresh_logdir(build, program, "inproc")
    clock_file = logdir / "clock"
    clock_file.write_bytes(bytes(8))
    with tempfile.TemporaryDirectory(prefix="p4s-ptf-") as tmp:
        socket = f"unix:{tmp}/switch.sock"
        params = test_params(socket, art.p4info, art.device_config, "p4sim", clock_file)
        platform = ["--platform-dir", str(ROOT / "ptf-tests" / "lib"),
                    "--platform", "p4sim_inproc", "--allow-user", "--platform-args",
                    f"ports={NUM_PORTS};grpc={socket};cpu_port={CPU_PORT};clock={clock_file}"]
        proc = subprocess.run(ptf_command(program, params, logdir, platform, ptf_args),
                              cwd=logdir)
    return result(proc, logdir)


def run_program(target: str, program: str, ptf_args: list[str], build: Path,
                log_level: str, arch: str = "v1model", defines: Sequence[str] = (),
                switch_options: Sequence[str] = ()) -> tuple[int, int, int]:
    """The tests of ptf-tests/tests/<program> against p4src/<arch>/<program>.p4 (compiled
    with `defines`), the switch started with `switch_options` besides the runner's."""
    art = targets.build_program(program, target, build, arch=arch, defines=defines)
    p4info, config = art.p4info, art.device_config
    logdir = fresh_logdir(build, program, "veth")
    with Lab(prefix="ptf") as lab:
        sw_ns, tester_ns = lab.add_ns("sw"), lab.add_ns("t")
        sw_ifs = [f"sw{lab.tag}p{i}" for i in range(NUM_PORTS)]
        t_ifs = [f"t{lab.tag}p{i}" for i in range(NUM_PORTS)]
        for sw_if, t_if in zip(sw_ifs, t_ifs, strict=True):
            lab.veth(sw_ns, sw_if, tester_ns, t_if, mtu=9000)
        socket = f"unix:{tempfile.gettempdir()}/p4s-ptf-{lab.tag}.sock"
        clock_file = logdir / "clock"   # p4sim's test clock offset (ns), see p4sim.testclock
        clock_file.write_bytes(bytes(8))
        # The test clock lets tests move p4sim's time (e.g. across a timestamp wrap).
        spec = targets.SwitchSpec(target, dict(enumerate(sw_ifs)), socket, cpu_port=CPU_PORT,
                                  log_level=log_level,
                                  options=([*switch_options, "--test-clock", str(clock_file)]
                                           if target == "p4sim" else [*switch_options]))
        log = logdir / "switch.log"
        try:
            switch = targets.start(
                spec, lambda cmd: lab.popen(cmd, netns=sw_ns, log_path=str(log)), log,
                timeout=30)
        except LabError:
            print(log.read_text(errors="replace"), file=sys.stderr)
            raise
        params = test_params(socket, p4info, config, target, clock_file)
        cmd = ptf_command(program, params, logdir,
                          [a for i, name in enumerate(t_ifs) for a in ("-i", f"{i}@{name}")],
                          ptf_args)
        proc = subprocess.run(["ip", "netns", "exec", tester_ns, *cmd], cwd=logdir)
        if switch.poll() is not None:
            print(f"{target} exited with {switch.returncode} during the tests; "
                  f"see {logdir / 'switch.log'}", file=sys.stderr)
        return result(proc, logdir)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("programs", nargs="*", help="program folders under ptf-tests/tests")
    ap.add_argument("--target", default=os.environ.get("TARGET", "p4sim"),
                    choices=("p4sim", "bmv2"))
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--rig", default="veth", choices=("veth", "inproc"),
                    help="veth: the target on veths in a namespace (root); inproc: p4sim in "
                         "PTF's process on socket pairs (p4sim only, no root)")
    argv = sys.argv[1:]
    # Everything after "--" goes to ptf (argparse would give it to `programs`).
    cut = argv.index("--") if "--" in argv else len(argv)
    args, ptf_args = ap.parse_known_args(argv[:cut])
    ptf_args += argv[cut + 1:]
    if args.rig == "inproc" and args.target != "p4sim":
        ap.error("--rig inproc runs p4sim only")
    if args.rig == "veth" and os.geteuid() != 0:
        ap.error("the PTF suite over veths needs root (network namespaces and raw sockets)")
    programs = args.programs or sorted(p.name for p in TESTS.iterdir()
                                       if p.is_dir() and any(p.glob("*.py")))
    if args.target == "bmv2":
        if missing := targets.missing_binaries("bmv2"):
            print(f"SKIPPED: TARGET=bmv2 needs {' and '.join(missing)} on PATH; "
                  "no bmv2 run was made")
            print("ptf: 0 passed, 0 failed, 0 skipped")
            return 0
    total = [0, 0, 0]
    for program in programs:
        print(f"== PTF: {program} on {args.target} ({args.rig})", flush=True)
        if args.rig == "inproc":
            counts = run_inproc(program, ptf_args, Path(args.build))
        else:
            counts = run_program(args.target, program, ptf_args, Path(args.build),
                                 args.log_level)
        total = [a + b for a, b in zip(total, counts, strict=True)]
    print(f"ptf: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] or total[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
