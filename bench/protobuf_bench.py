"""protobuf: encode + decode of a 100-entry WriteRequest (session entries: four exact
matches, nine action parameters), on this venv's runtime and, in the same run, on the
protobuf 3.20.3 that p4runtime-shell pins (its own venv, `.venv-shell`, as a
subprocess: the file runs there as a script and imports nothing of the project).

    .venv/bin/python -m bench protobuf
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ENTRIES = 100
ROUNDS = 300
SHELL_PYTHON = Path(__file__).resolve().parents[1] / ".venv-shell" / "bin" / "python"


def _canon(v: int) -> bytes:
    return v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")


def build() -> object:
    """The WriteRequest, built field by field as the controller builds one."""
    from p4.v1 import p4runtime_pb2 as pb

    req = pb.WriteRequest(device_id=1)
    req.election_id.low = 1
    for i in range(ENTRIES):
        u = req.updates.add()
        u.type = pb.Update.INSERT
        te = u.entity.table_entry
        te.table_id = 33554433
        for fid, v in enumerate((0x0A000001 + i, 0xC0A80A0A, 1024 + i, 80), 1):
            fm = te.match.add()
            fm.field_id = fid
            fm.exact.value = _canon(v)
        act = te.action.action
        act.action_id = 16777217
        for pid, v in enumerate((i + 1, 1, 0xC0A80A0A, 80, 0x5000 + i, 7000, 502, 7, i), 1):
            p = act.params.add()
            p.param_id = pid
            p.value = _canon(v)
        te.idle_timeout_ns = 30_000_000_000
    return req


def measure() -> dict[str, object]:
    """Microseconds per build + serialise, and per parse, of the request."""
    from google.protobuf import __version__
    from google.protobuf.internal import api_implementation
    from p4.v1 import p4runtime_pb2 as pb

    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        data = build().SerializeToString()  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    for _ in range(ROUNDS):
        msg = pb.WriteRequest.FromString(data)
    t2 = time.perf_counter()
    assert len(msg.updates) == ENTRIES
    return {"version": __version__, "runtime": api_implementation.Type(),
            "encode_us": (t1 - t0) / ROUNDS * 1e6, "decode_us": (t2 - t1) / ROUNDS * 1e6}


def _line(r: dict[str, object]) -> str:
    enc, dec = float(r["encode_us"]), float(r["decode_us"])  # type: ignore[arg-type]
    return (f"protobuf {r['version']} ({r['runtime']}): {ENTRIES}-entry WriteRequest "
            f"encode {enc:,.0f} us + decode {dec:,.0f} us = {enc + dec:,.0f} us")


def compare() -> None:
    new = measure()
    if SHELL_PYTHON.exists():
        out = subprocess.run([str(SHELL_PYTHON), __file__], capture_output=True, text=True,
                             check=True, timeout=300).stdout
        old = json.loads(out)
        print(_line(old))
    else:
        old = None
        print(f"protobuf 3.20.3: {SHELL_PYTHON} missing (`make deps` creates it)")
    print(_line(new))
    if old is not None:
        total = float(old["encode_us"]) + float(old["decode_us"])  # type: ignore[arg-type]
        now = float(new["encode_us"]) + float(new["decode_us"])  # type: ignore[arg-type]
        print(f"protobuf: {total / now:.1f}x faster on {new['runtime']}")


if __name__ == "__main__":
    json.dump(measure(), sys.stdout)
