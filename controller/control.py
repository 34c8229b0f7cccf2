"""The running controller's operator socket (C10): JSON lines over a unix socket.

One request per line, `{"cmd": "status"}`, one JSON answer per line:
`{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. Commands:
status, sessions [limit], counters, service_add {service: {...config keys...}},
service_remove {name}, rs_add {service, address, port, weight}, rs_remove {service,
address, port}, rs_weight {service, address, port, weight}. A service given at run
time is validated by the same rules as the config file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import yaml

from .app import Controller
from .config import ConfigError, RealServer, parse_config

log = logging.getLogger("controller.control")
MAX_LINE = 1 << 20


async def handle(ctl: Controller, req: dict[str, Any]) -> Any:
    """Run one command; raises ValueError/KeyError/RuntimeError with an operator message."""
    cmd = req.get("cmd")
    if cmd == "status":
        return ctl.status()
    if cmd == "sessions":
        return ctl.sessions(int(req.get("limit", 1000)))
    if cmd == "counters":
        return await ctl.counters()
    if cmd == "service_add":
        svc = _service(req.get("service"))
        return {"id": await ctl.add_service(svc)}
    if cmd == "service_remove":
        await ctl.remove_service(str(req["name"]))
        return {}
    if cmd in ("rs_add", "rs_remove", "rs_weight"):
        name = str(req["service"])
        svc = ctl.services[ctl.service_id(name)]
        addr, port = _rs(req)
        servers = [r for r in svc.real_servers if (r.address, r.port) != (addr, port)]
        found = len(servers) != len(svc.real_servers)
        if cmd == "rs_add":
            if found:
                raise ValueError(f"{addr}:{port} is already a real server of {name}")
            servers.append(RealServer(addr, port, _weight(req.get("weight", 1))))
        elif not found:
            raise KeyError(f"{addr}:{port} is not a real server of {name}")
        elif cmd == "rs_weight":
            old = list(svc.real_servers)
            i = next(i for i, r in enumerate(old) if (r.address, r.port) == (addr, port))
            old[i] = RealServer(addr, port, _weight(req.get("weight")))
            servers = old
        await ctl.set_real_servers(name, tuple(servers))
        return {"real_servers": [f"{r.address}:{r.port}/{r.weight}" for r in servers]}
    raise ValueError(f"unknown command {cmd!r}")


def _service(spec: Any) -> Any:
    if not isinstance(spec, dict):
        raise ValueError("service_add needs a 'service' mapping")
    try:
        cfg = parse_config(yaml.safe_dump({"services": [spec]}), "<service_add>")
    except ConfigError as e:
        raise ValueError(str(e)) from None
    return cfg.services[0]


def _rs(req: dict[str, Any]) -> tuple[str, int]:
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(str(req["address"]))), int(req["port"])
    except (KeyError, ValueError) as e:
        raise ValueError(f"a real server needs address and port: {e}") from None


def _weight(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1000:
        raise ValueError(f"weight must be an integer 0..1000, got {v!r}")
    return v


class ControlServer:
    def __init__(self, ctl: Controller, path: str) -> None:
        self.ctl = ctl
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)  # a stale socket of a previous run
        self._server = await asyncio.start_unix_server(self._client, self.path, limit=MAX_LINE)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if os.path.exists(self.path):
            os.unlink(self.path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError("a request is a JSON object")
                    answer = {"ok": True, "result": await handle(self.ctl, req)}
                except (ValueError, KeyError, RuntimeError) as e:
                    answer = {"ok": False, "error": str(e).strip("'\"")}
                except Exception as e:  # noqa: BLE001 - the operator gets an answer, always
                    log.exception("control command failed")
                    answer = {"ok": False, "error": f"internal error: {e}"}
                writer.write(json.dumps(answer, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def request(path: str, req: dict[str, Any], timeout: float = 10.0) -> Any:
    """Client side: send one request, return the result or raise RuntimeError."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer = json.loads(buf)
    if not answer.get("ok"):
        raise RuntimeError(answer.get("error", "failed"))
    return answer.get("result")
