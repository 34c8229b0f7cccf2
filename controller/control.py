"""The running controller's operator socket (C10): JSON lines over a unix socket.

One request per line, `{"cmd": "status"}`, one JSON answer per line:
`{"ok": true, "result": ...}` or `{"ok": false, "error": "...", "invalid": bool}`.
Commands: status, sessions [limit], counters [zero], save [path], reload [path],
service_add {service: {...config
keys...}}, service_remove {name}, rs_add {service, address, port, weight}, rs_remove
{service, address, port}, rs_weight {service, address, port, weight}; D15: rates,
rate_set {meter, rate: "RATE[/PEAK][:BURST]" or "off", service (service meters)},
early_drop {probability}.

Every argument is checked here, at the socket boundary, before the controller sees it:
ports 1..65535, IPv4 or IPv6 addresses (of the service's VIP's family), weights 0..1000 (not all 0), limits 1..1000000, a
service by the same rules as the config file and within the program's service ids.
A refused request answers `invalid: true`; synproxyctl exits 2 for it, 1 when the
controller could not do a valid request (e.g. not connected to the switch).

The socket path is never taken from something else: an existing path that is not a
socket is refused (and left alone), a socket another controller still serves is
refused, and on close only the socket this server created is removed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
import stat
from typing import Any

import yaml

from . import overload
from .app import Controller, StartupError
from .config import (
    ConfigError,
    RealServer,
    Service,
    family,
    hostport,
    ipv6_refused,
    not_a_host,
    parse_config,
)

log = logging.getLogger("controller.control")
MAX_LINE = 1 << 20
MAX_LIMIT = 1_000_000


class Invalid(ValueError):
    """A request the socket refuses: bad or missing argument."""


def _int(req: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    v = req.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise Invalid(f"{key} must be an integer {lo}..{hi}, got {v!r}")
    if not lo <= v <= hi:
        raise Invalid(f"{key} must be {lo}..{hi}, got {v}")
    return v


def _str(req: dict[str, Any], key: str) -> str:
    v = req.get(key)
    if not isinstance(v, str) or not v:
        raise Invalid(f"{key} must be a non-empty string, got {v!r}")
    return v


def _address(req: dict[str, Any], vip: str) -> str:
    """A real server's address: of the VIP's family, a host's address (the config's
    rules)."""
    v = _str(req, "address")
    try:
        a = ipaddress.ip_address(v)
    except ValueError:
        raise Invalid(f"address must be an IPv4 or IPv6 address, got {v!r}") from None
    why = not_a_host(a)
    if why:
        raise Invalid(f"address {v!r} is {why}, not a host's address")
    if a.version != family(vip):
        raise Invalid(f"address {a} is IPv{a.version} but the VIP {vip} is IPv{family(vip)}: "
                      "a service's real servers are of its VIP's family")
    return str(a)


def _service_id(ctl: Controller, name: str) -> int:
    try:
        return ctl.service_id(name)
    except KeyError as e:
        raise Invalid(str(e.args[0]) if e.args else name) from None


async def handle(ctl: Controller, req: dict[str, Any]) -> Any:
    """Run one command; raises Invalid for a bad request, RuntimeError (or ValueError,
    KeyError from the controller) with an operator message when it cannot be done."""
    cmd = req.get("cmd")
    if cmd == "status":
        return ctl.status()
    if cmd == "sessions":
        return ctl.sessions(_int(req, "limit", 1, MAX_LIMIT, default=1000))
    if cmd == "counters":
        zero = req.get("zero", False)
        if not isinstance(zero, bool):
            raise Invalid(f"zero must be true or false, got {zero!r}")
        return await ctl.counters(zero=zero)
    if cmd in ("save", "reload"):
        path = req.get("path")
        if path is not None and (not isinstance(path, str) or not path):
            raise Invalid(f"path must be a non-empty string, got {path!r}")
        if cmd == "save":
            return ctl.admin.save(path)
        return await ctl.admin.reload(path)
    if cmd == "service_add":
        svc = _service(req.get("service"))
        if family(svc.vip) == 6 and not ctl.limits.ipv6:
            raise Invalid(f"service.vip: {svc.vip} {ipv6_refused()}")
        if len(ctl.services) >= ctl.limits.max_services:
            raise Invalid(f"the program holds {ctl.limits.max_services} services; remove one "
                          "first")
        return {"id": await ctl.add_service(svc)}
    if cmd == "service_remove":
        name = _str(req, "name")
        _service_id(ctl, name)
        await ctl.remove_service(name)
        return {}
    if cmd in ("rs_add", "rs_remove", "rs_weight"):
        name = _str(req, "service")
        svc = ctl.services[_service_id(ctl, name)]
        addr, port = _address(req, svc.vip), _int(req, "port", 1, 65535)
        at = hostport(addr, port)
        servers = [r for r in svc.real_servers if (r.address, r.port) != (addr, port)]
        found = len(servers) != len(svc.real_servers)
        if cmd == "rs_add":
            if found:
                raise Invalid(f"{at} is already a real server of {name}")
            servers.append(RealServer(addr, port, _int(req, "weight", 0, 1000, default=1)))
        elif not found:
            raise Invalid(f"{at} is not a real server of {name}")
        elif cmd == "rs_weight":
            weight = _int(req, "weight", 0, 1000)
            servers = [RealServer(r.address, r.port, weight)
                       if (r.address, r.port) == (addr, port) else r for r in svc.real_servers]
        if svc.nat and not servers:
            raise Invalid(f"a NAT service needs at least one real server ({name})")
        if servers and not any(r.weight for r in servers):
            raise Invalid(f"every weight of {name} would be 0: it needs at least one real "
                          "server with a weight > 0")
        await ctl.set_real_servers(name, tuple(servers))
        return {"real_servers": [f"{hostport(r.address, r.port)}/{r.weight}" for r in servers]}
    if cmd == "rates":
        return ctl.admin.rates()
    if cmd == "rate_set":
        meter = _str(req, "meter")
        if meter not in overload.GLOBAL_METERS + overload.SERVICE_METERS:
            raise Invalid(f"meter must be one of {', '.join(overload.GLOBAL_METERS + overload.SERVICE_METERS)}, got {meter!r}")
        text = _str(req, "rate")
        try:
            rate = None if text == "off" else overload.parse_rate(text)
        except ValueError as e:
            raise Invalid(f"rate: {e}") from None
        service = None
        if meter in overload.SERVICE_METERS:
            service = _str(req, "service")
            _service_id(ctl, service)
        elif "service" in req:
            raise Invalid(f"{meter} is switch-wide: no service")
        return await ctl.admin.set_rate(meter, rate, service)
    if cmd == "early_drop":
        p = req.get("probability")
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise Invalid(f"probability must be a number 0..1, got {p!r}")
        return await ctl.admin.set_early_drop(float(p))
    raise Invalid(f"unknown command {cmd!r}")


def _service(spec: Any) -> Service:
    if not isinstance(spec, dict):
        raise Invalid("service_add needs a 'service' mapping")
    try:
        cfg = parse_config(yaml.safe_dump({"services": [spec]}), "<service_add>")
    except ConfigError as e:
        raise Invalid(str(e)) from None
    except yaml.YAMLError as e:  # a value YAML cannot represent
        raise Invalid(f"service: {e}") from None
    return cfg.services[0]


def _answer_error(e: BaseException) -> dict[str, Any]:
    invalid = isinstance(e, (ValueError, KeyError))
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return {"ok": False, "error": text, "invalid": invalid}


class ControlServer:
    def __init__(self, ctl: Controller, path: str) -> None:
        self.ctl = ctl
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of our socket

    def _refuse(self, message: str) -> StartupError:
        cfg = self.ctl.cfg
        return StartupError(f"{cfg.path or '<config>'}:{cfg.line_of('control.socket')}: "
                            f"control.socket: '{self.path}' {message}")

    def _claim(self) -> None:
        """Make room for our socket without ever removing what is not a stale socket."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise self._refuse(f"cannot be checked: {e.strerror}") from None
        if not stat.S_ISSOCK(st.st_mode):
            raise self._refuse("exists and is not a socket; refusing to replace it (remove "
                               "it or choose another path)")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(self.path)
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(self.path)  # a stale socket of a previous run
                return
            except OSError as e:
                raise self._refuse(f"cannot be checked: {e.strerror}") from None
        raise self._refuse("is served by another running controller")

    async def start(self) -> None:
        self._claim()
        self._server = await asyncio.start_unix_server(self._client, self.path, limit=MAX_LINE)
        os.chmod(self.path, 0o600)
        st = os.stat(self.path)
        self._ident = (st.st_dev, st.st_ino)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._ident is None:
            return
        try:
            st = os.lstat(self.path)
        except OSError:
            return
        if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == self._ident:
            os.unlink(self.path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise Invalid("a request is a JSON object")
                    answer = {"ok": True, "result": await handle(self.ctl, req)}
                except (ValueError, KeyError, RuntimeError) as e:  # JSON errors included
                    answer = _answer_error(e)
                except Exception as e:  # the operator gets an answer, always
                    log.exception("control command failed")
                    answer = {"ok": False, "error": f"internal error: {e}", "invalid": False}
                writer.write(json.dumps(answer, default=str).encode() + b"\n")
                await writer.drain()
        except ValueError:  # a line over MAX_LINE (asyncio's readline raises this)
            refusal = {"ok": False, "error": f"request over {MAX_LINE} bytes", "invalid": True}
            writer.write(json.dumps(refusal).encode() + b"\n")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


class CommandError(RuntimeError):
    """synproxyctl's request was not done; `invalid`: refused as bad (exit 2)."""

    def __init__(self, message: str, invalid: bool) -> None:
        super().__init__(message)
        self.invalid = invalid


MAX_ANSWER = 64 << 20


def request(path: str, req: dict[str, Any], timeout: float = 10.0) -> Any:
    """Client side: send one request, return the result; CommandError when it was refused
    or the answer is not one (OSError when the socket cannot be reached)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n") and len(buf) < MAX_ANSWER:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    try:
        answer = json.loads(buf)
    except ValueError:
        shown = buf[:60].decode("utf-8", "replace")
        raise CommandError(f"{path}: not an answer of the controller: {shown!r}",
                           invalid=True) from None
    if not isinstance(answer, dict) or "ok" not in answer:
        raise CommandError(f"{path}: not an answer of the controller: {str(answer)[:60]!r}",
                           invalid=True)
    if not answer.get("ok"):
        raise CommandError(str(answer.get("error", "failed")),
                           invalid=bool(answer.get("invalid", False)))
    return answer.get("result")
