"""``p4sim``: run the software switch, with the command line of ``simple_switch_grpc``.

    p4sim [--no-p4 | CONFIG] -i 1@veth1 -i 2@veth2 [--p4info FILE] [--pcap [DIR]]
          [--device-id 0] [--log-console | --log-file FILE] [-L {trace,debug,info,...}]
          [--max-streams 1024] [--arbitration-timeout 10] [--test-clock FILE]
          [--backend {python,c}] [-- --grpc-server-addr 0.0.0.0:9559 --cpu-port 255]

CONFIG is a device config written by ``p4sim-compile`` (``prog.p4sim``, or the file
``-o prog.json`` names); its P4Info is ``--p4info``, else ``p4info.txt`` next to it,
else derived from the program in CONFIG (the same compiler, so the same P4Info). As
with simple_switch_grpc, target options may follow a lone ``--`` (here every option
may stand on either side). The options that the p4lang tutorials' Mininet wrapper
passes and that have no meaning for p4sim (``--thrift-port``, ``--nanolog``,
``--debugger``, ``--priority-queues``) are accepted with a note on stderr. Bad
arguments exit with status 2, a switch that cannot start (missing interface, port in
use, bad program) with status 1.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from p4sim.backend.backends import BACKENDS, default_backend, loader
from p4sim.backend.common.trace import TRACE
from p4sim.cliutil import DefaultsHelpFormatter
from p4sim.device import DeviceError
from p4sim.pcap import PcapPort
from p4sim.ports import Port, PortError, RawPort
from p4sim.server import ARBITRATION_TIMEOUT_S, MAX_STREAMS
from p4sim.switch import Switch
from p4sim.testclock import FileClock

log = logging.getLogger("p4sim")

_LEVELS = {
    "trace": TRACE,  # DEBUG and the per-packet trace (p4sim.backend.common.trace)
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


def _directory(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing directory")
    return path


# Options simple_switch_grpc takes that mean nothing to p4sim: accepted (so that tools
# written for bmv2 start p4sim unchanged) with a note saying they do nothing.
_IGNORED = {
    "thrift_port": "--thrift-port: p4sim has no Thrift server (use P4Runtime)",
    "nanolog": "--nanolog: p4sim has no nanomsg event log (use -L trace)",
    "debugger": "--debugger: p4sim has no bmv2 debugger (use -L trace)",
    "priority_queues": "--priority-queues: p4sim has one queue per port",
}


def _positive_int(text: str) -> int:
    value = _nonnegative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= value <= 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0.1 and 86400 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="p4sim",
        description="p4sim software switch with a P4Runtime server (simple_switch_grpc-like)",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "config",
        nargs="?",
        type=Path,
        help="device config written by p4sim-compile (prog.p4sim, or -o FILE.json)",
    )
    p.add_argument("--no-p4", action="store_true", help="start with no program; push one later")
    p.add_argument(
        "--p4info",
        type=Path,
        help="P4Info text file (default: p4info.txt next to CONFIG if there is one, "
        "else derived from CONFIG's program)",
    )
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
    p.add_argument(
        "--pcap",
        nargs="?",
        const=Path("."),
        type=_directory,
        metavar="DIR",
        help="write what each interface receives and sends to DIR/<interface>_in.pcap and "
        "DIR/<interface>_out.pcap, as bmv2 does (DIR must exist; without DIR: the current "
        "directory)",
    )
    p.add_argument(
        "--grpc-server-addr",
        type=_address,
        default="0.0.0.0:9559",
        help="P4Runtime server address: HOST:PORT or unix:PATH",
    )
    p.add_argument("--device-id", type=_nonnegative, default=0, help="P4Runtime device id")
    p.add_argument(
        "--cpu-port",
        type=_nonnegative,
        default=255,
        help="port number of packet-in/packet-out (PacketIn/PacketOut)",
    )
    p.add_argument("--log-console", action="store_true", help="log to stderr")
    p.add_argument("--log-file", type=Path, metavar="FILE", help="log to FILE (appended)")
    p.add_argument(
        "--log-flush",
        action="store_true",
        help="accepted for bmv2 compatibility: p4sim flushes the log after every message",
    )
    p.add_argument(
        "-L",
        "--log-level",
        choices=sorted(_LEVELS),
        default="info",
        help="log level when logging is on; 'trace' also traces every packet (parser "
        "states, tables, actions, fate) at a cost in speed (bmv2 starts at trace)",
    )
    p.add_argument("--thrift-port", type=int, metavar="PORT", help="accepted, unused")
    p.add_argument("--nanolog", metavar="ADDR", help="accepted, unused")
    p.add_argument("--debugger", action="store_true", help="accepted, unused")
    p.add_argument("--priority-queues", type=int, metavar="N", help="accepted, unused")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="compile the program to C (native) or to Python (the reference); "
        "default: $P4SIM_BACKEND, else c (python with -L trace: the per-packet trace "
        "is the Python back end's)",
    )
    p.add_argument(
        "--no-register-access",
        action="store_true",
        help="answer every P4Runtime register read and write with UNIMPLEMENTED, as bmv2 "
        "(PI) does",
    )
    p.add_argument(
        "--strict-digest-timeout",
        action="store_true",
        help="hold every digest list until max_list_size digests wait or max_timeout_ns "
        "passes (default: send what is buffered as soon as no packet is waiting)",
    )
    p.add_argument(
        "--max-streams",
        type=_positive_int,
        default=MAX_STREAMS,
        help="StreamChannels open at once; one more is refused with RESOURCE_EXHAUSTED "
        f"(default {MAX_STREAMS})",
    )
    p.add_argument(
        "--arbitration-timeout",
        type=_seconds,
        default=ARBITRATION_TIMEOUT_S,
        metavar="SECONDS",
        help="end a stream that sends no MasterArbitrationUpdate within this "
        f"(default {ARBITRATION_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--test-clock",
        type=Path,
        metavar="FILE",
        help="tests only: the clock is CLOCK_MONOTONIC plus the nanoseconds in FILE "
        "(8-byte signed little-endian, rewritten by the test; p4sim.testclock)",
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
            args.backend = default_backend(target=True)
        except ValueError as exc:
            parser.error(str(exc))
        if args.log_level == "trace" and "P4SIM_BACKEND" not in os.environ:
            args.backend = "python"  # the per-packet trace hooks are the Python back end's
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
    if args.log_console and args.log_file is not None:
        parser.error("--log-console and --log-file are exclusive (as in bmv2)")
    return args


def ignored_options(args: argparse.Namespace) -> list[str]:
    """Notes for the given options that p4sim accepts but does not act on."""
    return [note for name, note in _IGNORED.items() if getattr(args, name) not in (None, False)]


def _setup_logging(args: argparse.Namespace) -> None:
    logging_on = args.log_console or args.log_file is not None
    level = _LEVELS[args.log_level] if logging_on else logging.WARNING
    handler: logging.Handler
    if args.log_file is not None:
        try:
            handler = logging.FileHandler(args.log_file)
        except OSError as exc:
            raise SystemExit(
                f"p4sim: cannot open the log file {args.log_file}: {exc.strerror}"
            ) from exc
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def _derived_p4info(config: bytes, path: Path) -> p4info_pb2.P4Info:
    """The P4Info of the program inside a device config, built as p4sim-compile does."""
    from p4sim.controlplane.p4info import build_p4info
    from p4sim.devconfig import decode_device_config
    from p4sim.frontend import parse_and_check
    from p4sim.frontend.errors import P4Error

    try:
        dc = decode_device_config(config)
        return build_p4info(parse_and_check(dc.source, dc.filename))
    except P4Error as exc:
        raise SystemExit(f"p4sim: {path}: {exc}") from exc


def _load_p4info(args: argparse.Namespace, config: bytes) -> p4info_pb2.P4Info:
    path = args.p4info
    if path is None:
        beside = args.config.parent / "p4info.txt"
        if not beside.is_file():
            return _derived_p4info(config, args.config)
        path = beside
    try:
        text = path.read_text()
    except OSError as exc:
        raise SystemExit(f"p4sim: cannot read the P4Info {path}: {exc.strerror}") from exc
    try:
        return text_format.Parse(text, p4info_pb2.P4Info())
    except text_format.ParseError as exc:
        raise SystemExit(f"p4sim: {path}: not a P4Info text file: {exc}") from exc


def _open_ports(interfaces: list[tuple[int, str]], pcap_dir: Path | None) -> list[Port]:
    ports: list[Port] = []
    try:
        for number, name in interfaces:
            port: Port = RawPort(number, name)
            if pcap_dir is not None:
                try:
                    port = PcapPort(port, pcap_dir)
                except OSError as exc:
                    port.close()
                    raise PortError(f"cannot write its pcap files in {pcap_dir}: {exc}") from exc
            ports.append(port)
    except PortError as exc:
        for port in ports:
            port.close()
        raise SystemExit(f"p4sim: port {number}: {exc}") from exc
    return ports


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _setup_logging(args)
    for note in ignored_options(args):
        print(f"p4sim: note: {note}; the option is accepted and does nothing", file=sys.stderr)
    config = None
    p4info = None
    if args.config is not None:
        try:
            config = args.config.read_bytes()
        except OSError as exc:
            raise SystemExit(f"p4sim: cannot read {args.config}: {exc.strerror}") from exc
        p4info = _load_p4info(args, config)
    ports = _open_ports(args.interfaces, args.pcap)
    switch = Switch(
        ports, cpu_port=args.cpu_port, device_id=args.device_id, loader=loader(args.backend)
    )
    switch.eager_digests = not args.strict_digest_timeout
    switch.server.register_access = not args.no_register_access
    switch.server.max_streams = args.max_streams
    switch.server.arbitration_timeout = args.arbitration_timeout
    if args.test_clock is not None:
        try:
            switch.server.clock = FileClock(args.test_clock)
        except OSError as exc:
            for port in ports:
                port.close()
            raise SystemExit(f"p4sim: --test-clock {args.test_clock}: {exc.strerror}") from exc
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
