"""`synproxyctl` / `python -m controller`: run the controller, or talk to a running one.

    synproxyctl run --config synproxy.yaml
    synproxyctl status|sessions|counters [--socket PATH | --config FILE]
    synproxyctl service add NAME --vip A --port P [--mode on|off|auto] [--rs ADDR:PORT[:W]]...
    synproxyctl service remove NAME
    synproxyctl rs add|remove SERVICE ADDR:PORT [--weight W]
    synproxyctl rs weight SERVICE ADDR:PORT W
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .app import StartupError
from .config import ConfigError, load_config

log = logging.getLogger("controller")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="synproxyctl", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the controller")
    run.add_argument("--config", required=True)
    run.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])

    def target(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--socket", help="the controller's control socket")
        g.add_argument("--config", help="read the control socket path from this config")
        return p

    target(sub.add_parser("status", help="role, sessions, services"))
    s = target(sub.add_parser("sessions", help="the session table"))
    s.add_argument("--limit", type=int, default=1000)
    target(sub.add_parser("counters", help="event counters read from the switch"))

    svc = sub.add_parser("service", help="add or remove a service").add_subparsers(
        dest="action", required=True)
    add = target(svc.add_parser("add"))
    add.add_argument("name")
    add.add_argument("--vip", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--mode", default="on", choices=["off", "on", "auto"])
    add.add_argument("--scheduler", default="wrr", choices=["wrr", "hash"])
    add.add_argument("--transparent", action="store_true", help="no NAT (routed mode)")
    add.add_argument("--rs", action="append", default=[], metavar="ADDR:PORT[:WEIGHT]")
    rm = target(svc.add_parser("remove"))
    rm.add_argument("name")

    rs = sub.add_parser("rs", help="real servers of a service").add_subparsers(
        dest="action", required=True)
    for name in ("add", "remove", "weight"):
        p = target(rs.add_parser(name))
        p.add_argument("service")
        p.add_argument("server", metavar="ADDR:PORT")
        if name == "weight":
            p.add_argument("weight", type=int)
        elif name == "add":
            p.add_argument("--weight", type=int, default=1)
    return ap


def _split_rs(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
        raise SystemExit(f"synproxyctl: error: '{text}' is not ADDR:PORT[:WEIGHT]")
    out: dict[str, Any] = {"address": parts[0], "port": int(parts[1])}
    if len(parts) == 3:
        out["weight"] = int(parts[2])
    return out


def request_of(args: argparse.Namespace) -> dict[str, Any]:
    c = args.command
    if c in ("status", "counters"):
        return {"cmd": c}
    if c == "sessions":
        return {"cmd": c, "limit": args.limit}
    if c == "service":
        if args.action == "remove":
            return {"cmd": "service_remove", "name": args.name}
        svc: dict[str, Any] = {"name": args.name, "vip": args.vip, "port": args.port,
                               "mode": args.mode, "scheduler": args.scheduler,
                               "nat": not args.transparent,
                               "real_servers": [_split_rs(r) for r in args.rs]}
        return {"cmd": "service_add", "service": svc}
    rs = _split_rs(args.server)
    req = {"cmd": f"rs_{args.action}", "service": args.service, **rs}
    if args.action == "weight":
        req["weight"] = args.weight
    elif args.action == "add":
        req["weight"] = args.weight
    return req


def _socket_path(args: argparse.Namespace) -> str:
    if args.socket:
        return str(args.socket)
    cfg = load_config(args.config)
    if not cfg.control.socket:
        raise ConfigError(args.config, 1, "control.socket", "no control socket configured")
    return cfg.control.socket


async def _run(cfg_path: str) -> int:
    from .app import Controller
    from .control import ControlServer

    cfg = load_config(cfg_path)
    ctl = Controller(cfg)
    if cfg.metrics.listen:
        ctl.metrics.serve(cfg.metrics.listen)
    control = ControlServer(ctl, cfg.control.socket) if cfg.control.socket else None
    if control is not None:
        await control.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, ctl.stop)
    log.info("event=start config=%s switch=%s", cfg_path, cfg.switch.address)
    try:
        await ctl.run()
    finally:
        if control is not None:
            await control.close()
    log.info("event=stop")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from . import logs

            cfg = load_config(args.config)
            logs.setup(cfg.control.log_format, getattr(logging, args.log_level.upper()))
            return asyncio.run(_run(args.config))
        from .control import request

        result = request(_socket_path(args), request_of(args))
    except ConfigError as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 2
    except StartupError as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
