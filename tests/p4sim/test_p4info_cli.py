"""`p4sim-compile`: outputs, formats, defines, exit codes and error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format, text_format
from p4.config.v1 import p4info_pb2

from p4sim.compile_cli import main
from p4sim.controlplane.p4info import build_p4info
from p4sim.devconfig import decode_device_config
from p4sim.frontend import load, parse_and_check

from .p4info_fixtures import BLOCKS, PRELUDE

GOOD = (
    PRELUDE
    + "struct meta_t { bit<8> x; }\n"
    + """
#ifndef ROUTES_SIZE
#define ROUTES_SIZE 64
#endif
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action fwd(bit<9> port) { sm.egress_spec = port; }
    table routes { key = { hdr.ipv4.dst_addr : lpm; } actions = { fwd; } size = ROUTES_SIZE; }
    apply { routes.apply(); }
}
"""
    + BLOCKS
)


@pytest.fixture()
def good(tmp_path) -> Path:
    p = tmp_path / "prog.p4"
    p.write_text(GOOD)
    return p


def read_text_p4info(path: Path) -> p4info_pb2.P4Info:
    msg = p4info_pb2.P4Info()
    text_format.Parse(path.read_text(), msg)
    return msg


def test_writes_p4info_and_device_config(good, tmp_path):
    out = tmp_path / "build"
    assert main([str(good), "-o", str(out)]) == 0
    info = read_text_p4info(out / "p4info.txt")
    assert info == build_p4info(load(good))
    assert info.tables[0].size == 64
    # The device config reloads without the preprocessor and gives the same P4Info.
    source, filename = decode_device_config((out / "prog.p4sim").read_bytes())
    assert filename == str(good)
    assert build_p4info(parse_and_check(source, filename)) == info


def test_defines_reach_the_preprocessor(good, tmp_path):
    out = tmp_path / "b"
    assert main([str(good), "-o", str(out), "-D", "ROUTES_SIZE=4096"]) == 0
    assert read_text_p4info(out / "p4info.txt").tables[0].size == 4096


def test_include_dirs(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "sizes.p4").write_text("#define ROUTES_SIZE 7\n")
    prog = tmp_path / "sub" / "prog.p4"
    prog.parent.mkdir()
    prog.write_text('#include "sizes.p4"\n' + GOOD)
    out = tmp_path / "b"
    assert main([str(prog), "-o", str(out), "-I", str(inc)]) == 0
    assert read_text_p4info(out / "p4info.txt").tables[0].size == 7


def test_p4runtime_files_formats(good, tmp_path):
    txt, js, bn = tmp_path / "a.txtpb", tmp_path / "a.json", tmp_path / "a.bin"
    assert main([str(good), "--p4runtime-files", f"{txt},{js},{bn}"]) == 0
    expected = build_p4info(load(good))
    assert read_text_p4info(txt) == expected
    from_json = p4info_pb2.P4Info()
    json_format.Parse(js.read_text(), from_json)
    assert from_json == expected
    assert json.loads(js.read_text())["pkgInfo"]["arch"] == "v1model"
    assert p4info_pb2.P4Info.FromString(bn.read_bytes()) == expected


def test_text_format_round_trip(good):
    info = build_p4info(load(good))
    again = p4info_pb2.P4Info()
    text_format.Parse(text_format.MessageToString(info), again)
    assert again == info


def test_unknown_suffix_is_an_error(good, tmp_path, capsys):
    assert main([str(good), "--p4runtime-files", str(tmp_path / "a.yaml")]) == 1
    assert "p4sim-compile: error:" in capsys.readouterr().err


def test_bad_program_reports_location(tmp_path, capsys):
    bad = tmp_path / "bad.p4"
    bad.write_text(GOOD.replace("sm.egress_spec = port;", "sm.egress_spec = nowhere;"))
    out = tmp_path / "out"
    assert main([str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    line = GOOD.splitlines().index(
        next(ln for ln in GOOD.splitlines() if "sm.egress_spec = port;" in ln)
    )
    assert err.startswith(f"{bad}:{line + 1}:")
    assert ": error: " in err and "nowhere" in err
    assert not (out / "p4info.txt").exists()


def test_missing_file_exits_1(tmp_path, capsys):
    assert main([str(tmp_path / "none.p4"), "-o", str(tmp_path)]) == 1
    assert "no such file" in capsys.readouterr().err


def test_usage_errors_exit_2(good, capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([str(good)])  # nothing to write
    assert info.value.code == 2
    assert "nothing to write" in capsys.readouterr().err


def test_console_script_runs(good, tmp_path):
    out = tmp_path / "o"
    res = subprocess.run(
        [sys.executable, "-m", "p4sim.compile_cli", str(good), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert (out / "prog.p4sim").is_file()


def test_uninstantiated_control_is_ignored(tmp_path, capsys):
    bad = tmp_path / "prog.p4"
    bad.write_text(
        GOOD.replace(
            "apply { routes.apply(); }",
            "apply { routes.apply(); }\n}\ncontrol Unused(inout meta_t m) {\n"
            "    table t { key = { m.x : exact; } actions = { NoAction; }\n"
            "              implementation = action_profile(32w4); }\n"
            "    apply { t.apply(); }",
        )
    )
    # The extra control is never instantiated: its oddities do not matter.
    assert main([str(bad), "-o", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().err == ""


def test_in_place_extern_in_table_property_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "prog.p4"
    bad.write_text(GOOD.replace("size = ROUTES_SIZE;", "implementation = action_profile(32w4);"))
    assert main([str(bad), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:") and "unsupported by p4sim" in err
