"""The controller on a target without P4Runtime register access (as bmv2: PI answers
every RegisterEntry read or write UNIMPLEMENTED), against p4sim running synproxy.p4
with that access switched off: sessions are installed by their entries alone (with
a gen), states come from session_event digests, auto defence is the `defense`
table, the passthrough filter is cleared by an epoch, and a restarted controller
rebuilds everything from table entries (C9).

Run: .venv/bin/python -m pytest -q tests/controller/test_app_noreg.py
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

from controller.install import ip
from controller.sessions import State
from controller.testing.samples import metric_value
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_PORT,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    VIP,
    VPORT,
    ControllerThread,
    SwitchBench,
    client_tcp,
    config_text,
    handshake,
    load_cfg,
    server_tcp,
    start_controller,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)

AUTO_SERVICE = textwrap.dedent(f"""\
    - name: web
      vip: {VIP}
      port: {VPORT}
      mode: auto
      nat: false
      auto: {{syn_rate_on: 20, syn_rate_off: 5, quiet_seconds: 0.3}}
    """)


@pytest.fixture
def switch(sock: str) -> Iterator[SwitchBench]:
    sw = SwitchBench(sock, register_access=False)
    yield sw
    sw.stop()


def start(artefacts: tuple[Path, Path], sock, tmp_path: Path, **kw) -> ControllerThread:
    kw.setdefault("sessions", "sessions: {syn_timeout: 30}\n")
    ct = start_controller(artefacts, sock, tmp_path, **kw)
    assert ct.ctl is not None and ct.ctl.view.register_reads is False
    return ct


def is_syn(p) -> bool:
    return p[TCP].flags == "S"


def entries(switch: SwitchBench, table: str) -> list:
    return list(switch.state.table(table).entries())


def session_state(ct: ControllerThread, slot: int = 1) -> int | None:
    s = ct.ctl.view.table.by_slot.get(slot)
    return None if s is None else int(s.state)


def establish(sw: SwitchBench, isn: int, rs_isn: int, sport: int = 40000,
              transparent: bool = False) -> int:
    cookie = handshake(sw, isn, sport)
    assert sw.recv_tcp(SERVER_PORT, is_syn) is not None
    synack = server_tcp("SA", rs_isn, isn + 1, sport=sport)
    if transparent:  # the server answers as the VIP itself
        synack = server_tcp("SA", rs_isn, isn + 1, sport=sport, src=VIP)
        synack[TCP].sport = VPORT
    sw.send(SERVER_PORT, synack)
    assert sw.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
    return cookie


def test_the_switch_refuses_register_access(artefacts: tuple[Path, Path], sock, switch, tmp_path) -> None:
    """The bench's switch behaves as bmv2 does; the controller says it runs without."""
    ct = start(artefacts, sock, tmp_path)
    try:
        import grpc

        from controller.p4rt import Connection

        async def read_cell() -> str:
            conn = Connection(f"unix:{sock}", 0, 99)
            try:
                await conn.read([ct.ctl.program.codec.read_cell_query("session_state", 1)])
            except grpc.aio.AioRpcError as exc:
                return exc.code().name
            finally:
                await conn.close()
            return "OK"

        assert ct.call(read_cell) == "UNIMPLEMENTED"
    finally:
        ct.stop()


def test_handshake_and_translation_without_registers(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        isn, rs_isn = 1000, 70000
        cookie = establish(switch, isn, rs_isn)
        assert wait_for(lambda: session_state(ct) == State.ESTABLISHED)
        s = ct.ctl.view.table.by_slot[1]
        both = entries(switch, "sessions")
        assert len(both) == 2 and {e.args[-1] for e in both} == {s.gen}  # gen: last param
        assert switch.register("session_gen", 1) == s.gen
        # Client data to the server: NATed, sequence space unchanged.
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=b"hello"))
        up = switch.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == b"hello")
        assert up is not None and (up[IP].dst, up[TCP].dport) == (RS_IP, RS_PORT)
        assert up[TCP].ack == rs_isn + 1  # the ack translated by the delta the switch learnt
        # Server data back: from the VIP, in the cookie's sequence space.
        switch.send(SERVER_PORT, server_tcp("PA", rs_isn + 1, isn + 6, payload=b"world"))
        down = switch.recv_tcp(CLIENT_PORT, lambda p: bytes(p[TCP].payload) == b"world")
        assert down is not None and (down[IP].src, down[TCP].sport) == (VIP, VPORT)
        assert down[TCP].seq == cookie + 1
    finally:
        ct.stop()


