"""The C back end's loading path: the compiler cache, compiler failures as clear
errors (P4Runtime INVALID_ARGUMENT, never a crash), constructs it rejects at compile
time, native cells standing in for register arrays, the back-end choice.

    .venv/bin/python -m pytest -q tests/p4sim/test_native_backend.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from p4sim.backend import backends
from p4sim.backend.c import build
from p4sim.backend.c.native import NativeCells, NativePipeline
from p4sim.backend.harness import Harness, skeleton
from p4sim.cli import parse_args
from p4sim.controlplane.p4info import build_p4info
from p4sim.devconfig import encode_device_config
from p4sim.device import DeviceError, DeviceState
from p4sim.frontend import load, preprocess
from p4sim.frontend.errors import P4Error, Unsupported
from p4sim.server import P4RuntimeServer

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "tests" / "p4sim" / "programs" / "basic_fwd.p4"


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("P4SIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_shared_object_is_cached_by_content(fresh_cache: Path) -> None:
    src = "int p4_answer(void) { return 42; }\n"
    first = build.build(src)
    assert first.parent == fresh_cache and first.suffix == ".so"
    mtime = first.stat().st_mtime_ns
    assert build.build(src) == first and first.stat().st_mtime_ns == mtime  # not rebuilt
    assert build.build(src + "/* changed */\n") != first
    assert (fresh_cache / (first.stem + ".c")).read_text() == src  # kept for reading


def test_compiler_diagnostics_are_reported(fresh_cache: Path) -> None:
    with pytest.raises(build.CompileError, match="error") as info:
        build.build("int broken(void) { return nope; }\n")
    assert "nope" in str(info.value)
    with pytest.raises(build.CompileError, match="unused"):  # warnings are errors
        build.build("static int unused_fn(void) { return 1; }\n")


def test_missing_compiler_is_a_clear_p4runtime_error(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    program = load(BASIC)
    p4info = build_p4info(program)
    server = P4RuntimeServer(0, 255, backends.loader("c"), dataplane=None)
    from p4.v1 import p4runtime_pb2 as pb

    config = pb.ForwardingPipelineConfig()
    config.p4info.CopyFrom(p4info)
    config.p4_device_config = encode_device_config(preprocess(BASIC), str(BASIC))
    with pytest.raises(DeviceError) as info:
        server.commit_initial(config)
    assert info.value.code.name == "INVALID_ARGUMENT"
    assert "C back end" in info.value.message and "no-such-cc" in info.value.message


def test_values_over_128_bits_are_rejected_at_compile_time() -> None:
    text = skeleton(
        in_fields="bit<8> a;",
        out_fields="bit<8> b;",
        ingress_locals="bit<200> wide = 0;",
        ingress="wide = wide + 1; hdr.o.b = wide[7:0];",
    )
    program = Harness.from_source(text, backend="python").program  # Python runs it
    with pytest.raises(Unsupported, match="bit<200>") as info:
        NativePipeline(program, build_p4info(program), DeviceState(build_p4info(program)), 255)
    assert isinstance(info.value, P4Error) and ":" in str(info.value)  # file:line:col


def test_native_cells_behave_as_the_list_they_replace() -> None:
    cells = NativeCells(4, [1, 2, 3, 4], bitwidth=8)
    assert list(cells) == [1, 2, 3, 4] and len(cells) == 4 and cells[-1] == 4
    cells[0] = 0x1FF  # kept to the register's width
    assert cells[0] == 0xFF
    saved = cells.__copy__()
    cells[1:3] = [7, 8]
    assert cells[:] == [0xFF, 7, 8, 4]
    cells[:] = saved  # what a rolled-back batch does
    assert cells == [0xFF, 2, 3, 4]
    with pytest.raises(IndexError):
        cells[4] = 1
    with pytest.raises(ValueError):
        cells[:] = [1]


def test_registers_written_by_the_program_are_read_from_native_memory() -> None:
    text = skeleton(
        in_fields="bit<8> a;",
        out_fields="bit<8> b;",
        top="register<bit<8>>(4) r;",
        ingress="bit<8> v; r.read(v, 1); r.write(1, v + hdr.i.a); hdr.o.b = v;",
    )
    h = Harness.from_source(text, backend="c")
    reg = next(iter(h.state.registers.values()))
    assert isinstance(reg.values, NativeCells)
    assert h.process(0, b"\x05") == [(1, b"\x00")]
    assert reg.values[1] == 5  # the program's write, in native memory
    reg.values[1] = 100  # a control-plane write, seen by the next packet
    assert h.process(0, b"\x05") == [(1, b"\x64")]
    assert reg.values[1] == 105


def test_wide_native_cells_hold_128_bit_values() -> None:
    cells = NativeCells(3, [1 << 100, 5], bitwidth=128)
    assert list(cells) == [1 << 100, 5, 0]
    cells[2] = (1 << 130) | (0xAB << 64) | 0xCD  # kept to 128 bits
    assert cells[2] == (0xAB << 64) | 0xCD
    assert (cells.cells[4], cells.cells[5]) == (0xAB, 0xCD)  # high word first
    with pytest.raises(ValueError, match="at most 128"):
        NativeCells(1, bitwidth=129)


@pytest.mark.parametrize("backend", ["python", "c"])
def test_registers_of_128_bit_values(backend: str) -> None:
    """A bit<128> register (IPv6 addresses): the program's writes and reads keep all
    128 bits, and the control plane sees the same values, on both back ends."""
    text = skeleton(
        in_fields="bit<128> a;",
        out_fields="bit<128> b; bit<8> same;",
        top="register<bit<128>>(4) r;",
        ingress=("bit<128> v; r.read(v, 2); r.write(2, hdr.i.a); hdr.o.b = v; "
                 "hdr.o.same = 0; if (v == hdr.i.a) { hdr.o.same = 1; }"),
    )
    h = Harness.from_source(text, backend=backend)
    reg = next(iter(h.state.registers.values()))
    addr = 0x20010DB8_00000001_00000000_0000ABCD
    data = addr.to_bytes(16, "big")
    assert h.process(0, data) == [(1, bytes(16) + b"\x00")]
    assert reg.values[2] == addr and reg.values[1] == 0
    assert h.process(0, data) == [(1, data + b"\x01")]
    reg.values[2] = (1 << 127) | 1  # a control-plane write, seen by the next packet
    assert h.process(0, data) == [(1, ((1 << 127) | 1).to_bytes(16, "big") + b"\x00")]


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert backends.pipeline_class("python").__name__ == "Pipeline"
    assert backends.pipeline_class("c") is NativePipeline
    with pytest.raises(ValueError, match="unknown back end"):
        backends.pipeline_class("java")
    assert parse_args(["--no-p4", "--backend", "python"]).backend == "python"
    monkeypatch.delenv("P4SIM_BACKEND", raising=False)
    # the target runs native by default; the per-packet trace is the Python back end's
    assert parse_args(["--no-p4"]).backend == "c"
    assert parse_args(["--no-p4", "-L", "trace"]).backend == "python"
    assert parse_args(["--no-p4", "-L", "trace", "--backend", "c"]).backend == "c"
    assert backends.default_backend() == "python"  # in process: the reference
    monkeypatch.setenv("P4SIM_BACKEND", "python")
    assert parse_args(["--no-p4"]).backend == "python"
    monkeypatch.setenv("P4SIM_BACKEND", "rust")
    with pytest.raises(SystemExit):
        parse_args(["--no-p4"])
    monkeypatch.delenv("P4SIM_BACKEND")
    with pytest.raises(SystemExit):
        parse_args(["--no-p4", "--backend", "java"])


def test_p4sim_compile_backend_c_writes_the_c_and_reports_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from p4sim.compile_cli import main

    assert main([str(BASIC), "-o", str(tmp_path / "out"), "--backend", "c"]) == 0
    c_text = (tmp_path / "out" / "basic_fwd.c").read_text()
    assert "from basic_fwd.p4" in c_text and "/* basic_fwd.p4:" in c_text
    wide = tmp_path / "wide.p4"
    wide.write_text(
        skeleton(
            in_fields="bit<8> a;",
            out_fields="bit<8> b;",
            ingress_locals="bit<200> wide = 0;",
            ingress="wide = wide + 1; hdr.o.b = wide[7:0];",
        )
    )
    assert main([str(wide), "-o", str(tmp_path / "w")]) == 0  # the Python back end takes it
    assert main([str(wide), "-o", str(tmp_path / "w"), "--backend", "c"]) == 1
    err = capsys.readouterr().err
    assert f"{wide}:" in err and "bit<200>" in err


@pytest.mark.parametrize("backend", ["python", "c"])
def test_action_data_up_to_128_bits(backend: str) -> None:
    """An IPv6 address as action data (sessions_v6, nat_to_v6): both halves reach
    the action, beside narrower parameters, in entries and in the default action."""
    text = skeleton(
        in_fields="bit<8> k;",
        out_fields="bit<128> w; bit<16> n;",
        top="",
        ingress_locals="""
            action set_w(bit<16> n, bit<128> w) { hdr.o.w = w; hdr.o.n = n; }
            table t { key = { hdr.i.k : exact; } actions = { set_w; }
                      default_action = set_w(3, 0x0102030405060708090a0b0c0d0e0f10); }""",
        ingress="t.apply();",
    )
    h = Harness.from_source(text, backend=backend)
    wide = 0x20010DB8000000000000000000000010
    h.add_entry("t", [7], "set_w", [0xBEEF, wide])
    assert h.process(0, b"\x07") == [(1, wide.to_bytes(16, "big") + b"\xbe\xef")]
    assert h.process(0, b"\x08") == [(1, bytes(range(1, 17)) + b"\x00\x03")]
    h.set_default("t", "set_w", [9, (1 << 128) - 1])
    assert h.process(0, b"\x08") == [(1, b"\xff" * 16 + b"\x00\x09")]
