"""VLAN tags through AF_PACKET ports: the kernel moves a received frame's tag into
the socket's packet metadata (PACKET_AUXDATA); a raw port puts it back, so the
program gets the frame as it was on the wire, and what the program emits tagged
leaves tagged.

Needs root (the veth test). Run: .venv/bin/python -m pytest -q tests/p4sim/test_ports_vlan.py
"""

from __future__ import annotations

import os
import queue
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator

import pytest

from p4sim.device import DeviceState
from p4sim.ports import (
    AUXDATA,
    PACKET_AUXDATA,
    SOL_PACKET,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    RawPort,
    restore_vlan,
)
from p4sim.switch import Switch
from tests.p4sim.runtime_fixtures import p4info

MACS = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
PAYLOAD = b"\x88\xb5" + b"vlan-test" * 6  # IEEE local experimental ether type


def aux(status: int, tci: int, tpid: int) -> list[tuple[int, int, bytes]]:
    return [(SOL_PACKET, PACKET_AUXDATA, AUXDATA.pack(status, 60, 60, 0, 0, tci, tpid))]


# ----------------------------------------------------------------------------- restore_vlan


def test_no_tag_reported_leaves_the_frame_alone() -> None:
    frame = MACS + PAYLOAD
    assert restore_vlan(frame, []) == frame
    assert restore_vlan(frame, aux(0, 0, 0)) == frame


def test_8021q_tag_is_put_back_after_the_macs() -> None:
    got = restore_vlan(MACS + PAYLOAD, aux(TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
                                           0x2064, 0x8100))
    assert got == MACS + b"\x81\x00\x20\x64" + PAYLOAD


def test_8021ad_tpid_is_kept() -> None:
    got = restore_vlan(MACS + PAYLOAD, aux(TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
                                           0x000A, 0x88A8))
    assert got == MACS + b"\x88\xa8\x00\x0a" + PAYLOAD


def test_priority_tag_with_vid_0_counts_when_the_status_says_so() -> None:
    got = restore_vlan(MACS + PAYLOAD, aux(TP_STATUS_VLAN_VALID, 0, 0))
    assert got == MACS + b"\x81\x00\x00\x00" + PAYLOAD  # no TPID reported: 802.1Q


def test_old_kernels_without_status_bits_still_give_the_tag() -> None:
    assert restore_vlan(MACS + PAYLOAD, aux(0, 0x0005, 0)) == MACS + b"\x81\x00\x00\x05" + PAYLOAD


def test_other_ancillary_data_and_runts_are_ignored() -> None:
    other = [(socket.SOL_SOCKET, 29, b"\0" * 16)]
    assert restore_vlan(MACS + PAYLOAD, other) == MACS + PAYLOAD
    short = [(SOL_PACKET, PACKET_AUXDATA, b"\x10\0\0")]
    assert restore_vlan(MACS + PAYLOAD, short) == MACS + PAYLOAD
    assert restore_vlan(b"\x01\x02", aux(TP_STATUS_VLAN_VALID, 7, 0x8100)) == b"\x01\x02"


# ----------------------------------------------------------------------------- real veths

NS = f"p4vlan{os.getpid()}"
HOST_IF = f"p4v{os.getpid() % 100000}a"
NS_IF = f"p4v{os.getpid() % 100000}b"

# The far end: sends the frames given in hex (again and again until told to stop,
# as the switch may not see the link at the first one), and prints every frame of
# the test's ether type it receives, tags restored by a RawPort too.
PEER = """
import sys, select
from p4sim.ports import RawPort
port = RawPort(0, sys.argv[1])
frames = [bytes.fromhex(h) for h in sys.argv[2:]]
print("ready", flush=True)
while True:
    if select.select([sys.stdin], [], [], 0)[0]:
        break
    for f in frames:
        port.send(f)
    got = port.recv(0.2)
    while got is not None:
        if b"vlan-test" in got:
            print(got.hex(), flush=True)
        got = port.recv(0.01)
"""


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture()
def veth() -> Iterator[str]:
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
        sh("sysctl", "-qw", f"net.ipv6.conf.{HOST_IF}.disable_ipv6=1")
        sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{NS_IF}.disable_ipv6=1")
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
        yield HOST_IF
    finally:
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


class Echo:
    """A program that records every frame it is given and sends it back out of the
    port it came in on, unchanged."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[int, bytes]] = queue.Queue()

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        if b"vlan-test" in packet:
            self.received.put((port, packet))
        return [(port, packet)]


def tagged(*tags: tuple[int, int]) -> bytes:
    return MACS + b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags) + PAYLOAD


@pytest.mark.netns
@pytest.mark.timeout(120)
def test_program_sees_and_sends_the_tags_of_the_wire(veth: str) -> None:
    """A single 802.1Q tag, a priority tag (VID 0) and an 802.1ad + 802.1Q pair go
    over a veth into the switch: the program receives each exactly as sent, and
    its unchanged output reaches the far end with the same tags."""
    frames = [tagged((0x8100, 0x2064)), tagged((0x8100, 0x0000)),
              tagged((0x88A8, 0x000A), (0x8100, 0x0014))]
    port = RawPort(1, veth)
    program = Echo()
    sw = Switch([port], cpu_port=255)
    sw.set_pipeline(program, DeviceState(p4info()))
    sw.start(grpc_address=None)
    peer = subprocess.Popen(
        ["ip", "netns", "exec", NS, sys.executable, "-c", PEER, NS_IF,
         *(f.hex() for f in frames)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "ready"
        seen: set[bytes] = set()
        while seen != set(frames):
            in_port, data = program.received.get(timeout=30)
            assert in_port == 1
            assert data in frames, f"the program got {data.hex()}"
            seen.add(data)
        echoed: set[bytes] = set()
        while echoed != set(frames):
            line = peer.stdout.readline().strip()
            assert line, "the far end stopped before seeing every echo"
            assert bytes.fromhex(line) in frames, f"the far end got {line}"
            echoed.add(bytes.fromhex(line))
    finally:
        if peer.stdin is not None:
            peer.stdin.close()
        try:
            peer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
        sw.stop()
