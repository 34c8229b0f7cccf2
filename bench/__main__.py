"""`make bench`: run the benchmarks and print their figures.

    .venv/bin/python -m bench              # all: `compare`, which runs the others first
    .venv/bin/python -m bench p4sim_fwd    # one, by name
    TARGET=bmv2 make bench                 # with bmv2's rates beside p4sim's (bmv2_bench)

Benchmarks print figures; they assert nothing. Each is bounded in packets and time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from google.protobuf.internal import api_implementation

from . import (
    bmv2_bench,
    compare,
    controller_bench,
    p4rt_server,
    p4sim_bench,
    protobuf_bench,
    session_bench,
)

BENCHMARKS: dict[str, Callable[[], object]] = {
    "p4sim_fwd": p4sim_bench.forwarding_veth,
    "p4sim_inproc": p4sim_bench.forwarding_inprocess,
    "p4sim_synproxy": p4sim_bench.synproxy_inprocess,
    "p4sim_synproxy_veth": p4sim_bench.synproxy_veth,
    "p4sim_p4rt_load": p4rt_server.server_under_load,
    "controller_fake": controller_bench.setup_rate_fake,
    "controller_p4sim": controller_bench.setup_p4sim,
    "p4sim_sessions": session_bench.sessions_held,
    "protobuf": protobuf_bench.compare,
    "bmv2_synproxy": bmv2_bench.synproxy_bmv2,
}
# The side-by-side report (bench/compare.py) carries every other benchmark's figures too,
# so a plain `python -m bench` runs it alone instead of running the others twice.
COMPONENTS = dict(BENCHMARKS)
# bmv2 beside p4sim only when asked (`TARGET=bmv2 make bench`): it compiles with p4c and
# runs both switches again.
COMPONENTS["bmv2_synproxy"] = bmv2_bench.when_target_bmv2
BENCHMARKS["compare"] = lambda: compare.compare(components=COMPONENTS)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run")
    args = ap.parse_args()
    print(f"protobuf runtime: {api_implementation.Type()}", flush=True)
    failed = 0
    for name in args.names or ["compare"]:
        print(f"== {name}", flush=True)
        try:
            BENCHMARKS[name]()
        except Exception as e:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed += 1
            print(f"{name}: FAILED: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
