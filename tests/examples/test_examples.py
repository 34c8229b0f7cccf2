"""The example configurations in examples/ load through the controller's validator
(so they cannot drift from it), show every mode, and state the defaults truly.

Run: .venv/bin/python -m pytest -q tests/examples
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import (
    AutoDefence,
    Cookie,
    Sessions,
    Switch,
    SynAckOptions,
    load_config,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.glob("**/*.yaml"))


def test_there_are_examples() -> None:
    assert {p.name for p in FILES} >= {"synproxy.yaml", "minimal.yaml"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.services, "an example configures at least one service"
    assert cfg.interfaces and cfg.routes


def test_dual_stack_example_installs_on_the_program() -> None:
    from controller.config import check_program
    from controller.limits import ProgramLimits

    cfg = load_config(EXAMPLES / "dual-stack.yaml")
    check_program(cfg, ProgramLimits())
    web6 = {s.name: s for s in cfg.services}["web6"]
    assert web6.synack.mss == 1440 and all(":" in r.address for r in web6.real_servers)


def test_full_example_shows_every_mode() -> None:
    cfg = load_config(EXAMPLES / "synproxy.yaml")
    modes = {(s.mode, s.nat) for s in cfg.services}
    assert {"on", "auto", "off"} <= {mode for mode, _ in modes}
    assert ("on", True) in modes and ("on", False) in modes  # NAT and transparent
    vips = {s.vip for s in cfg.services if s.nat}
    servers = {rs.address for s in cfg.services for rs in s.real_servers}
    assert len(vips) == 1 and len(servers) == 2  # one VIP, two real servers


def test_full_example_states_the_defaults() -> None:
    """synproxy.yaml says "the value shown is the default unless the comment says
    otherwise": the sections it spells out in full equal the validator's defaults."""
    cfg = load_config(EXAMPLES / "synproxy.yaml")
    by_name = {s.name: s for s in cfg.services}
    assert cfg.switch == Switch()
    assert cfg.sessions == Sessions()
    assert cfg.cookie == Cookie()
    assert by_name["web"].synack == SynAckOptions()
    assert by_name["shop"].auto == AutoDefence()
    web = by_name["web"]
    assert (web.protocol, web.scheduler, web.defer, web.drop_udp, web.drop_fragments) == (
        "tcp", "wrr", False, True, True)
