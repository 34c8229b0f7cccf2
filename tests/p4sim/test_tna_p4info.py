"""P4Info of TNA programs from p4sim: the names bf-p4c gives (`pipe.<Block>.<name>`),
TNA's externs as the P4Info messages P4Runtime has (Counter, DirectCounter, Register,
Digest<T>.pack), arch "tna", idle_timeout; and for the TNA synproxy, the same
control-plane objects, ids and parameters as the v1model program where both have them
(one controller drives both, D14).

Run: .venv/bin/python -m pytest -q tests/p4sim/test_tna_p4info.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from p4.config.v1 import p4info_pb2

from p4sim.controlplane.p4info import build_p4info
from p4sim.frontend import load

ROOT = Path(__file__).resolve().parents[2]
FORWARD = Path(__file__).parent / "tna_programs" / "forward.p4"
SYNPROXY_TNA = ROOT / "p4src" / "tna" / "synproxy.p4"
SYNPROXY_V1MODEL = ROOT / "p4src" / "v1model" / "synproxy.p4"

# v1model objects the TNA program does not have yet (p4src/README.md, "TNA").
NOT_YET_ON_TNA = {
    "overload_config",  # D15
    "vip_protocols",  # D15: ICMP and other protocols to a VIP
    # D13: the IPv6 twins and their direct counters
    *(f"{t}{c}" for t in ("services_v6", "sessions_v6", "martian_sources_v6", "nd_replies",
                         "ipv6_routes", "nat_buckets_v6", "nat_reverse_v6")
      for c in ("", "_counter")),
    "ipv6_chain_policy",
    # D7: FULLNAT and its direct counters
    *(f"{t}{c}" for t in ("fullnat_sessions", "fullnat_local_addresses") for c in ("", "_counter")),
}
#: D13: the IPv6 digests of the v1model program, not sent by the TNA program yet.
DIGESTS_NOT_YET_ON_TNA = {"cookie_ack_digest_v6_t", "session_event_digest_v6_t"}


@pytest.fixture(scope="module")
def forward() -> p4info_pb2.P4Info:
    return build_p4info(load(FORWARD))


@pytest.fixture(scope="module")
def tna() -> p4info_pb2.P4Info:
    return build_p4info(load(SYNPROXY_TNA, include_dirs=[str(ROOT / "p4src")]))


@pytest.fixture(scope="module")
def v1model() -> p4info_pb2.P4Info:
    return build_p4info(load(SYNPROXY_V1MODEL))


def _by_alias(objs: Any) -> dict[str, Any]:
    return {o.preamble.alias: o for o in objs}


def test_forward_names_and_externs(forward: p4info_pb2.P4Info) -> None:
    assert forward.pkg_info.arch == "tna"
    assert [t.preamble.name for t in forward.tables] == [
        "pipe.Ig.mac_table",
        "pipe.Ig.known_sources",
    ]
    (reg,) = forward.registers
    assert reg.preamble.name == "pipe.Ig.port_packets"
    assert reg.size == 512
    assert reg.type_spec.bitstring.bit.bitwidth == 16
    (dc,) = forward.direct_counters
    assert dc.preamble.name == "pipe.Ig.mac_table_counter"
    assert dc.spec.unit == p4info_pb2.CounterSpec.BOTH
    assert dc.direct_table_id == forward.tables[0].preamble.id
    (digest,) = forward.digests
    assert digest.preamble.name == "learn_digest_t"
    fields = [m.name for m in forward.type_info.structs["learn_digest_t"].members]
    assert fields == ["mac", "port"]


def test_synproxy_tables_match_v1model(tna: p4info_pb2.P4Info, v1model: p4info_pb2.P4Info) -> None:
    t, v = _by_alias(tna.tables), _by_alias(v1model.tables)
    assert set(t) == set(v) - NOT_YET_ON_TNA
    for alias, table in t.items():
        other = v[alias]
        assert table.preamble.id == other.preamble.id, alias
        assert table.preamble.name == "pipe." + other.preamble.name
        keys = [(m.name, m.bitwidth, m.match_type) for m in table.match_fields]
        assert keys == [(m.name, m.bitwidth, m.match_type) for m in other.match_fields], alias
        assert table.size == other.size, alias
        assert table.idle_timeout_behavior == other.idle_timeout_behavior, alias
        assert len(table.direct_resource_ids) == len(other.direct_resource_ids), alias


def test_synproxy_actions_match_v1model(tna: p4info_pb2.P4Info, v1model: p4info_pb2.P4Info) -> None:
    t, v = _by_alias(tna.actions), _by_alias(v1model.actions)
    assert set(t) <= set(v)
    assert {"set_service", "set_client_session", "set_server_session", "set_cookie_keys",
            "route_to", "bridge_to", "flood", "reply_arp"} <= set(t)  # fmt: skip
    for alias, action in t.items():
        other = v[alias]
        assert action.preamble.id == other.preamble.id, alias
        params = [(p.name, p.bitwidth) for p in action.params]
        assert params == [(p.name, p.bitwidth) for p in other.params], alias


def test_synproxy_counters_registers_digest(
    tna: p4info_pb2.P4Info, v1model: p4info_pb2.P4Info
) -> None:
    assert set(_by_alias(tna.counters)) == set(_by_alias(v1model.counters))
    for alias, c in _by_alias(tna.counters).items():
        other = _by_alias(v1model.counters)[alias]
        assert (c.size, c.spec.unit) == (other.size, other.spec.unit), alias
    regs = _by_alias(tna.registers)
    assert set(regs) == {"session_gen", "session_state", "session_delta", "session_tsoff",
                         "session_server_wscale", "heartbeat_instance", "heartbeat_beat",
                         "heartbeat_offset", "heartbeat_checked", "pending_client",
                         "pending_vip", "pending_ports", "pending_cookie", "pending_isn",
                         "pending_since", "pending_clock", "passthrough_flows",
                         "passthrough_src", "passthrough_dst", "passthrough_ports"}
    for alias, r in regs.items():
        other = _by_alias(v1model.registers)[alias]
        assert r.preamble.id == other.preamble.id
        assert (r.size, r.type_spec) == (other.size, other.type_spec), alias
    digests = {d.preamble.name for d in tna.digests}
    assert digests == {d.preamble.name for d in v1model.digests} - DIGESTS_NOT_YET_ON_TNA
    for name in digests:
        assert tna.type_info.structs[name] == v1model.type_info.structs[name], name
    cpm = {m.preamble.name: [f.name for f in m.metadata] for m in tna.controller_packet_metadata}
    v1 = {m.preamble.name: [f.name for f in m.metadata] for m in v1model.controller_packet_metadata}
    assert cpm == v1
