"""The ``p4sim`` command line: argument errors, start-up, serving, clean shutdown.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_server_cli.py
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc

from p4sim.cli import parse_args

pytestmark = pytest.mark.timeout(120)

PROGRAM = Path(__file__).parent / "programs" / "basic_fwd.p4"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p4sim.cli", *args], capture_output=True, text=True, timeout=60
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "CONFIG"),
        (["--no-p4", "prog.p4sim"], "not both"),
        (["--no-p4", "-i", "veth1"], "PORT@INTERFACE"),
        (["--no-p4", "-i", "x@veth1"], "not a number"),
        (["--no-p4", "-i", "1@a", "-i", "1@b"], "given twice"),
        (["--no-p4", "-i", "255@a"], "CPU port"),
        (["--no-p4", "--grpc-server-addr", "9559"], "HOST:PORT"),
        (["--no-p4", "-L", "loud"], "invalid choice"),
        (["--no-p4", "--device-id", "-1"], ">= 0"),
        (["--no-p4", "--max-streams", "0"], ">= 1"),
        (["--no-p4", "--arbitration-timeout", "nan"], "between 0.1 and 86400"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_simple_switch_style_separator() -> None:
    args = parse_args(["--no-p4", "-i", "1@veth1", "--", "--grpc-server-addr", "127.0.0.1:1"])
    assert args.interfaces == [(1, "veth1")] and args.grpc_server_addr == "127.0.0.1:1"


def test_missing_interface() -> None:
    result = run_cli("--no-p4", "-i", "1@p4sim-nonexistent0")
    assert result.returncode == 1
    assert "p4sim-nonexistent0" in result.stderr and "does not exist" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli(str(tmp_path / "nope.p4sim"))
    assert result.returncode == 1 and "nope.p4sim" in result.stderr


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_serves_and_stops_on_sigterm(tmp_path: Path, kind: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "p4sim.compile_cli", str(PROGRAM), "-o", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    address = f"127.0.0.1:{free_port()}" if kind == "tcp" else f"unix:{tmp_path}/p4rt.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p4sim.cli",
            str(tmp_path / "basic_fwd.p4sim"),
            "--grpc-server-addr",
            address,
            "--device-id",
            "3",
            "--log-console",
            "-L",
            "debug",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=60)  # poll for readiness
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        R = pb.GetForwardingPipelineConfigRequest
        got = stub.GetForwardingPipelineConfig(R(device_id=3, response_type=R.P4INFO_AND_COOKIE))
        names = [t.preamble.name for t in got.config.p4info.tables]
        assert names == ["FwdIngress.ipv4_lpm"]  # the CONFIG given on the command line
        channel.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "Traceback" not in err
    finally:
        proc.kill()
        proc.wait()


def test_no_register_access_flag(tmp_path: Path) -> None:
    """`--no-register-access`: the served switch refuses register reads with
    UNIMPLEMENTED, as simple_switch_grpc does; tables still work."""
    assert parse_args(["--no-p4"]).no_register_access is False
    program = Path(__file__).parent / "programs" / "packet_io.p4"
    subprocess.run(
        [sys.executable, "-m", "p4sim.compile_cli", str(program), "-o", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    address = f"unix:{tmp_path}/p4rt.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "p4sim.cli", str(tmp_path / "packet_io.p4sim"),
         "--grpc-server-addr", address, "--no-register-access"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=60)  # poll for readiness
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        R = pb.GetForwardingPipelineConfigRequest
        p4info = stub.GetForwardingPipelineConfig(
            R(device_id=0, response_type=R.P4INFO_AND_COOKIE)).config.p4info
        (register,) = p4info.registers
        query = pb.ReadRequest(device_id=0)
        query.entities.add().register_entry.register_id = register.preamble.id
        with pytest.raises(grpc.RpcError) as exc:
            list(stub.Read(query))
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
        tables = pb.ReadRequest(device_id=0)
        tables.entities.add().table_entry.SetInParent()
        list(stub.Read(tables))
        channel.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "Traceback" not in err
    finally:
        proc.kill()
        proc.wait()
