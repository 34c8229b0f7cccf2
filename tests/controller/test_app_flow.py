"""The controller against p4sim running synproxy.p4 in-process: real packets, real
P4Runtime (unix socket), the whole session life.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_flow.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

from tests.controller.ctlbench import (
    CLIENT_IP,
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

pytestmark = pytest.mark.timeout(120)


def start(artefacts: tuple[Path, Path], sock, tmp_path: Path, **kw) -> ControllerThread:
    return start_controller(artefacts, sock, tmp_path, **kw)


def test_connection_through_the_proxy(artefacts: tuple[Path, Path], sock, switch: SwitchBench, tmp_path) -> None:
    ct = start(artefacts, sock, tmp_path)
    try:
        isn = 0xFFFFFFF0
        cookie = handshake(switch, isn)
        syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
        assert syn is not None, "no server SYN"
        assert (syn[IP].src, syn[IP].dst, syn[TCP].dport) == (CLIENT_IP, RS_IP, RS_PORT)
        assert syn[TCP].seq == isn
        opts = dict(syn[TCP].options)
        assert opts["MSS"] == 1460 and opts["WScale"] == 9 and "SAckOK" in opts
        assert len(ct.ctl.view.table) == 1
        rs_isn = 0x12345678
        switch.send(SERVER_PORT, server_tcp("SA", rs_isn, isn + 1, options=[("MSS", 1460)]))
        ack = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "A")
        assert ack is not None and ack[TCP].ack == rs_isn + 1
        upd = switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A")
        assert upd is not None and upd[TCP].seq == (cookie + 1) & 0xFFFFFFFF
        assert wait_for(lambda: ct.ctl.view.table.by_slot[1].state == 2)
        switch.send(CLIENT_PORT, client_tcp("PA", isn + 1, cookie + 1, payload=b"GET /"))
        req = switch.recv_tcp(SERVER_PORT, lambda p: bytes(p[TCP].payload) == b"GET /")
        assert req is not None and req[TCP].ack == rs_isn + 1
    finally:
        ct.stop()
