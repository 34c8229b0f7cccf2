"""Count, on a real server, what arrived from the spoofed ranges (198.18.0.0/15 and,
over IPv6, 2001:2::/48): nftables counters in the server's own namespace (the flood
must not reach it: DESIGN §6). One inet table counts both families.

`install(netns)` adds a table with named counters; `read(netns)` returns
{"spoofed_syn", "spoofed_any", "syn"} packet counts.
"""

from __future__ import annotations

import json
import subprocess

from .netns import sh
from .topology import SPOOF_RANGE, SPOOF_RANGE6

TABLE = "p4sguard"


def install(netns: str) -> None:
    ruleset = f"""
table inet {TABLE} {{
    counter spoofed_syn {{ }}
    counter spoofed_any {{ }}
    counter syn {{ }}
    chain input {{
        type filter hook prerouting priority -300; policy accept;
        ip saddr {SPOOF_RANGE} tcp flags & (syn | ack) == syn counter name spoofed_syn
        ip saddr {SPOOF_RANGE} counter name spoofed_any
        ip6 saddr {SPOOF_RANGE6} tcp flags & (syn | ack) == syn counter name spoofed_syn
        ip6 saddr {SPOOF_RANGE6} counter name spoofed_any
        tcp flags & (syn | ack) == syn counter name syn
    }}
}}
"""
    proc = subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=ruleset,
                          text=True, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nft in {netns}: {proc.stderr.strip()}")


def read(netns: str) -> dict[str, int]:
    """Packet counts of the guard's counters in `netns`."""
    return nft_counters(netns, "inet", TABLE)


def nft_counters(netns: str, family: str, table: str) -> dict[str, int]:
    """Packet counts of the named counters of nft table `family table` in `netns`."""
    out = sh(["nft", "-j", "list", "counters", "table", family, table], netns=netns).stdout
    counts: dict[str, int] = {}
    for item in json.loads(out).get("nftables", []):
        c = item.get("counter")
        if c:
            counts[c["name"]] = int(c["packets"])
    return counts
