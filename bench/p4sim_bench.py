"""p4sim packet rates on p4src/v1model/forwarding.p4 and synproxy.p4.

* `forwarding_inprocess`: the compiled pipeline alone, no sockets, on both back ends
  in the same run: the Python back end (`Pipeline.process` in a loop), the C back end
  called per packet from Python (`NativePipeline.process`, what the switch calls) and
  in its own native loop (`NativePipeline.run_batch`), with the ratios.
* `forwarding_veth`: the whole switch between two veths in namespaces: a sender
  offers more than p4sim can take on one port, a receiver counts what comes out of
  the other; the figure is the forwarded rate.
* `synproxy_inprocess`: synproxy.p4's pipeline alone (both back ends, as above) on the
  proxy paths of DESIGN §7:
  client SYN -> SYN/ACK with a cookie (HalfSipHash in P4), and the established
  session's translated packets each way. Service, keys and sessions go in as
  P4Runtime updates (`p4sim.device.p4rt.write`), as a controller would write them.
* `synproxy_veth`: synproxy.p4 in the veth rig of `forwarding_veth`, on the same paths
  (SYN/ACKs come back out of the port the SYNs went in).

The in-process figures are CPU time (`time.process_time`) per packet, so that a machine
busy with other work does not distort them; wall-clock rates are printed alongside.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from controller import entities, p4consts
from controller.client import P4RuntimeClient
from controller.cookie import key_words
from controller.p4info import P4InfoIndex, load_p4info
from topo import targets
from topo.netns import Lab

ROOT = Path(__file__).resolve().parent.parent
ROUTER_MAC, OUT_MAC = "02:00:00:00:00:fe", "02:00:00:00:02:02"


def compiled(program: str) -> tuple[Path, Path]:
    """(p4info, device config) of p4src/v1model/<program>.p4, compiled if it changed."""
    art = targets.build_program(program, "p4sim")
    return art.p4info, art.device_config


def route_entries(p4: P4InfoIndex, out_port: int) -> list:
    return [
        entities.update(
            "INSERT", entities.table_entry(p4, "router_macs", {"dst_mac": ROUTER_MAC}, "set_routed")
        ),
        entities.update(
            "INSERT",
            entities.table_entry(
                p4,
                "ipv4_routes",
                {"dst_addr": "10.0.2.0/24"},
                "route_to",
                {"port": out_port, "src_mac": "02:00:00:00:02:fe", "dst_mac": OUT_MAC},
            ),
        ),
    ]


def frames(n: int = 64) -> list[bytes]:
    """Distinct UDP flows, 64-byte payloads, to the router MAC."""
    return [
        bytes(
            Ether(src="02:00:00:00:01:01", dst=ROUTER_MAC)
            / IP(src=f"10.0.1.{1 + i % 200}", dst="10.0.2.2")
            / UDP(sport=10000 + i, dport=53)
            / Raw(b"x" * 64)
        )
        for i in range(n)
    ]


def timed(
    process: Callable[[int, bytes], object], port: int, pkts: list[bytes], count: int
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `count` packets, cycling through `pkts`."""
    n = len(pkts)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        process(port, pkts[i % n])
    return time.process_time() - cpu, time.perf_counter() - wall


def report(what: str, count: int, cpu: float, wall: float) -> None:
    print(
        f"{what}: {count / cpu:,.0f} pkt/s on CPU time ({cpu / count * 1e6:.1f} us CPU/pkt), "
        f"{count / wall:,.0f} pkt/s wall, {count} packets",
        flush=True,
    )


