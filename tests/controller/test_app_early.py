"""Early client data (C4) when the controller lags behind the switch: segments of a
request that reach the switch before the session is installed are validated from
the switch's pending-handshake entry and punted with a digest each; the controller
builds one session from whichever digest it gets, holds the data, and delivers it
in order. Also the races of such a segment with the session's own progress.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_early.py
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from p4.v1 import p4runtime_pb2 as pb
from scapy.layers.inet import IP, TCP

from controller.digests import CookieAck
from controller.testing.samples import metric_value
from tests.controller.ctlbench import (
    CLIENT_PORT,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    ControllerThread,
    SwitchBench,
    client_tcp,
    handshake,
    server_tcp,
    start_controller,
    wait_for,
)
from tests.p4src.p4bench import EV

pytestmark = pytest.mark.timeout(120)

ISN = 0xFFFFFFF0  # the request's sequence numbers wrap around 2^32
REQUEST = (b"POST /x HTTP/1.1\r\n", b"Content-Length: 5\r\n\r\n", b"hello")


def start(artefacts: tuple[Path, Path], sock, tmp_path: Path, **kw) -> ControllerThread:
    kw.setdefault("sessions", "sessions: {syn_timeout: 30}\n")
    return start_controller(artefacts, sock, tmp_path, **kw)


def is_syn(p) -> bool:
    return p[TCP].flags == "S"


def has_data(p) -> bool:
    return len(p[TCP].payload) > 0


def events(sw: SwitchBench, name: str) -> int:
    return sw.counter("global_events", EV[name])


@contextmanager
def frozen(ct: ControllerThread) -> Iterator[None]:
    """The controller's event loop blocked (as by SIGSTOP): the switch keeps going,
    its digests and PacketIns wait in the stream."""
    entered, release = threading.Event(), threading.Event()

    def block() -> None:
        entered.set()
        release.wait(60)

    t = threading.Thread(target=ct.call, args=(block, 70), daemon=True)
    t.start()
    assert entered.wait(10)
    try:
        yield
    finally:
        release.set()
        t.join(10)


def send_request(sw: SwitchBench, cookie: int, isn: int = ISN, sport: int = 40000) -> None:
    """The request in three segments. Their windows differ, as a real client's TSvals
    would: the switch does not repeat a digest identical to one not yet acknowledged."""
    sent = 0
    for i, chunk in enumerate(REQUEST):
        sw.send(CLIENT_PORT, client_tcp("PA", (isn + 1 + sent) & 0xFFFFFFFF,
                                        (cookie + 1) & 0xFFFFFFFF, sport=sport, payload=chunk,
                                        window=600 + i))
        sent += len(chunk)


def expect_request_at_server(sw: SwitchBench, rs_isn: int) -> None:
    got = [sw.recv_tcp(SERVER_PORT, has_data) for _ in REQUEST]
    assert all(p is not None for p in got)
    assert [bytes(p[TCP].payload) for p in got] == list(REQUEST)
    assert all(p[IP].dst == RS_IP and p[TCP].dport == RS_PORT for p in got)
    assert all(p[TCP].ack == rs_isn + 1 for p in got)  # translated into server space
    assert sw.recv_tcp(SERVER_PORT, has_data, 0.3) is None


def test_request_sent_before_the_session_exists_is_delivered(artefacts: tuple[Path, Path], sock, switch,
                                                             tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        with frozen(ct):
            cookie = handshake(switch, ISN)
            send_request(switch, cookie)
            assert wait_for(lambda: events(switch, "EARLY_DATA") == 2)
            assert events(switch, "ACK_INVALID") == 0
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn[TCP].seq == ISN
        assert switch.recv_tcp(SERVER_PORT, is_syn, 0.3) is None  # one session, one SYN
        assert wait_for(lambda: ct.ctl.stats["duplicate_digests"] == 3)
        switch.send(SERVER_PORT, server_tcp("SA", 7000, ISN + 1))
        expect_request_at_server(switch, 7000)
    finally:
        ct.stop()


def test_a_later_segments_digest_makes_the_session_when_the_first_are_lost(
        artefacts, sock, switch, tmp_path):
    """The ACK's and the first data segment's digests never reach the controller:
    the third segment's digest (seq - 1 is not the ISN) still opens the session with
    the client's real ISN."""
    ct = start(artefacts, sock, tmp_path)
    try:
        decode = ct.ctl.program.decoder.decode
        lost: list[CookieAck] = []

        def lossy(body: bytes):
            did, lid, items = decode(body)
            kept = []
            for d in items:
                if isinstance(d, CookieAck) and len(lost) < 3:
                    lost.append(d)
                else:
                    kept.append(d)
            return did, lid, kept

        ct.ctl.program.decoder.decode = lossy  # type: ignore[method-assign]
        with frozen(ct):
            cookie = handshake(switch, ISN)
            send_request(switch, cookie)
            assert wait_for(lambda: events(switch, "EARLY_DATA") == 2)
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn[TCP].seq == ISN
        assert len(lost) == 3 and [d.has_payload for d in lost] == [False, True, True]
        s = ct.ctl.view.table.by_slot[1]
        assert (s.client_isn, s.cookie) == (ISN, cookie)
        switch.send(SERVER_PORT, server_tcp("SA", 9000, ISN + 1))
        expect_request_at_server(switch, 9000)
    finally:
        ct.stop()


