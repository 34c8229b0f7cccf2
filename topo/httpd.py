"""The real servers' HTTP service, run in a real-server namespace:

    python -m topo.httpd --port 8080 --name rs1

* `GET /blob/<bytes>?seed=<n>`: `<bytes>` of deterministic content (`blob(size, seed)`),
  so a client can check a download byte for byte without a shared file.
* `POST /sha256`: answers the SHA-256 of the request body (uploads checked end to end).
* `GET /whoami`: the server's name and the peer address it saw (which client address
  reached it: the proxy must not hide it in NAT mode).
Every response carries `X-Server: <name>`.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CHUNK = 1 << 16
MAX_BLOB = 1 << 31


def blob_chunks(size: int, seed: int):  # generator of bytes
    """Deterministic bytes: SHA-256 in counter mode over (seed, block index)."""
    block = 0
    left = size
    while left > 0:
        out = bytearray()
        while len(out) < min(CHUNK, left):
            out += hashlib.sha256(f"{seed}:{block}".encode()).digest()
            block += 1
        piece = bytes(out[:min(CHUNK, left)])
        # The next chunk restarts from a block boundary: chunks are whole multiples of 32.
        left -= len(piece)
        yield piece


def blob_sha256(size: int, seed: int) -> str:
    h = hashlib.sha256()
    for piece in blob_chunks(size, seed):
        h.update(piece)
    return h.hexdigest()


class Handler(BaseHTTPRequestHandler):
    server_version = "p4synproxy-httpd"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:  # quiet: the demo prints reports
        pass

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Server", self.server.name)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/whoami":
            self._reply(200, f"{self.server.name} {self.client_address[0]}\n".encode())  # type: ignore[attr-defined]
            return
        if url.path.startswith("/blob/"):
            try:
                size = int(url.path[len("/blob/"):])
                seed = int(parse_qs(url.query).get("seed", ["0"])[0])
            except ValueError:
                self._reply(400, b"bad size or seed\n")
                return
            if not 0 <= size <= MAX_BLOB:
                self._reply(400, b"size out of range\n")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Server", self.server.name)  # type: ignore[attr-defined]
            self.end_headers()
            for piece in blob_chunks(size, seed):
                self.wfile.write(piece)
            return
        self._reply(404, b"not found\n")

    def do_POST(self) -> None:
        if urlparse(self.path).path != "/sha256":
            self._reply(404, b"not found\n")
            return
        try:
            left = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self._reply(400, b"bad length\n")
            return
        h = hashlib.sha256()
        while left > 0:
            piece = self.rfile.read(min(CHUNK, left))
            if not piece:
                break
            h.update(piece)
            left -= len(piece)
        self._reply(200, (h.hexdigest() + "\n").encode())


def main() -> None:
    ap = argparse.ArgumentParser(description="the real servers' HTTP service")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="0.0.0.0", help="an IPv4 address, or an IPv6 one "
                    "(e.g. ::, IPv6 only: an IPv4 client is not seen as ::ffff:...)")
    ap.add_argument("--name", default="rs")
    args = ap.parse_args()
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer
    if ":" in args.bind:
        class Server6(ThreadingHTTPServer):
            address_family = socket.AF_INET6

            def server_bind(self) -> None:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                super().server_bind()

        server_class = Server6
    srv = server_class((args.bind, args.port), Handler)
    srv.daemon_threads = True
    srv.name = args.name  # type: ignore[attr-defined]
    srv.serve_forever()


if __name__ == "__main__":
    main()