def test_fin_states_from_digests_then_expiry(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    sessions = "sessions: {syn_timeout: 30, timeouts: {time_wait: 0.5}}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions,
               control="control: {state_poll_seconds: 0.1}\n")
    try:
        isn, rs_isn = 2000, 90000
        cookie = establish(switch, isn, rs_isn)
        assert wait_for(lambda: session_state(ct) == State.ESTABLISHED)
        switch.send(CLIENT_PORT, client_tcp("FA", isn + 1, cookie + 1))
        assert wait_for(lambda: session_state(ct) == State.FIN_WAIT)
        switch.send(SERVER_PORT, server_tcp("FA", rs_isn + 1, isn + 2))
        assert wait_for(lambda: session_state(ct) == State.LAST_ACK)
        switch.send(CLIENT_PORT, client_tcp("A", isn + 2, cookie + 2))
        assert wait_for(lambda: session_state(ct) == State.TIME_WAIT)
        # TIME_WAIT ages out by its timeout; the entries go.
        assert wait_for(lambda: len(ct.ctl.view.table) == 0, 10)
        assert wait_for(lambda: entries(switch, "sessions") == [], 5)
        freed = ct.ctl.metrics.sessions_freed
        assert wait_for(lambda: metric_value(freed, "timeout_time_wait") == 1, 5)
        assert ct.ctl.stats["stale_events"] == 0
    finally:
        ct.stop()


def test_restart_in_place_ignores_the_slots_old_registers(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    """C5: the slot of a reset session restarts with a new gen by modifying its
    entries; the data plane starts it as SYN_SENT with delta 0 (the old delta is not
    applied), and the new connection is established like the first."""
    ct = start(artefacts, sock, tmp_path,
               sessions="sessions: {syn_timeout: 30, reuse: {close: true}}\n")
    try:
        establish(switch, 100, 5000)
        switch.send(CLIENT_PORT, client_tcp("R", 101))
        assert wait_for(lambda: session_state(ct) == State.CLOSE)
        first = ct.ctl.view.table.by_slot[1].gen
        switch.drain(SERVER_PORT)
        cookie = handshake(switch, 90000)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn[TCP].seq == 90000
        s = ct.ctl.view.table.by_slot[1]
        assert s.gen != first and s.state == State.SYN_SENT
        switch.send(SERVER_PORT, server_tcp("SA", 333, 90001))
        assert wait_for(lambda: session_state(ct) == State.ESTABLISHED)
        switch.send(CLIENT_PORT, client_tcp("PA", 90001, cookie + 1, payload=b"x"))
        up = switch.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == b"x")
        assert up is not None and up[TCP].ack == 334
    finally:
        ct.stop()


def test_auto_defence_by_table_entry(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path, service=AUTO_SERVICE,
               control="control: {auto_poll_seconds: 0.1}\n")
    try:
        assert entries(switch, "defense") == []
        for i in range(60):
            switch.send(CLIENT_PORT, client_tcp("S", i, sport=2000 + i))
        assert wait_for(lambda: len(entries(switch, "defense")) == 1, 5)
        assert ct.ctl.services.auto[1].active
        switch.drain(CLIENT_PORT)
        switch.send(CLIENT_PORT, client_tcp("S", 5, sport=3000))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA") is not None
        assert wait_for(lambda: entries(switch, "defense") == [], 5)
        assert not ct.ctl.services.auto[1].active
        switch.drain(CLIENT_PORT)
        switch.send(CLIENT_PORT, client_tcp("S", 6, sport=3001))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA", 0.5) is None
    finally:
        ct.stop()


