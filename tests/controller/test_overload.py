"""D15 on the controller's side (controller/overload.py): the config's rates and ICMP /
protocol policies (line-pointing errors), and against p4sim: the policies and rates
installed at start-up, the source meters' key random and kept across a restart, rates
changed at run time through the control socket (and `save`), and what the switch held
read back at the next start-up.

Run: .venv/bin/python -m pytest -q tests/controller/test_overload.py
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from controller import overload, p4consts
from controller.config import ConfigError, load_config, parse_config
from controller.control import CommandError, ControlServer, request
from controller.overload import Rate, parse_rate
from controller.p4info import P4InfoIndex, load_p4info
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    MAC1,
    RS_IP,
    RS_PORT,
    VIP,
    VPORT,
    ControllerThread,
    SwitchBench,
    config_text,
    load_cfg,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)


# ----------------------------------------------------------------------------- rates


@pytest.mark.parametrize("text, rate, config", [
    ("100", Rate(100), (100, 100, 100, 100)),
    ("100/250", Rate(100, 250), (100, 100, 250, 250)),
    ("100/250:30", Rate(100, 250, 30), (100, 30, 250, 30)),
    ("7:1", Rate(7, 0, 1), (7, 1, 7, 1)),
])
def test_rate_text_and_meter_config(text: str, rate: Rate, config: tuple) -> None:
    assert parse_rate(text) == rate
    assert rate.meter_config() == config
    assert parse_rate(rate.text()) == rate


@pytest.mark.parametrize("text, message", [
    ("fast", "not RATE[/PEAK][:BURST]"),
    ("0", "rate 0 is out of range"),
    ("100/50", "peak 50 must be between the rate"),
    ("10:-1", "burst -1 is out of range"),
])
def test_bad_rate_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rate(text)


# ----------------------------------------------------------------------------- config

SERVICES = """\
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    real_servers: [{address: 10.1.0.5, port: 8080}]
    icmp: answer
    icmp_rate: {rate: 10}
  - name: ssh
    vip: 192.0.2.20
    port: 22
    nat: false
    icmp: pass
    ipsec: pass
    other_protocols: drop
    syn_rate: {rate: 500, peak: 800, burst: 100}
overload:
  early_drop: 0.5
  source_syn: {rate: 50}
  digests: {rate: 1000}
  packet_ins: {rate: 200, burst: 20}
"""


def test_config_reads_policies_and_rates() -> None:
    cfg = parse_config(SERVICES, "cfg.yaml")
    web, ssh = cfg.services
    assert (web.icmp, web.icmp_rate, web.ipsec, web.other_protocols) == \
        ("answer", Rate(10), "drop", "drop")
    assert (ssh.icmp, ssh.ipsec, ssh.syn_rate) == ("pass", "pass", Rate(500, 800, 100))
    assert cfg.overload == overload.Overload(None, 0.5, Rate(50), Rate(1000), Rate(200, 0, 20))
    plain = parse_config("services: [{name: a, vip: 192.0.2.1, port: 80, nat: false}]")
    s = plain.services[0]
    assert (s.icmp, s.ipsec, s.other_protocols, s.syn_rate, s.icmp_rate) == \
        ("drop", "drop", "drop", None, None)
    assert plain.overload == overload.Overload()


@pytest.mark.parametrize("change, line, message", [
    (("icmp: answer", "icmp: reply"), 6, "services[0].icmp: 'reply' is not one of"),
    (("ipsec: pass", "ipsec: maybe"), 13, "services[1].ipsec"),
    # pass routes to the VIP: a NAT service's VIP is no server
    (("icmp: answer", "icmp: pass"), 6, "services[0].icmp: pass needs a transparent service"),
    (("syn_rate: {rate: 500, peak: 800", "syn_rate: {rate: 500, peak: 80"), 15,
     "services[1].syn_rate: peak 80 is below the rate 500"),
    (("source_syn: {rate: 50}", "source_syn: {rate: 0}"), 18, "overload.source_syn.rate"),
    (("early_drop: 0.5", "early_drop: 2"), 17, "overload.early_drop"),
    (("packet_ins: {rate: 200,", "packet_ins: {rat: 200,"), 20, "overload.packet_ins.rat: unknown key"),
    # a second service on web's VIP with another ICMP policy
    (("  - name: ssh\n    vip: 192.0.2.20", "  - name: ssh\n    vip: 192.0.2.10"), 12,
     "services[1].icmp: icmp differs from service 'web' on the same VIP 192.0.2.10"),
])
def test_config_errors_point_at_the_line(change: tuple[str, str], line: int, message: str) -> None:
    old, new = change
    assert old in SERVICES
    with pytest.raises(ConfigError) as e:
        parse_config(SERVICES.replace(old, new), "cfg.yaml")
    assert str(e.value).startswith(f"cfg.yaml:{line}: "), str(e.value)
    assert message in str(e.value)


# ----------------------------------------------------------------------------- the switch

ICMP_SERVICE = textwrap.dedent(f"""\
      - name: web
        vip: {VIP}
        port: {VPORT}
        mode: "on"
        synack: {{mss: 1460, wscale: 7, window: 0}}
        real_servers:
          - {{address: {RS_IP}, port: {RS_PORT}}}
        icmp: answer
        icmp_rate: {{rate: 5, burst: 2}}
        syn_rate: {{rate: 300, peak: 600, burst: 60}}
    """)
OVERLOAD = "overload: {early_drop: 0.25, digests: {rate: 1000}, source_syn: {rate: 40}}\n"


def echo(seq: int) -> Ether:
    return Ether(bytes(Ether(src=CLIENT_MAC, dst=MAC1) / IP(src=CLIENT_IP, dst=VIP, ttl=30)
                       / ICMP(type=8, id=9, seq=seq) / Raw(b"ping" * 8)))


def held(sw: SwitchBench, meter: str, index: int) -> tuple[int, int, int, int] | None:
    c = sw.state.meters[sw.full_name(sw.state.meters, meter)].config(index)
    return None if c is None else (c.cir, c.cburst, c.pir, c.pburst)


def overload_default(sw: SwitchBench) -> tuple[int, ...]:
    """The args of overload_config's default action (key0, key1, early_drop) or ()."""
    t = sw.state.tables[sw.full_name(sw.state.tables, "overload_config")]
    return tuple(t.default_entry.args)


