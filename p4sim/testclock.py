"""A clock that tests can move: ``p4sim --test-clock FILE``.

The switch's clock (``DeviceState.now_ns``: ingress and egress timestamps, meters,
idle timeouts, digest timers) is then CLOCK_MONOTONIC plus an offset in
nanoseconds that another process writes into FILE: 8 bytes, a signed little-endian
integer (a missing or short file is an offset of 0). The file is mapped once and the
offset read at every reading, so a test moves the switch's time with one write, e.g.
across a wrap of a timestamp, without waiting. For tests only: nothing in a
production run should ever set it.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from pathlib import Path

OFFSET = struct.Struct("<q")


def write_offset(path: str | Path, offset_ns: int) -> None:
    """Set the offset (the test side). Writes in place: a mapping stays valid."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, OFFSET.pack(offset_ns), 0)
    finally:
        os.close(fd)


def read_offset(path: str | Path) -> int:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return 0
    return OFFSET.unpack_from(data)[0] if len(data) >= OFFSET.size else 0


class FileClock:
    """``time.monotonic_ns()`` + the offset in a file, as a ``() -> int`` clock."""

    def __init__(self, path: str | Path) -> None:
        if not Path(path).exists() or Path(path).stat().st_size < OFFSET.size:
            write_offset(path, read_offset(path))
        fd = os.open(path, os.O_RDONLY)
        try:
            self._map = mmap.mmap(fd, OFFSET.size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)

    def __call__(self) -> int:
        return time.monotonic_ns() + OFFSET.unpack_from(self._map)[0]
