"""Data-plane state built from a P4Info (see p4sim/README.md for the contract)."""

from p4sim.device.digests import DigestConfig, DigestEngine, DigestList
from p4sim.device.errors import Code, DeviceError
from p4sim.device.externs import (
    GREEN,
    RED,
    YELLOW,
    CounterState,
    MeterConfig,
    MeterState,
    RegisterState,
)
from p4sim.device.pre import CloneSession, PreState
from p4sim.device.state import DeviceState
from p4sim.device.tables import Entry, TableState

__all__ = [
    "GREEN",
    "RED",
    "YELLOW",
    "CloneSession",
    "Code",
    "CounterState",
    "DeviceError",
    "DeviceState",
    "DigestConfig",
    "DigestEngine",
    "DigestList",
    "Entry",
    "MeterConfig",
    "MeterState",
    "PreState",
    "RegisterState",
    "TableState",
]
