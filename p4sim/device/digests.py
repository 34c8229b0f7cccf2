"""Digest batching and acknowledgement, as P4Runtime's DigestEntry section describes.

The data plane pushes digest messages (tuples of ints, nested for nested structs). For
each configured digest the engine buffers *distinct* messages until ``max_list_size``
of them are waiting or the oldest has waited ``max_timeout_ns``; then it emits one
list. Messages sent in a list stay in a cache until the client acknowledges the list
or ``ack_timeout_ns`` passes; while cached, the same message is not buffered again,
so a flood of identical learn events costs the controller one message.

The engine does no I/O and has no thread: the server calls ``poll`` when ``wakeup``
fires or the deadline ``poll`` returned has passed. The clock is injectable.

``flush`` makes what is buffered due at once: the switch calls it (and polls) when
its packet loop has no more input waiting (nothing could join the list now), so that
at low load a digest does not wait out ``max_timeout_ns``; under load the loop stays busy
and lists fill as configured. ``max_timeout_ns`` stays the upper bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from p4sim.device.errors import Code, DeviceError, invalid

DigestValue = Any  # tuple of ints (or nested tuples)


@dataclass(frozen=True, slots=True)
class DigestConfig:
    max_timeout_ns: int
    max_list_size: int
    ack_timeout_ns: int

    def validate(self) -> None:
        if self.max_timeout_ns < 0 or self.max_list_size < 0 or self.ack_timeout_ns < 0:
            raise invalid("digest config values must be >= 0")


@dataclass(slots=True)
class DigestList:
    digest_id: int
    list_id: int
    values: list[DigestValue]
    timestamp_ns: int


@dataclass(slots=True)
class _Digest:
    config: DigestConfig
    buffer: dict[DigestValue, None] = field(default_factory=dict)
    first_ns: int = 0
    # message -> list id for messages sent and not yet acknowledged
    cache: dict[DigestValue, int] = field(default_factory=dict)
    # list id -> (time sent, its messages)
    in_flight: dict[int, tuple[int, list[DigestValue]]] = field(default_factory=dict)


class DigestEngine:
    def __init__(self, clock: Callable[[], int], wakeup: Callable[[], None] | None = None) -> None:
        self._clock = clock
        self._wakeup = wakeup
        self._lock = threading.Lock()
        self._digests: dict[int, _Digest] = {}
        self._next_list_id = 1
        self._flush = False
        self.dropped = 0

    def set_wakeup(self, wakeup: Callable[[], None] | None) -> None:
        self._wakeup = wakeup

    # ------------------------------------------------------------ control plane

    def configure(self, op: str, digest_id: int, config: DigestConfig | None) -> None:
        """Apply an INSERT/MODIFY/DELETE of a DigestEntry."""
        with self._lock:
            present = digest_id in self._digests
            if op == "insert" and present:
                raise DeviceError(Code.ALREADY_EXISTS, f"digest {digest_id} already configured")
            if op in ("modify", "delete") and not present:
                raise DeviceError(Code.NOT_FOUND, f"digest {digest_id} is not configured")
            if op == "delete":
                del self._digests[digest_id]
                return
            if config is None:
                raise invalid(f"digest {digest_id}: config missing")
            config.validate()
            if op == "insert":
                self._digests[digest_id] = _Digest(config)
            else:
                self._digests[digest_id].config = config
        self._notify()

    def config(self, digest_id: int) -> DigestConfig | None:
        d = self._digests.get(digest_id)
        return None if d is None else d.config

    def configured(self) -> list[int]:
        return list(self._digests)

    def clear(self) -> None:
        with self._lock:
            self._digests.clear()

    def ack(self, digest_id: int, list_id: int) -> bool:
        """Forget the messages of an acknowledged list; False if the list is unknown."""
        with self._lock:
            d = self._digests.get(digest_id)
            if d is None:
                return False
            sent = d.in_flight.pop(list_id, None)
            if sent is None:
                return False
            for value in sent[1]:
                if d.cache.get(value) == list_id:
                    del d.cache[value]
            return True

    # ------------------------------------------------------------ data plane

    def push(self, digest_id: int, values: DigestValue) -> None:
        """Queue one message from the data plane (dropped if the digest is not enabled)."""
        d = self._digests.get(digest_id)
        if d is None:
            self.dropped += 1
            return
        notify = False
        with self._lock:
            if values in d.buffer:
                return
            list_id = d.cache.get(values)
            if list_id is not None:
                sent = d.in_flight.get(list_id)
                if sent is not None and self._clock() - sent[0] < d.config.ack_timeout_ns:
                    return
            if not d.buffer:
                d.first_ns = self._clock()
                notify = True
            d.buffer[values] = None
            limit = d.config.max_list_size
            if limit and len(d.buffer) >= limit:
                notify = True
        if notify or d.config.max_timeout_ns == 0:
            self._notify()

    def flush(self) -> bool:
        """Make what is buffered due at the next ``poll``, whatever the lists'
        timeouts; False if nothing is buffered. The caller polls (no wakeup)."""
        if not any(d.buffer for d in list(self._digests.values())):
            return False  # nothing buffered (read without the lock: a push notifies anyway)
        with self._lock:
            self._flush = True
        return True

    # ------------------------------------------------------------ server side

    def poll(self) -> tuple[list[DigestList], int | None]:
        """Lists due now, and the clock time of the next deadline (None: nothing pending)."""
        now = self._clock()
        out: list[DigestList] = []
        deadline: int | None = None
        with self._lock:
            flush, self._flush = self._flush, False
            for digest_id, d in self._digests.items():
                cfg = d.config
                for list_id, (sent_ns, values) in list(d.in_flight.items()):
                    if now - sent_ns >= cfg.ack_timeout_ns:
                        del d.in_flight[list_id]
                        for value in values:
                            if d.cache.get(value) == list_id:
                                del d.cache[value]
                    else:
                        deadline = _earlier(deadline, sent_ns + cfg.ack_timeout_ns)
                limit = cfg.max_list_size or len(d.buffer)
                while d.buffer and (
                    flush or len(d.buffer) >= limit or now - d.first_ns >= cfg.max_timeout_ns
                ):
                    values = list(d.buffer)[:limit]
                    for value in values:
                        del d.buffer[value]
                        d.cache[value] = self._next_list_id
                    d.in_flight[self._next_list_id] = (now, values)
                    if cfg.ack_timeout_ns:
                        deadline = _earlier(deadline, now + cfg.ack_timeout_ns)
                    out.append(DigestList(digest_id, self._next_list_id, values, now))
                    self._next_list_id += 1
                    d.first_ns = now
                if d.buffer:
                    deadline = _earlier(deadline, d.first_ns + cfg.max_timeout_ns)
        return out, deadline

    def _notify(self) -> None:
        if self._wakeup is not None:
            self._wakeup()


def _earlier(a: int | None, b: int) -> int:
    return b if a is None or b < a else a
