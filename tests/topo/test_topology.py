"""The topology's controller config: valid for either family on a dual-stack topology.

    .venv/bin/python -m pytest -q tests/topo/test_topology.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.config import ConfigError, check_program, parse_config
from controller.limits import ProgramLimits
from topo.net import controller_config
from topo.targets import Artifacts
from topo.topology import default_topology


class _Switch:
    grpc_address = "unix:/tmp/none.sock"


def _config(family: int, ipv6: bool = True) -> str:
    topo = default_topology(ipv6=ipv6)
    art = Artifacts(Path("p4info.txt"), Path("prog.p4sim"))
    return yaml.safe_dump(controller_config(topo, _Switch(), art, family=family))


def test_ipv4_only_topology_config_is_unchanged_by_ipv6() -> None:
    cfg = parse_config(_config(4, ipv6=False), "t.yaml")
    assert cfg.services[0].vip == "10.0.0.100"
    assert all(not i.address6 for i in cfg.interfaces)
    check_program(cfg, ProgramLimits())


def test_dual_stack_config_per_family() -> None:
    v4 = parse_config(_config(4), "t.yaml")
    v6 = parse_config(_config(6), "t.yaml")
    assert v4.services[0].vip == "10.0.0.100"
    assert v6.services[0].vip == "2001:db8::100"
    assert [r.address for r in v6.services[0].real_servers] == ["2001:db8:10::10",
                                                                "2001:db8:11::10"]
    assert {r.prefix for r in v6.routes} >= {"2001:2::/48", "198.18.0.0/15", "2001:db8:1::/64"}
    check_program(v6, ProgramLimits())
    # A program without the IPv6 tables refuses them (and says which).
    with pytest.raises(ConfigError, match=r"interfaces\[0\]\.address6: .* is IPv6"):
        check_program(v6, ProgramLimits(ipv6=False))
