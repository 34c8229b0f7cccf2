"""One scripted HTTP exchange with the kernel's own TCP stack, for end-to-end tests.

    python -m topo.tcpclient --vip 10.0.0.100 --port 80 get --size 4000000 --seed 3
    python -m topo.tcpclient --vip 10.0.0.100 --port 80 --bind-port 40000 whoami
    python -m topo.tcpclient --vip 10.0.0.100 --port 80 post --size 3000000 --pause-at 100000

Runs in the client namespace and prints one JSON object on its last line: `ok`, the
`error` if any (`reset`, `timeout`, `refused`, ...), the `server` (X-Server header),
the `body` of small answers and the `local` port. Each request is checked byte for
byte: a download against `blob(size, seed)`, an upload against the SHA-256 the server
returns. Options shape the connection the way a test needs it:

* `--bind-port` binds the client's source port (SO_REUSEADDR), to reuse a 4-tuple;
* `--pause-at N` stops after N bytes of the transfer, prints `{"paused": ...}` and
  waits for a line on stdin, so a test can inspect the open connection (`ss -tni`)
  or disturb the system in the middle of a transfer;
* `--delay-request S` waits S seconds between connect and the request (with a
  deferring proxy the handshake then completes only when the request is sent);
* `--abort-at N` resets the connection (SO_LINGER 0, then close) after N bytes:
  `ok` is then true and `aborted` holds the bytes moved.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import socket
import struct
import sys
import time
from collections.abc import Iterator

from .httpd import blob_chunks, blob_sha256

RECV = 1 << 16


class Aborted(Exception):
    """The script's own reset of the connection (--abort-at)."""


class Exchange:
    """One connection and one request; `run()` returns the result record."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rec: dict = {"ok": False, "op": args.op}
        self.moved = 0  # bytes of the transfer so far (for --pause-at)
        self.body: Iterator[bytes] = iter(())

    def _pause_check(self, sock: socket.socket) -> None:
        if self.args.abort_at is not None and self.moved >= self.args.abort_at:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise Aborted
        at = self.args.pause_at
        if at is not None and self.moved >= at and not self.rec.get("paused"):
            self.rec["paused"] = True
            print(json.dumps({"paused": True, "moved": self.moved,
                              "local": sock.getsockname()[1]}), flush=True)
            sys.stdin.readline()

    def connect(self) -> socket.socket:
        a = self.args
        v6 = ":" in a.vip
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(a.timeout)
        if a.bind_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::" if v6 else "0.0.0.0", a.bind_port))
        try:
            sock.connect((a.vip, a.port))
        except BaseException:
            sock.close()
            raise
        self.rec["local"] = sock.getsockname()[1]
        return sock

    def prepare(self) -> bytes:
        """The request's first write (the rest of an upload stays in `self.body`), built
        before connecting so that the request leaves the moment the connection is up."""
        a = self.args
        host = f"Host: {a.vip}\r\n"
        if a.op == "get":
            return (f"GET /blob/{a.size}?seed={a.seed} HTTP/1.1\r\n{host}"
                    "Connection: close\r\n\r\n").encode()
        if a.op == "whoami":
            return f"GET /whoami HTTP/1.1\r\n{host}Connection: close\r\n\r\n".encode()
        head = (f"POST /sha256 HTTP/1.1\r\n{host}Content-Length: {a.size}\r\n"
                "Connection: close\r\n\r\n").encode()
        self.body = blob_chunks(a.size, a.seed)
        # The head and the first chunk go out in one write: a request larger than one
        # segment, sent right after connect.
        return head + next(self.body, b"")

    def request(self, sock: socket.socket, first: bytes) -> bytes:
        a = self.args
        if a.delay_request:
            time.sleep(a.delay_request)
        sock.sendall(first)
        if a.op == "post":
            self.moved = len(first)
            self._pause_check(sock)
            for piece in self.body:
                sock.sendall(piece)
                self.moved += len(piece)
                self._pause_check(sock)
        data = bytearray()
        while True:
            piece = sock.recv(RECV)
            if not piece:
                return bytes(data)
            data += piece
            if a.op == "get":
                self.moved = len(data)
                self._pause_check(sock)

    def check(self, data: bytes) -> None:
        a = self.args
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (ln.partition(":") for ln in lines[1:])}
        self.rec["server"] = headers.get("x-server", "")
        self.rec["status"] = lines[0]
        if not lines[0].startswith("HTTP/1.1 200"):
            self.rec["error"] = f"status: {lines[0]!r}"
        elif a.op == "get":
            self.rec["bytes"] = len(body)
            if len(body) != a.size:
                self.rec["error"] = f"short body: {len(body)} of {a.size} bytes"
            elif hashlib.sha256(body).hexdigest() != blob_sha256(a.size, a.seed):
                self.rec["error"] = "content differs"
            else:
                self.rec["ok"] = True
        else:
            text = body.decode(errors="replace").strip()
            self.rec["body"] = text
            if a.op == "post" and text != blob_sha256(a.size, a.seed):
                self.rec["error"] = "upload hash differs"
            else:
                self.rec["ok"] = True

    def run(self) -> dict:
        first = self.prepare()
        try:
            sock = self.connect()
        except OSError as e:
            self.rec["error"] = "connect: " + _kind(e)
            return self.rec
        try:
            with sock:
                self.check(self.request(sock, first))
        except Aborted:
            self.rec.update(ok=True, aborted=self.moved)
        except OSError as e:
            self.rec["error"] = _kind(e)
        return self.rec


def _kind(e: OSError) -> str:
    """A short stable name for a socket error (tests assert on it)."""
    if isinstance(e, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError) or e.errno == errno.ECONNRESET:
        return "reset"
    if isinstance(e, ConnectionRefusedError) or e.errno == errno.ECONNREFUSED:
        return "refused"
    return f"{e.__class__.__name__}: {e}"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m topo.tcpclient",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--vip", required=True, help="an IPv4 or IPv6 address")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--bind-port", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30.0, help="per socket operation")
    ap.add_argument("--pause-at", type=int, default=None, metavar="BYTES")
    ap.add_argument("--abort-at", type=int, default=None, metavar="BYTES")
    ap.add_argument("--delay-request", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("op", choices=("get", "post", "whoami"))
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not 0 <= args.size <= 1 << 31 or not 0 <= args.bind_port <= 65535:
        ap.error("--size must be 0..2^31 and --bind-port 0..65535")
    print(json.dumps(Exchange(args).run()), flush=True)


if __name__ == "__main__":
    main()
