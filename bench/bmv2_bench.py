"""bmv2 (`simple_switch_grpc`) beside p4sim, on the paths of p4sim's pipeline bench.

    TARGET=bmv2 make bench                      # part of the default run
    .venv/bin/python -m bench bmv2_synproxy     # alone (root: network namespaces)

The same rig for both switches: the switch in namespace `sw` between veths, a
sender (`bench.blast`) in namespace `gen` offering more than the switch takes on one
port, a receiver counting what comes out of the other. The paths and frames are
`p4sim_bench`'s: forwarding.p4 routing UDP; synproxy.p4 answering SYNs with SYN/ACKs
(the cookie's HalfSipHash in P4), and translating an established session's segments
each way. Each figure is the rate out of the switch, in one run, p4sim (C back end,
its default) first.

bmv2 answers every P4Runtime register write with UNIMPLEMENTED, so its sessions are
established as a controller's are (C2, D8): the two `sessions` entries, then the
server's SYN/ACK through the switch (which turns it into the ACK to the server and the
window update to the client). p4sim's are too, so both run the same state.

Without `p4c-bm2-ss` and `simple_switch_grpc` on PATH it prints that it is skipped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import entities
from controller.client import P4RuntimeClient
from controller.p4info import P4InfoIndex, load_p4info
from topo import targets
from topo.netns import Lab

from .p4sim_bench import (
    CLIENT_NET,
    CLIENT_PORT,
    EXPECTED_OUT,
    FLOWS,
    RS_IP,
    RS_PORT,
    SERVER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    SP_ROUTER_MAC,
    VIP,
    VPORT,
    blast,
    frames,
    route_entries,
    synproxy_packets,
    synproxy_setup,
)

#: The targets measured, in the order printed.
TARGETS = ("p4sim", "bmv2")
FORWARDING = "forwarding (forwarding.p4, routed UDP)"


def session_entries(p4: P4InfoIndex, flow: int) -> list:
    """The two `sessions` entries of client flow `flow`, as p4sim_bench's sessions
    (slot = flow, gen = flow + 1, cookie 0x10000 * (flow + 1)), without register
    writes: the server's SYN/ACK (`establishing_synacks`) starts the slot."""
    sport, client = 40000 + flow, f"{CLIENT_NET}.{1 + flow}"
    te = entities.table_entry
    cookie, gen = 0x10000 * (flow + 1), flow + 1
    return [
        entities.update("INSERT", te(
            p4, "sessions",
            {"src_addr": client, "dst_addr": VIP, "src_port": sport, "dst_port": VPORT},
            "set_client_session",
            {"slot": flow, "service_id": SERVICE_ID, "rs_addr": RS_IP, "rs_port": RS_PORT, "gen": gen},
        )),
        entities.update("INSERT", te(
            p4, "sessions",
            {"src_addr": RS_IP, "dst_addr": client, "src_port": RS_PORT, "dst_port": sport},
            "set_server_session",
            {"slot": flow, "service_id": SERVICE_ID, "vip_addr": VIP, "vip_port": VPORT,
             "cookie": cookie, "ts_base": 0, "client_window": 502, "win_shift": 7,
             "gen": gen},
        )),
    ]


def establishing_synacks() -> list[bytes]:
    """The real server's SYN/ACK of each flow (ack = cookie + 1): ESTABLISHED."""
    return [
        bytes(
            Ether(src=SERVER_MAC, dst=SP_ROUTER_MAC)
            / IP(src=RS_IP, dst=f"{CLIENT_NET}.{1 + i}")
            / TCP(sport=RS_PORT, dport=40000 + i, flags="SA", seq=0x7FFF0000 + i,
                  ack=0x10000 * (i + 1) + 1, window=64240,
                  options=[("MSS", 1460), ("NOP", None), ("NOP", None),
                           ("Timestamp", (500 + i, 12345))])
        )
        for i in range(FLOWS)
    ]


