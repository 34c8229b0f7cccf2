"""Switch ports: AF_PACKET raw sockets on Linux interfaces, or in-memory ports for tests.

A raw port is bound to one interface (typically one end of a veth pair), puts it in
promiscuous mode, and ignores the packets the host itself sends out of that interface
(``PACKET_OUTGOING``), including the ones this switch sent: without that, every packet
would come straight back in.

Frames are handed to the program as they were on the wire. The kernel takes a
received frame's outer VLAN tag out of the data (receive VLAN offload, which veths
and most NICs do) and reports it in the socket's packet metadata (PACKET_AUXDATA:
``tp_vlan_tci``, ``tp_vlan_tpid``); a raw port puts it back after the MAC addresses,
as libpcap does for bmv2, so a tagged frame reaches the P4 parser tagged. Frames are
sent as the program emitted them (the kernel sends tags that are in the data).

Note: veths hand AF_PACKET sockets packets with checksums left to offload. Whoever
creates the interfaces should turn offloads off (``ethtool -K <if> tx off rx off``)
so that the P4 program sees real checksums, as it would on a wire.
"""

from __future__ import annotations

import collections
import errno
import os
import queue
import select
import socket
import struct
import threading
import time
from typing import Protocol

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_AUXDATA = 8
PACKET_IGNORE_OUTGOING = 23
# struct tpacket_auxdata (linux/if_packet.h): status, len, snaplen, mac, net,
# vlan_tci, vlan_tpid.
AUXDATA = struct.Struct("=IIIHHHH")
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
ETH_P_8021Q = 0x8100
ANCILLARY_SIZE = socket.CMSG_SPACE(AUXDATA.size)
MAX_FRAME = 65536 + 64
RECV_TIMEOUT_S = 0.2


def restore_vlan(data: bytes, ancillary: list[tuple[int, int, bytes]]) -> bytes:
    """The frame as it was on the wire: `data` with the VLAN tag the kernel moved
    into PACKET_AUXDATA put back after the two MAC addresses. A TCI of 0 counts as
    a tag only when the status says one was there (a priority-tagged frame); the
    TPID is 802.1Q unless the kernel reports another (802.1ad)."""
    for level, kind, payload in ancillary:
        if level != SOL_PACKET or kind != PACKET_AUXDATA or len(payload) < AUXDATA.size:
            continue
        status, _len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(payload)
        if tci == 0 and not status & TP_STATUS_VLAN_VALID:
            return data
        if not tpid and not status & TP_STATUS_VLAN_TPID_VALID:
            tpid = ETH_P_8021Q
        if len(data) < 12:
            return data
        return data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    return data


class PortError(Exception):
    """A port cannot be opened (missing interface, no permission, ...)."""


class Port(Protocol):
    number: int
    name: str

    def fileno(self) -> int:
        """A descriptor that is readable when ``recv_nowait`` has a packet."""
        ...

    def recv_nowait(self) -> bytes | None:
        """The next received packet, or None if there is none right now."""
        ...

    def send(self, packet: bytes) -> None: ...

    def close(self) -> None: ...


class RawPort:
    """A Linux interface seen through an AF_PACKET socket."""

    def __init__(self, number: int, ifname: str) -> None:
        self.number = number
        self.name = ifname
        try:
            ifindex = socket.if_nametoindex(ifname)
        except OSError as exc:
            raise PortError(f"interface {ifname!r} does not exist") from exc
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise PortError(f"opening a raw socket on {ifname} needs root (CAP_NET_RAW)") from exc
        try:
            sock.bind((ifname, ETH_P_ALL))
            mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            try:
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                pass  # older kernels: recv() filters on the packet type instead
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        except OSError as exc:
            sock.close()
            raise PortError(f"cannot open {ifname}: {exc}") from exc
        self._sock = sock

    def send(self, packet: bytes) -> None:
        try:
            self._sock.send(packet)
        except OSError as exc:
            # A down interface or an oversize frame loses one packet, as a wire would.
            if exc.errno not in (errno.ENETDOWN, errno.ENXIO, errno.EMSGSIZE, errno.ENOBUFS):
                raise

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_nowait(self) -> bytes | None:
        while True:
            try:
                data, ancillary, _flags, addr = self._sock.recvmsg(
                    MAX_FRAME, ANCILLARY_SIZE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                if exc.errno in (errno.ENETDOWN, errno.EAGAIN, errno.EINTR):
                    return None
                raise
            if addr[2] == PACKET_OUTGOING:
                continue
            return restore_vlan(data, ancillary)

    def recv(self, timeout: float = RECV_TIMEOUT_S) -> bytes | None:
        """Wait up to ``timeout`` seconds for a packet (for tools and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.recv_nowait()
            if data is not None:
                return data
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                return None

    def close(self) -> None:
        self._sock.close()


class MemoryPort:
    """A port with no interface: tests put packets in with ``inject`` and read ``sent``.

    A socket pair makes it selectable like a real port: it holds one byte while
    packets are queued, and is emptied (under the lock) when the queue is found empty.
    """

    def __init__(self, number: int, name: str | None = None) -> None:
        self.number = number
        self.name = name or f"mem{number}"
        self._rx: collections.deque[bytes] = collections.deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._signalled = False
        self._signal, self._wake = socket.socketpair()
        self._signal.setblocking(False)
        self.sent: queue.Queue[bytes] = queue.Queue()

    def inject(self, packet: bytes) -> None:
        """A packet arriving at the switch on this port."""
        with self._lock:
            self._rx.append(packet)
            if not self._signalled:
                self._signalled = True
                self._wake.send(b"\0")
            self._arrived.notify()

    def pending(self) -> int:
        return len(self._rx)

    def fileno(self) -> int:
        return self._signal.fileno()

    def recv_nowait(self) -> bytes | None:
        with self._lock:
            if self._rx:
                return self._rx.popleft()
            if self._signalled:
                self._signalled = False
                try:
                    self._signal.recv(16)
                except BlockingIOError:
                    pass
            return None

    def recv(self, timeout: float = RECV_TIMEOUT_S) -> bytes | None:
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._rx), timeout=timeout)
        return self.recv_nowait()

    def send(self, packet: bytes) -> None:
        self.sent.put(packet)

    def close(self) -> None:
        self._signal.close()
        self._wake.close()


def interface_exists(ifname: str) -> bool:
    return os.path.exists(f"/sys/class/net/{ifname}")
