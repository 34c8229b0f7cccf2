"""The demo (`make demo`, `python -m topo.demo`) runs to completion on each address
family: downloads before, during and after a bounded spoofed SYN flood (198.18.0.0/15,
or 2001:2::/48 with `--family 6`), every flood SYN answered with a cookie and none at
a server. A short run at a modest rate: its own topology, its own output directory.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_demo.py   (root: namespaces)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from topo.topology import SPOOF_RANGE, SPOOF_RANGE6

pytestmark = pytest.mark.netns


@pytest.mark.parametrize("family", [4, 6])
def test_the_demo_runs_on_each_family(tmp_path: Path, family: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "topo.demo", "--family", str(family),
                           "--seconds", "9", "--flood-rate", "200", "--size", "50000",
                           "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert "== SYN proxy demo report" in proc.stdout
    report = json.loads((tmp_path / "demo-report.json").read_text())
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["flood"]["from"] == (SPOOF_RANGE6 if family == 6 else SPOOF_RANGE)
    assert report["flood"]["sent"] >= 500
    for phase in ("before", "during", "after"):
        assert report[phase]["requests"] > 0, (phase, report[phase])
        assert report[phase]["ok"] == report[phase]["requests"], (phase, report[phase])
    ev = report["switch_events"]
    assert ev["SYNACK_SENT"] >= report["flood"]["sent"]
    assert ev.get("SESSION_ESTABLISHED", 0) > 0
    assert all(c.get("spoofed_syn", 0) == 0 and c.get("spoofed_any", 0) == 0
               for c in report["servers"].values()), report["servers"]
