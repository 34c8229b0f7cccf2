"""Send a bounded burst of frames on one interface and count what comes back on
another; print one JSON line with the figures. Runs inside a namespace:

    ip netns exec NS python -m bench.blast --tx gen0 --rx gen1 --frames f.hex --count 200000

`--frames` holds one hex-encoded frame per line; they are sent round-robin. Sending
stops after `--count` frames or `--seconds`, whichever comes first; receiving stops
`--drain` seconds after the last frame arrived (or was sent).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_socket(ifname: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
    s.bind((ifname, 0))
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tx", required=True)
    ap.add_argument("--rx", required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=0.0, help="frames/s to offer; 0 = as fast as possible")
    ap.add_argument("--drain", type=float, default=1.0)
    args = ap.parse_args()

    with open(args.frames) as f:
        frames = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    rx = open_socket(args.rx)
    rx.settimeout(0.1)
    tx = open_socket(args.tx)
    got = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    def receive() -> None:
        while True:
            try:
                _, addr = rx.recvfrom(65535)
            except TimeoutError:
                if done.is_set() and time.monotonic() - max(got["last"], sent_at["end"]) > args.drain:
                    return
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            now = time.monotonic()
            if got["n"] == 0:
                got["first"] = now
            got["n"] += 1
            got["last"] = now

    sent_at = {"start": 0.0, "end": float("inf")}
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    n = len(frames)
    start = sent_at["start"] = time.monotonic()
    deadline = start + args.seconds
    sent = 0
    interval = 1.0 / args.rate if args.rate else 0.0
    while sent < args.count:
        tx.send(frames[sent % n])
        sent += 1
        if sent & 1023 == 0 and time.monotonic() > deadline:
            break
        if interval:
            target = start + sent * interval
            while time.monotonic() < target:
                pass
    sent_at["end"] = time.monotonic()
    done.set()
    t.join(timeout=args.seconds + args.drain + 5)
    span = got["last"] - got["first"]
    print(json.dumps({
        "sent": sent,
        "send_seconds": round(sent_at["end"] - start, 3),
        "offered_pps": round(sent / max(sent_at["end"] - start, 1e-9)),
        "received": got["n"],
        "receive_seconds": round(span, 3),
        "received_pps": round(got["n"] / span) if span > 0 else 0,
    }))


if __name__ == "__main__":
    main()
