"""``p4sim``: run the software switch, with the command line of ``simple_switch_grpc``.

    p4sim [--no-p4 | CONFIG] -i 1@veth1 -i 2@veth2 [--p4info FILE]
          [--grpc-server-addr 0.0.0.0:9559] [--device-id 0] [--cpu-port 255]
          [--log-console] [-L {trace,debug,info,warn,error}] [--backend {python,c}]

CONFIG is a device config written by ``p4sim-compile`` (``prog.p4sim``); its P4Info is
``--p4info`` or, by default, ``p4info.txt`` next to it. As with simple_switch_grpc,
target options may follow a lone ``--``. Bad arguments exit with status 2, a switch
that cannot start (missing interface, port in use, bad program) with status 1.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from p4sim.backend.backends import BACKENDS, default_backend, loader
from p4sim.device import DeviceError
from p4sim.ports import Port, PortError, RawPort
from p4sim.switch import Switch

log = logging.getLogger("p4sim")

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 10,
}


def _interface(text: str) -> tuple[int, str]:
    port, sep, name = text.partition("@")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected PORT@INTERFACE, e.g. 1@veth1")
    try:
        number = int(port, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: port {port!r} is not a number") from None
    if not 0 <= number < 1 << 32:
        raise argparse.ArgumentTypeError(f"{text!r}: port number out of range")
    return number, name


def _address(text: str) -> str:
    if text.startswith("unix:"):
        # gRPC's unix-socket form (as simple_switch_grpc accepts): reachable from
        # every network namespace, and no TCP port to collide on.
        if len(text) <= len("unix:"):
            raise argparse.ArgumentTypeError(f"{text!r}: expected unix:/path/to/socket")
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected HOST:PORT (e.g. 0.0.0.0:9559) or unix:PATH"
        )
    return text


def _nonnegative(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="p4sim",
        description="p4sim software switch with a P4Runtime server (simple_switch_grpc-like)",
    )
    p.add_argument("config", nargs="?", type=Path, help="device config (prog.p4sim)")
    p.add_argument("--no-p4", action="store_true", help="start with no program; push one later")
    p.add_argument("--p4info", type=Path, help="P4Info text file (default: CONFIG's p4info.txt)")
    p.add_argument(
        "-i",
        "--interface",
        dest="interfaces",
        action="append",
        type=_interface,
        default=[],
        metavar="PORT@IFACE",
        help="attach a Linux interface as switch port PORT (repeatable)",
    )
    p.add_argument("--grpc-server-addr", type=_address, default="0.0.0.0:9559")
    p.add_argument("--device-id", type=_nonnegative, default=0)
    p.add_argument("--cpu-port", type=_nonnegative, default=255)
    p.add_argument("--log-console", action="store_true", help="log to the console")
    p.add_argument("-L", "--log-level", choices=sorted(_LEVELS), default="info")
    p.add_argument("--thrift-port", type=int, help="accepted for compatibility, unused")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="compile the program to Python (the reference) or to C (native); "
        "default: $P4SIM_BACKEND, else python",
    )
    p.add_argument(
        "--no-register-access",
        action="store_true",
        help="answer every P4Runtime register read and write with UNIMPLEMENTED, as bmv2 "
        "(PI) does",
    )
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    # simple_switch_grpc separates target options with "--"; here they are all ours.
    args = parser.parse_args([a for a in argv if a != "--"])
    if args.no_p4 and args.config is not None:
        parser.error("give either --no-p4 or a CONFIG, not both")
    if args.backend is None:
        try:
            args.backend = default_backend()
        except ValueError as exc:
            parser.error(str(exc))
    if not args.no_p4 and args.config is None:
        parser.error("give a CONFIG (prog.p4sim) or --no-p4")
    numbers = [n for n, _ in args.interfaces]
    if len(set(numbers)) != len(numbers):
        parser.error("a port number is given twice in -i")
    names = [name for _, name in args.interfaces]
    if len(set(names)) != len(names):
        parser.error("an interface is given twice in -i")
    if args.cpu_port in numbers:
        parser.error(f"port {args.cpu_port} is the CPU port (--cpu-port)")
    return args


def _setup_logging(args: argparse.Namespace) -> None:
    level = _LEVELS[args.log_level] if args.log_console else logging.WARNING
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _load_p4info(args: argparse.Namespace) -> p4info_pb2.P4Info:
    path = args.p4info or args.config.parent / "p4info.txt"
    try:
        text = path.read_text()
    except OSError as exc:
        raise SystemExit(f"p4sim: cannot read the P4Info {path}: {exc.strerror}") from exc
    try:
        return text_format.Parse(text, p4info_pb2.P4Info())
    except text_format.ParseError as exc:
        raise SystemExit(f"p4sim: {path}: not a P4Info text file: {exc}") from exc


def _open_ports(interfaces: list[tuple[int, str]]) -> list[Port]:
    ports: list[Port] = []
    try:
        for number, name in interfaces:
            ports.append(RawPort(number, name))
    except PortError as exc:
        for port in ports:
            port.close()
        raise SystemExit(f"p4sim: port {number}: {exc}") from exc
    return ports


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _setup_logging(args)
    config = None
    p4info = None
    if args.config is not None:
        try:
            config = args.config.read_bytes()
        except OSError as exc:
            raise SystemExit(f"p4sim: cannot read {args.config}: {exc.strerror}") from exc
        p4info = _load_p4info(args)
    ports = _open_ports(args.interfaces)
    switch = Switch(
        ports, cpu_port=args.cpu_port, device_id=args.device_id, loader=loader(args.backend)
    )
    switch.server.register_access = not args.no_register_access
    if config is not None and p4info is not None:
        try:
            switch.load(config, p4info)
        except DeviceError as exc:
            for port in ports:
                port.close()
            raise SystemExit(f"p4sim: {args.config}: {exc.message}") from exc
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        switch.start(args.grpc_server_addr)
    except OSError as exc:
        for port in ports:
            port.close()
        raise SystemExit(
            f"p4sim: cannot serve P4Runtime on {args.grpc_server_addr}: {exc}"
        ) from exc
    # The compiled pipeline and the tables are a large, long-lived heap while every
    # packet allocates short-lived objects: keep full collections off the former and
    # make young-generation collections rarer.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    ifaces = ", ".join(f"{n}@{name}" for n, name in args.interfaces) or "none"
    print(
        f"p4sim running: device {args.device_id}, ports {ifaces}, CPU port {args.cpu_port}, "
        f"P4Runtime on {args.grpc_server_addr}",
        file=sys.stderr,
        flush=True,
    )
    while not done.wait(1.0):
        pass
    switch.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
