"""The quick start's veth lab (`python -m topo.veths`) and the README's
`p4sim --no-p4 -i 0@veth0 -i 1@veth2 ...` on it, in a namespace of the test's own.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_veths.py   (root)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from topo.netns import Lab, grpc_ready, sh

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]

BIN = Path(sys.executable).parent


def veths(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "topo.veths", *args],
                          capture_output=True, text=True, timeout=60)


def links(ns: str) -> set[str]:
    out = sh(["ip", "-o", "link", "show"], netns=ns).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def test_up_p4sim_down(tmp_path: Path) -> None:
    with Lab(prefix="p4vl") as lab:
        ns = lab.add_ns("lab")
        sh(["ip", "link", "add", "mine0", "type", "veth", "peer", "name", "mine1"],
           netns=ns)  # not the lab's
        made = veths(ns, "up", "--pairs", "2")
        assert made.returncode == 0, made.stderr
        assert made.stdout.split("\n")[:2] == ["veth0 <-> veth1", "veth2 <-> veth3"]
        assert links(ns) == {"lo", "mine0", "mine1", "veth0", "veth1", "veth2", "veth3"}
        detail = sh(["ip", "-d", "link", "show", "veth0"], netns=ns).stdout
        assert "state UP" in detail or ",UP" in detail
        assert veths(ns, "up", "--pairs", "2").returncode == 0  # again: kept as they are
        # The README's command line, on the lab's veths.
        sock = tmp_path / "sw.sock"
        proc = lab.popen([str(BIN / "p4sim"), "--no-p4", "-i", "0@veth0", "-i", "1@veth2",
                          "--grpc-server-addr", f"unix:{sock}"], netns=ns,
                         log_path=str(tmp_path / "p4sim.log"))
        grpc_ready(f"unix:{sock}", 60)
        assert proc.poll() is None
        lab.stop(proc)
        assert proc.returncode == 0, (tmp_path / "p4sim.log").read_text()
        gone = veths(ns, "down")
        assert gone.returncode == 0 and gone.stdout.strip() == "removed: veth0, veth2"
        assert links(ns) == {"lo", "mine0", "mine1"}  # what the lab did not make is still there


def test_up_refuses_a_name_that_is_not_the_labs() -> None:
    with Lab(prefix="p4vl") as lab:
        ns = lab.add_ns("busy")
        sh(["ip", "link", "add", "veth2", "type", "veth", "peer", "name", "other2"], netns=ns)
        result = veths(ns, "up", "--pairs", "2")
        assert result.returncode == 1
        assert "veth2 exists and is not a lab veth" in result.stderr
        assert links(ns) == {"lo", "veth2", "other2"}  # nothing made, nothing touched
        assert veths(ns, "down").stdout.strip() == "removed: nothing"
        assert links(ns) == {"lo", "veth2", "other2"}
