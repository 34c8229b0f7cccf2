"""Indexed externs: counters, meters (two-rate three-colour) and registers.

These are touched once or more per packet, so they are plain classes with ``__slots__``
and integer arithmetic only: no allocation on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from p4sim.device.errors import Code, DeviceError
from p4sim.device.info import IndexedInfo, Unit

GREEN = 0
YELLOW = 1
RED = 2

_NS_PER_S = 1_000_000_000


def _check_index(name: str, index: int, size: int) -> None:
    if not 0 <= index < size:
        raise DeviceError(Code.OUT_OF_RANGE, f"{name}: index {index} is outside [0, {size})")


class CounterState:
    """An indexed counter array (packets and bytes are always both kept)."""

    __slots__ = ("info", "name", "size", "unit", "packets", "bytes")

    def __init__(self, info: IndexedInfo) -> None:
        self.info = info
        self.name = info.name
        self.size = info.size
        self.unit = info.unit
        self.packets = [0] * info.size
        self.bytes = [0] * info.size

    def count(self, index: int, nbytes: int) -> None:
        """Count one packet of ``nbytes`` bytes at ``index`` (out of range: ignored, as bmv2)."""
        if 0 <= index < self.size:
            self.packets[index] += 1
            self.bytes[index] += nbytes

    def read(self, index: int) -> tuple[int, int]:
        _check_index(self.name, index, self.size)
        return self.packets[index], self.bytes[index]

    def write(self, index: int, packets: int, nbytes: int) -> None:
        _check_index(self.name, index, self.size)
        if packets < 0 or nbytes < 0:
            raise DeviceError(Code.INVALID_ARGUMENT, f"{self.name}: counts must not be negative")
        self.packets[index] = packets
        self.bytes[index] = nbytes


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """Rates in units per second, bursts in units (units: bytes or packets)."""

    cir: int
    cburst: int
    pir: int
    pburst: int

    def validate(self, name: str) -> None:
        if min(self.cir, self.cburst, self.pir, self.pburst) < 0:
            raise DeviceError(Code.INVALID_ARGUMENT, f"{name}: meter rates and bursts must be >= 0")
        if self.pir < self.cir:
            # RFC 2698 requires PIR >= CIR; otherwise the peak bucket would mark red
            # traffic the committed bucket still considers conforming.
            raise DeviceError(Code.INVALID_ARGUMENT, f"{name}: PIR must be >= CIR")


class TrTcm:
    """One colour-blind two-rate three-colour marker (RFC 2698).

    Two token buckets, C (committed, rate CIR, depth CBS) and P (peak, rate PIR, depth
    PBS), both start full. A packet of B units is red if P holds fewer than B tokens,
    yellow if C does (P is debited), else green (both debited). Tokens are kept scaled
    by 10^9 so refilling by ``elapsed_ns * rate`` needs no division or float.
    """

    __slots__ = ("config", "tc", "tp", "last_ns", "cbs", "pbs")

    def __init__(self, config: MeterConfig, now_ns: int) -> None:
        self.config = config
        self.cbs = config.cburst * _NS_PER_S
        self.pbs = config.pburst * _NS_PER_S
        self.tc = self.cbs
        self.tp = self.pbs
        self.last_ns = now_ns

    def execute(self, units: int, now_ns: int) -> int:
        elapsed = now_ns - self.last_ns
        if elapsed > 0:
            self.last_ns = now_ns
            cfg = self.config
            self.tc = min(self.cbs, self.tc + elapsed * cfg.cir)
            self.tp = min(self.pbs, self.tp + elapsed * cfg.pir)
        need = units * _NS_PER_S
        if self.tp < need:
            return RED
        if self.tc < need:
            self.tp -= need
            return YELLOW
        self.tp -= need
        self.tc -= need
        return GREEN


class MeterState:
    """An indexed meter array. Unconfigured cells mark everything green (as bmv2)."""

    __slots__ = ("info", "name", "size", "by_packets", "cells", "_clock")

    def __init__(self, info: IndexedInfo, clock: Callable[[], int]) -> None:
        self.info = info
        self.name = info.name
        self.size = info.size
        self.by_packets = info.unit == Unit.PACKETS
        self.cells: list[TrTcm | None] = [None] * info.size
        self._clock = clock

    def execute(self, index: int, nbytes: int) -> int:
        """Colour one packet: 0 green, 1 yellow, 2 red."""
        if not 0 <= index < self.size:
            return GREEN
        cell = self.cells[index]
        if cell is None:
            return GREEN
        return cell.execute(1 if self.by_packets else nbytes, self._clock())

    def config(self, index: int) -> MeterConfig | None:
        _check_index(self.name, index, self.size)
        cell = self.cells[index]
        return None if cell is None else cell.config

    def set_config(self, index: int, config: MeterConfig | None) -> None:
        """Configure one cell; ``None`` resets it to the unconfigured (all green) state."""
        _check_index(self.name, index, self.size)
        if config is None:
            self.cells[index] = None
            return
        config.validate(self.name)
        self.cells[index] = TrTcm(config, self._clock())


class RegisterState:
    """A register array: ``values`` is read and written directly by the pipeline."""

    __slots__ = ("info", "name", "size", "bitwidth", "values")

    def __init__(self, info: IndexedInfo) -> None:
        self.info = info
        self.name = info.name
        self.size = info.size
        self.bitwidth = info.bitwidth
        self.values = [0] * info.size

    def read(self, index: int) -> int:
        _check_index(self.name, index, self.size)
        return self.values[index]

    def write(self, index: int, value: int) -> None:
        _check_index(self.name, index, self.size)
        if self.bitwidth and not 0 <= value < (1 << self.bitwidth):
            raise DeviceError(
                Code.INVALID_ARGUMENT, f"{self.name}: value does not fit in {self.bitwidth} bits"
            )
        self.values[index] = value
