"""The programs in p4src/ load in the software target and expose the control-plane
names the controller and p4src/README.md rely on.

Run: .venv/bin/python -m pytest -q tests/p4src/test_p4src_loads.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from p4sim.controlplane.p4info import build_p4info
from p4sim.frontend import load

ROOT = Path(__file__).resolve().parents[2]
SYNPROXY = ROOT / "p4src" / "v1model" / "synproxy.p4"
FORWARDING = ROOT / "p4src" / "v1model" / "forwarding.p4"


def _names(p4info, kind: str) -> set[str]:
    return {obj.preamble.name.rsplit(".", 1)[-1] for obj in getattr(p4info, kind)}


@pytest.fixture(scope="module")
def synproxy_p4info():
    return build_p4info(load(SYNPROXY))


@pytest.fixture(scope="module")
def forwarding_p4info():
    return build_p4info(load(FORWARDING))


def test_synproxy_tables(synproxy_p4info) -> None:
    assert _names(synproxy_p4info, "tables") == {
        "services",
        "sessions",
        "cookie_keys",
        "arp_replies",
        "router_macs",
        "ipv4_routes",
        "mac_table",
        "nat_buckets",
        "nat_reverse",
        "defense",
        "passthrough_epoch",
        "martian_sources",
        "controller_heartbeat",
        "overload_config",
        "vip_protocols",  # D15: ICMP and other protocols to a VIP
        # D13: the IPv6 twins (p4src/README.md, "IPv6")
        "services_v6",
        "sessions_v6",
        "martian_sources_v6",
        "nd_replies",
        "ipv6_routes",
        "nat_buckets_v6",
        "nat_reverse_v6",
        "ipv6_chain_policy",
        # D7: FULLNAT
        "fullnat_sessions",
        "fullnat_local_addresses",
    }


def test_synproxy_actions_and_params(synproxy_p4info) -> None:
    actions = {a.preamble.name.rsplit(".", 1)[-1]: a for a in synproxy_p4info.actions}
    params = {name: [p.name for p in a.params] for name, a in actions.items()}
    assert params["set_service"] == [
        "service_id",
        "mode",
        "flags",
        "mss",
        "wscale",
        "window",
        "ttl",
    ]
    assert params["set_client_session"] == ["slot", "service_id", "rs_addr", "rs_port", "gen"]
    assert params["set_server_session"] == [
        "slot",
        "service_id",
        "vip_addr",
        "vip_port",
        "cookie",
        "ts_base",
        "client_window",
        "win_shift",
        "gen",
    ]
    assert params["set_defense_active"] == []
    assert params["set_martian"] == []
    assert params["set_passthrough_epoch"] == ["epoch"]
    assert params["set_heartbeat"] == ["instance", "beat", "limit"]
    assert params["nat_to"] == ["rs_addr", "rs_port"]
    assert params["nat_from"] == ["vip_addr", "vip_port"]
    assert params["set_cookie_keys"] == [
        "key0",
        "key1",
        "epoch",
        "prev_key0",
        "prev_key1",
        "prev_epoch",
    ]


def test_synproxy_stable_ids(synproxy_p4info) -> None:
    # ids.p4 values with the P4Runtime type prefix (0x02 tables, 0x01 actions, 0x16
    # registers).
    tables = {t.preamble.name.rsplit(".", 1)[-1]: t.preamble.id for t in synproxy_p4info.tables}
    assert tables["services"] == 0x02000001
    assert tables["sessions"] == 0x02000002
    assert (tables["nat_buckets"], tables["nat_reverse"]) == (0x02000008, 0x02000009)
    registers = {
        r.preamble.name.rsplit(".", 1)[-1]: r.preamble.id for r in synproxy_p4info.registers
    }
    assert registers["session_state"] == 0x16000001
    assert registers["session_gen"] == 0x1600000B  # new; 4 (defense_active) is retired
    assert 0x16000004 not in registers.values()
    # D16: pending_tag (7) and pending_time (10) are retired, the exact 4-tuple and a
    # clock that does not wrap replace them; cookie and ISN keep their ids.
    assert (registers["pending_cookie"], registers["pending_isn"]) == (0x16000008, 0x16000009)
    assert [registers[f"pending_{n}"] for n in ("client", "vip", "ports", "since", "clock")] == [
        0x1600000C, 0x1600000D, 0x1600000E, 0x1600000F, 0x16000010]
    assert {0x16000007, 0x1600000A}.isdisjoint(registers.values())
    assert tables["martian_sources"] == 0x0200000C
    assert [registers[f"passthrough_{n}"] for n in ("flows", "src", "dst", "ports")] == [
        0x16000005, 0x16000011, 0x16000012, 0x16000013]
    assert (tables["defense"], tables["passthrough_epoch"]) == (0x0200000A, 0x0200000B)
    assert tables["controller_heartbeat"] == 0x0200000D
    assert [registers[f"heartbeat_{n}"] for n in ("instance", "beat", "offset", "checked")] == [
        0x16000014, 0x16000015, 0x16000016, 0x16000017]
    assert (registers["pending_client6"], registers["pending_vip6"]) == (0x16000018, 0x16000019)
    assert (registers["passthrough_src6"], registers["passthrough_dst6"]) == (
        0x1600001A, 0x1600001B)


def test_defense_and_passthrough_epoch_tables(synproxy_p4info) -> None:
    """C8 as the control plane sees it: `defense` keyed by service_id with a direct
    counter and a const no_defense() default; `passthrough_epoch` keyless, its default
    set_passthrough_epoch(1) modifiable, no counter."""
    tables = {t.preamble.name.rsplit(".", 1)[-1]: t for t in synproxy_p4info.tables}
    actions = {a.preamble.id: a.preamble.name.rsplit(".", 1)[-1] for a in synproxy_p4info.actions}
    defense = tables["defense"]
    assert [(m.name, m.bitwidth, m.match_type) for m in defense.match_fields] == [
        ("service_id", 16, 2)  # EXACT
    ]
    assert defense.const_default_action_id != 0
    assert actions[defense.const_default_action_id] == "no_defense"
    assert defense.size == 256
    assert len(defense.direct_resource_ids) == 1
    epoch = tables["passthrough_epoch"]
    assert list(epoch.match_fields) == []
    assert epoch.const_default_action_id == 0
    assert [actions[r.id] for r in epoch.action_refs] == ["set_passthrough_epoch"]
    assert list(epoch.direct_resource_ids) == []
    beat = tables["controller_heartbeat"]  # keyless too; its default set_heartbeat(0, 0, 0)
    assert list(beat.match_fields) == [] and beat.const_default_action_id == 0
    assert [actions[r.id] for r in beat.action_refs] == ["set_heartbeat"]


def test_synproxy_state_and_digests(synproxy_p4info) -> None:
    assert _names(synproxy_p4info, "registers") == {
        "session_state",
        "session_delta",
        "session_tsoff",
        "session_server_wscale",
        "session_gen",
        "passthrough_flows",
        "passthrough_src",
        "passthrough_dst",
        "passthrough_ports",
        "pending_client",
        "pending_vip",
        "pending_ports",
        "pending_cookie",
        "pending_isn",
        "pending_since",
        "pending_clock",
        "pending_client6",
        "pending_vip6",
        "passthrough_src6",
        "passthrough_dst6",
        "heartbeat_instance",
        "heartbeat_beat",
        "heartbeat_offset",
        "heartbeat_checked",
    }
    assert _names(synproxy_p4info, "counters") == {"service_events", "global_events"}
    widths = {r.preamble.name.rsplit(".", 1)[-1]: r.type_spec.bitstring.bit.bitwidth
              for r in synproxy_p4info.registers}
    assert (widths["session_gen"], widths["passthrough_flows"]) == (32, 8)
    assert (widths["pending_since"], widths["pending_clock"]) == (64, 64)
    assert (widths["pending_client6"], widths["pending_vip6"]) == (128, 128)  # D13
    assert (widths["passthrough_src6"], widths["passthrough_dst6"]) == (128, 128)
    members = synproxy_p4info.type_info.structs["session_event_digest_t"].members
    assert [m.name for m in members][-2:] == ["state", "gen"]
    assert [m.type_spec.bitstring.bit.bitwidth for m in members][-2:] == [8, 32]
    assert _names(synproxy_p4info, "digests") == {
        "cookie_ack_digest_t",
        "session_event_digest_t",
        "cookie_ack_digest_v6_t",
        "session_event_digest_v6_t",
    }
    # D13: the IPv6 digests are the IPv4 ones' fields, in order, addresses 128 bits.
    for name in ("cookie_ack_digest_t", "session_event_digest_t"):
        v4 = synproxy_p4info.type_info.structs[name].members
        v6 = synproxy_p4info.type_info.structs[name.replace("_t", "_v6_t")].members
        assert [m.name for m in v6] == [m.name for m in v4]
        assert [128 if m.name.endswith("_addr") else m.type_spec.bitstring.bit.bitwidth
                for m in v4] == [m.type_spec.bitstring.bit.bitwidth for m in v6]
    cpm = {
        c.preamble.name: [m.name for m in c.metadata]
        for c in synproxy_p4info.controller_packet_metadata
    }
    assert cpm["packet_in"] == ["ingress_port", "_pad0", "reason", "slot"]
    assert cpm["packet_out"] == ["egress_port", "_pad0", "flags"]


def test_sessions_table_supports_idle_timeout(synproxy_p4info) -> None:
    (sessions,) = [t for t in synproxy_p4info.tables if t.preamble.name.endswith(".sessions")]
    assert sessions.idle_timeout_behavior != 0  # NOTIFY_CONTROL


def test_forwarding_program_shares_forwarding_names(forwarding_p4info) -> None:
    assert _names(forwarding_p4info, "tables") == {
        "arp_replies",
        "router_macs",
        "ipv4_routes",
        "ipv6_routes",
        "mac_table",
    }


@pytest.mark.parametrize("program", [SYNPROXY, FORWARDING], ids=["synproxy", "forwarding"])
def test_compile_cli(program: Path, tmp_path: Path) -> None:
    out = tmp_path / program.stem
    proc = subprocess.run(
        [sys.executable, "-m", "p4sim.compile_cli", str(program), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    written = list(tmp_path.rglob("p4info.txt"))
    assert written, f"no p4info.txt under {tmp_path}"
    assert written[0].read_text().count("tables {") >= 4
