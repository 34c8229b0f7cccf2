"""p4sim packet rates on p4src/v1model/forwarding.p4.

* `forwarding_inprocess`: the compiled pipeline alone (`Pipeline.process` in a loop),
  no sockets: what the generated code costs per packet.
* `forwarding_veth`: the whole switch between two veths in namespaces: a sender
  offers more than p4sim can take on one port, a receiver counts what comes out of
  the other; the figure is the forwarded rate.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from controller import entities
from controller.client import P4RuntimeClient
from controller.p4info import P4InfoIndex, load_p4info
from topo.netns import Lab, grpc_ready, wait_for

ROOT = Path(__file__).resolve().parent.parent
ROUTER_MAC, OUT_MAC = "02:00:00:00:00:fe", "02:00:00:00:02:02"


def compiled(program: str) -> tuple[Path, Path]:
    """(p4info, device config) of p4src/v1model/<program>.p4, compiled if needed."""
    out = ROOT / "build" / "p4sim" / program
    p4info, config = out / "p4info.txt", out / f"{program}.p4sim"
    src = ROOT / "p4src" / "v1model" / f"{program}.p4"
    if not config.exists() or config.stat().st_mtime < max(
            p.stat().st_mtime for p in (ROOT / "p4src").rglob("*.p4")):
        subprocess.run([str(Path(sys.executable).parent / "p4sim-compile"), str(src), "-o",
                        str(out)], check=True)
    return p4info, config


def route_entries(p4: P4InfoIndex, out_port: int) -> list:
    return [
        entities.update("INSERT", entities.table_entry(
            p4, "router_macs", {"dst_mac": ROUTER_MAC}, "set_routed")),
        entities.update("INSERT", entities.table_entry(
            p4, "ipv4_routes", {"dst_addr": "10.0.2.0/24"}, "route_to",
            {"port": out_port, "src_mac": "02:00:00:00:02:fe", "dst_mac": OUT_MAC})),
    ]


def frames(n: int = 64) -> list[bytes]:
    """Distinct UDP flows, 64-byte payloads, to the router MAC."""
    return [bytes(Ether(src="02:00:00:00:01:01", dst=ROUTER_MAC)
                  / IP(src=f"10.0.1.{1 + i % 200}", dst="10.0.2.2") / UDP(sport=10000 + i, dport=53)
                  / Raw(b"x" * 64)) for i in range(n)]


def forwarding_inprocess(count: int = 30000) -> None:
    from p4sim.backend.pipeline import Pipeline
    from p4sim.device import DeviceState
    from p4sim.device.p4rt import write

    p4info_path, config = compiled("forwarding")
    info = load_p4info(p4info_path)
    state = DeviceState(info)
    pipe = Pipeline.load(config.read_bytes(), info, state, 255)
    for upd in route_entries(P4InfoIndex(info), 1):
        write(state, upd)
    pkts = frames()
    assert pipe.process(0, pkts[0]) and pipe.process(0, pkts[0])[0][0] == 1, "route not taken"
    n = len(pkts)
    start = time.perf_counter()
    for i in range(count):
        pipe.process(0, pkts[i % n])
    elapsed = time.perf_counter() - start
    print(f"p4sim pipeline only (forwarding.p4, routed UDP, 1 core): {count / elapsed:,.0f} pkt/s "
          f"({elapsed / count * 1e6:.1f} us/pkt, {count} packets)")


def forwarding_veth(count: int = 200_000, seconds: float = 10.0) -> None:
    p4info_path, config = compiled("forwarding")
    with Lab(prefix="bn") as lab, tempfile.TemporaryDirectory() as tmp:
        sw, gen = lab.add_ns("sw"), lab.add_ns("gen")
        lab.veth(gen, "gen0", sw, "sw0")
        lab.veth(gen, "gen1", sw, "sw1")
        sock = f"unix:{tmp}/sw.sock"
        proc = lab.popen([str(Path(sys.executable).parent / "p4sim"), str(config), "--p4info",
                          str(p4info_path), "-i", "0@sw0", "-i", "1@sw1",
                          "--grpc-server-addr", sock, "-L", "error"], netns=sw,
                         log_path=f"{tmp}/p4sim.log")
        wait_for(lambda: proc.poll() is not None or Path(sock[5:]).exists(), 60,
                 what="p4sim to start")
        grpc_ready(sock, 30)
        info = load_p4info(p4info_path)
        with P4RuntimeClient(sock) as client:
            client.connect()
            client.write(route_entries(P4InfoIndex(info), 1))
        frame_file = Path(tmp) / "frames.hex"
        frame_file.write_text("\n".join(f.hex() for f in frames()))
        out = subprocess.run(["ip", "netns", "exec", gen, sys.executable, "-m", "bench.blast",
                              "--tx", "gen0", "--rx", "gen1", "--frames", str(frame_file),
                              "--count", str(count), "--seconds", str(seconds)],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"p4sim veth->veth (forwarding.p4, routed UDP, 110-byte frames): "
              f"{r['received_pps']:,} pkt/s forwarded; offered {r['offered_pps']:,} pkt/s, "
              f"{r['received']:,}/{r['sent']:,} packets through")
