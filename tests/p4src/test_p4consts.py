"""controller/p4consts.py, the program's constants for Python, against the program:
the module `make deps` generated is what p4sim's front end reads from p4src now, and
a constant changed in p4src/common reaches Python with no Python edit."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from controller import p4consts
from controller.sessions import State

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "p4consts.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("p4consts_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_module_matches_the_program() -> None:
    tool = _generator()
    text = tool.render(tool.collect())
    assert Path(p4consts.__file__).read_text() == text, (
        "controller/p4consts.py is stale: run `make deps`")


def test_check_mode_fails_on_a_stale_module(tmp_path: Path) -> None:
    stale = tmp_path / "p4consts.py"
    stale.write_text(Path(p4consts.__file__).read_text().replace(
        f"EVENTS_PER_SERVICE: Final = {p4consts.EVENTS_PER_SERVICE}\n",
        "EVENTS_PER_SERVICE: Final = 1\n"))
    run = subprocess.run([sys.executable, str(TOOL), "--check", "--out", str(stale)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "does not match the P4 program" in run.stderr
    fresh = subprocess.run([sys.executable, str(TOOL), "--check"],
                           capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr


def test_a_changed_constant_reaches_python(tmp_path: Path) -> None:
    """Edit a const and a size macro in a copy of p4src: the generated values follow,
    derived sizes included (SERVICE_EVENTS_SIZE = MAX_SERVICE_IDS * EVENTS_PER_SERVICE)."""
    shutil.copytree(ROOT / "p4src", tmp_path / "p4src")
    sizes = tmp_path / "p4src" / "common" / "sizes.p4"
    text, n = re.subn(r"(const bit<32> EVENTS_PER_SERVICE\s*=\s*)\d+;", r"\g<1>64;",
                      sizes.read_text())
    text, m = re.subn(r"(#define MAX_SERVICE_IDS\s+)\d+", r"\g<1>8", text)
    assert (n, m) == (1, 1)
    sizes.write_text(text)
    values = {name: value for name, (value, _) in _generator().collect(tmp_path).items()}
    assert values["EVENTS_PER_SERVICE"] == 64 and values["MAX_SERVICE_IDS"] == 8
    assert values["SERVICE_EVENTS_SIZE"] == 8 * 64
    assert values["FLOW_FILTER_SIZE"] == p4consts.FLOW_FILTER_SIZE  # a 32w... bound


def test_a_macro_that_is_no_integer_is_left_out(tmp_path: Path) -> None:
    """Object-like macros that are no integer (a target hook, a string) are not
    constants: left out, the integer ones around them kept; a P4 error elsewhere in
    the program still fails the generator."""
    shutil.copytree(ROOT / "p4src", tmp_path / "p4src")
    ids = tmp_path / "p4src" / "common" / "ids.p4"
    ids.write_text(ids.read_text().replace(
        "#endif", '#define ID_NOT_A_NUMBER "x"\n#define A_HOOK mark_to_drop()\n#endif'))
    tool = _generator()
    values = tool.collect(tmp_path)
    assert "ID_NOT_A_NUMBER" not in values and "A_HOOK" not in values
    assert values["ID_TABLE_SERVICES"][0] == p4consts.ID_TABLE_SERVICES
    assert values["SESSIONS_SIZE"][0] == p4consts.SESSIONS_SIZE
    sizes = tmp_path / "p4src" / "common" / "sizes.p4"
    sizes.write_text(sizes.read_text().replace("const bit<32> NAT_BUCKETS", "const bit<32> 1X"))
    with pytest.raises(tool.P4Error):
        tool.collect(tmp_path)


def test_groups_and_their_users() -> None:
    assert p4consts.EVENTS["SYN_IN"] == p4consts.EV_SYN_IN
    assert max(p4consts.EVENTS.values()) < p4consts.EVENTS_PER_SERVICE
    assert "ENTRIES" not in p4consts.SESSION_STATES  # SESSION_ENTRIES is a size
    assert {s.name: s.value for s in State} == p4consts.SESSION_STATES
    assert p4consts.CPU_PORT == p4consts.CPU_PORT_ID
