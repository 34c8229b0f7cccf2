"""AF_PACKET ports on a real veth pair whose far end lives in a network namespace.

Needs root. Run: .venv/bin/python -m pytest -q tests/p4sim/test_ports.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from p4sim.ports import MemoryPort, PortError, RawPort

pytestmark = [
    pytest.mark.netns,
    pytest.mark.timeout(120),
    # Root and iproute2 are prerequisites (CI runs as root; make deps installs
    # iproute2): without them these tests fail rather than skip.
]

ETHERTYPE = b"\x88\xb5"  # IEEE local experimental: nothing else on the link uses it
NS = f"p4simt{os.getpid()}"
HOST_IF = f"p4t{os.getpid() % 100000}a"
NS_IF = f"p4t{os.getpid() % 100000}b"

PEER = """
import sys
from p4sim.ports import RawPort
port = RawPort(0, sys.argv[1])
if sys.argv[2] == "send":
    port.send(bytes.fromhex(sys.argv[3]))
else:
    print("ready", flush=True)
    while True:
        frame = port.recv()
        if frame is not None and frame[12:14] == bytes.fromhex("88b5"):
            print(frame.hex(), flush=True)
            break
"""


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def frame(marker: bytes) -> bytes:
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + ETHERTYPE + marker * 8


@pytest.fixture(scope="module")
def veth() -> Iterator[str]:
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
        sh("sysctl", "-qw", f"net.ipv6.conf.{HOST_IF}.disable_ipv6=1")
        sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{NS_IF}.disable_ipv6=1")
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        yield HOST_IF
    finally:
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def peer(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", NS, sys.executable, "-c", PEER, NS_IF, *args],
        stdout=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def receive(port: RawPort, wanted: bytes, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = port.recv()
        if got == wanted:
            return True
    return False


def test_receives_what_the_peer_sends(veth: str) -> None:
    port = RawPort(1, veth)
    try:
        data = frame(b"in")
        # The peer may send before our socket sees the link: resend until one arrives.
        for _ in range(20):
            p = peer("send", data.hex())
            p.wait(timeout=30)
            if receive(port, data, 0.5):
                break
        else:
            pytest.fail("the frame sent in the namespace never reached the port")
    finally:
        port.close()


def test_sends_to_the_peer_and_ignores_its_own_frames(veth: str) -> None:
    port = RawPort(1, veth)
    listener = peer("listen")
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        data = frame(b"out")
        port.send(data)
        assert listener.stdout.readline().strip() == data.hex()
        # Our own transmission is PACKET_OUTGOING on this socket: never received back.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert port.recv() != data
    finally:
        listener.kill()
        listener.wait()
        port.close()


def test_missing_interface_is_a_clear_error() -> None:
    with pytest.raises(PortError, match="does not exist"):
        RawPort(1, "p4t-nonexist0")


def test_memory_port() -> None:
    port = MemoryPort(4)
    port.inject(b"abc")
    assert port.recv() == b"abc"
    assert port.recv() is None
    port.send(b"xyz")
    assert port.sent.get_nowait() == b"xyz"
