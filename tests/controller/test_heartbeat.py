"""The controller's heartbeat (control.heartbeat_seconds / heartbeat_limit_seconds) and
the services' controller_down policy against p4sim: the `controller_heartbeat`
default action written at sync and then once per interval of the controller's clock
(a clock the test moves), another instance per controller start, the policy flag in
`set_service`; with the controller's clock held still (so its beat stops), the switch
applies the policy while a live session keeps working.

Run: .venv/bin/python -m pytest -q tests/controller/test_heartbeat.py
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from scapy.layers.inet import TCP

from controller import install, p4consts
from controller.admin import event_name
from controller.config import ConfigError, parse_config
from tests.controller.ctlbench import (
    CLIENT_PORT,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    VIP,
    VPORT,
    ControllerThread,
    client_tcp,
    config_text,
    handshake,
    load_cfg,
    server_tcp,
    wait_for,
)
from tests.controller.test_metrics import scrape, value

pytestmark = pytest.mark.timeout(120)


class Clock:
    """The controller's clock, moved by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def service(policy: str) -> str:
    return textwrap.dedent(f"""\
      - name: web
        vip: {VIP}
        port: {VPORT}
        mode: "on"
        controller_down: {policy}
        synack: {{mss: 1460, wscale: 7, window: 0}}
        real_servers:
          - {{address: {RS_IP}, port: {RS_PORT}}}
    """)


def heartbeats_reach(ct: ControllerThread, n: int) -> bool:
    return bool(wait_for(lambda: ct.ctl.stats["heartbeats"] == n))


def beat_args(switch) -> list[int]:
    return list(switch.state.table("controller_heartbeat").default_args)


def test_heartbeat_written_at_sync_and_every_interval(artefacts: tuple[Path, Path], sock,
                                                      switch, tmp_path) -> None:
    clock = Clock(1000.0)
    cfg = load_cfg(config_text(*artefacts, sock, control=(
        "control: {heartbeat_seconds: 2.0, heartbeat_limit_seconds: 7.0}\n")), tmp_path)
    ct = ControllerThread(cfg, clock=clock)
    ct.wait_synced()
    try:
        instance = ct.ctl.timers.heartbeat_instance
        assert 1 <= instance <= 0xFFFFFFFF
        limit = install.heartbeat_limit_ticks(7.0)
        assert limit == 6836  # 7 s in ticks of 1.024 ms, rounded up
        assert wait_for(lambda: beat_args(switch) == [instance, install.heartbeat_ticks(1000.0),
                                                      limit])
        written = ct.ctl.stats["heartbeats"]
        for step in range(1, 4):
            clock.t = 1000.0 + 2.0 * step - 0.01  # not due yet: nothing written
            time.sleep(0.2)  # four timer ticks
            assert ct.ctl.stats["heartbeats"] == written
            clock.t = 1000.0 + 2.0 * step
            assert heartbeats_reach(ct, written + 1)
            written += 1
            assert beat_args(switch) == [instance, install.heartbeat_ticks(clock.t), limit]
    finally:
        ct.stop()
    # Another start is another instance: the switch takes its clock afresh.
    ct2 = ControllerThread(cfg, clock=clock)
    ct2.wait_synced()
    try:
        assert ct2.ctl.timers.heartbeat_instance != instance
        assert wait_for(lambda: beat_args(switch)[0] == ct2.ctl.timers.heartbeat_instance)
    finally:
        ct2.stop()


def test_policy_flag_in_the_service_entry(artefacts: tuple[Path, Path], sock, switch,
                                          tmp_path) -> None:
    for policy, flagged in (("open", False), ("closed", True)):
        ct = ControllerThread(load_cfg(config_text(*artefacts, sock,
                                                   service=service(policy)), tmp_path))
        ct.wait_synced()
        try:
            # set_service(service_id, mode, flags, mss, wscale, window, ttl)
            (entry,) = [e for e in switch.state.table("services").entries()
                        if len(e.args) == 7]
            flags = entry.args[2]
            assert bool(flags & p4consts.SVC_FLAG_FAIL_CLOSED) == flagged
        finally:
            ct.stop()


