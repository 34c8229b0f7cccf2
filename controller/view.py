"""What the controller holds of the switch's state: the session table, the cookie
keys, the passthrough filter's clock and epoch, and whether registers can be read.
Start-up reconciliation replaces it from what the switch reports; the other parts
read and change it in place."""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .defence import FilterReset, KeyRing
from .overload import OverloadState
from .sessions import SLOT_LIMIT, SessionTable


class SwitchView:
    def __init__(self, cfg: Config, now: float,
                 random_key: Callable[[], int] | None = None, slots: int = SLOT_LIMIT) -> None:
        self.cfg = cfg
        self.table = SessionTable(cfg.sessions, slots)
        first_key = int.from_bytes(cfg.cookie.key, "little") if cfg.cookie.key else None
        self.keys = KeyRing(cfg.cookie.rotate_seconds, first_key, random_key)
        self.filter_reset = FilterReset(cfg.sessions.timeouts.established, now)
        # Register reads are optional (bmv2 has none through P4Runtime): probed at every
        # sync; None until the first probe.
        self.register_reads: bool | None = None
        self.passthrough_epoch = 1  # the `passthrough_epoch` default action's epoch
        self.overload = OverloadState(settings=cfg.overload)  # D15 (overload.py)

    def fresh_table(self) -> SessionTable:
        """An empty table that keeps the old one's counters, orphans and gen counter
        (gens are never reused across syncs)."""
        t = SessionTable(self.cfg.sessions, self.table.slots)
        t.stats = self.table.stats
        t.orphans = self.table.orphans
        t.last_gen = self.table.last_gen
        return t
