"""A bounded TCP flood with spoofed sources from the test-only range 198.18.0.0/15
(IPv4) or the benchmarking prefix 2001:2::/48 (IPv6, when the VIP is IPv6).

    python -m topo.flood --iface X --src-mac M --dst-mac G --vip 10.0.0.100 --port 80 \\
        --kind syn --rate 2000 --seconds 10 --count 50000 [--source 198.18.7.0/24]

Runs in the attacker's namespace and writes prebuilt Ethernet frames straight to its
interface (AF_PACKET), so the spoofed sources never touch the attacker's routing. It
stops after `--count` frames or `--seconds`, whichever comes first, and never sends
from outside SPOOF_RANGE. Prints one JSON line: frames sent and the per-second counts.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import socket
import time

from .topology import SPOOF_RANGE, SPOOF_RANGE6

FLAGS = {"syn": "S", "ack": "A", "rst": "R", "fin": "FA", "synack": "SA"}


def source_network(vip: str, source: str | None = None
                   ) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The spoofed sources: the test range of the VIP's family, or `source`, which must
    lie inside it (ValueError otherwise: a flood never comes from real addresses)."""
    v6 = ipaddress.ip_address(vip).version == 6
    whole = ipaddress.ip_network(SPOOF_RANGE6 if v6 else SPOOF_RANGE)
    if source is None:
        return whole
    net = ipaddress.ip_network(source)
    if net.version != whole.version or not net.subnet_of(whole):  # type: ignore[arg-type]
        raise ValueError(f"--source {source} is not inside the test range {whole}")
    if net.num_addresses < 4:
        raise ValueError(f"--source {source}: at least 4 addresses (a /30)")
    return net


def build_frames(kind: str, src_mac: str, dst_mac: str, vip: str, port: int, n: int,
                 seed: int = 1, source: str | None = None) -> list[bytes]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    rng = random.Random(seed)
    v6 = ipaddress.ip_address(vip).version == 6
    net = source_network(vip, source)
    frames = []
    for _ in range(n):
        src = str(net.network_address + rng.randrange(1, net.num_addresses - 1))
        ip = IPv6(src=src, dst=vip, hlim=64) if v6 else IP(src=src, dst=vip, ttl=64)
        tcp = TCP(sport=rng.randrange(1024, 65536), dport=port, flags=FLAGS[kind],
                  seq=rng.getrandbits(32), ack=rng.getrandbits(32) if "A" in FLAGS[kind] else 0,
                  window=64240, options=[("MSS", 1460)] if kind == "syn" else [])
        frames.append(bytes(Ether(src=src_mac, dst=dst_mac) / ip / tcp))
    return frames


def flood(iface: str, frames: list[bytes], rate: float, seconds: float, count: int) -> dict:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    per_second: list[int] = []
    sent = 0
    n = len(frames)
    while sent < count:
        now = time.monotonic()
        elapsed = now - start
        if elapsed >= seconds:
            break
        sec = int(elapsed)
        while len(per_second) <= sec:
            per_second.append(0)
        # Pace to `rate`: send what is due, then sleep a little.
        due = int(elapsed * rate) + 1 if rate > 0 else sent + 256
        while sent < min(due, count):
            try:
                s.send(frames[sent % n])
            except OSError:
                break  # the interface's queue is full: the next round retries
            sent += 1
            per_second[sec] += 1
        if rate > 0:
            time.sleep(min(0.002, max(0.0, (sent / rate) - (time.monotonic() - start))))
    s.close()
    return {"sent": sent, "seconds": round(time.monotonic() - start, 3), "per_second": per_second}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--kind", choices=sorted(FLAGS), default="syn")
    ap.add_argument("--rate", type=float, default=1000.0, help="frames per second (0: as fast as possible)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=4096, help="distinct spoofed frames to cycle")
    ap.add_argument("--source", help="a prefix inside the test range to spoof from "
                                     "(default: the whole range)")
    args = ap.parse_args()
    if args.seconds > 600 or args.count > 10_000_000:
        ap.error("floods are bounded: at most 600 s and 10,000,000 frames")
    try:
        source_network(args.vip, args.source)
    except ValueError as e:
        ap.error(str(e))
    frames = build_frames(args.kind, args.src_mac, args.dst_mac, args.vip, args.port,
                          args.distinct, source=args.source)
    print(json.dumps(flood(args.iface, frames, args.rate, args.seconds, args.count)))


if __name__ == "__main__":
    main()