def native_batch(pipe: object, port: int, pkts: list[bytes], count: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `count` packets through a native pipeline's own
    loop (`NativePipeline.run_batch`): the pipeline alone, no Python per packet."""
    cpu, wall = time.process_time(), time.perf_counter()
    pipe.run_batch(port, pkts, count)  # type: ignore[attr-defined]
    return time.process_time() - cpu, time.perf_counter() - wall


def side_by_side(
    what: str, pipes: dict[str, object], port: int, pkts: list[bytes], count: int
) -> None:
    """One path on both back ends in the same run: the Python back end per packet,
    the C back end per packet from Python (`process`, the switch's call) and alone in
    its native loop, with the ratio to the Python back end."""
    print(f"{what}:", flush=True)
    py_cpu, py_wall = timed(pipes["python"].process, port, pkts, count)  # type: ignore[attr-defined]
    report("  python back end", count, py_cpu, py_wall)
    n = count * 20
    cpu, wall = timed(pipes["c"].process, port, pkts, n)  # type: ignore[attr-defined]
    report("  c back end, process() per packet", n, cpu, wall)
    print(f"    = {py_cpu / count / (cpu / n):.1f} x the python back end", flush=True)
    n = count * 200
    cpu, wall = native_batch(pipes["c"], port, pkts, n)
    report("  c back end, pipeline alone (native loop)", n, cpu, wall)
    print(f"    = {py_cpu / count / (cpu / n):.1f} x the python back end", flush=True)


def forwarding_inprocess(count: int = 10000) -> None:
    from p4sim.backend.backends import pipeline_class
    from p4sim.device import DeviceState
    from p4sim.device.p4rt import write

    p4info_path, config = compiled("forwarding")
    info = load_p4info(p4info_path)
    pkts = frames()
    pipes = {}
    for backend in ("python", "c"):
        state = DeviceState(info)
        pipe = pipeline_class(backend).load(config.read_bytes(), info, state, 255)
        for upd in route_entries(P4InfoIndex(info), 1):
            write(state, upd)
        out = pipe.process(0, pkts[0])
        assert out and out[0][0] == 1, f"{backend}: route not taken"
        pipes[backend] = pipe
    side_by_side("p4sim pipeline only (forwarding.p4, routed UDP, 1 core)", pipes, 0, pkts, count)


# ------------------------------------------------------------------ synproxy.p4

CPU_PORT, CLIENT_PORT, SERVER_PORT = p4consts.CPU_PORT, 1, 2
SP_ROUTER_MAC, CLIENT_MAC, SERVER_MAC = (
    "02:00:00:00:00:aa",
    "02:00:00:00:00:01",
    "02:00:00:00:00:02",
)
CLIENT_NET, SERVER_NET = "10.0.0", "10.1.0"
VIP, VPORT, RS_IP, RS_PORT = "192.168.10.10", 80, "10.1.0.5", 8080
SERVICE_ID, KEY, EPOCH = 3, 0x0123456789ABCDEF, 5
FLOWS = 64  # distinct client flows (and sessions) the packets cycle through


def synproxy_setup(p4: P4InfoIndex) -> list:
    """Routes, reflect clone sessions, cookie keys and one protected service."""
    flags = p4consts.SVC_FLAG_SACK | p4consts.SVC_FLAG_TS | p4consts.SVC_FLAG_WSCALE
    k0, k1 = key_words(KEY)
    te = entities.table_entry
    ups = [
        te(p4, "router_macs", {"dst_mac": SP_ROUTER_MAC}, "set_routed"),
        te(
            p4,
            "ipv4_routes",
            {"dst_addr": f"{CLIENT_NET}.0/24"},
            "route_to",
            {"port": CLIENT_PORT, "src_mac": SP_ROUTER_MAC, "dst_mac": CLIENT_MAC},
        ),
        te(
            p4,
            "ipv4_routes",
            {"dst_addr": f"{SERVER_NET}.0/24"},
            "route_to",
            {"port": SERVER_PORT, "src_mac": SP_ROUTER_MAC, "dst_mac": SERVER_MAC},
        ),
        te(
            p4,
            "services",
            {"vip": VIP, "vport": (VPORT, 0xFFFF), "proto": (6, 0xFF)},
            "set_service",
            {
                "service_id": SERVICE_ID,
                "mode": p4consts.PROXY_MODE_ON,
                "flags": flags,
                "mss": 1460,
                "wscale": 7,
                "window": 0,
                "ttl": 64,
            },
            priority=10,
        ),
    ]
    out = [entities.update("INSERT", e) for e in ups]
    out.append(
        entities.update(
            "MODIFY",
            te(
                p4,
                "cookie_keys",
                None,
                "set_cookie_keys",
                {
                    "key0": k0,
                    "key1": k1,
                    "epoch": EPOCH,
                    "prev_key0": k0,
                    "prev_key1": k1,
                    "prev_epoch": EPOCH - 1,
                },
                is_default=True,
            ),
        )
    )
    for port in (CLIENT_PORT, SERVER_PORT):
        out.append(entities.update("INSERT", entities.clone_session(p4consts.REFLECT_SESSION_BASE + port, [(port, 1)])))
    # The heartbeat on, as a running controller keeps it (a limit no bench run reaches),
    # so that new connections pay its check.
    out.append(entities.update("MODIFY", te(
        p4, "controller_heartbeat", None, "set_heartbeat",
        {"instance": 1, "beat": 0, "limit": (1 << 31) - 1}, is_default=True)))
    return out


def session_updates(p4: P4InfoIndex, flow: int, delta: int) -> list:
    """An established session for client flow `flow` (slot = flow, gen = flow + 1), as
    the controller installs it (C2) and the server SYN/ACK completes it (D8): the
    latter's register writes are made by P4Runtime here (p4sim allows it)."""
    sport, client = 40000 + flow, f"{CLIENT_NET}.{1 + flow}"
    te = entities.table_entry
    cookie = 0x10000 * (flow + 1)
    gen = flow + 1
    ents = [
        te(
            p4,
            "sessions",
            {"src_addr": client, "dst_addr": VIP, "src_port": sport, "dst_port": VPORT},
            "set_client_session",
            {
                "slot": flow,
                "service_id": SERVICE_ID,
                "rs_addr": RS_IP,
                "rs_port": RS_PORT,
                "gen": gen,
            },
        ),
        te(
            p4,
            "sessions",
            {"src_addr": RS_IP, "dst_addr": client, "src_port": RS_PORT, "dst_port": sport},
            "set_server_session",
            {
                "slot": flow,
                "service_id": SERVICE_ID,
                "vip_addr": VIP,
                "vip_port": VPORT,
                "cookie": cookie,
                "ts_base": 0,
                "client_window": 502,
                "win_shift": 7,
                "gen": gen,
            },
        ),
    ]
    out = [entities.update("INSERT", e) for e in ents]
    for name, value in (
        ("session_gen", gen),
        ("session_state", p4consts.SESSION_ESTABLISHED),
        ("session_delta", delta),
        ("session_tsoff", 1000),
    ):
        out.append(entities.update("MODIFY", entities.register_entry(p4, name, flow, value)))
    return out


def synproxy_packets() -> dict[str, tuple[int, list[bytes]]]:
    """Per path: (ingress port, frames). SYNs carry MSS, SACK-permitted, timestamps
    and window scale, from flows with no session; established segments carry a
    timestamp and 64 bytes."""
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("WScale", 7)]
    ts = [("NOP", None), ("NOP", None), ("Timestamp", (22222, 11111))]

    def client(
        i: int, flags: str, seq: int, ack: int, options: list, payload: bytes, sport: int = 40000
    ) -> bytes:
        return bytes(
            Ether(src=CLIENT_MAC, dst=SP_ROUTER_MAC)
            / IP(src=f"{CLIENT_NET}.{1 + i}", dst=VIP)
            / TCP(
                sport=sport + i,
                dport=VPORT,
                flags=flags,
                seq=seq,
                ack=ack,
                window=502,
                options=options,
            )
            / payload
        )

    def server(i: int) -> bytes:
        return bytes(
            Ether(src=SERVER_MAC, dst=SP_ROUTER_MAC)
            / IP(src=RS_IP, dst=f"{CLIENT_NET}.{1 + i}")
            / TCP(
                sport=RS_PORT,
                dport=40000 + i,
                flags="PA",
                seq=7000 + i,
                ack=9000,
                window=509,
                options=ts,
            )
            / Raw(b"s" * 64)
        )

    return {
        "SYN -> SYN/ACK": (
            CLIENT_PORT,
            [client(i, "S", 1000 + i, 0, opts, b"", 30000) for i in range(FLOWS)],
        ),
        "established, client -> server": (
            CLIENT_PORT,
            [client(i, "PA", 9000, 0x10000 * (i + 1) + 1, ts, b"c" * 64) for i in range(FLOWS)],
        ),
        "established, server -> client": (SERVER_PORT, [server(i) for i in range(FLOWS)]),
    }


EXPECTED_OUT = {
    "SYN -> SYN/ACK": CLIENT_PORT,
    "established, client -> server": SERVER_PORT,
    "established, server -> client": CLIENT_PORT,
}


def synproxy_inprocess(count: int = 5000) -> None:
    from p4sim.backend.backends import pipeline_class
    from p4sim.device import DeviceState
    from p4sim.device.p4rt import write

    p4info_path, config = compiled("synproxy")
    info = load_p4info(p4info_path)
    p4 = P4InfoIndex(info)
    pipes = {}
    for backend in ("python", "c"):
        state = DeviceState(info)
        pipe = pipeline_class(backend).load(config.read_bytes(), info, state, CPU_PORT)
        for upd in synproxy_setup(p4):
            write(state, upd)
        for flow in range(FLOWS):
            for upd in session_updates(p4, flow, delta=0x7FFF0000 + flow):
                write(state, upd)
        pipes[backend] = pipe
    for path, (port, pkts) in synproxy_packets().items():
        for backend, pipe in pipes.items():
            for p in pkts:  # every flow takes the path measured, before timing it
                out = pipe.process(port, p)  # type: ignore[attr-defined]
                assert len(out) == 1 and out[0][0] == EXPECTED_OUT[path], f"{path}: got {out}"
            assert pipe.faults == 0, f"{backend}, {path}: pipeline faults"  # type: ignore[attr-defined]
        side_by_side(f"p4sim pipeline only (synproxy.p4, {path}, 1 core)", pipes, port, pkts, count)


@contextmanager
def p4sim_on_veths(
    program: str, ports: list[int], backend: str = "python"
) -> Iterator[tuple[str, str, P4InfoIndex]]:
    """p4sim running `program` as a process in namespace `sw`, port p on veth `sw<p>`
    whose peer is `gen<p>` in namespace `gen`; yields (gen namespace, gRPC address,
    P4Info index)."""
    p4info_path, config = compiled(program)
    with Lab(prefix="bn") as lab, tempfile.TemporaryDirectory() as tmp:
        sw, gen = lab.add_ns("sw"), lab.add_ns("gen")
        for p in ports:
            lab.veth(gen, f"gen{p}", sw, f"sw{p}")
        sock = f"unix:{tmp}/sw.sock"
        spec = targets.SwitchSpec("p4sim", {p: f"sw{p}" for p in ports}, sock, log_level="error",
                                  config=config, p4info=p4info_path,
                                  options=["--backend", backend])
        log = f"{tmp}/p4sim.log"
        targets.start(spec, lambda cmd: lab.popen(cmd, netns=sw, log_path=log), log,
                      timeout=60, what="p4sim")
        yield gen, sock, P4InfoIndex(load_p4info(p4info_path))


def blast(gen: str, tx: str, rx: str, pkts: list[bytes], count: int, seconds: float) -> dict:
    """bench.blast in namespace `gen`: its JSON figures."""
    with tempfile.TemporaryDirectory() as tmp:
        frame_file = Path(tmp) / "frames.hex"
        frame_file.write_text("\n".join(f.hex() for f in pkts))
        out = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                gen,
                sys.executable,
                "-m",
                "bench.blast",
                "--tx",
                tx,
                "--rx",
                rx,
                "--frames",
                str(frame_file),
                "--count",
                str(count),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def forwarding_veth(count: int = 200_000, seconds: float = 10.0) -> None:
    rates = {}
    for backend in ("python", "c"):
        with p4sim_on_veths("forwarding", [0, 1], backend) as (gen, sock, p4):
            with P4RuntimeClient(sock) as client:
                client.connect()
                client.write(route_entries(p4, 1))
            r = blast(gen, "gen0", "gen1", frames(), count, seconds)
            rates[backend] = r["received_pps"]
            print(
                f"p4sim veth->veth (forwarding.p4, routed UDP, 110-byte frames, {backend} back end): "
                f"{r['received_pps']:,} pkt/s forwarded; offered {r['offered_pps']:,} pkt/s, "
                f"{r['received']:,}/{r['sent']:,} packets through",
                flush=True,
            )
    print(f"  c / python: {rates['c'] / max(rates['python'], 1):.1f} x", flush=True)


def synproxy_veth(count: int = 200_000, seconds: float = 10.0) -> None:
    """synproxy.p4 in p4sim as a process between veths: SYNs in on the client port
    and SYN/ACKs back out of it; established segments each way across the switch."""
    rates: dict[str, dict[str, int]] = {}
    for backend in ("python", "c"):
        with p4sim_on_veths("synproxy", [CLIENT_PORT, SERVER_PORT], backend) as (gen, sock, p4):
            with P4RuntimeClient(sock) as client:
                client.connect()
                client.write(synproxy_setup(p4))
                for flow in range(FLOWS):
                    client.write(session_updates(p4, flow, delta=0x7FFF0000 + flow))
            for path, (port, pkts) in synproxy_packets().items():
                out_port = EXPECTED_OUT[path]
                r = blast(gen, f"gen{port}", f"gen{out_port}", pkts, count, seconds)
                rates.setdefault(path, {})[backend] = r["received_pps"]
                print(
                    f"p4sim veth (synproxy.p4, {path}, {backend} back end): "
                    f"{r['received_pps']:,} pkt/s out; offered {r['offered_pps']:,} pkt/s, "
                    f"{r['received']:,}/{r['sent']:,} packets",
                    flush=True,
                )
    for path, r in rates.items():
        print(f"  {path}: c / python {r['c'] / max(r['python'], 1):.1f} x", flush=True)