def test_passthrough_epoch_bumped_after_a_defended_period(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path, sessions="sessions: {timeouts: {established: 1}}\n")
    try:
        epoch = switch.state.table("passthrough_epoch")
        assert wait_for(lambda: list(epoch.default_args) == [2], 10)
        assert wait_for(lambda: ct.ctl.view.passthrough_epoch == 2)  # once the write returned
    finally:
        ct.stop()


def test_restart_reads_everything_back(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    """C9 without registers: sessions (gen from the entries, taken as established),
    the defence and the passthrough epoch are read back; new gens go on above."""
    # Once on, the defence stays on (quiet_seconds far away). The epoch is moved on by
    # the controller's own clearing, twice, while the established session stays
    # (its idle timeout is far away too).
    service = AUTO_SERVICE.replace("quiet_seconds: 0.3", "quiet_seconds: 3600")
    text = config_text(*artefacts, sock, service=service,
                       sessions="sessions: {syn_timeout: 30, timeouts: {established: 600}}\n",
                       control="control: {auto_poll_seconds: 0.1}\n",
                       extra=f'routes: [{{prefix: "{VIP}/32", next_hop: {RS_IP}}}]\n')
    cfg = load_cfg(text, tmp_path)
    ct = ControllerThread(cfg)
    ct.wait_synced()
    try:
        for i in range(60):
            switch.send(CLIENT_PORT, client_tcp("S", i, sport=2000 + i))
        assert wait_for(lambda: len(entries(switch, "defense")) == 1, 5)
        switch.wait_idle()
        switch.drain(CLIENT_PORT)
        switch.drain(SERVER_PORT)  # the SYNs passed while undefended
        establish(switch, 4000, 8000, sport=41000, transparent=True)
        assert wait_for(lambda: session_state(ct) == State.ESTABLISHED)
        for _ in range(2):
            ct.call(lambda: ct.ctl.timers.clear_passthrough_filter(ct.conn))
        assert list(switch.state.table("passthrough_epoch").default_args) == [3]
        gen = ct.ctl.view.table.by_slot[1].gen
    finally:
        ct.stop()
    ct2 = ControllerThread(cfg)
    try:
        ct2.wait_synced()
        ctl = ct2.ctl
        assert ctl.view.register_reads is False
        s = ctl.view.table.by_slot[1]
        assert (s.gen, s.state, s.flow) == (gen, State.ESTABLISHED,
                                            (ip(CLIENT_IP), ip(VIP), 41000, VPORT))
        assert ctl.services.auto[1].active and ctl.view.passthrough_epoch == 3
        switch.drain(CLIENT_PORT)
        switch.drain(SERVER_PORT)
        handshake(switch, 7000, sport=42000)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        new = ctl.view.table.by_flow[(ip(CLIENT_IP), ip(VIP), 42000, VPORT)]
        assert new.gen > gen
    finally:
        ct2.stop()


def test_session_events_of_another_gen_are_dropped(artefacts: tuple[Path, Path], sock, tmp_path) -> None:
    """A digest reports on the incarnation of the slot its entry had: one of an earlier
    gen (the slot was restarted or freed and installed again since) changes nothing."""
    from controller.app import Controller
    from controller.digests import EV_STATE, SessionEvent

    ctl = Controller(load_cfg(config_text(*artefacts, sock), tmp_path), clock=lambda: 5.0)
    flow = (ip(CLIENT_IP), ip(VIP), 40000, VPORT)
    s = ctl.view.table.allocate(flow, service_id=1, rs_addr=ip(RS_IP), rs_port=RS_PORT, cookie=9,
                           client_isn=1, handshake=None, now=0.0)
    assert s is not None
    ctl.view.table.set_state(s, State.ESTABLISHED, 1.0)

    def event(state: int, gen: int) -> SessionEvent:
        return SessionEvent(s.slot, EV_STATE, 0, 0, flow[0], flow[2], state, gen)

    ctl.handshakes.on_session_event(event(State.FIN_WAIT, s.gen + 1), 2.0)
    assert s.state == State.ESTABLISHED and ctl.stats["stale_events"] == 1
    ctl.handshakes.on_session_event(event(State.FIN_WAIT, s.gen), 3.0)
    assert (s.state, s.state_since) == (State.FIN_WAIT, 3.0)
    assert ctl.stats["stale_events"] == 1
