"""Test bench for the controller: p4sim's switch in-process (memory ports, the real
synproxy.p4 pipeline, P4Runtime over a unix socket) and the controller running in a
thread with its own event loop, plus packet builders and polling helpers."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from controller.config import Config, parse_config
from controller.testing.thread import ControllerThread
from controller.testing.thread import wait_for as wait_for
from controller.testing.topology import (
    CLIENT_IP as CLIENT_IP,
)
from controller.testing.topology import (
    CLIENT_MAC as CLIENT_MAC,
)
from controller.testing.topology import (
    MAC1 as MAC1,
)
from controller.testing.topology import (
    MAC2 as MAC2,
)
from controller.testing.topology import (
    RS2_IP as RS2_IP,
)
from controller.testing.topology import (
    RS_IP as RS_IP,
)
from controller.testing.topology import (
    RS_PORT as RS_PORT,
)
from controller.testing.topology import (
    SERVER_MAC as SERVER_MAC,
)
from controller.testing.topology import (
    VIP as VIP,
)
from controller.testing.topology import (
    VPORT as VPORT,
)
from controller.testing.topology import (
    config_text as config_text,
)
from p4sim.compile_cli import compile_program
from p4sim.ports import MemoryPort
from p4sim.switch import Switch

ROOT = Path(__file__).resolve().parents[2]
SYNPROXY = ROOT / "p4src" / "v1model" / "synproxy.p4"

CLIENT_PORT, SERVER_PORT, CPU_PORT = 1, 2, p4consts.CPU_PORT


def compile_synproxy(outdir: Path) -> tuple[Path, Path]:
    compile_program(str(SYNPROXY), str(outdir), {}, [], [])
    return outdir / "p4info.txt", outdir / "synproxy.p4sim"


class SwitchBench:
    """p4sim with two memory ports, serving P4Runtime on a unix socket (without
    register access through P4Runtime, as bmv2, when `register_access` is False)."""

    def __init__(self, sock: str, register_access: bool = True) -> None:
        self.sock = sock
        self.ports = {n: MemoryPort(n) for n in (CLIENT_PORT, SERVER_PORT)}
        self.switch = Switch(list(self.ports.values()), cpu_port=CPU_PORT)
        self.switch.server.register_access = register_access  # False: as bmv2
        self.switch.start(f"unix:{sock}")

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once every injected frame has been processed."""
        return self.switch.wait_idle(timeout)

    def send(self, port: int, pkt: Any) -> None:
        self.ports[port].inject(bytes(pkt))

    def recv(self, port: int, timeout: float = 5.0) -> Ether | None:
        try:
            return Ether(self.ports[port].sent.get(timeout=timeout))
        except queue.Empty:
            return None

    def recv_tcp(self, port: int, pred: Callable[[Ether], bool] = lambda p: True,
                 timeout: float = 5.0) -> Ether | None:
        """The next TCP frame sent on `port` matching `pred` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            p = self.recv(port, left)
            if p is not None and TCP in p and pred(p):
                return p
        return None

    def drain(self, port: int) -> list[Ether]:
        out = []
        while True:
            try:
                out.append(Ether(self.ports[port].sent.get_nowait()))
            except queue.Empty:
                return out

    @property
    def state(self) -> Any:
        return self.switch.server.state

    def register(self, name: str, index: int) -> int:
        return self.state.registers[self.full_name(self.state.registers, name)].values[index]

    def counter(self, name: str, index: int) -> int:
        c = self.state.counters[self.full_name(self.state.counters, name)]
        return c.packets[index]

    @staticmethod
    def full_name(d: dict[str, Any], suffix: str) -> str:
        (full,) = [k for k in d if k.endswith("." + suffix)]
        return full

    def stop(self) -> None:
        self.switch.stop()


def start_controller(artefacts: tuple[Path, Path], sock: str, tmp_path: Path,
                     **kw: Any) -> ControllerThread:
    """A controller thread for a config built by config_text(), synced with the switch."""
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock, **kw), tmp_path))
    ct.wait_synced()
    return ct


def load_cfg(text: str, tmp: Path) -> Config:
    p = tmp / "cfg.yaml"
    p.write_text(text)
    return parse_config(text, str(p))


# ----------------------------------------------------------------------------- packets


def client_tcp(flags: str, seq: int, ack: int = 0, *, sport: int = 40000,
               options: list[Any] | None = None, payload: bytes = b"",
               window: int = 64240) -> Any:
    return (Ether(src=CLIENT_MAC, dst=MAC1) / IP(src=CLIENT_IP, dst=VIP)
            / TCP(sport=sport, dport=VPORT, flags=flags, seq=seq, ack=ack, window=window,
                  options=options or []) / payload)


def server_tcp(flags: str, seq: int, ack: int = 0, *, sport: int = 40000, src: str = RS_IP,
               options: list[Any] | None = None, payload: bytes = b"",
               window: int = 65160) -> Any:
    return (Ether(src=SERVER_MAC, dst=MAC2) / IP(src=src, dst=CLIENT_IP)
            / TCP(sport=RS_PORT, dport=sport, flags=flags, seq=seq, ack=ack, window=window,
                  options=options or []) / payload)


LINUX_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (7000, 0)), ("NOP", None),
              ("WScale", 9)]


def handshake(sw: SwitchBench, isn: int, sport: int = 40000, payload: bytes = b"",
              opts: list[Any] | None = None) -> int:
    """Client SYN -> cookie SYN/ACK -> client ACK; returns the cookie."""
    sw.send(CLIENT_PORT, client_tcp("S", isn, sport=sport, options=opts or LINUX_OPTS))
    synack = sw.recv_tcp(CLIENT_PORT, lambda p: p[TCP].flags == "SA" and p[TCP].dport == sport)
    assert synack is not None, "no SYN/ACK"
    cookie = int(synack[TCP].seq)
    sw.send(CLIENT_PORT, client_tcp("A" if not payload else "PA", isn + 1, cookie + 1,
                                    sport=sport, payload=payload))
    return cookie
