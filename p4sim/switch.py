"""The switch: ports -> pipeline -> ports / PacketIn, with a P4Runtime server.

One receiver thread per port feeds a single work queue; one worker thread runs the
pipeline, because the pipeline is Python and the GIL lets only one thread execute it
anyway. The worker holds the device state's lock for each packet, so a controller
write lands between packets, never inside one. SetForwardingPipelineConfig swaps the
pipeline and state between two packets.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb

from p4sim.device import DeviceState
from p4sim.ports import Port
from p4sim.server import Loader, P4RuntimeServer, Pipeline

log = logging.getLogger("p4sim.switch")

MAX_QUEUED = 10_000


@dataclass(slots=True)
class PortCounters:
    rx_packets: int = 0
    rx_bytes: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0  # the work queue was full


class Switch:
    """Ports, pipeline and P4Runtime server of one p4sim device."""

    def __init__(
        self,
        ports: list[Port],
        cpu_port: int = 255,
        device_id: int = 0,
        loader: Loader | None = None,
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
        self.server = P4RuntimeServer(device_id, cpu_port, loader, dataplane=self)
        self._current: tuple[Pipeline, DeviceState] | None = None
        self._work: queue.Queue[tuple[int, bytes] | None] = queue.Queue(MAX_QUEUED)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Condition()
        self._busy = 0
        self._trace = False

    # ------------------------------------------------------------ lifecycle

    def start(self, grpc_address: str | None = "0.0.0.0:9559") -> int:
        """Start the packet threads and (unless ``grpc_address`` is None) the server."""
        port = self.server.start(grpc_address) if grpc_address else 0
        self._trace = log.isEnabledFor(logging.DEBUG)
        worker = threading.Thread(target=self._worker, name="p4sim-worker", daemon=True)
        self._threads.append(worker)
        for p in self.ports.values():
            rx = threading.Thread(
                target=self._receiver, args=(p,), name=f"p4sim-rx-{p.name}", daemon=True
            )
            self._threads.append(rx)
        for t in self._threads:
            t.start()
        return port

    def stop(self) -> None:
        """Stop receiving, finish the queued packets' worker, close ports and the server."""
        self._stop.set()
        try:
            self._work.put_nowait(None)
        except queue.Full:
            pass
        self.server.stop()
        for t in self._threads:
            t.join(timeout=2)
        for p in self.ports.values():
            p.close()

    def load(self, device_config: bytes, p4info: p4info_pb2.P4Info) -> None:
        """Commit a pipeline at start-up, as ``simple_switch_grpc prog.json`` does."""
        req = pb.SetForwardingPipelineConfigRequest(
            device_id=self.server.device_id,
            action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        )
        req.config.p4info.CopyFrom(p4info)
        req.config.p4_device_config = device_config
        self.server.commit_initial(req.config)

    # ------------------------------------------------------------ Dataplane

    def set_pipeline(self, pipeline: Pipeline | None, state: DeviceState | None) -> None:
        self._current = None if pipeline is None or state is None else (pipeline, state)

    def inject(self, port: int, packet: bytes) -> None:
        """Queue a packet entering the pipeline on ``port`` (the server's PacketOut path)."""
        self._enqueue(port, packet)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued packet went through the pipeline (for tests and tools)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self._busy == 0 and self._work.empty(), timeout=timeout
            )

    # ------------------------------------------------------------ threads

    def _enqueue(self, port: int, packet: bytes) -> None:
        counters = self.counters.get(port)
        if counters is not None:
            counters.rx_packets += 1
            counters.rx_bytes += len(packet)
        with self._idle:
            self._busy += 1
        try:
            self._work.put_nowait((port, packet))
        except queue.Full:
            if counters is not None:
                counters.rx_dropped += 1
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def _receiver(self, port: Port) -> None:
        while not self._stop.is_set():
            try:
                packet = port.recv()
            except OSError as exc:
                log.error("port %s: receive failed: %s", port.name, exc)
                return
            if packet is not None:
                self._enqueue(port.number, packet)

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is None or self._stop.is_set():
                return
            try:
                self._process(*item)
            finally:
                self._done()

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
