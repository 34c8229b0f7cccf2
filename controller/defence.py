"""Pure policy for the cookie key schedule (C7) and automatic defence (C8).

Neither class does I/O or reads a clock: the app passes `now` and the counter values
it read, and writes what these decide.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .config import AutoDefence
from .cookie import key_words

EPOCH_LIMIT = 1 << 32


@dataclass(frozen=True)
class KeyState:
    """What the `cookie_keys` default action holds: current and previous pair."""

    key: int
    epoch: int
    prev_key: int
    prev_epoch: int

    def params(self) -> dict[str, int]:
        k0, k1 = key_words(self.key)
        p0, p1 = key_words(self.prev_key)
        return {"key0": k0, "key1": k1, "epoch": self.epoch, "prev_key0": p0,
                "prev_key1": p1, "prev_epoch": self.prev_epoch}

    @staticmethod
    def from_params(p: dict[str, int]) -> KeyState:
        return KeyState(p["key0"] | p["key1"] << 32, p["epoch"],
                        p["prev_key0"] | p["prev_key1"] << 32, p["prev_epoch"])


class KeyRing:
    """Rotates the cookie key every `period` seconds. The new pair is (fresh key,
    epoch + 1) and the old current pair becomes the previous one, written in one
    update, so a cookie minted just before the rotation still validates (the data
    plane checks the pair whose epoch has the cookie's low epoch bit, and consecutive
    epochs differ in it)."""

    def __init__(self, period: float, first_key: int | None = None,
                 random_key: Callable[[], int] | None = None) -> None:
        self.period = period
        self._random = random_key or (lambda: secrets.randbits(64))
        key = first_key if first_key is not None else self._random()
        # Epoch 1 with a previous pair of epoch 0 and an unrelated key: nothing minted
        # before the first key exists can validate.
        self.state = KeyState(key, 1, self._random(), 0)
        self.next_rotation: float | None = None

    def adopt(self, state: KeyState, now: float) -> None:
        """Carry on from the keys found on the switch (controller restart, C9)."""
        self.state = state
        self.next_rotation = now + self.period

    def start(self, now: float) -> None:
        self.next_rotation = now + self.period

    def due(self, now: float) -> bool:
        return self.next_rotation is not None and now >= self.next_rotation

    def rotate(self, now: float) -> KeyState:
        old = self.state
        epoch = (old.epoch + 1) % EPOCH_LIMIT
        self.state = KeyState(self._random(), epoch, old.key, old.epoch)
        self.next_rotation = now + self.period
        return self.state


class AutoSwitch:
    """C8 hysteresis for one service in `auto` mode. Fed the cumulative SYN_IN counter;
    switches on as soon as the rate exceeds `syn_rate_on`, and off only after the rate
    has stayed below `syn_rate_off` for `quiet_seconds`."""

    def __init__(self, policy: AutoDefence) -> None:
        self.policy = policy
        self.active = False
        self.rate = 0.0
        self._last: tuple[float, int] | None = None
        self._quiet_since: float | None = None

    def update(self, now: float, syn_count: int) -> bool | None:
        """Feed one sample; returns the new state when it changes, else None."""
        last, self._last = self._last, (now, syn_count)
        if last is None or now <= last[0]:
            return None
        # A counter that went backwards was reset (pipeline pushed again): no rate.
        delta = syn_count - last[1] if syn_count >= last[1] else 0
        self.rate = delta / (now - last[0])
        p = self.policy
        if not self.active:
            if self.rate > p.syn_rate_on:
                self.active, self._quiet_since = True, None
                return True
            return None
        if self.rate >= p.syn_rate_off:
            self._quiet_since = None
            return None
        if self._quiet_since is None:
            self._quiet_since = last[0]
        if now - self._quiet_since >= p.quiet_seconds:
            self.active, self._quiet_since = False, None
            return False
        return None


class FilterReset:
    """When to zero the data plane's `passthrough_flows` filter (p4src/README.md).

    The filter remembers flows seen while their service was not defended, so that
    they survive the defence switching on. Once every service has been defended for
    `quiet` seconds (the established-session timeout: such flows are gone by then),
    the bits only help spoofed segments through, so the filter is zeroed, once per
    undefended period. The start counts as undefended: the filter's history is
    unknown."""

    def __init__(self, quiet: float, now: float) -> None:
        self.quiet = quiet
        self.dirty = True
        self.last_undefended = now

    def update(self, now: float, undefended: bool) -> bool:
        """True when the filter should be zeroed now."""
        if undefended:
            self.dirty = True
            self.last_undefended = now
            return False
        if self.dirty and now - self.last_undefended >= self.quiet:
            self.dirty = False
            return True
        return False