def packet_in(ct: ControllerThread, frame: bytes, reason: int) -> pb.PacketIn:
    ctl = ct.ctl
    assert ctl is not None
    msg = pb.PacketIn(payload=frame)
    for mid, value in ((ctl.program.pktin_port, CLIENT_PORT), (ctl.program.pktin_reason, reason)):
        md = msg.metadata.add()
        md.metadata_id, md.value = mid, value.to_bytes(2, "big")
    return msg


def test_cookie_data_reaching_an_established_session_is_delivered(artefacts: tuple[Path, Path], sock, switch,
                                                                  tmp_path):
    """The segment was punted before the session was installed but reaches the
    controller after the server answered: it is sent on at once, translated."""
    ct = start(artefacts, sock, tmp_path)
    try:
        cookie = handshake(switch, ISN)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        switch.send(SERVER_PORT, server_tcp("SA", 5000, ISN + 1))
        assert wait_for(lambda: ct.ctl.view.table.by_slot[1].state == 2)
        seg = bytes(client_tcp("PA", ISN + 1 + 10, cookie + 1, payload=b"late"))
        ct.call(lambda: ct.ctl.handshakes.on_packet_in(packet_in(ct, seg, 2)))
        p = switch.recv_tcp(SERVER_PORT, has_data)
        assert p is not None and bytes(p[TCP].payload) == b"late"
        assert p[TCP].ack == 5001 and p[TCP].seq == (ISN + 11) & 0xFFFFFFFF
        assert ct.call(lambda: metric_value(ct.ctl.metrics.early_released)) == 1
        assert not ct.ctl.view.table.orphans
    finally:
        ct.stop()


def test_cookie_data_reaching_a_syn_sent_session_is_held(artefacts: tuple[Path, Path], sock, switch, tmp_path):
    ct = start(artefacts, sock, tmp_path)
    try:
        cookie = handshake(switch, ISN)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        seg = bytes(client_tcp("PA", ISN + 1, cookie + 1, payload=b"held"))
        ct.call(lambda: ct.ctl.handshakes.on_packet_in(packet_in(ct, seg, 2)))
        assert ct.ctl.view.table.by_slot[1].held.frames == [seg]
        assert switch.recv_tcp(SERVER_PORT, has_data, 0.3) is None
        switch.send(SERVER_PORT, server_tcp("SA", 5000, ISN + 1))
        p = switch.recv_tcp(SERVER_PORT, has_data)
        assert p is not None and bytes(p[TCP].payload) == b"held" and p[TCP].ack == 5001
    finally:
        ct.stop()


def test_new_connection_on_a_closing_session_restarts_it_once(artefacts: tuple[Path, Path], sock, switch,
                                                              tmp_path):
    """C5 with C4: every segment of the new connection that reached the switch
    before the restart reports the reuse; the session restarts once and keeps
    the held request."""
    ct = start(artefacts, sock, tmp_path)
    try:
        handshake(switch, 100)
        assert switch.recv_tcp(SERVER_PORT, is_syn) is not None
        switch.send(SERVER_PORT, server_tcp("SA", 5000, 101))
        switch.send(CLIENT_PORT, client_tcp("R", 101))  # -> CLOSE
        assert wait_for(lambda: switch.register("session_state", 1) == 7)
        switch.drain(SERVER_PORT)
        with frozen(ct):
            cookie = handshake(switch, ISN)
            send_request(switch, cookie)
            assert wait_for(lambda: events(switch, "EARLY_DATA") == 2)
            assert events(switch, "REUSE_ACK") == 2  # the ACK and the first segment
        syn = switch.recv_tcp(SERVER_PORT, is_syn)
        assert syn is not None and syn[TCP].seq == ISN
        assert switch.recv_tcp(SERVER_PORT, is_syn, 0.5) is None
        assert ct.call(lambda: metric_value(ct.ctl.metrics.reuse, "restarted")) == 1
        switch.send(SERVER_PORT, server_tcp("SA", 8000, ISN + 1))
        expect_request_at_server(switch, 8000)
    finally:
        ct.stop()
