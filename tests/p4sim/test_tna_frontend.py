"""p4sim's front end on TNA programs: its own tna.p4 (p4sim/frontend/arch), instances
with an initializer block (RegisterAction.apply), `_` type arguments, blocks that
leave out trailing @optional parameters, and a package of packages (Switch(pipe)).

The declarations must match the published ones: p4c's front end (p4test, optional)
accepts the same programs against p4sim's tna.p4, as it does against the Tofino
back end's own (tests/p4src/test_tna_program.py).

Run: .venv/bin/python -m pytest -q tests/p4sim/test_tna_frontend.py
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from p4sim.frontend import ast, load
from p4sim.frontend.errors import P4Error

ROOT = Path(__file__).resolve().parents[2]
FORWARD = Path(__file__).parent / "tna_programs" / "forward.p4"
SYNPROXY_TNA = ROOT / "p4src" / "tna" / "synproxy.p4"
ARCH = ROOT / "p4sim" / "frontend" / "arch"


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    src = FORWARD.read_text()
    assert old in src, old
    path = tmp_path / "variant.p4"
    path.write_text(src.replace(old, new))
    return path


def _instance(prog: ast.Program, name: str) -> ast.Instantiation:
    found: list[ast.Instantiation] = []
    for d in prog.decls:
        if isinstance(d, ast.ControlDecl):
            found += [x for x in d.locals if isinstance(x, ast.Instantiation) and x.name == name]
    assert len(found) == 1, name
    return found[0]


def test_forward_program_checks() -> None:
    prog = load(FORWARD)
    assert prog.main is not None
    assert prog.main.type is not None and prog.main.type.resolved.name == "Switch"
    action = _instance(prog, "count_port")
    assert [f.name for f in action.initializer] == ["apply"]
    # The body is checked: its statements' expressions carry types.
    body = action.initializer[0].body
    assert body is not None
    first = body.stmts[0]
    assert isinstance(first, ast.AssignStmt)
    assert first.rhs.type is not None and str(first.rhs.type) == "bit<16>"


def test_synproxy_tna_program_checks() -> None:
    prog = load(SYNPROXY_TNA, include_dirs=[str(ROOT / "p4src")])
    assert prog.main is not None and prog.main.type is not None
    assert prog.main.type.resolved.name == "Switch"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # apply() must have the instance's types: T = bit<16>.
        (
            "void apply(inout bit<16> value, out bit<16> rv) {",
            "void apply(inout bit<32> value, out bit<16> rv) {",
            r"parameter 'value' of count_port.apply must be inout bit<16>",
        ),
        (
            "void apply(inout bit<16> value, out bit<16> rv) {",
            "void apply(in bit<16> value, out bit<16> rv) {",
            r"parameter 'value' of count_port.apply must be inout",
        ),
        (
            "void apply(inout bit<16> value, out bit<16> rv) {",
            "void other(inout bit<16> value, out bit<16> rv) {",
            r"does not implement apply",
        ),
        # A body that does not type-check is refused like any function's.
        ("            rv = value;", "            rv = hdr.ethernet;", r"rv|bit<16>"),
        # An extern without abstract methods takes no initializer.
        (
            "Hash<bit<16>>(HashAlgorithm_t.CRC16) flow_hash;",
            "Hash<bit<16>>(HashAlgorithm_t.CRC16) flow_hash = { };",
            r"no abstract methods",
        ),
        # Only trailing @optional parameters may be left out: the metadata may not.
        (
            "control Eg(inout egress_headers_t hdr, inout egress_metadata_t md,\n"
            "           in egress_intrinsic_metadata_t eg_intr_md) {",
            "control Eg(inout egress_headers_t hdr,\n"
            "           in egress_intrinsic_metadata_t eg_intr_md) {",
            r"parameter 'eg_intr_md' of Eg must be 'inout' as in EgressT",
        ),
        # Switch takes Pipelines.
        ("Switch(pipe) main;", "Switch(Ig()) main;", r"pipe0"),
    ],
)
def test_tna_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(P4Error, match=message):
        load(_variant(tmp_path, old, new))


@pytest.mark.parametrize("program", [FORWARD, SYNPROXY_TNA], ids=lambda p: p.name)
def test_p4test_accepts_programs_against_p4sim_tna_p4(program: Path, tmp_path: Path) -> None:
    p4test = shutil.which("p4test")
    if p4test is None:
        pytest.skip("p4test is not on PATH (install p4c, p4lang/p4c, to check this)")
    result = subprocess.run(
        [p4test, "--std", "p4-16", "-I", str(ARCH), "-I", str(ROOT / "p4src"), str(program)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
