"""p4src/common/sizes.p4: every size is a `#define` that `-D` overrides, derived sizes
follow, and the controller reads the sizes it depends on from the resulting P4Info.

Run: .venv/bin/python -m pytest -q tests/p4src/test_sizes.py
"""

from __future__ import annotations

from pathlib import Path

from controller.limits import ProgramLimits
from controller.p4info import P4InfoIndex
from p4sim.controlplane.p4info import build_p4info
from p4sim.frontend import load

ROOT = Path(__file__).resolve().parents[2]
SYNPROXY = ROOT / "p4src" / "v1model" / "synproxy.p4"


def sizes(defines: dict[str, str | int | None]) -> dict[str, int]:
    info = build_p4info(load(SYNPROXY, defines))
    out = {}
    for kind in ("tables", "registers", "counters"):
        for obj in getattr(info, kind):
            out[obj.preamble.name.rsplit(".", 1)[-1]] = obj.size
    out["limits"] = ProgramLimits.from_p4info(P4InfoIndex(info))  # type: ignore[assignment]
    return out


def test_defaults() -> None:
    s = sizes({})
    assert s["session_state"] == 65536 and s["sessions"] == 2 * 65536
    assert s["pending_client"] == 8192 and s["service_events"] == 256 * 64
    assert s["limits"] == ProgramLimits(256, 64, 65536)


def test_shrunk_with_defines() -> None:
    s = sizes({"SESSIONS_SIZE": 1024, "PENDING_SIZE": "32w512", "MAX_SERVICE_IDS": 16})
    assert s["session_state"] == 1024 and s["session_gen"] == 1024
    assert s["sessions"] == 2048  # SESSION_ENTRIES follows
    assert s["pending_client"] == 512 and s["pending_since"] == 512
    assert s["service_events"] == 16 * 64 and s["defense"] == 16
    assert s["nat_buckets"] == 16 * 64
    assert s["limits"] == ProgramLimits(service_ids=16, events_per_service=64, session_slots=1024)