@contextmanager
def switch_on_veths(target: str, program: str, ports: list[int]
                    ) -> Iterator[tuple[str, P4RuntimeClient, P4InfoIndex]]:
    """`program` compiled for `target`, its switch in namespace `sw`, port p on veth
    `sw<p>` whose peer is `gen<p>` in namespace `gen`, the pipeline pushed; yields
    (gen namespace, connected P4Runtime client, P4Info index)."""
    art = targets.build_program(program, target)
    info = load_p4info(art.p4info)
    with Lab(prefix="bb") as lab, tempfile.TemporaryDirectory() as tmp:
        sw, gen = lab.add_ns("sw"), lab.add_ns("gen")
        for p in ports:
            lab.veth(gen, f"gen{p}", sw, f"sw{p}")
        sock = f"unix:{tmp}/sw.sock"
        # Errors only: bmv2's per-packet logging would be measured too.
        spec = targets.SwitchSpec(target, {p: f"sw{p}" for p in ports}, sock,
                                  log_level="error")
        log = f"{tmp}/switch.log"
        targets.start(spec, lambda cmd: lab.popen(cmd, netns=sw, log_path=log), log,
                      timeout=120, what=target)
        with P4RuntimeClient(sock) as client:
            client.connect()
            client.set_pipeline(info, Path(art.device_config).read_bytes())
            yield gen, client, P4InfoIndex(info)


def rates(target: str, count: int, seconds: float) -> dict[str, int]:
    """Path -> packets per second out of the switch, for one target."""
    out: dict[str, int] = {}
    with switch_on_veths(target, "forwarding", [0, 1]) as (gen, client, p4):
        client.write(route_entries(p4, 1))
        out[FORWARDING] = blast(gen, "gen0", "gen1", frames(), count, seconds)["received_pps"]
    with switch_on_veths(target, "synproxy", [CLIENT_PORT, SERVER_PORT]) as (gen, client, p4):
        client.write(synproxy_setup(p4))
        for flow in range(FLOWS):
            client.write(session_entries(p4, flow))
        # Each SYN/ACK once: the window updates come out of the client port.
        r = blast(gen, f"gen{SERVER_PORT}", f"gen{CLIENT_PORT}", establishing_synacks(),
                  FLOWS, 5.0)
        if r["received"] < FLOWS:
            raise RuntimeError(f"{target}: {r['received']}/{FLOWS} sessions established")
        for path, (port, pkts) in synproxy_packets().items():
            r = blast(gen, f"gen{port}", f"gen{EXPECTED_OUT[path]}", pkts, count, seconds)
            out[f"{path} (synproxy.p4)"] = r["received_pps"]
    return out


def synproxy_bmv2(count: int = 100_000, seconds: float = 8.0) -> None:
    """Both targets on the same paths, side by side, with bmv2 / p4sim."""
    if (why := targets.missing("bmv2")) is not None:
        print(f"bmv2 rates: skipped ({why})", flush=True)
        return
    measured = {t: rates(t, count, seconds) for t in TARGETS}
    width = max(len(p) for p in measured["p4sim"])
    print(f"{'path (veth -> switch -> veth, pkt/s out)':<{width}}  {'p4sim':>9}  {'bmv2':>9}"
          f"  bmv2/p4sim", flush=True)
    for path, p4sim_pps in measured["p4sim"].items():
        bmv2_pps = measured["bmv2"][path]
        print(f"{path:<{width}}  {p4sim_pps:>9,}  {bmv2_pps:>9,}"
              f"  {bmv2_pps / max(p4sim_pps, 1):.2f}", flush=True)


def when_target_bmv2() -> None:
    """`make bench`'s part: synproxy_bmv2 with TARGET=bmv2, else says it is skipped."""
    if os.environ.get("TARGET", "p4sim") != "bmv2":
        print("bmv2 rates: skipped (TARGET=bmv2 make bench runs them)", flush=True)
        return
    synproxy_bmv2()
