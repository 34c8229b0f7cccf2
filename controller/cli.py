"""`synproxyctl` / `python -m controller`: run the controller, or talk to a running one.

    synproxyctl run --config synproxy.yaml
    synproxyctl check FILE [--config-only]        # like nft -c: exit 0, or 2 and the error
    synproxyctl schema                            # the config schema (Markdown)
    synproxyctl status|sessions|counters [--socket PATH | --config FILE] [--json]
    synproxyctl counters [--rate [--interval S]] [--zero]
    synproxyctl save [--to FILE]                  # the running config, written atomically
    synproxyctl reload [--from FILE]              # apply the file's services (also SIGHUP)
    synproxyctl service add NAME --vip A --port P [--mode on|off|auto] [--rs ADDR:PORT[:W]]...
                [--controller-down open|closed] [--health tcp|http [--health-interval S]
                [--health-timeout S] [--health-rise N] [--health-fall N] [--health-port P]
                [--health-path PATH] [--health-status CODE]]
    synproxyctl service remove NAME
    synproxyctl rs add|remove SERVICE ADDR:PORT [--weight W]
    synproxyctl rs weight SERVICE ADDR:PORT W
    synproxyctl rates                             # D15: policies and meter rates
    synproxyctl rate METER RATE[/PEAK][:BURST]|off [--service NAME]
                                                  # METER: source_syn | digests | packet_ins
                                                  # | syn_rate | icmp_rate (with --service)
    synproxyctl early-drop P                      # 0..1: drop probability above a CIR

Bad arguments, a bad config, a request the controller refuses as invalid or an answer
that is not one exit 2 with a message naming what was wrong; a controller that cannot
be reached, or cannot do a valid request, exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import overload, tables
from .app import StartupError
from .config import ConfigError, load_config

log = logging.getLogger("controller")
MAX_LIMIT = 1_000_000


def _ranged(name: str, lo: int, hi: int):  # an argparse type
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} '{text}' is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name} {v} is out of range {lo}..{hi}")
        return v
    return parse


_port = _ranged("port", 1, 65535)
_weight = _ranged("weight", 0, 1000)


def _ip(text: str) -> str:
    """An IPv4 or IPv6 address (a VIP), in canonical text."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an IPv4 or IPv6 address") from None


def _split_server(text: str) -> tuple[str, list[str]]:
    """ADDR:REST or [IPV6]:REST -> (address, the ':'-separated rest)."""
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":") or ":" not in addr:
            raise argparse.ArgumentTypeError(f"'{text}' is not [IPV6]:PORT[:WEIGHT]")
        return addr, rest[1:].split(":")
    addr, _sep, rest = text.partition(":")
    if addr.count(":") or "." not in addr:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not ADDR:PORT[:WEIGHT] (an IPv6 address goes in brackets: "
            "[2001:db8::10]:8080)")
    return addr, rest.split(":") if rest else []


def _real_server(text: str) -> dict[str, Any]:
    """ADDR:PORT[:WEIGHT] or [IPV6]:PORT[:WEIGHT], each part checked."""
    addr, parts = _split_server(text)
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"'{text}' is not ADDR:PORT[:WEIGHT]")
    out: dict[str, Any] = {"address": _ip(addr), "port": _port(parts[0])}
    if len(parts) == 2:
        out["weight"] = _weight(parts[1])
    return out


def _server(text: str) -> dict[str, Any]:
    """ADDR:PORT or [IPV6]:PORT of a real server."""
    if len(_split_server(text)[1]) != 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not ADDR:PORT")
    return _real_server(text)


