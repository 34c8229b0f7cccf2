"""p4runtime-shell, a P4Runtime client this project did not write, drives p4sim.

The program is tests/p4sim/programs/basic_fwd.p4 compiled with ``p4sim-compile``; the
shell pushes it, inserts a route, reads it back, and the route forwards a packet.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_p4runtime_shell.py
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from p4sim.ports import MemoryPort
from p4sim.switch import Switch

pytestmark = pytest.mark.timeout(120)

PROGRAM = Path(__file__).parent / "programs" / "basic_fwd.p4"
TABLE = "FwdIngress.ipv4_lpm"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("basic_fwd")
    subprocess.run(
        [sys.executable, "-m", "p4sim.compile_cli", str(PROGRAM), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return out / "p4info.txt", out / "basic_fwd.p4sim"


@pytest.fixture()
def switch() -> Iterator[Switch]:
    sw = Switch([MemoryPort(1), MemoryPort(2)], cpu_port=255)
    sw.start("127.0.0.1:0")
    yield sw
    sw.stop()


def test_shell_pushes_inserts_reads_deletes(build: tuple[Path, Path], switch: Switch) -> None:
    sh = pytest.importorskip("p4runtime_sh.shell")
    p4info_path, config_path = build
    sh.setup(
        device_id=0,
        grpc_addr=f"127.0.0.1:{switch.server.port}",
        election_id=(0, 1),
        config=sh.FwdPipeConfig(str(p4info_path), str(config_path)),
        verbose=False,
    )
    try:
        te = sh.TableEntry(TABLE)(action="FwdIngress.ipv4_forward")
        te.match["dst_addr"] = "10.0.0.0/8"
        te.action["dst_addr"] = "00:00:00:00:00:02"
        te.action["port"] = "2"
        te.insert()

        entries = list(sh.TableEntry(TABLE).read())
        assert len(entries) == 1
        assert entries[0].match["dst_addr"].lpm.prefix_len == 8

        # The entry forwards a real packet through the compiled program.
        pkt = Ether(dst="00:00:00:00:00:01") / IP(dst="10.1.2.3", ttl=64) / UDP() / b"hi"
        port1, port2 = switch.ports[1], switch.ports[2]
        assert isinstance(port1, MemoryPort) and isinstance(port2, MemoryPort)
        port1.inject(bytes(pkt))
        out = Ether(port2.sent.get(timeout=10))
        assert out.dst == "00:00:00:00:00:02" and out[IP].ttl == 63

        te.delete()
        assert list(sh.TableEntry(TABLE).read()) == []
        port1.inject(bytes(pkt))
        assert switch.wait_idle()
        assert port2.sent.empty()  # the const default action drops
    finally:
        sh.teardown()
