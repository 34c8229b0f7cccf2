"""p4c's and simple_switch_grpc's command lines, as the p4lang tutorials use them,
accepted by p4sim-compile and p4sim.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_cli_compat.py
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from google.protobuf import json_format, text_format
from p4.config.v1 import p4info_pb2

from p4sim.cli import ignored_options, parse_args
from p4sim.devconfig import decode_device_config
from topo.netns import Lab, grpc_ready

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
FORWARDING = ROOT / "p4src" / "v1model" / "forwarding.p4"
BIN = Path(sys.executable).parent


def compile_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "p4sim-compile"), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def read_text_p4info(path: Path) -> p4info_pb2.P4Info:
    return text_format.Parse(path.read_text(), p4info_pb2.P4Info())


# ----------------------------------------------------------------------------- p4sim-compile


def test_p4c_style_compile_writes_the_named_files(tmp_path: Path) -> None:
    """The tutorials' Makefile line: `-o` is a file, the P4Info goes to --p4runtime-files."""
    result = compile_cli(
        "--p4v", "16", "--p4runtime-files", "build/x.p4info.txt", "-o", "build/x.json",
        str(FORWARDING), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    build = tmp_path / "build"
    assert sorted(p.name for p in build.iterdir()) == ["x.json", "x.p4info.txt"]
    config = decode_device_config((build / "x.json").read_bytes())
    assert config.filename == str(FORWARDING)
    # The same P4Info as the directory form writes.
    assert compile_cli(str(FORWARDING), "-o", str(tmp_path / "dir")).returncode == 0
    assert read_text_p4info(build / "x.p4info.txt") == read_text_p4info(
        tmp_path / "dir" / "p4info.txt"
    )
    assert (tmp_path / "dir" / "forwarding.p4sim").read_bytes() == (build / "x.json").read_bytes()


def test_std_arch_target_and_old_p4runtime_file_form(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = compile_cli(
        "--std", "p4-16", "--arch", "v1model", "--target", "bmv2",
        "--p4runtime-file", str(out), "--p4runtime-format", "json", str(FORWARDING),
    )
    assert result.returncode == 0, result.stderr
    p4info = json_format.Parse(out.read_text(), p4info_pb2.P4Info())
    assert compile_cli(str(FORWARDING), "-o", str(tmp_path / "dir")).returncode == 0
    assert p4info == read_text_p4info(tmp_path / "dir" / "p4info.txt")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--p4v", "14"], "--p4v '14' is not supported"),
        (["--std", "p4-14"], "--std 'p4-14' is not supported"),
        (["--arch", "psa"], "--arch 'psa' is not supported"),
        (["--p4runtime-format", "yaml"], "invalid choice"),
    ],
)
def test_unsupported_language_or_arch_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = compile_cli(*args, "-o", str(tmp_path / "x.json"), str(FORWARDING))
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_help_shows_defaults() -> None:
    compile_help = compile_cli("--help").stdout
    assert "(default: 16)" in compile_help and "(default: binary)" in compile_help
    switch_help = subprocess.run(
        [str(BIN / "p4sim"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    for default in ("(default: 0.0.0.0:9559)", "(default: 255)", "(default: 0)",
                    "(default: info)"):
        assert default in switch_help, default


# ----------------------------------------------------------------------------- p4sim


def tutorials_command(sw_path: str, intfs: dict[int, str], pcap_dump: str, device_id: int,
                      json_path: str | None, thrift_port: int, grpc_port: int,
                      cpu_port: int) -> str:
    """The command line p4lang/tutorials' `utils/p4runtime_switch.py` (P4RuntimeSwitch
    .start) builds with log_console=True: options and values joined into one string
    that a shell splits, target options after `--`."""
    args = [sw_path]
    for port, name in intfs.items():
        args.extend(["-i", f"{port}@{name}"])
    args.append(f"--pcap {pcap_dump}")
    args.extend(["--nanolog", f"ipc:///tmp/bm-{device_id}-log.ipc"])
    args.extend(["--device-id", str(device_id)])
    args.append(json_path if json_path else "--no-p4")
    args.append("--log-console")
    args.append(f"--thrift-port {thrift_port}")
    args.append(f"-- --grpc-server-addr 0.0.0.0:{grpc_port}")
    args.append(f"--cpu-port {cpu_port}")
    return " ".join(args)


def test_tutorials_arguments_parse() -> None:
    cmd = tutorials_command("p4sim", {1: "s1-eth1", 2: "s1-eth2"}, ".", 3, "build/basic.json",
                            9090, 50051, 255)
    args = parse_args(shlex.split(cmd)[1:])
    assert args.interfaces == [(1, "s1-eth1"), (2, "s1-eth2")]
    assert args.config == Path("build/basic.json") and args.device_id == 3
    assert args.grpc_server_addr == "0.0.0.0:50051" and args.cpu_port == 255
    assert args.pcap == Path(".") and args.log_console
    notes = ignored_options(args)
    assert any("--thrift-port" in n for n in notes) and any("--nanolog" in n for n in notes)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--no-p4", "--pcap", "/nonexistent/pcaps"], "is not an existing directory"),
        (["--no-p4", "--log-console", "--log-file", "x.log"], "exclusive"),
        (["--no-p4", "--thrift-port", "x"], "invalid int"),
    ],
)
def test_bad_compat_arguments_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([str(BIN / "p4sim"), *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_bmv2_json_is_refused_clearly(tmp_path: Path) -> None:
    """The tutorials' build/prog.json made by p4c (bmv2's JSON) instead of
    p4sim-compile: exit 1 with the file named, no traceback."""
    bmv2 = tmp_path / "basic.json"
    bmv2.write_text('{"header_types": [], "headers": [], "pipelines": []}')
    result = subprocess.run([str(BIN / "p4sim"), str(bmv2), "--grpc-server-addr",
                             f"unix:{tmp_path}/sw.sock"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert str(bmv2) in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_log_file_gets_the_log(tmp_path: Path) -> None:
    log = tmp_path / "p4s.log"
    sock = tmp_path / "sw.sock"
    proc = subprocess.Popen([str(BIN / "p4sim"), "--no-p4", "--log-file", str(log), "-L", "info",
                             "--grpc-server-addr", f"unix:{sock}"],
                            stderr=subprocess.PIPE, text=True)
    try:
        grpc_ready(f"unix:{sock}", 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err
    text = log.read_text()
    assert f"P4Runtime server listening on unix:{sock}" in text, text
    assert "signal 15: shutting down" in text


CLIENT = textwrap.dedent("""
    import sys, grpc
    from p4.v1 import p4runtime_pb2 as pb, p4runtime_pb2_grpc
    channel = grpc.insecure_channel("127.0.0.1:%d")
    grpc.channel_ready_future(channel).result(timeout=60)
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    R = pb.GetForwardingPipelineConfigRequest
    got = stub.GetForwardingPipelineConfig(R(device_id=%d, response_type=R.P4INFO_AND_COOKIE))
    print(" ".join(t.preamble.name for t in got.config.p4info.tables))
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
def test_tutorials_command_line_starts_p4sim(tmp_path: Path) -> None:
    """P4RuntimeSwitch's exact command line, with p4sim as sw_path, run by a shell as
    the wrapper does, in a namespace of the test's own with the wrapper's interface
    names: p4sim starts with the positional JSON (P4Info derived from it), serves
    P4Runtime on the wrapper's TCP port with its device id, and writes bmv2-named
    pcap files."""
    build = tmp_path / "build"
    pcaps = tmp_path / "pcaps"
    pcaps.mkdir()
    result = compile_cli("--p4v", "16", "--p4runtime-files", str(build / "basic.p4.p4info.txtpb"),
                         "-o", str(build / "basic.json"), str(FORWARDING))
    assert result.returncode == 0, result.stderr
    log = tmp_path / "p4s.s1.log"
    cmd = tutorials_command(str(BIN / "p4sim"), {1: "s1-eth1", 2: "s1-eth2"}, str(pcaps), 2,
                            str(build / "basic.json"), 9090, 50051, 255)
    with Lab(prefix="p4cc") as lab:
        ns = lab.add_ns("sw")
        lab.veth(ns, "s1-eth1", ns, "h1-eth0")
        lab.veth(ns, "s1-eth2", ns, "h2-eth0")
        proc = lab.popen(["sh", "-c", f"exec {cmd} >{log} 2>&1"], netns=ns)
        client = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                                 CLIENT % (50051, 2)],
                                capture_output=True, text=True, timeout=90)
        assert client.returncode == 0, client.stderr + log.read_text()
        tables = [t.preamble.name for t in read_text_p4info(build / "basic.p4.p4info.txtpb").tables]
        assert client.stdout.split() == tables and tables, client.stdout
        assert proc.poll() is None
        lab.stop(proc)
        assert proc.returncode == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text
    assert "--thrift-port: p4sim has no Thrift server" in text and "--nanolog" in text
    assert sorted(p.name for p in pcaps.iterdir()) == [
        "s1-eth1_in.pcap", "s1-eth1_out.pcap", "s1-eth2_in.pcap", "s1-eth2_out.pcap"]
