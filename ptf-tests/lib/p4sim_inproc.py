"""PTF platform `p4sim_inproc`: the switch is p4sim, running in the PTF process, and each
PTF port is one end of a socket pair whose other end is the switch's port. No veths,
no namespaces, no root: the same PTF tests, run in process (`ptf-tests/run.py --rig
inproc`, and `make test`'s pytest part); over veths, the same tests run on p4sim and
bmv2 (`ptf-tests/run.py`).

    ptf --platform-dir ptf-tests/lib --platform p4sim_inproc --allow-user \\
        --platform-args "ports=4;grpc=unix:/tmp/s.sock;cpu_port=255;clock=/tmp/clock" ...

Platform arguments (`;`-separated `key=value`): `ports` (how many, numbered from 0),
`grpc` (the P4Runtime address the switch serves; the tests' `grpcaddr`), `cpu_port`,
`clock` (p4sim's test clock file, as `p4sim --test-clock`), `backend` (p4sim's back
end; default the target's, as the `p4sim` command).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from p4sim.backend.backends import default_backend, loader
from p4sim.ports import Port
from p4sim.switch import Switch
from p4sim.testclock import FileClock

MAX_FRAME = 65536
#: PTF port interface name -> the PTF end of its socket pair.
_PTF_ENDS: dict[str, socket.socket] = {}
_SWITCH: list[Switch] = []


class SocketPort:
    """A p4sim port on one end of a datagram socket pair (one frame per message)."""

    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self.name = f"inproc{number}"
        self._sock = sock
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_nowait(self) -> bytes | None:
        try:
            return self._sock.recv(MAX_FRAME)
        except (BlockingIOError, InterruptedError):
            return None

    def send(self, packet: bytes) -> None:
        try:
            self._sock.send(packet)
        except (BlockingIOError, ConnectionRefusedError):
            pass  # a full or closed peer loses the frame, as a wire would

    def close(self) -> None:
        self._sock.close()


class InprocDataPlanePort:
    """PTF's side of a port (ptf.dataplane's DataPlanePortIface and packet source)."""

    def __init__(self, interface_name: str, device_number: int, port_number: int,
                 config: dict[str, Any] | None = None) -> None:
        self.interface_name = interface_name
        self.device_number = device_number
        self.port_number = port_number
        self.socket = _PTF_ENDS[interface_name]

    def fileno(self) -> int:
        return self.socket.fileno()

    def recv(self) -> tuple[int, int, bytes, float]:
        return self.device_number, self.port_number, self.socket.recv(MAX_FRAME), time.time()

    def get_packet_source(self) -> InprocDataPlanePort:
        return self

    def send(self, packet: bytes) -> int:
        return self.socket.send(bytes(packet))

    def down(self) -> None:
        raise NotImplementedError("in-process ports have no link state")

    def up(self) -> None:
        raise NotImplementedError("in-process ports have no link state")


def parse_args(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"p4sim_inproc: platform argument {item!r} is not key=value")
            out[key.strip()] = value.strip()
    return out


def start_switch(ports: int, grpc: str, cpu_port: int, clock: str | None = None,
                 backend: str | None = None) -> Switch:
    """p4sim with `ports` socket-pair ports, serving P4Runtime on `grpc`."""
    sw_ports: list[Port] = []
    for number in range(ports):
        switch_end, ptf_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for s in (switch_end, ptf_end):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sw_ports.append(SocketPort(number, switch_end))
        _PTF_ENDS[f"inproc{number}"] = ptf_end
    switch = Switch(sw_ports, cpu_port=cpu_port,
                    loader=loader(backend or default_backend(target=True)))
    if clock:
        switch.server.clock = FileClock(clock)
    switch.start(grpc)
    _SWITCH.append(switch)
    return switch


def platform_config_update(config: dict[str, Any]) -> None:
    """PTF's platform hook: start the switch, map PTF's ports onto its socket pairs."""
    args = parse_args(config.get("platform_args"))
    ports = int(args.get("ports", "4"))
    start_switch(ports, args["grpc"], int(args["cpu_port"]), args.get("clock"),
                 args.get("backend"))
    config["port_map"] = {(0, n): f"inproc{n}" for n in range(ports)}
    config["dataplane"] = {"portclass": InprocDataPlanePort}
