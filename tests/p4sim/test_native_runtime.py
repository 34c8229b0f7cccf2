"""The native runtime's own unit tests (p4sim/native/runtime/tests/test_runtime.c):
tables (exact, LPM, ternary, range, defaults, hit statistics), the v1model hashes with
their known answers, bit strings and arithmetic. Built with the system C compiler,
warnings as errors.

    .venv/bin/python -m pytest -q tests/p4sim/test_native_runtime.py
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from p4sim.backend.c.build import CFLAGS, RUNTIME_DIR, RUNTIME_SOURCES, compiler


def test_runtime_unit_tests_pass(tmp_path: Path) -> None:
    exe = tmp_path / "test_runtime"
    flags = [f for f in CFLAGS if f not in ("-fPIC", "-shared")]
    build = subprocess.run(
        [
            compiler(),
            *flags,
            "-Werror",
            f"-I{RUNTIME_DIR}",
            "-o",
            str(exe),
            str(RUNTIME_DIR / "tests" / "test_runtime.c"),
            *(str(RUNTIME_DIR / s) for s in RUNTIME_SOURCES),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=False)
    summary = re.search(r"(\d+) passed, (\d+) failed", run.stdout)
    assert summary is not None, run.stdout
    assert run.returncode == 0 and summary.group(2) == "0", run.stdout
    assert int(summary.group(1)) > 1000
