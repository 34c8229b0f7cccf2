"""p4sim's test clock (`p4sim --test-clock FILE`): monotonic time plus an offset
another process writes into FILE.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_testclock.py
"""

from __future__ import annotations

import time
from pathlib import Path

from p4sim.cli import parse_args
from p4sim.testclock import FileClock, read_offset, write_offset


def test_offset_moves_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = FileClock(path)  # creates the file, offset 0
    assert read_offset(path) == 0
    before = time.monotonic_ns()
    first = clock()
    assert before <= first <= time.monotonic_ns()
    jump = 1 << 58  # past a wrap of the 48-bit microsecond clock
    write_offset(path, jump)
    assert clock() - first >= jump
    write_offset(path, 0)
    assert clock() < first + jump


def test_existing_offset_is_kept_and_short_files_read_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    write_offset(path, 5_000_000_000)
    assert FileClock(path)() >= time.monotonic_ns() + 4_000_000_000
    short = tmp_path / "short"
    short.write_bytes(b"\x01")
    assert read_offset(short) == 0


def test_command_line_option() -> None:
    assert parse_args(["--no-p4", "--test-clock", "/tmp/x"]).test_clock == Path("/tmp/x")
    assert parse_args(["--no-p4"]).test_clock is None
