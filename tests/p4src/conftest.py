"""Fixtures for the p4src/ program tests (helpers in p4bench.py): the synproxy.p4
bench, and the bench on a clock the test moves (`clock`, `tb`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from p4sim.backend.harness import Harness
from p4sim.frontend import load
from tests.p4src.p4bench import (
    CPU_PORT,
    SYNPROXY,
    Bench,
    add_routes,
    protected,
)


@pytest.fixture(scope="session")
def synproxy_program():
    return load(SYNPROXY)


@pytest.fixture
def bench(synproxy_program) -> Bench:
    """synproxy.p4 with routes, reflect clone sessions, keys and one protected service."""
    return protected(Harness(synproxy_program, cpu_port=CPU_PORT))


@pytest.fixture
def bare(synproxy_program) -> Bench:
    """synproxy.p4 with routes only: no keys, no services."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    add_routes(h)
    return Bench(h)


class Clock:
    """The switch's clock, in ns, moved by the test."""

    def __init__(self) -> None:
        self.ns = 5_000_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)

    def advance_us(self, us: int) -> None:
        self.ns += us * 1000


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tb(synproxy_program, clock: Clock) -> Iterator[Bench]:
    """The `bench` fixture (keys, one protected service, window 64240) on the test's
    clock."""
    yield protected(Harness(synproxy_program, cpu_port=CPU_PORT, clock=clock), window=64240)
