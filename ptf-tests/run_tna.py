#!/usr/bin/env python3
"""Run the synproxy PTF tests against the TNA program (p4src/tna/synproxy.p4) on p4sim.

    .venv/bin/python ptf-tests/run_tna.py                  # the modules in TNA_MODULES
    .venv/bin/python ptf-tests/run_tna.py -- synack        # extra args go to ptf

The same tests as for v1model (ptf-tests/tests/synproxy), the same namespaces and
veths (run.py's machinery); what differs: the program is compiled from p4src/tna with
the runner's CPU port (-DCPU_PORT), and p4sim runs it on its Python back end, the
one with a TNA pipeline (the recirculation port 68 is inside p4sim, not a veth).
Only the modules of what the TNA program does so far are run (p4src/README.md, "TNA").
"""

from __future__ import annotations

import os
import sys

import run  # ptf-tests/run.py

ROOT = run.ROOT
# ptf test modules (ptf-tests/tests/synproxy/<name>.py) the TNA program passes, less
# the tests of what it does not do ("^" excludes, in ptf's test selection).
TNA_MODULES = [
    "synack",
    "ack_check",
    "session",
    "translation",
    "resets",
    "counters",
    "no_session",
    "entries_only",
    "heartbeat",
    "pending",
    "hardening",
    "nat_passthrough",
    "^synack.SynAckDropsPayloadAndIpOptionsTest",  # TNA drops a SYN with data (by design)
    "^hardening.TaggedSynWithPayloadTest",  # TNA drops a SYN with data (by design)
    "^overload.SourceMeterOneSharedCellStarvesNobodyTest",  # D15 meters (hardening imports it)
    "^icmp",  # D15 ICMP policy (vip_protocols, icmp.p4; group hardening has some of it)
    "^ipv6",  # D13: the IPv6 twins (group ipv6): no IPv6 path on TNA yet
]


def main() -> int:
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    ptf_args = argv[cut + 1 :] or TNA_MODULES
    if os.geteuid() != 0:
        print("the PTF suite needs root (network namespaces and raw sockets)", file=sys.stderr)
        return 2
    print("== PTF: synproxy (TNA program) on p4sim", flush=True)
    passed, failed, skipped = run.run_program(
        "p4sim", "synproxy", ptf_args, ROOT / "build", "warn", arch="tna",
        # the runner's CPU port; the Python back end (the one with a TNA pipeline)
        defines=["-I", str(ROOT / "p4src"), f"-DCPU_PORT={run.CPU_PORT}"],
        switch_options=["--backend", "python"],
    )
    print(f"ptf: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
