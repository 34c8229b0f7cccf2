"""The programs' P4Info, message for message, against the golden files in golden/.

The controller and the tests address tables, actions, registers, counters and digests
by the names and ids of the P4Info; a change of the P4 source that moves any of them
must be deliberate. When it is, regenerate the golden file and review its diff:

    .venv/bin/python -m tests.p4src.test_p4info_golden --update

Run: .venv/bin/python -m pytest -q tests/p4src/test_p4info_golden.py
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

import pytest
from google.protobuf import text_format

from p4sim.controlplane.p4info import build_p4info
from p4sim.frontend import load

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
HEADER = "# proto-file: p4/config/v1/p4info.proto\n# proto-message: p4.config.v1.P4Info\n\n"

# golden file -> (program, include directories)
PROGRAMS: dict[str, tuple[Path, list[Path]]] = {
    "synproxy.p4info.txt": (ROOT / "p4src" / "v1model" / "synproxy.p4", []),
    "forwarding.p4info.txt": (ROOT / "p4src" / "v1model" / "forwarding.p4", []),
    "synproxy_tna.p4info.txt": (ROOT / "p4src" / "tna" / "synproxy.p4", [ROOT / "p4src"]),
}


def p4info_text(golden: str) -> str:
    program, include_dirs = PROGRAMS[golden]
    p4info = build_p4info(load(program, include_dirs=[str(d) for d in include_dirs]))
    # The same text as p4sim-compile's p4info.txt.
    return HEADER + str(text_format.MessageToString(p4info))


@pytest.mark.parametrize("golden", sorted(PROGRAMS))
def test_p4info_matches_golden(golden: str) -> None:
    expected = (GOLDEN / golden).read_text()
    actual = p4info_text(golden)
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{golden}",
                tofile="built",
                n=2,
            )
        )
        pytest.fail(f"P4Info of {PROGRAMS[golden][0].name} changed:\n{diff[:6000]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the golden P4Info files.")
    parser.add_argument("--update", action="store_true", help="write golden/*.p4info.txt")
    args = parser.parse_args()
    for golden in sorted(PROGRAMS):
        text = p4info_text(golden)
        if args.update:
            (GOLDEN / golden).write_text(text)
            print(f"wrote {GOLDEN / golden}")
        else:
            print(text, end="")


if __name__ == "__main__":
    main()
