"""Session work of the controller against p4sim running synproxy.p4: SYN
retransmission and give-up (C3), held early data (C4), reuse of closing sessions (C5),
expiry (C6), a full table, key rotation (C7) and auto defence (C8).

Run: .venv/bin/python -m pytest -q tests/controller/test_app_sessions.py
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

from controller.cookie import Flow, check_cookie
from controller.install import ip
from controller.testing.samples import metric_value
from tests.controller.ctlbench import (
    CLIENT_IP,
    CLIENT_PORT,
    RS_IP,
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


def start(artefacts: tuple[Path, Path], sock, tmp_path: Path, **kw) -> ControllerThread:
    # Unless a test is about them, SYN retransmissions stay out of the way.
    kw.setdefault("sessions", "sessions: {syn_timeout: 30}\n")
    return start_controller(artefacts, sock, tmp_path, **kw)


def is_syn(p) -> bool:
    return p[TCP].flags == "S"


def establish(sw: SwitchBench, isn: int, rs_isn: int, sport: int = 40000) -> int:
    cookie = handshake(sw, isn, sport)
    assert sw.recv_tcp(SERVER_PORT, is_syn) is not None
    sw.send(SERVER_PORT, server_tcp("SA", rs_isn, isn + 1, sport=sport))
    assert sw.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
    return cookie


def test_syn_retransmitted_with_backoff_then_client_reset(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    sessions = "sessions: {syn_timeout: 0.2, syn_retries: 2}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions)
    try:
        isn = 1000
        cookie = handshake(switch, isn)
        for _ in range(3):  # the first SYN and two retransmissions, same sequence number
            syn = switch.recv_tcp(SERVER_PORT, is_syn, timeout=5)
            assert syn is not None and syn[TCP].seq == isn
        # (The doubling schedule itself is checked with a fake clock in test_sessions.py.)
        rst = switch.recv_tcp(CLIENT_PORT, lambda p: "R" in str(p[TCP].flags), timeout=5)
        assert rst is not None
        assert (rst[IP].src, rst[TCP].sport, rst[IP].dst) == (VIP, VPORT, CLIENT_IP)
        assert rst[TCP].seq == cookie + 1
        assert wait_for(lambda: len(ct.ctl.view.table) == 0)
        assert wait_for(lambda: ct.ctl.view.table.free_slots == ct.ctl.view.table.capacity)
        assert list(switch.state.table("sessions").entries()) == []
        assert ct.call(lambda: metric_value(ct.ctl.metrics.syn_retransmits)) == 2
    finally:
        ct.stop()


def test_early_data_held_and_released_in_order(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        isn = 5000
        cookie = handshake(switch, isn)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        for i, chunk in enumerate((b"one", b"two", b"three")):
            seq = isn + 1 + sum(len(c) for c in (b"one", b"two", b"three")[:i])
            switch.send(CLIENT_PORT, client_tcp("PA", seq, cookie + 1, payload=chunk))
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=b"one"))  # dup
        assert wait_for(lambda: ct.ctl.view.table.by_slot[1].held.nbytes == 11)
        assert switch.drain(SERVER_PORT) == []
        switch.send(SERVER_PORT, server_tcp("SA", 777, isn + 1))
        got = [switch.recv_tcp(SERVER_PORT, lambda p: len(p[TCP].payload) > 0) for _ in range(3)]
        assert [bytes(p[TCP].payload) for p in got] == [b"one", b"two", b"three"]
        assert all(p[TCP].ack == 778 for p in got)
    finally:
        ct.stop()


def test_early_data_above_the_bound_is_dropped_and_counted(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    sessions = "sessions: {syn_timeout: 30, early_data_bytes: 10}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions)
    try:
        isn = 6000
        cookie = handshake(switch, isn)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=b"12345678"))
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 9, cookie + 1, payload=b"abcdef"))
        assert wait_for(lambda: ct.ctl.view.table.stats["early_dropped_packets"] == 1)
        switch.send(SERVER_PORT, server_tcp("SA", 1, isn + 1))
        p = switch.recv_tcp(SERVER_PORT, lambda p: len(p[TCP].payload) > 0)
        assert bytes(p[TCP].payload) == b"12345678"
        assert switch.recv_tcp(SERVER_PORT, lambda p: len(p[TCP].payload) > 0, 0.5) is None
    finally:
        ct.stop()


def test_deferred_ack_payload_delivered(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    svc = textwrap.dedent(f"""\
        - name: web
          vip: {VIP}
          port: {VPORT}
          defer: true
          synack: {{window: 1024}}
          real_servers: [{{address: {RS_IP}, port: 8080}}]
        """)
    ct = start(artefacts, sock, tmp_path, service=svc)
    try:
        isn = 42
        handshake(switch, isn, payload=b"GET / HTTP/1.0\r\n\r\n")
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        switch.send(SERVER_PORT, server_tcp("SA", 9, isn + 1))
        p = switch.recv_tcp(SERVER_PORT, lambda p: len(p[TCP].payload) > 0)
        assert p is not None and bytes(p[TCP].payload).startswith(b"GET /")
    finally:
        ct.stop()


def test_server_reset_frees_the_session(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        handshake(switch, 100)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        switch.send(SERVER_PORT, server_tcp("RA", 0, 101))
        assert wait_for(lambda: len(ct.ctl.view.table) == 0)
        assert wait_for(lambda: ct.ctl.view.table.free_slots == ct.ctl.view.table.capacity)
    finally:
        ct.stop()


@pytest.mark.parametrize("allowed", [True, False])
def test_reuse_of_a_closing_session(artefacts: tuple[Path, Path], sock, switch, tmp_path, allowed):
    sessions = "sessions: {syn_timeout: 30, reuse: {close: %s}}\n" % (
        "true" if allowed else "false")
    ct = start(artefacts, sock, tmp_path, sessions=sessions)
    try:
        establish(switch, 100, 5000)
        switch.send(CLIENT_PORT, client_tcp("R", 101))  # -> CLOSE
        assert wait_for(lambda: switch.register("session_state", 1) == 7)
        first_gen = ct.ctl.view.table.by_slot[1].gen
        switch.drain(SERVER_PORT)
        handshake(switch, 90000)  # a new connection on the same 4-tuple
        syn = switch.recv_tcp(SERVER_PORT, is_syn, timeout=5 if allowed else 1)
        if allowed:
            assert syn is not None and syn[TCP].seq == 90000
            s = ct.ctl.view.table.by_slot[1]
            assert s.state == 1 and s.client_isn == 90000 and s.gen != first_gen
            # Restarted in place: the entries carry the new gen, and the server SYN
            # (the first packet of the new incarnation) reset the slot to SYN_SENT.
            assert switch.register("session_gen", 1) == s.gen
            assert switch.register("session_state", 1) == 1
        else:
            assert syn is None
            assert metric_value(ct.ctl.metrics.reuse, "refused") == 1
    finally:
        ct.stop()


def test_closed_session_expires_by_state_timeout(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    sessions = "sessions: {timeouts: {close: 0.2}}\n"
    control = "control: {state_poll_seconds: 0.1}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions, control=control)
    try:
        establish(switch, 100, 5000)
        switch.send(SERVER_PORT, server_tcp("R", 5001))
        assert wait_for(lambda: len(ct.ctl.view.table) == 0, 5)
        st = switch.state
        sessions_table = st.table("sessions")
        assert wait_for(lambda: len(list(sessions_table.entries())) == 0, 5)
        freed = ct.ctl.metrics.sessions_freed
        assert wait_for(lambda: metric_value(freed, "timeout_close") == 1, 5)
    finally:
        ct.stop()


def test_idle_established_session_expires(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    sessions = "sessions: {timeouts: {established: 0.3}}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions)
    try:
        establish(switch, 100, 5000)
        assert wait_for(lambda: len(ct.ctl.view.table) == 0, 10)
        assert wait_for(lambda: metric_value(ct.ctl.metrics.sessions_freed, "idle") == 1)
    finally:
        ct.stop()


def test_full_table_resets_the_new_client_at_once(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    """With every slot taken, the validated ACK of a new client is answered with a
    RST|ACK carrying the sequence number the client expects (cookie + 1): its
    connect() succeeded, and its first read or write fails at once instead of hanging.
    Counted; the existing session is untouched, and a freed slot serves the next one."""
    sessions = "sessions: {syn_timeout: 30, max: 1, timeouts: {close: 0.2}}\n"
    control = "control: {state_poll_seconds: 0.1}\n"
    ct = start(artefacts, sock, tmp_path, sessions=sessions, control=control)
    try:
        establish(switch, 100, 5000, sport=40001)
        cookie = handshake(switch, 200, sport=40002)
        rst = switch.recv_tcp(CLIENT_PORT, lambda p: "R" in str(p[TCP].flags), timeout=5)
        assert rst is not None
        assert (rst[IP].src, rst[TCP].sport, rst[IP].dst, rst[TCP].dport) == (
            VIP, VPORT, CLIENT_IP, 40002)
        assert rst[TCP].seq == cookie + 1 and rst[TCP].ack == 201 and "A" in str(rst[TCP].flags)
        assert wait_for(lambda: metric_value(ct.ctl.metrics.table_full) == 1)
        assert ct.ctl.stats["refused_full"] == 1
        assert switch.recv_tcp(SERVER_PORT, is_syn, timeout=0.5) is None
        assert len(ct.ctl.view.table) == 1
        # The first session ends (its server resets): the slot serves the next client.
        switch.send(SERVER_PORT, server_tcp("R", 5001, sport=40001))
        # Generous: on a loaded machine the digest and the delete take their time.
        assert wait_for(lambda: len(ct.ctl.view.table) == 0, 20)
        assert wait_for(lambda: ct.ctl.view.table.free_slots == 1, 20)
        handshake(switch, 300, sport=40003)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn[TCP].sport == 40003
    finally:
        ct.stop()


def test_key_rotation_keeps_old_cookies_valid(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        isn = 300
        switch.send(CLIENT_PORT, client_tcp("S", isn, options=[("MSS", 1460)]))
        synack = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA")
        cookie = synack[TCP].seq
        before = ct.ctl.view.keys.state
        ct.call(lambda: ct.ctl.timers.write_keys(ct.conn, ct.ctl.view.keys.rotate(ct.ctl.clock())))
        after = ct.ctl.view.keys.state
        assert after.epoch == before.epoch + 1 and after.prev_key == before.key
        flow = Flow(ip(CLIENT_IP), ip(VIP), 40000, VPORT)
        keys = [(after.key, after.epoch), (after.prev_key, after.prev_epoch)]
        assert check_cookie(keys, flow, isn, cookie) is not None
        # The ACK for the SYN/ACK minted under the old key still opens a session.
        switch.send(CLIENT_PORT, client_tcp("A", isn + 1, cookie + 1))
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        # A new SYN gets a cookie under the new key.
        switch.send(CLIENT_PORT, client_tcp("S", 999, sport=40009))
        new = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA")
        flow9 = Flow(ip(CLIENT_IP), ip(VIP), 40009, VPORT)
        assert check_cookie([(after.key, after.epoch)], flow9, 999, new[TCP].seq) is not None
    finally:
        ct.stop()


def test_auto_defence_switches_on_and_off(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    svc = textwrap.dedent(f"""\
        - name: web
          vip: {VIP}
          port: {VPORT}
          mode: auto
          nat: false
          auto: {{syn_rate_on: 20, syn_rate_off: 5, quiet_seconds: 0.3}}
        """)
    control = "control: {auto_poll_seconds: 0.1}\n"
    ct = start(artefacts, sock, tmp_path, service=svc, control=control)
    try:
        # Undefended: the SYN is passed (and counted), not answered.
        switch.send(CLIENT_PORT, client_tcp("S", 1, sport=1000))
        assert wait_for(lambda: switch.counter("global_events", 18) == 1)
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA", 0.3) is None
        for i in range(60):
            switch.send(CLIENT_PORT, client_tcp("S", i, sport=2000 + i))
        defense = switch.state.table("defense")
        assert wait_for(lambda: len(list(defense.entries())) == 1, 5)
        switch.drain(CLIENT_PORT)
        switch.drain(SERVER_PORT)
        switch.send(CLIENT_PORT, client_tcp("S", 5, sport=3000))
        assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA") is not None
        assert wait_for(lambda: len(list(defense.entries())) == 0, 5)
    finally:
        ct.stop()


def test_transparent_service_keeps_addresses(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    svc = textwrap.dedent(f"""\
        - name: web
          vip: {VIP}
          port: {VPORT}
          nat: false
        """)
    extra = f'routes: [{{prefix: "{VIP}/32", next_hop: {RS_IP}}}]\n'
    ct = start(artefacts, sock, tmp_path, service=svc, extra=extra)
    try:
        isn = 77
        cookie = handshake(switch, isn)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and (syn[IP].dst, syn[TCP].dport) == (VIP, VPORT)
        s = ct.ctl.view.table.by_slot[1]
        assert (s.rs_addr, s.rs_port) == (ip(VIP), VPORT)
        synack = server_tcp("SA", 900, isn + 1, src=VIP)
        synack[TCP].sport = VPORT  # the server answers as the VIP itself
        switch.send(SERVER_PORT, synack)
        upd = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A")
        assert upd is not None and upd[TCP].seq == cookie + 1
    finally:
        ct.stop()


def test_key_rotates_on_schedule(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    text = config_text(*artefacts, sock).replace("rotate_seconds: 3600", "rotate_seconds: 1")
    ct = ControllerThread(load_cfg(text, tmp_path))
    try:
        ct.wait_synced()
        first = ct.ctl.view.keys.state.epoch
        assert wait_for(lambda: ct.ctl.view.keys.state.epoch == first + 1, 5)
        entry = switch.state.table("cookie_keys")
        assert wait_for(lambda: entry.default_args[2] == first + 1, 5)  # epoch param
    finally:
        ct.stop()


def test_passthrough_filter_cleared_after_a_defended_period(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    # The filter is cleared `established` seconds after the sync (nothing is
    # undefended): the epoch moves on from the program's default 1.
    ct = start(artefacts, sock, tmp_path, sessions="sessions: {timeouts: {established: 1.5}}\n")
    try:
        epoch = switch.state.table("passthrough_epoch")
        assert wait_for(lambda: list(epoch.default_args) == [2], 10)  # one step from 1
        assert wait_for(lambda: ct.ctl.view.passthrough_epoch == 2)  # once the write returned
    finally:
        ct.stop()


def test_state_polling_repairs_a_missed_digest_of_the_current_gen(artefacts: tuple[Path, Path], sock, switch,
                                                                  tmp_path):
    """Where the target reads registers, the poll reconciles the controller's states
    with the switch's: a state change whose digest never came is picked up, but only
    from cells whose session_gen is the session's (others are an earlier incarnation)."""
    ct = start(artefacts, sock, tmp_path, control="control: {state_poll_seconds: 0.1}\n")
    try:
        establish(switch, 100, 5000)
        assert wait_for(lambda: ct.ctl.view.table.by_slot[1].state == 2)
        assert ct.ctl.view.register_reads is True
        s = ct.ctl.view.table.by_slot[1]
        regs = switch.state.registers
        state = regs[switch.full_name(regs, "session_state")]
        gen = regs[switch.full_name(regs, "session_gen")]
        with switch.state.lock:  # another incarnation's cells: ignored
            gen.values[1] = s.gen + 1
            state.values[1] = 6
        ct.call(lambda: ct.ctl.timers.poll_states(ct.conn))
        ct.call(lambda: ct.ctl.timers.poll_states(ct.conn))
        assert s.state == 2
        with switch.state.lock:  # this incarnation moved on without a digest
            gen.values[1] = s.gen
        assert wait_for(lambda: s.state == 6, 5)
    finally:
        ct.stop()