def _frozen(artefacts: tuple[Path, Path], sock: str, tmp_path: Path,
            policy: str) -> ControllerThread:
    """A controller whose clock stands still after the sync: its heartbeats all carry
    the same beat, which the switch takes as silence once its own clock has gone 0.3 s
    past the first packet that saw the beat."""
    ct = ControllerThread(load_cfg(config_text(
        *artefacts, sock, service=service(policy),
        control="control: {heartbeat_seconds: 0.05, heartbeat_limit_seconds: 0.3}\n"),
        tmp_path), clock=Clock(50.0))
    ct.wait_synced()
    return ct


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_switch_applies_the_policy_when_the_beat_stops(artefacts: tuple[Path, Path], sock,
                                                       switch, tmp_path, policy) -> None:
    ct = _frozen(artefacts, sock, tmp_path, policy)
    try:
        # The first packet anchors the beat; the handshake is proxied as usual.
        cookie = handshake(switch, 1000, sport=41000)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None, "the controller's server SYN"
        switch.send(SERVER_PORT, server_tcp("SA", 5000, syn[TCP].seq + 1, sport=41000))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
        time.sleep(0.6)  # twice the limit on the switch's clock: the beat has not moved
        switch.drain(CLIENT_PORT)
        switch.drain(SERVER_PORT)
        switch.send(CLIENT_PORT, client_tcp("S", 2000, sport=41001))
        if policy == "open":
            # As mode off: the SYN is routed towards the VIP untouched; NAT services go
            # through their buckets: here the one real server.
            p = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].sport == 41001)
            assert p is not None and p[TCP].flags == "S" and p[TCP].seq == 2000
            assert (p["IP"].dst, p[TCP].dport) == (RS_IP, RS_PORT)
            event = p4consts.EV_CONTROLLER_DOWN_PASSED
        else:
            synack = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].dport == 41001)
            assert synack is not None and synack[TCP].flags == "SA"
            switch.send(CLIENT_PORT, client_tcp("A", 2001, synack[TCP].seq + 1, sport=41001))
            rst = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].dport == 41001)
            assert rst is not None and rst[TCP].flags == "R"
            assert rst[TCP].seq == synack[TCP].seq + 1
            event = p4consts.EV_CONTROLLER_DOWN_RESET
        assert wait_for(lambda: switch.counter("global_events", event) == 1)
        # Named in Prometheus, per service and for the switch.
        server = ct.ctl.metrics.serve("127.0.0.1:0", ct.ctl.health)
        try:
            s = scrape(f"http://127.0.0.1:{server.port}")
        finally:
            server.close()
        name = event_name(event)
        assert value(s, "synproxy_service_events_total", service="web", family="ipv4", event=name) == 1
        assert value(s, "synproxy_switch_events_total", event=name) == 1
        # The established session still goes through.
        switch.send(CLIENT_PORT, client_tcp("PA", 1001, cookie + 1, sport=41000,
                                            payload=b"still here"))
        p = switch.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == b"still here")
        assert p is not None and p[TCP].ack == 5001
        # The controller's clock moves again: the next beat brings proxying back.
        ct.ctl.timers.clock.t = 60.0  # type: ignore[attr-defined]
        assert wait_for(lambda: beat_args(switch)[1] == install.heartbeat_ticks(60.0))
        switch.send(CLIENT_PORT, client_tcp("S", 3000, sport=41002))
        synack = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].dport == 41002)
        assert synack is not None and synack[TCP].flags == "SA"
    finally:
        ct.stop()


@pytest.mark.parametrize("text, message", [
    ("control: {heartbeat_seconds: 1, heartbeat_limit_seconds: 1.5}\n",
     r"control\.heartbeat_limit_seconds: 1\.5 s is less than two heartbeats"),
    ("control: {heartbeat_seconds: 0}\n", r"control\.heartbeat_seconds: 0 is out of range"),
])
def test_bad_heartbeat_settings(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config("services: []\n" + text, "c.yaml")


def test_bad_policy_is_named() -> None:
    with pytest.raises(ConfigError, match=r"services\[0\]\.controller_down: 'maybe' is not "
                                          r"one of open, closed"):
        parse_config("services:\n  - {name: a, vip: 10.0.0.1, port: 80, nat: false, "
                     "controller_down: maybe}\n", "c.yaml")
    cfg = parse_config("services:\n  - {name: a, vip: 10.0.0.1, port: 80, nat: false}\n"
                       "control: {heartbeat_limit_seconds: 0}\n", "c.yaml")
    assert cfg.services[0].controller_down == "closed"  # the default
    assert cfg.control.heartbeat_limit_seconds == 0  # off: allowed below two beats
