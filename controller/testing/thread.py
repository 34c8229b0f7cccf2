"""A Controller on its own event loop in a thread, for tests and benchmarks that
drive it from ordinary (blocking) code, and a polling helper."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from controller.app import Controller
from controller.config import Config
from controller.p4rt import Connection


class ControllerThread:
    """A Controller on its own event loop in a thread."""

    def __init__(self, cfg: Config, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.cfg = cfg
        self.kwargs = kwargs
        self._ctl: Controller | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)
        assert self._ctl is not None

    @property
    def ctl(self) -> Controller:
        """The controller (made on its loop before the constructor returns)."""
        assert self._ctl is not None
        return self._ctl

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._ctl = ctl = Controller(self.cfg, **self.kwargs)
            ready.set()
            await ctl.run()

        try:
            self.loop.run_until_complete(main())
        finally:
            ready.set()

    @property
    def conn(self) -> Connection:
        """The controller's current P4Runtime connection (it must have one)."""
        conn = self.ctl.link.conn
        assert conn is not None, "the controller is not connected"
        return conn

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run `fn` on the controller's loop; awaits it if it returns a coroutine."""

        async def wrapper() -> Any:
            r = fn()
            if asyncio.iscoroutine(r):
                r = await r
            return r

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def wait_synced(self, timeout: float = 30.0) -> None:
        assert wait_for(lambda: self.ctl.synced.is_set(), timeout), "controller did not sync"

    def stop(self) -> None:
        if self._ctl is not None:
            self.loop.call_soon_threadsafe(self._ctl.stop)
        self.thread.join(10)


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, step: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
