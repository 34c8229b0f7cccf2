"""The data plane's behaviour suite (the PTF tests of ptf-tests/tests/<program>/), run
in process: p4sim in PTF's own process on socket pairs (ptf-tests/lib/p4sim_inproc.py),
no veths, no root. `make ptf` runs the same tests over veths on p4sim, and on bmv2
with TARGET=bmv2. What only the in-process harness can see (registers moved by hand,
the pipeline clock) stays in tests/p4src/test_*.py.

Run: .venv/bin/python -m pytest -q tests/p4src/test_ptf_inproc.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(p.name for p in (ROOT / "ptf-tests" / "tests").iterdir()
                  if p.is_dir() and any(p.glob("*.py")))


def _failures(xunit: Path) -> list[str]:
    out = []
    for xml in xunit.glob("*.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                out.append(f"{case.get('classname')}: {(bad.get('message') or '')[:300]}")
    return out


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("program", PROGRAMS)
def test_ptf_suite_in_process(program: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "ptf-tests" / "run.py"), "--rig", "inproc",
         "--build", str(ROOT / "build"), program],
        capture_output=True, text=True, timeout=1100, cwd=ROOT)
    summary = re.search(r"^ptf: (\d+) passed, (\d+) failed, (\d+) skipped$", run.stdout, re.M)
    assert summary, f"no summary from the runner:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    passed, failed, skipped = (int(g) for g in summary.groups())
    xunit = ROOT / "build" / "ptf-logs-inproc" / program / "xunit"
    assert failed == 0, "\n".join(_failures(xunit)) or run.stderr[-3000:]
    assert skipped == 0 and passed > 0 and run.returncode == 0
    # Every test class of the folder ran (none lost to an import error).
    classes = sum(len(re.findall(r"^    def runTest\(", f.read_text(), re.M))
                  for f in (ROOT / "ptf-tests" / "tests" / program).glob("*.py"))
    assert passed >= classes
