"""Make Debian's Mininet importable from the project's virtualenv.

Mininet 2.3.0 comes from Debian (`apt-get install mininet`): a pure-Python package in
`/usr/lib/python3/dist-packages/mininet` plus the `mnexec` binary. The virtualenv runs
a different interpreter (pyenv's 3.11, not Debian's) and does not see Debian's
dist-packages, and it has to stay that way: that folder also holds Debian's own
yaml, numpy, grpc... whose versions differ from the ones `pyproject.toml` pins.

Two ways were possible: run Mininet scripts with Debian's `/usr/bin/python3`, which
lacks grpcio, p4runtime and the project's own packages; or load only the `mininet`
package from Debian's folder into the venv's interpreter. This module does the
second: it imports the `mininet` package from that one folder under its own name,
without adding the folder to `sys.path`, so nothing else of Debian's leaks in. Its
submodules then import through the package's own `__path__`. Mininet needs only the
standard library, which is why this works, and both interpreters are 3.11.

`load()` returns the package or raises `MininetMissing` with what to install (also
when `mnexec` or `ifconfig` is missing: Mininet would exit the process for those);
`missing()` says why Mininet cannot be used (None when it can), for tests that skip.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
TOOLS = ("mnexec", "ifconfig")  # Mininet's own binary; net-tools, which it configures with
INSTALL_HINT = "install it with `apt-get install -y mininet` (or `make deps`)"


class MininetMissing(RuntimeError):
    """Mininet (its Python package or `mnexec`) is not installed."""


def _search_path() -> list[str]:
    """Folders that may hold the `mininet` package: Debian's, unless overridden."""
    override = os.environ.get("P4SYNPROXY_MININET_PATH")
    return [override] if override else [str(DIST_PACKAGES)]


def load() -> ModuleType:
    """Import and return the `mininet` package (idempotent)."""
    if "mininet" in sys.modules:
        return sys.modules["mininet"]
    for tool in TOOLS:  # Mininet itself would sys.exit() on the first node without them
        if shutil.which(tool) is None:
            raise MininetMissing(f"Mininet needs `{tool}` on PATH: {INSTALL_HINT}")
    # mininet.log installs its own Logger class process-wide (logging.setLoggerClass), so
    # every logger created afterwards, the project's too, would become a MininetLogger at
    # its own level. Mininet keeps its logger; everyone else keeps the standard class.
    logger_class = logging.getLoggerClass()
    try:
        return _import()
    finally:
        logging.setLoggerClass(logger_class)


def _import() -> ModuleType:
    if importlib.util.find_spec("mininet") is not None:  # installed into this interpreter
        return importlib.import_module("mininet")
    where = _search_path()
    spec = importlib.machinery.PathFinder.find_spec("mininet", where)
    if spec is None or spec.loader is None:
        raise MininetMissing(f"no Mininet Python package in {', '.join(where)}: {INSTALL_HINT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mininet"] = module
    try:
        spec.loader.exec_module(module)
        importlib.import_module("mininet.net")  # fails here, not later, if it cannot load
    except Exception as e:
        for name in [n for n in sys.modules if n == "mininet" or n.startswith("mininet.")]:
            del sys.modules[name]
        raise MininetMissing(f"Mininet in {spec.origin} does not load: {e}") from e
    return module


def missing() -> str | None:
    """Why Mininet cannot be used here, or None if it can."""
    try:
        load()
    except MininetMissing as e:
        return str(e)
    return None
