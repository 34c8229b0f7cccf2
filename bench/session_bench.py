"""Memory per session and the number of sessions p4sim holds (DESIGN §7).

p4sim runs synproxy.p4 in this process on its native back end (memory ports, P4Runtime
over a unix socket) and the controller runs in its own process, as in production. Valid
client ACKs for every session slot the program has (`session_state`'s size in the P4Info,
less slot 0) are injected; each one the controller accepts becomes a session
(two table entries and the slot's registers in the switch, the session's record in the
controller) and a server SYN out of the server port; they go in chunks of a thousand,
each waiting for the previous one's server SYNs (a burst of them all at once measures the
digest path's losses, not the capacity). Then a few more ACKs than the table
can hold: each is answered with a RST (the controller's full-table answer). Printed: the
sessions held, the RSTs for the rest, and the resident-set growth of the switch and of the
controller per session (the switch's registers are allocated whole at load, so its growth
is the table entries and the server's own bookkeeping).

    .venv/bin/python -m bench p4sim_sessions
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

from controller.cookie import Flow, encode_options
from controller.install import ip
from controller.p4info import P4InfoIndex, load_p4info
from p4sim.ports import MemoryPort

from .controller_bench import CLIENT_IP, VIP, _ack, switch_and_controller
from .p4sim_bench import compiled

SYN, RST_ACK = 0x02, 0x14
EXTRA = 64  # ACKs beyond the table's capacity: each must be refused with a RST
CHUNK = 1000  # ACKs injected at once; the next chunk waits for this one's server SYNs


def rss(pid: int | str = "self") -> int:
    """Resident set of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _drain(port: MemoryPort, want: int, flags: int, timeout: float) -> set[bytes]:
    """Client (address, port) of the IPv4 TCP segments with exactly `flags` seen on
    `port`, until `want` distinct ones arrived or nothing came for `timeout` seconds.
    Read from the bytes (untagged Ethernet): a packet parser in this process would take
    the CPU from the switch it measures."""
    seen: set[bytes] = set()
    while len(seen) < want:
        try:
            data = port.sent.get(timeout=timeout)
        except queue.Empty:
            break
        if data[12:14] != b"\x08\x00" or data[23] != 6:
            continue
        tcp = 14 + (data[14] & 0x0F) * 4
        if data[tcp + 13] != flags:
            continue
        if flags == SYN:  # to the server: the client is the source
            seen.add(data[26:30] + data[tcp:tcp + 2])
        else:  # to the client: the destination
            seen.add(data[30:34] + data[tcp + 2:tcp + 4])
    return seen


def sessions_held() -> None:
    p4info, _devcfg = compiled("synproxy")
    slots = P4InfoIndex(load_p4info(str(p4info))).get("registers", "session_state").size
    capacity = slots - 1  # slot 0 is never a session
    # Sessions stay in SYN_SENT (no server answers) for the whole run: the first server
    # SYN retransmission comes after syn_timeout, the release after one retry.
    slow_retries = ("sessions: {syn_timeout: 30}", "sessions: {syn_timeout: 300, syn_retries: 1}")
    with switch_and_controller("c", "error", lambda text: text.replace(*slow_retries)) as (
            ports, ctl):
        opts = encode_options(1460, 7, True, False)
        client, vip = ip(CLIENT_IP), ip(VIP)
        # Two clients' worth of ports for the table; the ones beyond it come from the
        # client the switch has a neighbour entry for (the RSTs are routed to it).
        flows = [Flow(client + (i >> 15), vip, 1024 + (i & 0x7FFF), 80)
                 for i in range(capacity)]
        flows += [Flow(client, vip, 40000 + i, 80) for i in range(EXTRA)]
        acks = [_ack(f, 1000 * i + 1, opts) for i, f in enumerate(flows)]
        switch0, ctl0 = rss(), rss(ctl.pid)
        t0 = time.perf_counter()
        syns: set[bytes] = set()
        for lo in range(0, capacity, CHUNK):  # paced: the capacity, not a burst's loss
            chunk = acks[lo:min(lo + CHUNK, capacity)]
            for a in chunk:
                ports[1].inject(a)
            syns |= _drain(ports[2], len(chunk), SYN, timeout=30)
        dt = time.perf_counter() - t0
        switch1, ctl1 = rss(), rss(ctl.pid)
        for a in acks[capacity:]:
            ports[1].inject(a)
        rsts = _drain(ports[1], EXTRA, RST_ACK, timeout=15)
        n = max(len(syns), 1)
        print(f"p4sim sessions (native back end): {len(syns)} of {capacity} slots held "
              f"(server SYN out for each, {dt:.1f} s to fill); {len(rsts)} of {EXTRA} "
              "ACKs beyond them answered with a RST")
        print(f"memory per session: switch {(switch1 - switch0) / n:,.0f} B "
              f"(resident set {switch0 / 1e6:.0f} -> {switch1 / 1e6:.0f} MB, this process "
              f"with the P4Runtime server), controller {(ctl1 - ctl0) / n:,.0f} B "
              f"({ctl0 / 1e6:.0f} -> {ctl1 / 1e6:.0f} MB)")


__all__ = ["sessions_held"]