def config_file(artefacts: tuple[Path, Path], sock: str, tmp_path: Path, ctl_sock: str) -> Path:
    text = config_text(*artefacts, sock, OVERLOAD, service=ICMP_SERVICE,
                       control=f"control: {{socket: {ctl_sock}}}\n")
    path = tmp_path / "synproxy.yaml"
    path.write_text(text)
    return path


def test_policies_rates_and_key_at_start_up_and_restart(
        artefacts: tuple[Path, Path], sock: str, switch: SwitchBench, tmp_path: Path) -> None:
    ctl_sock = str(tmp_path / "ctl.sock")
    path = config_file(artefacts, sock, tmp_path, ctl_sock)
    cfg = load_config(path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        server = ControlServer(ct.ctl, ctl_sock)
        ct.call(server.start)
        sid = ct.ctl.service_id("web")
        # The echo policy: answered by the switch, exactly turned around.
        switch.send(CLIENT_PORT, echo(1))
        got = switch.recv(CLIENT_PORT)
        assert got is not None and ICMP in got
        assert (got[ICMP].type, got[IP].src, got[IP].dst, got[IP].ttl) == (0, VIP, CLIENT_IP, 64)
        assert bytes(got[ICMP].payload) == b"ping" * 8
        # Rates from the config, the key random (not the unset default).
        assert held(switch, "icmp_echo_meter", sid) == (5, 2, 5, 2)
        assert held(switch, "service_syn_meter", sid) == (300, 60, 600, 60)
        assert held(switch, "controller_meter", 0) == (1000, 1000, 1000, 1000)
        assert held(switch, "controller_meter", 1) is None
        for cell in (0, 777):
            assert held(switch, "source_syn_meter_a", cell) == (40, 40, 40, 40)
            assert held(switch, "source_syn_meter_b", cell) == (40, 40, 40, 40)
        key0, key1, early = overload_default(switch)
        assert early == 64 and (key0, key1) != (0, 0)
        # Run time: the control socket changes rates; the switch follows at once.
        result = request(ctl_sock, {"cmd": "rate_set", "meter": "syn_rate", "service": "web",
                                    "rate": "100/200:10"})
        assert result["services"]["web"]["syn_rate"] == "100/200:10"
        assert held(switch, "service_syn_meter", sid) == (100, 10, 200, 10)
        request(ctl_sock, {"cmd": "rate_set", "meter": "packet_ins", "rate": "50"})
        assert held(switch, "controller_meter", 1) == (50, 50, 50, 50)
        request(ctl_sock, {"cmd": "rate_set", "meter": "source_syn", "rate": "off"})
        assert held(switch, "source_syn_meter_a", 5) is None
        request(ctl_sock, {"cmd": "early_drop", "probability": 1})
        assert overload_default(switch) == (key0, key1, 256)
        for bad in ({"meter": "syn_rate", "rate": "10"},                     # no service
                    {"meter": "digests", "rate": "10", "service": "web"},    # switch-wide
                    {"meter": "syn_rate", "rate": "10", "service": "nope"},
                    {"meter": "sizzle", "rate": "10"},
                    {"meter": "digests", "rate": "10/5"}):
            with pytest.raises(CommandError) as e:
                request(ctl_sock, {"cmd": "rate_set", **bad})
            assert e.value.invalid
        with pytest.raises(CommandError):
            request(ctl_sock, {"cmd": "early_drop", "probability": 1.5})
        assert held(switch, "controller_meter", 0) == (1000, 1000, 1000, 1000)  # untouched
        saved = tmp_path / "saved.yaml"
        request(ctl_sock, {"cmd": "save", "path": str(saved)})
        ct.call(server.close)
    finally:
        ct.stop()
    # `save` keeps what was changed at run time.
    again = load_config(saved)
    assert again.services[0].syn_rate == Rate(100, 200, 10)
    assert again.overload.packet_ins == Rate(50) and again.overload.source_syn is None
    assert again.overload.early_drop == 1
    # A restart (same pipeline): the key the switch holds is kept; the rates it held
    # are read back (the run-time ones, reported) and the config's written again.
    ct2 = ControllerThread(cfg)
    try:
        ct2.wait_synced()
        assert overload_default(switch) == (key0, key1, 64)
        assert held(switch, "service_syn_meter", sid) == (300, 60, 600, 60)
        assert held(switch, "source_syn_meter_a", 5) == (40, 40, 40, 40)
        found = ct2.ctl.admin.rates()["found_at_start"]
        assert found == {f"service_syn_meter[{sid}]": "100/200:10",
                         "controller_meter[1]": "50", "source_syn_meter_a[all]": None,
                         "source_syn_meter_b[all]": None}
    finally:
        ct2.stop()


def test_configured_key_and_answer_meter(artefacts: tuple[Path, Path], sock: str,
                                         switch: SwitchBench, tmp_path: Path) -> None:
    """overload.key is written as given (little-endian words, as the cookie key);
    the echo answers stop at the configured burst."""
    extra = 'overload: {key: "0102030405060708"}\n'
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock, extra, service=ICMP_SERVICE),
                                   tmp_path))
    try:
        ct.wait_synced()
        assert overload_default(switch)[:2] == (0x04030201, 0x08070605)
        for seq in range(4):
            switch.send(CLIENT_PORT, echo(seq))
        assert wait_for(switch.wait_idle)
        answers = [p for p in switch.drain(CLIENT_PORT) if ICMP in p and p[ICMP].type == 0]
        assert len(answers) == 2, "the burst of 2 answers, then the meter drops"
    finally:
        ct.stop()


