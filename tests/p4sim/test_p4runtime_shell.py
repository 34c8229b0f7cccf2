"""p4runtime-shell, a P4Runtime client this project did not write, drives p4sim.

The program is tests/p4sim/programs/basic_fwd.p4 compiled with ``p4sim-compile``; the
shell pushes it, inserts a route, reads it back, the route forwards a packet, and the
shell deletes it. The shell pins protobuf 3.20, so it runs in its own virtualenv
(``.venv-shell``, made by ``make deps``) as a subprocess (shell/drive.py).

Run: .venv/bin/python -m pytest -q tests/p4sim/test_p4runtime_shell.py
"""

from __future__ import annotations

import json
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
SHELL_PYTHON = Path(__file__).parents[2] / ".venv-shell" / "bin" / "python"
DRIVER = Path(__file__).parent / "shell" / "drive.py"


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
    if not SHELL_PYTHON.exists():
        pytest.skip(f"{SHELL_PYTHON} missing: `make deps` creates p4runtime-shell's virtualenv")
    p4info_path, config_path = build
    shell = subprocess.Popen(
        [str(SHELL_PYTHON), str(DRIVER), f"127.0.0.1:{switch.server.port}",
         str(p4info_path), str(config_path), TABLE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert shell.stdin is not None and shell.stdout is not None
    try:
        inserted = json.loads(shell.stdout.readline() or "{}")
        assert inserted == {"step": "inserted", "prefix_lens": [8]}, inserted

        # The entry forwards a real packet through the compiled program.
        pkt = Ether(dst="00:00:00:00:00:01") / IP(dst="10.1.2.3", ttl=64) / UDP() / b"hi"
        port1, port2 = switch.ports[1], switch.ports[2]
        assert isinstance(port1, MemoryPort) and isinstance(port2, MemoryPort)
        port1.inject(bytes(pkt))
        out = Ether(port2.sent.get(timeout=10))
        assert out.dst == "00:00:00:00:00:02" and out[IP].ttl == 63

        shell.stdin.write("go\n")
        shell.stdin.flush()
        deleted = json.loads(shell.stdout.readline() or "{}")
        assert deleted == {"step": "deleted", "left": 0}, deleted
        port1.inject(bytes(pkt))
        assert switch.wait_idle()
        assert port2.sent.empty()  # the const default action drops
        assert shell.wait(timeout=30) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
