"""Open-loop connection probe for the side-by-side comparison (bench/compare.py).

    python -m bench.nft_connect --vip 10.0.0.100 --port 80 --rate 20 --seconds 6 --timeout 3

The hash-checked downloads of `topo.workload` are closed-loop: each client starts its
next download when the last one ends, so a proxy that crawls shows a few slow
successes, not failures. This probe opens TCP connections at a fixed rate whatever
happens to earlier ones (non-blocking connects, one selector), so its success rate is
the share of legitimate connection attempts a proxy completes within `--timeout`
under the flood, and its connect times include the SYN retransmissions a lossy proxy
forces (the kernel's first one comes after one second). Each connection is closed as
soon as it is established. Prints one JSON line: attempts, connected, the connect
times of the connected ones (ms) and the first errors seen.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import time


def probe(vip: str, port: int, rate: float, seconds: float, timeout: float) -> dict:
    if rate <= 0 or seconds <= 0 or timeout <= 0:
        raise ValueError("rate, seconds and timeout must be positive")
    sel = selectors.DefaultSelector()
    total = max(1, int(rate * seconds))
    start = time.monotonic()
    pending: dict[socket.socket, float] = {}
    connect_ms: list[float] = []
    errors: dict[str, int] = {}
    issued = 0

    def fail(reason: str) -> None:
        errors[reason] = errors.get(reason, 0) + 1

    def finish(s: socket.socket) -> None:
        sel.unregister(s)
        del pending[s]
        s.close()

    while issued < total or pending:
        now = time.monotonic()
        while issued < total and now >= start + issued / rate:
            s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET,
                              socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((vip, port))
            issued += 1
            if err not in (0, errno.EINPROGRESS):
                fail(errno.errorcode.get(err, str(err)))
                s.close()
                continue
            pending[s] = now
            sel.register(s, selectors.EVENT_WRITE)
        for s, t0 in list(pending.items()):
            if now - t0 > timeout:
                fail("timeout")
                finish(s)
        deadlines = [t0 + timeout for t0 in pending.values()]
        if issued < total:
            deadlines.append(start + issued / rate)
        wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 0.0
        for key, _ in sel.select(wait):
            fileobj = key.fileobj
            assert isinstance(fileobj, socket.socket)
            s = fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                connect_ms.append(round((time.monotonic() - pending[s]) * 1000, 3))
            else:
                fail(errno.errorcode.get(err, str(err)))
            finish(s)
    sel.close()
    return {"attempts": issued, "connected": len(connect_ms), "connect_ms": connect_ms,
            "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--rate", type=float, default=20.0, help="connection attempts per second")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--timeout", type=float, default=3.0, help="per attempt, seconds")
    args = ap.parse_args()
    if not 0 < args.rate <= 1000 or not 0 < args.seconds <= 600 or not 0 < args.timeout <= 60:
        ap.error("bounded probe: rate 0..1000/s, seconds 0..600, timeout 0..60")
    print(json.dumps(probe(args.vip, args.port, args.rate, args.seconds, args.timeout)))


if __name__ == "__main__":
    main()