def test_protocol_entries_without_fragment_entry(artefacts: tuple[Path, Path]) -> None:
    """A service that does not drop fragments has no vport-0 deny entry: ICMP (here:
    dropped) gets one of its own that brings it to the policy; AH and ESP, passed,
    none (they are routed, fragments too, as without the policy)."""
    p4 = P4InfoIndex(load_p4info(artefacts[0]))
    cfg = parse_config("services: [{name: a, vip: 192.0.2.1, port: 80, nat: false, "
                       "drop_fragments: false, ipsec: pass}]")
    entries = overload.protocol_entries(p4, {3: cfg.services[0]})
    services_id, policies_id = p4.table_id("services"), p4.table_id("vip_protocols")
    deny = [e for e in entries if e.table_id == services_id]
    assert len(deny) == 1 and deny[0].match[1].ternary.value == b"\x01"
    assert all(e.action.action.action_id == p4.action_id("deny_service") for e in deny)
    actions = {}
    for e in entries:
        if e.table_id == policies_id:
            proto = [m.ternary.value for m in e.match if m.HasField("ternary")]
            actions[proto[0][-1] if proto else None] = (e.action.action.action_id, e.priority)
    assert actions == {1: (p4.action_id("protocol_drop"), 10),
                       50: (p4.action_id("protocol_pass"), 10),
                       51: (p4.action_id("protocol_pass"), 10),
                       None: (p4.action_id("protocol_drop"), 1)}


