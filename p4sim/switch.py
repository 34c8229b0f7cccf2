"""The switch: ports -> pipeline -> ports / PacketIn, with a P4Runtime server.

One thread does all packet work: it waits on every port's socket (and on a wake-up
socket for PacketOuts) with ``select``, takes a small batch from each ready port in
turn, runs the pipeline and sends the results. The pipeline is Python, so a second
packet thread would only fight it for the GIL; receiving in the same thread also
leaves excess traffic in the kernel's socket buffers, where dropping it costs
nothing, instead of in Python queues.

With a native pipeline (`--backend c`) the thread hands each ready kernel port to it
whole: one call takes a burst of frames with recvmmsg, runs the program and sends
the outputs in native code with the GIL released; only packets for the CPU port and
digests come back to Python, through bounded areas that count what they drop.

Digests: when a round of the loop finds no more input waiting, the digests buffered
so far are sent at once (`DigestEngine.flush`) instead of waiting out their
`max_timeout_ns`: nothing could join the list now, and the wait would only add
latency. Under load the loop stays busy and lists fill up to the configured size or
timeout. `eager_digests=False` (`p4sim --strict-digest-timeout`) keeps every list
until its size or timeout is reached.

The pipeline holds the device state's lock for each packet (a native burst: for each
burst), so a controller write lands between packets, never inside one. SetForwardingPipelineConfig swaps the
pipeline and state between two packets.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
from dataclasses import dataclass
from typing import Any

from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb

from p4sim.device import DeviceState
from p4sim.ports import Port, RawPort
from p4sim.server import Loader, P4RuntimeServer, Pipeline

log = logging.getLogger("p4sim.switch")

BATCH = 32  # packets taken from one port before looking at the others
MAX_INJECTED = 10_000  # PacketOuts waiting for the packet thread
SELECT_TIMEOUT_S = 0.2


@dataclass(slots=True)
class PortCounters:
    rx_packets: int = 0
    rx_bytes: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0  # PacketOuts refused because too many were waiting (or, native
    # packet loop: frames too long for its receive buffers)
    tx_dropped: int = 0  # native packet loop: CPU-port packets over its bounded queue


class Switch:
    """Ports, pipeline and P4Runtime server of one p4sim device."""

    def __init__(
        self,
        ports: list[Port],
        cpu_port: int = 255,
        device_id: int = 0,
        loader: Loader | None = None,
        eager_digests: bool = True,
    ) -> None:
        numbers = [p.number for p in ports]
        if len(set(numbers)) != len(numbers):
            raise ValueError("two ports have the same number")
        if cpu_port in numbers:
            raise ValueError(f"port {cpu_port} is the CPU port")
        self.ports = {p.number: p for p in ports}
        self.cpu_port = cpu_port
        self.counters = {n: PortCounters() for n in [*numbers, cpu_port]}
        self.pipeline_errors = 0
        self.dropped_no_pipeline = 0
        self.dropped_no_port = 0
        self.processed = 0
        if loader is None:  # the back end named by $P4SIM_BACKEND, else Python (in process)
            from p4sim.backend.backends import loader as backend_loader

            loader = backend_loader()
        self.server = P4RuntimeServer(device_id, cpu_port, loader, dataplane=self)
        self._current: tuple[Pipeline, DeviceState] | None = None
        self._injected: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._is_idle = True
        self._trace = False
        self._raw_ports: list[RawPort] | None = None
        self.eager_digests = eager_digests

    # ------------------------------------------------------------ lifecycle

    def start(self, grpc_address: str | None = "0.0.0.0:9559") -> int:
        """Start the packet thread and (unless ``grpc_address`` is None) the server."""
        port = self.server.start(grpc_address) if grpc_address else 0
        self._trace = log.isEnabledFor(logging.DEBUG)
        self._thread = threading.Thread(target=self._loop, name="p4sim-packets", daemon=True)
        self._thread.start()
        return port

    def stop(self) -> None:
        """Stop the packet thread, the server, and close the ports."""
        self._stop.set()
        self._wake()
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for p in self.ports.values():
            p.close()
        self._wake_r.close()
        self._wake_w.close()

    def load(self, device_config: bytes, p4info: p4info_pb2.P4Info) -> None:
        """Commit a pipeline at start-up, as ``simple_switch_grpc prog.json`` does."""
        config = pb.ForwardingPipelineConfig(p4_device_config=device_config)
        config.p4info.CopyFrom(p4info)
        self.server.commit_initial(config)

    # ------------------------------------------------------------ Dataplane

    def set_pipeline(self, pipeline: Pipeline | None, state: DeviceState | None) -> None:
        self._current = None if pipeline is None or state is None else (pipeline, state)

    def inject(self, port: int, packet: bytes) -> None:
        """Queue a packet entering the pipeline on the CPU port (a PacketOut)."""
        counters = self.counters[self.cpu_port]
        if self._injected.qsize() >= MAX_INJECTED:
            counters.rx_dropped += 1
            return
        with self._idle:
            self._is_idle = False
        self._injected.put(packet)
        self._wake()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until injected packets and packets queued on in-memory ports are processed
        (packets in kernel socket buffers cannot be seen from here)."""

        def idle() -> bool:
            pending = sum(getattr(p, "pending", lambda: 0)() for p in self.ports.values())
            return self._is_idle and self._injected.empty() and pending == 0

        with self._idle:
            return self._idle.wait_for(idle, timeout=timeout)

    # ------------------------------------------------------------ packet thread

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already signalled (buffer full) or shutting down

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        for p in self.ports.values():
            sel.register(p.fileno(), selectors.EVENT_READ, p)
        try:
            timeout = SELECT_TIMEOUT_S
            while not self._stop.is_set():
                # Readiness is refreshed after every round of batches, so a port that
                # becomes ready while another is flooded waits at most one round.
                ready = sel.select(timeout)
                if not ready:
                    self._went_idle()
                    with self._idle:
                        self._is_idle = True
                        self._idle.notify_all()
                    timeout = SELECT_TIMEOUT_S
                    continue
                with self._idle:
                    self._is_idle = False
                busy = False
                for key, _ in ready:
                    port = key.data
                    if port is None:
                        busy |= self._drain_injected()
                    else:
                        busy |= self._drain_port(port)
                timeout = 0 if busy else SELECT_TIMEOUT_S
                if not busy:
                    self._went_idle()
                    with self._idle:
                        self._is_idle = True
                        self._idle.notify_all()
        except Exception:
            log.exception("packet thread failed")
        finally:
            sel.close()

    def _went_idle(self) -> None:
        """No input is waiting: send the digests buffered so far (from this thread:
        waking the housekeeping thread to do it would add a thread switch)."""
        current = self._current
        if self.eager_digests and current is not None and current[1].digests.flush():
            self.server.send_digests()

    def _drain_injected(self) -> bool:
        try:
            while True:
                self._wake_r.recv(4096)
        except (BlockingIOError, OSError):
            pass
        worked = False
        for _ in range(BATCH):
            try:
                packet = self._injected.get_nowait()
            except queue.Empty:
                break
            counters = self.counters[self.cpu_port]
            counters.rx_packets += 1
            counters.rx_bytes += len(packet)
            self._process(self.cpu_port, packet)
            worked = True
        if not self._injected.empty():
            self._wake()
            return True
        return worked

    def _drain_port(self, port: Port) -> bool:
        current = self._current
        if current is not None and isinstance(port, RawPort):
            burst = getattr(current[0], "burst", None)
            if burst is not None:  # a native pipeline reads the socket itself
                return self._drain_native(port, burst, current[1])
        counters = self.counters[port.number]
        for _ in range(BATCH):
            try:
                packet = port.recv_nowait()
            except OSError as exc:
                log.error("port %s: receive failed: %s", port.name, exc)
                return False
            if packet is None:
                return False
            counters.rx_packets += 1
            counters.rx_bytes += len(packet)
            self._process(port.number, packet)
        return True  # more may be waiting: come back after the other ports

    def _drain_native(self, port: RawPort, burst: Any, state: DeviceState) -> bool:
        """One burst of frames from `port` through a native pipeline (recvmmsg,
        the program and the sends all in native code, the GIL released)."""
        outs = self._raw_ports
        if outs is None:
            outs = self._raw_ports = [p for p in self.ports.values() if isinstance(p, RawPort)]
        try:
            with state.lock:
                r = burst(port, outs, self.cpu_port)
        except OSError as exc:
            log.error("port %s: receive failed: %s", port.name, exc)
            return False
        except Exception:
            self.pipeline_errors += 1
            log.exception("native pipeline failed on a burst from port %d", port.number)
            return False
        counters = self.counters[port.number]
        counters.rx_packets += r.rx
        counters.rx_bytes += r.rx_bytes
        counters.rx_dropped += r.rx_dropped
        self.processed += r.rx - r.rx_dropped
        self.dropped_no_port += r.no_port
        for out, (packets, nbytes) in zip(outs, r.tx, strict=True):
            if packets:
                c = self.counters[out.number]
                c.tx_packets += packets
                c.tx_bytes += nbytes
        cpu = self.counters[self.cpu_port]
        cpu.tx_dropped += r.punt_dropped
        for data in r.punts:
            self.server.packet_in(data)
            cpu.tx_packets += 1
            cpu.tx_bytes += len(data)
        if r.digest_dropped or r.send_errors:
            log.warning(
                "port %s burst: %d digests dropped (queue full), %d sends refused",
                port.name,
                r.digest_dropped,
                r.send_errors,
            )
        return r.taken > 0  # more may be waiting: come back after the other ports

    def _process(self, port: int, packet: bytes) -> None:
        current = self._current
        if current is None:
            self.dropped_no_pipeline += 1
            return
        pipeline, state = current
        try:
            with state.lock:
                outputs = pipeline.process(port, packet)
        except Exception:
            self.pipeline_errors += 1
            log.exception("pipeline failed on a packet from port %d", port)
            return
        self.processed += 1
        if self._trace:
            log.debug(
                "port %d: %d bytes in -> %s",
                port,
                len(packet),
                ", ".join(f"port {e} ({len(d)} bytes)" for e, d in outputs) or "dropped",
            )
        for egress, data in outputs:
            if egress == self.cpu_port:
                self.server.packet_in(data)
                counters = self.counters[self.cpu_port]
            else:
                out = self.ports.get(egress)
                if out is None:
                    self.dropped_no_port += 1
                    continue
                try:
                    out.send(data)
                except OSError as exc:
                    log.warning("port %s: send failed: %s", out.name, exc)
                    continue
                counters = self.counters[egress]
            counters.tx_packets += 1
            counters.tx_bytes += len(data)
