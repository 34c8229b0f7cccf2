"""Durable run-time changes: the effective config as YAML (what `synproxyctl save`
writes), written atomically, and the service diff a reload (SIGHUP) applies.

The written file holds every key with its value (defaults included); comments of the
file it replaces are not kept. It loads back through `config.load_config` to the same
config (a test checks the round trip).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .config import Config, Service

_INTERNAL = {"path", "lines"}


def _plain(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        # "" and None are how the model says "none" (no metrics listener, no socket,
        # a random cookie key, no health checks): left out, as absent keys
        # (the internal fields are Config's own: a health check's `path` is kept)
        internal = _INTERNAL if isinstance(v, Config) else set()
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)
                if f.name not in internal and getattr(v, f.name) not in ("", None)}
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    return v


def to_yaml(cfg: Config) -> str:
    doc = _plain(cfg)
    head = (f"# written by synproxyctl save at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
            "\n# (the controller's effective config; comments are not kept)\n")
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a
    rename, so a reader (or a crash) sees the old file or the new one, never half."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if p.exists():
            os.chmod(tmp, p.stat().st_mode & 0o777)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclasses.dataclass
class ServiceDiff:
    """What turns the running services into a config's, by service name."""

    added: list[Service] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    # only what the controller alone holds changed (real servers, scheduler, health
    # checks): in place
    servers: list[Service] = dataclasses.field(default_factory=list)
    replaced: list[Service] = dataclasses.field(default_factory=list)  # anything else


def diff_services(running: list[Service], wanted: tuple[Service, ...]) -> ServiceDiff:
    d = ServiceDiff()
    now = {s.name: s for s in running}
    for s in wanted:
        old = now.get(s.name)
        if old is None:
            d.added.append(s)
        elif old != s:
            local = dataclasses.replace(old, real_servers=s.real_servers, health=s.health,
                                        scheduler=s.scheduler) == s
            (d.servers if local else d.replaced).append(s)
    names = {s.name for s in wanted}
    d.removed = [n for n in now if n not in names]
    return d


def other_sections(a: Config, b: Config) -> list[str]:
    """The top-level sections besides `services` that differ (a reload leaves them
    as they run: they need a restart)."""
    return [f.name for f in dataclasses.fields(Config)
            if f.name not in _INTERNAL | {"services"} and getattr(a, f.name) != getattr(b, f.name)]