def test_a_program_without_d15_objects_gets_no_policy_or_rate(
        artefacts: tuple[Path, Path]) -> None:
    """The TNA program has no vip_protocols, overload_config or meters yet: nothing of
    D15 is written to it (startup would fail on the missing table), while the v1model
    program gets its entries."""
    golden = Path(__file__).parents[1] / "p4src" / "golden" / "synproxy_tna.p4info.txt"
    tna = P4InfoIndex(load_p4info(golden))
    v1 = P4InfoIndex(load_p4info(artefacts[0]))
    assert not overload.has_overload_objects(tna) and overload.has_overload_objects(v1)
    cfg = parse_config("services: [{name: a, vip: 192.0.2.1, port: 80, nat: false, "
                       "drop_fragments: false, icmp: drop}]")
    assert overload.protocol_entries(tna, {3: cfg.services[0]}) == []
    assert overload.protocol_entries(v1, {3: cfg.services[0]})

    class NoWrites:
        async def write(self, updates: list) -> None:
            raise AssertionError(f"written: {updates}")

    state = overload.OverloadState(cfg.overload)
    state.key = 1
    asyncio.run(overload.write(NoWrites(), tna, state, overload.meter_plan(
        cfg.overload, {3: cfg.services[0]})))


# ----------------------------------------------------------------------------- synproxyctl


@pytest.mark.parametrize("argv, req", [
    (["rates"], {"cmd": "rates"}),
    (["rate", "syn_rate", "100/200:10", "--service", "web"],
     {"cmd": "rate_set", "meter": "syn_rate", "rate": "100/200:10", "service": "web"}),
    (["rate", "digests", "off"], {"cmd": "rate_set", "meter": "digests", "rate": "off"}),
    (["early-drop", "0.125"], {"cmd": "early_drop", "probability": 0.125}),
])
def test_cli_requests(argv: list[str], req: dict) -> None:
    from controller.cli import build_parser, request_of

    assert request_of(build_parser().parse_args([*argv, "--socket", "/nonexistent"])) == req


@pytest.mark.parametrize("argv, message", [
    (["rate", "digests", "100/5"], "peak 5 must be between the rate"),
    (["rate", "sizzle", "100"], "invalid choice: 'sizzle'"),
    (["early-drop", "1.5"], "probability 1.5 is out of range 0..1"),
])
def test_cli_refuses_bad_rates(argv: list[str], message: str, capsys) -> None:
    """Exit 2 and a message naming what was wrong, before any socket is tried."""
    from controller.cli import main

    with pytest.raises(SystemExit) as e:
        main([*argv, "--socket", "/nonexistent"])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_service_meter_needs_a_service(capsys) -> None:
    from controller.cli import main

    assert main(["rate", "syn_rate", "100", "--socket", "/nonexistent"]) == 2
    assert "syn_rate needs --service NAME" in capsys.readouterr().err


def test_vip_policy_follows_service_changes(artefacts: tuple[Path, Path], sock: str,
                                            switch: SwitchBench, tmp_path: Path) -> None:
    """Two services on one VIP share its ICMP policy: a service added at run time with
    another policy is refused; removing the service that owns the VIP's entries
    hands them to the other, so echoes are still answered (and counted for it)."""
    second = ICMP_SERVICE.replace("name: web", "name: api").replace(f"port: {VPORT}\n",
                                                                    "port: 8443\n")
    ctl_sock = str(tmp_path / "ctl.sock")
    cfg = load_cfg(config_text(*artefacts, sock, service=ICMP_SERVICE + second,
                               control=f"control: {{socket: {ctl_sock}}}\n"), tmp_path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        server = ControlServer(ct.ctl, ctl_sock)
        ct.call(server.start)
        web, api = ct.ctl.service_id("web"), ct.ctl.service_id("api")
        with pytest.raises(CommandError, match="icmp differs from service 'web'") as e:
            request(ctl_sock, {"cmd": "service_add", "service": {
                "name": "dns", "vip": VIP, "port": 853, "icmp": "drop",
                "real_servers": [{"address": RS_IP, "port": 853}]}})
        assert e.value.invalid
        request(ctl_sock, {"cmd": "rate_set", "meter": "icmp_rate", "service": "api",
                           "rate": "9"})
        assert held(switch, "icmp_echo_meter", web) == (9, 9, 9, 9)
        assert held(switch, "icmp_echo_meter", api) == (9, 9, 9, 9)
        request(ctl_sock, {"cmd": "service_remove", "name": "web"})
        assert held(switch, "icmp_echo_meter", web) is None
        answered = api * p4consts.EVENTS_PER_SERVICE + p4consts.EV_ICMP_ECHO_ANSWERED
        before = switch.counter("service_events", answered)
        switch.send(CLIENT_PORT, echo(5))
        got = switch.recv(CLIENT_PORT)
        assert got is not None and got[ICMP].type == 0
        assert wait_for(lambda: switch.counter("service_events", answered) == before + 1)
        ct.call(server.close)
    finally:
        ct.stop()
