"""The native packet loop (C back end) between real veths: frames in and out without
Python per packet, VLAN tags the kernel took out put back, CPU-port packets handed
to the server, port counters kept.

Needs root. Run: .venv/bin/python -m pytest -q tests/p4sim/test_native_loop.py
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p4sim.backend.backends import loader
from p4sim.backend.c.native import NativePipeline
from p4sim.controlplane.p4info import build_p4info
from p4sim.devconfig import encode_device_config
from p4sim.frontend import load, preprocess
from p4sim.ports import RawPort
from p4sim.switch import Switch

pytestmark = [pytest.mark.netns, pytest.mark.timeout(120)]

TAG = os.getpid() % 100000
IFS = [f"p4n{TAG}{x}" for x in ("a", "A", "b", "B")]  # a<->A, b<->B
CPU = 255
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct headers_t { eth_t eth; }
struct meta_t { bit<8> unused; }
parser P(packet_in pk, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pk.extract(hdr.eth); transition accept; }
}
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }
control Ig(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.eth.type == 0x8100 || hdr.eth.type == 0x88b5) {
            sm.egress_spec = 2;
        } else if (hdr.eth.type == 0x88b6) {
            sm.egress_spec = 255;
        } else {
            mark_to_drop(sm);
        }
    }
}
control Eg(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control Dp(packet_out pk, in headers_t hdr) { apply { pk.emit(hdr.eth); } }
V1Switch(P(), VC(), Ig(), Eg(), CC(), Dp()) main;
"""


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture
def veths() -> Iterator[None]:
    try:
        for a, b in ((IFS[0], IFS[1]), (IFS[2], IFS[3])):
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        for name in IFS:
            sh("sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1")
            sh("ip", "link", "set", name, "up")
        yield
    finally:
        for name in (IFS[0], IFS[2]):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def frame(ethertype: bytes, body: bytes) -> bytes:
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + ethertype + body


def wait_frame(port: RawPort, marker: bytes, deadline: float) -> bytes | None:
    """The first frame holding `marker` (other traffic on the link is skipped)."""
    while time.monotonic() < deadline:
        got = port.recv(timeout=0.2)
        if got is not None and marker in got:
            return got
    return None


def vlan_receiver(ifname: str) -> socket.socket:
    """A packet socket that also reads the VLAN metadata the kernel strips from frames."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((ifname, 0x0003))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.settimeout(0.2)
    return sock


def wait_tagged(sock: socket.socket, marker: bytes, deadline: float) -> bytes | None:
    """The first frame holding `marker`, with its VLAN tag put back from the metadata."""
    while time.monotonic() < deadline:
        try:
            data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(20))
        except TimeoutError:
            continue
        if marker not in data:
            continue
        for level, kind, aux in ancdata:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(aux) >= 20:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", aux[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tag = struct.pack("!HH", tpid or 0x8100, tci)
                    data = data[:12] + tag + data[12:]
        return data
    return None


def test_native_loop_forwards_restores_vlan_tags_and_punts(veths: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loop.p4"
        path.write_text(PROGRAM)
        text = preprocess(str(path))
        p4info = build_p4info(load(str(path)))
    switch = Switch([RawPort(1, IFS[0]), RawPort(2, IFS[2])], cpu_port=CPU, loader=loader("c"))
    punts: list[bytes] = []
    switch.server.packet_in = punts.append  # type: ignore[method-assign,assignment]
    tx, rx = RawPort(0, IFS[1]), RawPort(0, IFS[3])
    vrx = vlan_receiver(IFS[3])
    try:
        switch.load(encode_device_config(text, str(path)), p4info)
        assert isinstance(switch._current[0], NativePipeline)  # type: ignore[index]
        switch.start(None)
        plain = frame(b"\x88\xb5", b"plain-frame-" * 4)
        tagged = frame(b"\x81\x00", b"\x20\x07\x88\xb5" + b"tagged-frame" * 4)  # VLAN 7, PCP 1
        tx.send(plain)
        assert wait_frame(rx, b"plain-frame-", time.monotonic() + 10) == plain
        tx.send(tagged)
        # The kernel strips the tag into metadata on the switch's side: the switch puts
        # it back, so it leaves tagged (and the receiver's kernel strips it again).
        assert wait_tagged(vrx, b"tagged-frame", time.monotonic() + 10) == tagged
        punt = frame(b"\x88\xb6", b"to-the-cpu--" * 4)
        tx.send(punt)
        deadline = time.monotonic() + 10
        while punt not in punts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert punt in punts
        assert switch.counters[1].rx_packets >= 3 and switch.counters[2].tx_packets >= 2
        assert switch.counters[CPU].tx_packets >= 1
    finally:
        switch.stop()
        tx.close()
        rx.close()
        vrx.close()
