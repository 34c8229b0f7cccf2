"""`p4sim --pcap DIR`: per-interface capture files, named as bmv2 names them.

bmv2 writes what each interface receives to `DIR/<interface>_in.pcap` and what it
sends to `DIR/<interface>_out.pcap` (Ethernet link type); `PcapPort` does the same
around any port, so neither the packet loop nor the ports know about captures.
The files are written with scapy's pcap writer and flushed after every packet, so
they can be read while the switch runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from p4sim.ports import Port

DLT_EN10MB = 1


def pcap_paths(directory: str | os.PathLike[str], ifname: str) -> tuple[Path, Path]:
    """The received-packets and sent-packets files of interface `ifname`."""
    d = Path(directory)
    return d / f"{ifname}_in.pcap", d / f"{ifname}_out.pcap"


def _writer(path: Path) -> Any:
    from scapy.utils import RawPcapWriter  # only when --pcap is given

    w = RawPcapWriter(str(path), linktype=DLT_EN10MB, sync=True)
    w._write_header(None)  # an empty capture is still a valid pcap file
    return w


class PcapPort:
    """A port whose received and sent frames are also written to pcap files."""

    def __init__(self, port: Port, directory: str | os.PathLike[str]) -> None:
        self.port = port
        self.number = port.number
        self.name = port.name
        in_path, out_path = pcap_paths(directory, port.name)
        self._in = _writer(in_path)
        try:
            self._out = _writer(out_path)
        except OSError:
            self._in.close()
            raise

    def fileno(self) -> int:
        return self.port.fileno()

    def pending(self) -> int:
        return int(getattr(self.port, "pending", lambda: 0)())

    def recv_nowait(self) -> bytes | None:
        packet = self.port.recv_nowait()
        if packet is not None:
            self._in.write(packet)
        return packet

    def send(self, packet: bytes) -> None:
        self.port.send(packet)
        self._out.write(packet)

    def close(self) -> None:
        self.port.close()
        self._in.close()
        self._out.close()
