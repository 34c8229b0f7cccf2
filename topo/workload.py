"""A legitimate client: HTTP downloads through the proxy, each checked by hash.

    python -m topo.workload --vip 10.0.0.100 --port 80 --size 200000 --seconds 20 --concurrency 4

Runs in the client namespace with the kernel's own TCP stack. Prints one JSON line
per request: start time (s since the run began), connect time, time to the first byte
of the answer (from the start of the connect, so the whole handshake through the
proxy, the server's side included) and total time (ms), ok, the error if any, the
server that answered. Bounded by `--seconds` and `--count`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import threading
import time

from .httpd import blob_sha256


def fetch(vip: str, port: int, size: int, seed: int, timeout: float) -> dict:
    t0 = time.monotonic()
    rec: dict = {"ok": False, "seed": seed}
    try:
        s = socket.create_connection((vip, port), timeout=timeout)
    except OSError as e:
        rec.update(error=f"connect: {e.__class__.__name__}: {e}", total_ms=_ms(t0))
        return rec
    rec["connect_ms"] = _ms(t0)
    try:
        with s:
            s.settimeout(timeout)
            s.sendall(f"GET /blob/{size}?seed={seed} HTTP/1.1\r\nHost: {vip}\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = bytearray()
            while True:
                piece = s.recv(1 << 16)
                if not piece:
                    break
                if not data:
                    rec["first_byte_ms"] = _ms(t0)
                data += piece
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        rec["server"] = headers.get("x-server", "?")
        if not lines[0].startswith("HTTP/1.1 200"):
            rec["error"] = f"status: {lines[0]}"
        elif len(body) != size:
            rec["error"] = f"short body: {len(body)} of {size} bytes"
        elif hashlib.sha256(body).hexdigest() != blob_sha256(size, seed):
            rec["error"] = "content differs"
        else:
            rec["ok"] = True
    except OSError as e:
        rec["error"] = f"transfer: {e.__class__.__name__}: {e}"
    rec["total_ms"] = _ms(t0)
    return rec


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--interval", type=float, default=0.0, help="pause between requests per worker")
    args = ap.parse_args()
    start = time.monotonic()
    lock = threading.Lock()
    issued = [0]

    def worker() -> None:
        while time.monotonic() - start < args.seconds:
            with lock:
                if issued[0] >= args.count:
                    return
                seed = issued[0]
                issued[0] += 1
            t = round(time.monotonic() - start, 3)
            rec = fetch(args.vip, args.port, args.size, seed, args.timeout)
            rec["t"] = t
            with lock:
                sys.stdout.write(json.dumps(rec) + "\n")
                sys.stdout.flush()
            if args.interval:
                time.sleep(args.interval)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=args.seconds + 2 * args.timeout + 5)


if __name__ == "__main__":
    main()
