"""The controller against p4sim while 64 other clients hold idle StreamChannels open
(never arbitrating): it syncs, installs sessions, and Capabilities still answers.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_idle_streams.py
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import grpc
import pytest
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc
from scapy.layers.inet import TCP

from tests.controller.ctlbench import (
    CLIENT_PORT,
    SERVER_PORT,
    SwitchBench,
    handshake,
    server_tcp,
    start_controller,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)
IDLE_STREAMS = 64


def test_sessions_installed_with_64_idle_streams_open(
    artefacts: tuple[Path, Path], sock: str, switch: SwitchBench, tmp_path: Path
) -> None:
    channel = grpc.insecure_channel(f"unix:{sock}")
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    outs: list[queue.Queue[pb.StreamMessageRequest | None]] = []
    ended: queue.Queue[grpc.RpcError | None] = queue.Queue()

    def hold(call: grpc.Future) -> None:
        try:
            for _ in call:
                pass
            ended.put(None)
        except grpc.RpcError as exc:
            ended.put(exc)

    calls = []
    for _ in range(IDLE_STREAMS):
        out: queue.Queue[pb.StreamMessageRequest | None] = queue.Queue()
        outs.append(out)
        call = stub.StreamChannel(iter(out.get, None))
        calls.append(call)
        threading.Thread(target=hold, args=(call,), daemon=True).start()
    stub.Capabilities(pb.CapabilitiesRequest(), timeout=10)  # the streams are up
    ct = start_controller(artefacts, sock, tmp_path,
                          sessions="sessions: {syn_timeout: 30}\n")
    try:
        for n in range(5):
            isn, sport = 1000 + n * 100, 40000 + n
            handshake(switch, isn, sport)
            syn = switch.recv_tcp(SERVER_PORT, lambda p: p[TCP].flags == "S")
            assert syn is not None  # the controller installed the session and sent the SYN
            switch.send(SERVER_PORT, server_tcp("SA", 5000 + n, isn + 1, sport=sport))
            assert switch.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "A") is not None
        assert wait_for(lambda: len(ct.ctl.view.table) == 5)
        caps = stub.Capabilities(pb.CapabilitiesRequest(), timeout=10)
        assert caps.p4runtime_api_version
        assert ended.empty()  # the idle streams are still open (no timeout in between)
    finally:
        ct.stop()
        for out, call in zip(outs, calls, strict=True):
            out.put(None)
            call.cancel()
        channel.close()
