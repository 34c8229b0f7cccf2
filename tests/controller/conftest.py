"""Fixtures for the controller tests: synproxy.p4 compiled once, a p4sim switch per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller.ctlbench import SwitchBench, compile_synproxy


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return compile_synproxy(tmp_path_factory.mktemp("build"))


@pytest.fixture
def sock(tmp_path: Path) -> str:
    return str(tmp_path / "sw.sock")


@pytest.fixture
def switch(sock: str) -> Iterator[SwitchBench]:
    sw = SwitchBench(sock)
    yield sw
    sw.stop()
