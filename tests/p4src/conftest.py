"""Fixtures for the p4src/ program tests (helpers in p4bench.py)."""

from __future__ import annotations

import pytest

from p4sim.backend.harness import Harness
from p4sim.frontend import load
from tests.p4src.p4bench import (
    CLIENT_PORT,
    CPU_PORT,
    REFLECT_SESSION_BASE,
    SERVER_PORT,
    SYNPROXY,
    Bench,
    add_routes,
)


@pytest.fixture(scope="session")
def synproxy_program():
    return load(SYNPROXY)


@pytest.fixture
def bench(synproxy_program) -> Bench:
    """synproxy.p4 with routes, reflect clone sessions, keys and one protected service."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    add_routes(h)
    for port in (CLIENT_PORT, SERVER_PORT):
        h.add_clone_session(REFLECT_SESSION_BASE + port, [(port, 1)])
    b = Bench(h)
    b.set_keys()
    b.add_service()
    return b


@pytest.fixture
def bare(synproxy_program) -> Bench:
    """synproxy.p4 with routes only: no keys, no services."""
    h = Harness(synproxy_program, cpu_port=CPU_PORT)
    add_routes(h)
    return Bench(h)