def _number(text: str, what: str, lo: float, hi: float) -> float:
    """A number in lo..hi, or an error naming `what`."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} '{text}' is not a number") from None
    if not lo <= v <= hi:
        raise argparse.ArgumentTypeError(f"{what} {v:g} is out of range {lo:g}..{hi:g}")
    return v


def _seconds(text: str) -> float:
    return _number(text, "interval", 0.01, 3600)


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

    chk = sub.add_parser("check", help="validate a config file and exit (like nft -c)")
    chk.add_argument("file")
    chk.add_argument("--config-only", action="store_true",
                     help="do not load the P4Info/device config it names")
    sub.add_parser("schema", help="print the config schema (Markdown)")

    st = target(sub.add_parser("status", help="role, sessions, services"))
    st.add_argument("--json", action="store_true", help="the controller's JSON answer")
    s = target(sub.add_parser("sessions", help="the session table"))
    s.add_argument("--limit", type=_ranged("limit", 1, MAX_LIMIT), default=1000)
    s.add_argument("--json", action="store_true", help="JSON (the default)")
    cnt = target(sub.add_parser(
        "counters", help="event counters read from the switch, per service",
        description="Event counters of the switch per service (a table; --json: the "
                    "controller's answer). --zero starts the counts the controller shows "
                    "afresh: it keeps the values of that moment and shows the difference; "
                    "the switch's counters and the Prometheus series are never reset."))
    cnt.add_argument("--json", action="store_true", help="the controller's JSON answer")
    cnt.add_argument("--rate", action="store_true",
                     help="per second since the previous counters read")
    cnt.add_argument("--interval", type=_seconds, default=None, metavar="S",
                     help="with --rate: read twice, S seconds apart")
    cnt.add_argument("--zero", action="store_true",
                     help="show the counts, then start them afresh (see above)")

    sv = target(sub.add_parser("save", help="write the running config back (atomically)"))
    sv.add_argument("--to", metavar="FILE", help="another file (default: the one the "
                    "controller was started with)")
    rl = target(sub.add_parser("reload", help="apply the config file's services (as SIGHUP)"))
    rl.add_argument("--from", dest="source", metavar="FILE",
                    help="another file (default: the one the controller was started with)")

    svc = sub.add_parser("service", help="add or remove a service").add_subparsers(
        dest="action", required=True)
    add = target(svc.add_parser("add"))
    add.add_argument("name")
    add.add_argument("--vip", type=_ip, required=True, help="an IPv4 or IPv6 address")
    add.add_argument("--port", type=_port, required=True)
    add.add_argument("--mode", default="on", choices=["off", "on", "auto"])
    add.add_argument("--scheduler", default="wrr", choices=["wrr", "hash", "lc"])
    add.add_argument("--transparent", action="store_true", help="no NAT (routed mode)")
    add.add_argument("--rs", action="append", default=[], type=_real_server,
                     metavar="ADDR:PORT[:WEIGHT]",
                     help="a real server; an IPv6 one in brackets: [2001:db8::10]:8080")
    add.add_argument("--controller-down", choices=["open", "closed"], default=None,
                     help="with the controller gone: closed = new handshakes reset, "
                          "open = not proxied, as mode off (default: closed)")
    # The service's health check, as the config file's `health` mapping (checked there:
    # an out-of-range value is refused by the controller with the key's name).
    add.add_argument("--health", choices=["tcp", "http"], default=None,
                     help="health-check the real servers: a TCP connect or an HTTP GET")
    for opt, kind, what in HEALTH_OPTIONS:
        add.add_argument(f"--health-{opt}", type=kind, default=None,
                         metavar=opt.upper(), help=f"{what} (needs --health)")
    rm = target(svc.add_parser("remove"))
    rm.add_argument("name")

    rs = sub.add_parser("rs", help="real servers of a service").add_subparsers(
        dest="action", required=True)
    for name in ("add", "remove", "weight"):
        p = target(rs.add_parser(name))
        p.add_argument("service")
        p.add_argument("server", type=_server, metavar="ADDR:PORT",
                       help="an IPv6 address in brackets: [2001:db8::10]:8080")
        if name == "weight":
            p.add_argument("weight", type=_weight)
        elif name == "add":
            p.add_argument("--weight", type=_weight, default=1)

    # D15 (overload.py): rates changed at run time; `save` keeps them.
    target(sub.add_parser("rates", help="ICMP/protocol policies and meter rates (D15)"))
    rt = target(sub.add_parser("rate", help="change a meter's rate at run time (D15)"))
    rt.add_argument("meter", choices=list(overload.GLOBAL_METERS + overload.SERVICE_METERS))
    rt.add_argument("rate", type=_rate, metavar="RATE[/PEAK][:BURST]|off",
                    help="packets per second (committed/peak) and burst; off: no cap")
    rt.add_argument("--service", help="the service (syn_rate, icmp_rate)")
    ed = target(sub.add_parser("early-drop", help="drop probability of a SYN above a "
                                                  "committed rate (D15)"))
    ed.add_argument("probability", type=_probability)
    return ap


def _rate(text: str) -> str:
    """RATE[/PEAK][:BURST] or off, checked here and passed on as text."""
    if text != "off":
        try:
            overload.parse_rate(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _probability(text: str) -> float:
    return _number(text, "probability", 0, 1)


class UsageError(ValueError):
    """Arguments argparse accepts one by one but not together (exit 2)."""


# `synproxyctl service add --health-OPT`: the keys of the config's `health` mapping.
HEALTH_OPTIONS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("interval", float, "seconds between probes"),
    ("timeout", float, "seconds before a probe fails"),
    ("rise", int, "successes in a row that put a server back"),
    ("fall", int, "failures in a row that take a server out"),
    ("port", int, "port probed (0: the real server's own)"),
    ("path", str, "HTTP path of the GET"),
    ("status", int, "HTTP status expected"),
)


def request_of(args: argparse.Namespace) -> dict[str, Any]:
    c = args.command
    if c == "counters":
        return {"cmd": c, "zero": True} if args.zero else {"cmd": c}
    if c == "status":
        return {"cmd": c}
    if c == "save":
        return {"cmd": c, "path": str(Path(args.to).resolve())} if args.to else {"cmd": c}
    if c == "reload":
        return ({"cmd": c, "path": str(Path(args.source).resolve())} if args.source
                else {"cmd": c})
    if c == "sessions":
        return {"cmd": c, "limit": args.limit}
    if c == "rates":
        return {"cmd": c}
    if c == "rate":
        req: dict[str, Any] = {"cmd": "rate_set", "meter": args.meter, "rate": args.rate}
        if args.service is not None:
            req["service"] = args.service
        elif args.meter in overload.SERVICE_METERS:
            raise UsageError(f"{args.meter} needs --service NAME")
        return req
    if c == "early-drop":
        return {"cmd": "early_drop", "probability": args.probability}
    if c == "service":
        if args.action == "remove":
            return {"cmd": "service_remove", "name": args.name}
        svc: dict[str, Any] = {"name": args.name, "vip": args.vip, "port": args.port,
                               "mode": args.mode, "scheduler": args.scheduler,
                               "nat": not args.transparent,
                               "real_servers": list(args.rs)}
        if args.controller_down is not None:
            svc["controller_down"] = args.controller_down
        health = {opt: v for opt, _k, _w in HEALTH_OPTIONS
                  if (v := getattr(args, f"health_{opt}")) is not None}
        if args.health is not None:
            svc["health"] = {"type": args.health, **health}
        elif health:
            raise UsageError(f"--health-{next(iter(health))} needs --health tcp|http")
        return {"cmd": "service_add", "service": svc}
    req = {"cmd": f"rs_{args.action}", "service": args.service, **args.server}
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
        try:
            ctl.metrics.serve(cfg.metrics.listen, ctl.health)
        except OSError as e:
            raise StartupError(f"{cfg_path}:{cfg.line_of('metrics.listen')}: metrics.listen: "
                               f"cannot serve {cfg.metrics.listen}: {e.strerror or e}") from None
    control = ControlServer(ctl, cfg.control.socket) if cfg.control.socket else None
    if control is not None:
        await control.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, ctl.stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload_task(ctl))
    log.info("event=start config=%s switch=%s", cfg_path, cfg.switch.address)
    try:
        await ctl.run()
    finally:
        ctl.metrics.close()
        if control is not None:
            await control.close()
    log.info("event=stop")
    return 0


def _check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    what = "config"
    if not args.config_only:
        from .program import Program

        Program(cfg)  # StartupError / ConfigError: the files it names, the program's sizes
        what = "config and program"
    print(f"{args.file}: {what} ok ({len(cfg.services)} services)")
    return 0


def _ask(path: str, req: dict[str, Any]) -> Any:
    """One request; an unreachable socket is an OSError naming the path."""
    from .control import request

    try:
        return request(path, req)
    except OSError as e:
        raise OSError(f"{path}: {e.strerror or e} (is the controller running with this "
                      "control.socket?)") from None


def _command(args: argparse.Namespace) -> int:
    path = _socket_path(args)
    req = request_of(args)
    if args.command == "counters" and args.rate and args.interval:
        _ask(path, {"cmd": "counters"})
        time.sleep(args.interval)  # the window the rates are taken over
    result = _ask(path, req)
    if getattr(args, "json", False) or args.command not in ("status", "counters"):
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
    elif args.command == "status":
        print(tables.status(result))
    else:
        print(tables.counters(result, rate=args.rate))
        if args.zero:
            print("(zeroed: later reads count from now; the switch's counters and "
                  "Prometheus are not reset)")
    return 0


_reloads: set[asyncio.Task[None]] = set()


def _reload_task(ctl: Any) -> None:
    """SIGHUP: reload the config file's services; a bad file is logged, nothing changes."""
    async def reload() -> None:
        try:
            await ctl.admin.reload()
        except (ValueError, RuntimeError, OSError) as e:
            log.error("event=reload_failed error=%r", str(e))
        except Exception:  # the controller keeps running
            log.exception("event=reload_failed")

    task = asyncio.get_running_loop().create_task(reload())
    _reloads.add(task)
    task.add_done_callback(_reloads.discard)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .control import CommandError

    try:
        if args.command == "run":
            from . import logs

            cfg = load_config(args.config)
            logs.setup(cfg.control.log_format, getattr(logging, args.log_level.upper()))
            return asyncio.run(_run(args.config))
        if args.command == "check":
            return _check(args)
        if args.command == "schema":
            from .schema import markdown

            print(markdown(), end="")
            return 0
        return _command(args)
    except CommandError as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 2 if e.invalid else 1
    except (ConfigError, StartupError, UsageError) as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as e:
        print(f"synproxyctl: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
