"""topo.targets: one rule for rebuilding (by content), one command line per target,
readiness and clear errors. Run: .venv/bin/python -m pytest -q tests/topo"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller import p4consts
from topo import targets
from topo.netns import LabError


def test_an_unchanged_program_is_not_rebuilt(tmp_path: Path) -> None:
    art = targets.build_program("forwarding", "p4sim", tmp_path)
    assert art.p4info.is_file() and art.device_config.suffix == ".p4sim"
    first = art.device_config.stat().st_mtime_ns
    assert targets.build_program("forwarding", "p4sim", tmp_path) == art
    assert art.device_config.stat().st_mtime_ns == first
    # A build whose key differs (another source, compiler or command) is redone.
    key = art.device_config.parent / targets.KEY_FILE
    right = key.read_text()
    key.write_text("0" * 64)
    targets.build_program("forwarding", "p4sim", tmp_path)
    assert key.read_text() == right and art.device_config.stat().st_mtime_ns != first
    art.p4info.unlink()  # a missing output is rebuilt too
    targets.build_program("forwarding", "p4sim", tmp_path)
    assert art.p4info.is_file()


def test_the_build_key_follows_content_not_time(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(targets.ROOT / "p4src", tmp_path / "p4src")
    monkeypatch.setattr(targets, "ROOT", tmp_path)
    cmd = [shutil.which("true") or "/bin/true", "prog.p4"]
    key = targets.build_key(cmd, "bmv2")
    sizes = tmp_path / "p4src" / "common" / "sizes.p4"
    os.utime(sizes, (1, 1))
    assert targets.build_key(cmd, "bmv2") == key
    sizes.write_text(sizes.read_text().replace("#define ROUTER_MACS_SIZE 64",
                                               "#define ROUTER_MACS_SIZE 65"))
    assert targets.build_key(cmd, "bmv2") != key
    assert targets.build_key([*cmd, "-DX=1"], "bmv2") != targets.build_key(cmd, "bmv2")


def test_one_set_of_p4c_arguments() -> None:
    cmd = targets.compile_command("synproxy", "bmv2", Path("/b"))
    assert cmd[0] == "p4c-bm2-ss" and cmd[1:1 + len(targets.P4C_ARGS)] == list(targets.P4C_ARGS)
    assert cmd[cmd.index("-o") + 1] == "/b/bmv2/synproxy/synproxy.json"
    assert cmd[cmd.index("--p4runtime-files") + 1] == "/b/bmv2/synproxy/p4info.txt"
    assert cmd[-1].endswith("p4src/v1model/synproxy.p4")
    p4sim = targets.compile_command("synproxy", "p4sim", Path("/b"))
    assert p4sim[0] == str(Path(sys.executable).parent / "p4sim-compile")
    assert p4sim[1:] == [str(targets.source("synproxy")), "-o", "/b/p4sim/synproxy"]


def test_compile_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no such program"):
        targets.build_program("nonexistent", "p4sim", tmp_path)
    with pytest.raises(ValueError, match="unknown target 'tofino'"):
        targets.build_program("forwarding", "tofino", tmp_path)


def test_command_lines() -> None:
    ports = {1: "s1-eth1", 5: "s1-eth5"}
    p4sim = targets.SwitchSpec("p4sim", ports, "unix:/tmp/s.sock", device_id=3,
                               config=Path("/b/p.p4sim"), p4info=Path("/b/p4info.txt"),
                               options=["--test-clock", "/tmp/clock"]).command()
    assert p4sim[0] == targets.switch_binary("p4sim") and "--" not in p4sim
    assert p4sim[1:4] == ["/b/p.p4sim", "--p4info", "/b/p4info.txt"]
    assert [p4sim[i + 1] for i, a in enumerate(p4sim) if a == "-i"] == ["1@s1-eth1", "5@s1-eth5"]
    assert p4sim[p4sim.index("--device-id") + 1] == "3"
    assert p4sim[p4sim.index("--test-clock") + 1] == "/tmp/clock"
    assert p4sim[p4sim.index("--cpu-port") + 1] == str(p4consts.CPU_PORT)
    bmv2 = targets.SwitchSpec("bmv2", ports, "unix:/tmp/s.sock", config=Path("/b/p.json"),
                              p4info=Path("/b/p4info.txt"), options=["--thrift-port", "9"])
    argv = bmv2.command()
    cut = argv.index("--")
    assert argv[0] == "simple_switch_grpc" and argv[1] == "/b/p.json"
    assert "--p4info" not in argv and argv[argv.index("--thrift-port") + 1] == "9"
    assert argv[cut + 1:] == ["--grpc-server-addr", "unix:/tmp/s.sock",
                              "--cpu-port", str(p4consts.CPU_PORT)]
    assert targets.SwitchSpec("bmv2", ports, "x").command()[1] == "--no-p4"


def test_a_switch_that_exits_at_start_is_reported_with_its_log(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """start() runs the command through the caller's popen; a switch that exits is
    reported with the end of its log, and nothing is left running."""
    log = tmp_path / "switch.log"
    started: list[subprocess.Popen] = []

    def popen(cmd: list[str]) -> subprocess.Popen:
        # A stand-in switch: says why it cannot start, and exits.
        proc = subprocess.Popen([sys.executable, "-c", "import sys; print('bad port 1');"
                                 "sys.exit(3)"], stdout=log.open("wb"), start_new_session=True)
        started.append(proc)
        return proc

    spec = targets.SwitchSpec("p4sim", {1: "nowhere"}, f"unix:{tmp_path}/s.sock")
    with pytest.raises(LabError, match=r"exited at start \(3\)[\s\S]*bad port 1"):
        targets.start(spec, popen, log, timeout=60)
    assert len(started) == 1 and started[0].poll() == 3


def test_missing_binaries_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert targets.missing_binaries("bmv2") == ["p4c-bm2-ss", "simple_switch_grpc"]
    assert targets.missing("bmv2", compile=False) == (
        "the bmv2 target needs `simple_switch_grpc` on PATH")
    assert targets.missing("p4sim") is None  # next to this Python, not on PATH
    with pytest.raises(LabError, match="needs `p4c-bm2-ss`"):
        targets.build_program("forwarding", "bmv2", tmp_path)


def test_net_builds_the_tna_program_with_its_cpu_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """topo.net's artifacts: the TNA program from p4src/tna with -DCPU_PORT (a constant
    of that program), p4sim only; an unknown architecture is refused by name."""
    from topo import net

    calls: list[tuple] = []
    monkeypatch.setattr(targets, "build_program",
                        lambda program, target, **kw: calls.append((program, target, kw)))
    net.artifacts("synproxy", "p4sim", "tna", cpu_port=192)
    net.artifacts("synproxy", "p4sim")
    assert calls[0][2]["arch"] == "tna"
    assert "-DCPU_PORT=192" in calls[0][2]["defines"]
    assert calls[1] == ("synproxy", "p4sim", {})
    with pytest.raises(ValueError, match="p4sim only"):
        net.artifacts("synproxy", "bmv2", "tna")
    with pytest.raises(ValueError, match="unknown architecture 'psa'"):
        net.artifacts("synproxy", "p4sim", "psa")
