"""The P4Runtime gRPC service of p4sim.

The server owns the control-plane view of one device: the committed forwarding
pipeline config, the ``DeviceState`` built from its P4Info, client arbitration and the
stream channels. It does not move packets: a ``Dataplane`` (the switch loop) receives
each new pipeline and the packets of PacketOut messages, and hands packets for the CPU
port back through ``packet_in``.

The pipeline is built by a *loader* ``(device_config, p4info, state, cpu_port) ->
pipeline``; the default imports ``p4sim.backend.python.pipeline.Pipeline`` lazily, so the
server works (and is tested) without the compiler.

Serving (so that no client can freeze the others): gRPC runs on asyncio (``grpc.aio``)
in a thread of its own. A StreamChannel is a coroutine, not a thread, so idle or
hostile streams cost memory only; at most ``max_streams`` are open at once (one more
is refused with RESOURCE_EXHAUSTED), and a stream that sends no arbitration update
within ``arbitration_timeout`` seconds is ended with DEADLINE_EXCEEDED.

Work that takes the device lock runs in worker threads, never waiting on the event
loop, so Capabilities and the streams are answered while a batch is applied: the
primary's Writes and pipeline configs in a pool of their own (a small Write, up to
``INLINE_WRITE_UPDATES`` updates, is applied on the loop when the lock is free at
that instant: the two thread hand-offs cost more than the work, and the handshake
latency of a controller is made of such hops; it never waits for the lock there) (requests from anyone else are
refused on the loop first), Reads in another, so that reads, which anyone may send,
never queue ahead of the primary's writes. Reads take the lock one slice of
``READ_SLICE`` entities at a time (``DeviceState.read_slices``) and stream a response
every ``READ_CHUNK`` entities as they are made, so packets are processed during any
read; past ``READ_UNPACED`` entities a read also pauses between slices as long as it
worked, so that a long read leaves the packet loop half of the CPU (the GIL), not a
fraction.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any, Protocol, TypeAlias, TypeVar

import grpc
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc

from p4sim.device import DeviceState
from p4sim.device.arbitration import Arbiter, Client, ElectionId, has_pipeline_access
from p4sim.device.errors import Code, DeviceError
from p4sim.device.p4rt import digest_list_proto, idle_timeout_proto, write_synced
from p4sim.device.p4rt import read as read_entities
from p4sim.device.packetio import PacketIo
from p4sim.device.rollback import snapshot
from p4sim.write_status import write_status

log = logging.getLogger("p4sim.server")

API_VERSION = "1.4.1"
IDLE_SCAN_MIN_NS = 10_000_000  # idle-timeout scans: at most every 10 ms ...
IDLE_SCAN_MAX_NS = 1_000_000_000  # ... and at least every second
READ_CHUNK = 1000  # entities per ReadResponse
READ_SLICE = 200  # entities read per hold of the device lock (a few ms)
READ_UNPACED = 5000  # entities a read makes at full speed; past them ...
READ_DUTY = 0.5  # ... it works at most this share of the time, leaving packets the rest
MAX_QUEUED_PACKET_INS = 10_000
INLINE_WRITE_UPDATES = 16  # a Write this small may be applied on the event loop
MAX_MESSAGE = 256 * 1024 * 1024
MAX_STREAMS = 1024  # StreamChannels open at once, arbitrated or not
ARBITRATION_TIMEOUT_S = 10.0  # a stream must arbitrate within this
WORKERS = 2  # threads applying the primary's Writes and pipeline configs, and again
# as many for Reads: a flood of reads (anyone may read) never queues ahead of a write

_GRPC_CODES = {sc.value[0]: sc for sc in grpc.StatusCode}
_R = TypeVar("_R")


class Pipeline(Protocol):
    def process(self, ingress_port: int, packet: bytes) -> list[tuple[int, bytes]]: ...


Loader = Callable[[bytes, p4info_pb2.P4Info, DeviceState, int], Pipeline]


class Dataplane(Protocol):
    """What the server needs from the packet loop."""

    def set_pipeline(self, pipeline: Pipeline | None, state: DeviceState | None) -> None: ...

    def inject(self, port: int, packet: bytes) -> None: ...


def default_loader(
    device_config: bytes, p4info: p4info_pb2.P4Info, state: DeviceState, cpu_port: int
) -> Pipeline:
    """Compile the device config with p4sim's backend (imported only when first needed)."""
    from p4sim.backend.python.pipeline import Pipeline as BackendPipeline

    pipeline: Pipeline = BackendPipeline.load(device_config, p4info, state, cpu_port)
    return pipeline


class _Abort(Exception):
    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _election(msg: Any) -> ElectionId:
    if not msg.HasField("election_id"):
        return None
    return (msg.election_id.high << 64) | msg.election_id.low


def _set_election(into: pb.Uint128, value: int) -> None:
    into.high = value >> 64
    into.low = value & ((1 << 64) - 1)


_Item: TypeAlias = pb.StreamMessageResponse | bytes | _Abort | None


class _Outbox:
    """A stream's outbound messages: filled from any thread (packet loop, housekeeping,
    the event loop), drained by the stream's coroutine on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: collections.deque[_Item] = collections.deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._sleeping = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: _Item) -> None:
        with self._lock:
            self._items.append(item)
            wake, self._sleeping = self._sleeping, False
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:
                pass  # the loop is closed: the server stopped, nobody reads any more

    async def get(self) -> _Item:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                self._sleeping = True
                self._ready.clear()
            await self._ready.wait()


class _Stream:
    """One StreamChannel: its arbitration client and its outbound messages."""

    def __init__(self, peer: str, loop: asyncio.AbstractEventLoop) -> None:
        self.peer = peer
        # Messages, or messages already serialised (PacketIn, see packetio).
        self.out = _Outbox(loop)
        self.closed = False
        self.client = Client(send=self._send_arbitration)
        self.dropped = 0

    def _send_arbitration(
        self, device_id: int, role: str, highest: ElectionId, status: Code
    ) -> None:
        msg = pb.StreamMessageResponse()
        arb = msg.arbitration
        arb.device_id = device_id
        if role:
            arb.role.name = role
        if highest is not None:
            _set_election(arb.election_id, highest)
        arb.status.code = int(status)
        if status == Code.OK:
            arb.status.message = "is primary"
        elif status == Code.ALREADY_EXISTS:
            arb.status.message = "is backup: a primary exists"
        else:
            arb.status.message = "is backup: no primary"
        self.put(msg)

    def put(self, msg: _Item) -> None:
        if not self.closed:
            self.out.put(msg)

    def end(self, msg: _Abort | None) -> None:
        """Finish the stream (with an error status, or OK for None), even when closed."""
        self.out.put(msg)

    def put_packet(self, msg: bytes) -> None:
        """Queue a PacketIn, dropping it if the client does not keep up."""
        if len(self.out) >= MAX_QUEUED_PACKET_INS:
            self.dropped += 1
            return
        self.put(msg)


class _Pipeline:
    """A committed (or saved) forwarding pipeline and everything built from it."""

    def __init__(
        self,
        config: pb.ForwardingPipelineConfig,
        state: DeviceState,
        pipeline: Pipeline,
    ) -> None:
        self.config = config
        self.state = state
        self.pipeline = pipeline
        self.packet_io = PacketIo(state.packet_in_metadata, state.packet_out_metadata)


class P4RuntimeServer:
    """P4Runtime for one device. ``start`` serves; ``stop`` ends streams and threads."""

    def __init__(
        self,
        device_id: int = 0,
        cpu_port: int = 255,
        loader: Loader | None = None,
        dataplane: Dataplane | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        register_access: bool = True,
        max_streams: int = MAX_STREAMS,
        arbitration_timeout: float = ARBITRATION_TIMEOUT_S,
    ) -> None:
        self.device_id = device_id
        #: False: every RegisterEntry read or write answers UNIMPLEMENTED, as on bmv2,
        #: whose P4Runtime server (PI) implements no register access.
        self.register_access = register_access
        #: StreamChannels open at once; one more is refused with RESOURCE_EXHAUSTED.
        self.max_streams = max_streams
        #: Seconds a new stream has to send its MasterArbitrationUpdate.
        self.arbitration_timeout = arbitration_timeout
        self.cpu_port = cpu_port
        self.loader: Loader = loader or default_loader
        self.dataplane = dataplane
        self.clock = clock
        self.arbiter = Arbiter(device_id)
        self._config_lock = threading.Lock()
        self._active: _Pipeline | None = None
        self._saved: _Pipeline | None = None
        self._streams: dict[Client, _Stream] = {}
        self._streams_lock = threading.Lock()
        self._wake = threading.Event()
        self._rescan = False
        self._next_idle_ns = 0  # when the housekeeping thread scans idle timeouts next
        self._stopping = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._grpc: grpc.aio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._writers: futures.ThreadPoolExecutor | None = None
        self._readers: futures.ThreadPoolExecutor | None = None
        self._terminated = threading.Event()
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, address: str = "0.0.0.0:9559", max_workers: int = WORKERS) -> int:
        """Serve on ``address`` (port 0: any free port); returns the bound port."""
        self._writers = futures.ThreadPoolExecutor(max_workers, thread_name_prefix="p4rt-w")
        self._readers = futures.ThreadPoolExecutor(max_workers, thread_name_prefix="p4rt-r")
        loop = self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._run_loop, name="p4rt-grpc", daemon=True
        )
        self._loop_thread.start()
        try:
            port = asyncio.run_coroutine_threadsafe(self._serve(address), loop).result()
        except BaseException:
            self._stop_loop()
            raise
        self.port = port
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="p4rt-housekeeping", daemon=True
        )
        self._housekeeper.start()
        log.info("P4Runtime server listening on %s (port %d)", address, port)
        return port

    def _run_loop(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _serve(self, address: str) -> int:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
            ],
        )
        server.add_generic_rpc_handlers((_handlers(_Servicer(self)),))
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpc.aio raises where grpc returned 0
            raise OSError(f"cannot listen on {address}: {exc}") from None
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        await server.start()
        self._grpc = server
        return port

    def stop(self, grace: float = 1.0) -> None:
        self._stopping.set()
        self._wake.set()
        with self._streams_lock:
            streams = list(self._streams.values())
        for stream in streams:
            stream.end(_Abort(Code.UNAVAILABLE, "the switch is shutting down"))
        loop = self._loop
        if loop is not None and self._grpc is not None:
            server = self._grpc
            try:
                asyncio.run_coroutine_threadsafe(server.stop(grace), loop).result(grace + 2)
            except (futures.TimeoutError, RuntimeError):
                log.warning("gRPC server did not stop within %.1f s", grace + 2)
        self._stop_loop()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=2)
        for pool in (self._writers, self._readers):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._terminated.set()

    def _stop_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=5)
        if not loop.is_running():
            loop.close()
        self._loop = None

    def wait(self) -> None:
        self._terminated.wait()

    async def in_writer(self, fn: Callable[..., _R], *args: Any) -> _R:
        """Run a primary's blocking work (it takes the device lock) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._writers, fn, *args)

    async def in_reader(self, fn: Callable[..., _R], *args: Any) -> _R:
        """Run one slice of a read off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._readers, fn, *args)

    def check_primary(self, req: pb.WriteRequest | pb.SetForwardingPipelineConfigRequest) -> None:
        """The checks before any work of a Write or SetForwardingPipelineConfig, done on
        the event loop so that only the primary's requests reach the workers (they are
        made again there: the primary may change in between)."""
        self._check_device(req.device_id)
        self._check_role(req.role)
        if not self.arbiter.is_primary(req.role, _election(req)):
            what = "writes" if isinstance(req, pb.WriteRequest) else "configs"
            raise DeviceError(Code.PERMISSION_DENIED, f"{what} are accepted from the primary only")

    # ---------------------------------------------------------- data plane side

    @property
    def state(self) -> DeviceState | None:
        active = self._active
        return None if active is None else active.state

    def packet_in(self, packet: bytes) -> None:
        """A packet the pipeline sent to the CPU port: deliver it to the primary clients."""
        active = self._active
        if active is None:
            return
        msg = active.packet_io.packet_in_message(packet)
        for client in self.arbiter.primaries():
            stream = self._stream_of(client)
            if stream is not None:
                stream.put_packet(msg)

    # ----------------------------------------------------------- pipeline config

    def set_pipeline_config(self, req: pb.SetForwardingPipelineConfigRequest) -> None:
        self._check_device(req.device_id)
        self._check_role(req.role)
        if not self.arbiter.is_primary(req.role, _election(req)):
            raise DeviceError(Code.PERMISSION_DENIED, "only the primary client may set the config")
        if not has_pipeline_access(req.role):
            raise DeviceError(Code.PERMISSION_DENIED, _no_access(req.role, "set the pipeline"))
        action = req.action
        A = pb.SetForwardingPipelineConfigRequest
        with self._config_lock:
            if action == A.VERIFY:
                self._build(req.config, reuse=None)
            elif action == A.VERIFY_AND_SAVE:
                self._saved = self._build(req.config, reuse=None)
            elif action == A.VERIFY_AND_COMMIT:
                self._commit(self._build(req.config, reuse=None))
            elif action == A.COMMIT:
                saved = self._saved
                if saved is None:
                    raise DeviceError(Code.NOT_FOUND, "no saved config to commit")
                if req.HasField("config") and req.config.HasField("cookie"):
                    saved.config.cookie.CopyFrom(req.config.cookie)
                self._saved = None
                self._commit(saved)
            elif action == A.RECONCILE_AND_COMMIT:
                active = self._active
                if active is None or active.config.p4info != req.config.p4info:
                    raise DeviceError(
                        Code.UNIMPLEMENTED,
                        "RECONCILE_AND_COMMIT keeps state only for an unchanged P4Info; "
                        "use VERIFY_AND_COMMIT to start over",
                    )
                self._commit(self._build(req.config, reuse=active.state))
            else:
                raise DeviceError(Code.INVALID_ARGUMENT, "unspecified config action")

    def commit_initial(self, config: pb.ForwardingPipelineConfig) -> None:
        """Commit a pipeline given on the command line (no client involved)."""
        with self._config_lock:
            self._commit(self._build(config, reuse=None))

    def _build(self, config: pb.ForwardingPipelineConfig, reuse: DeviceState | None) -> _Pipeline:
        if not config.HasField("p4info"):
            raise DeviceError(Code.INVALID_ARGUMENT, "the config has no P4Info")
        try:
            state = reuse if reuse is not None else DeviceState(config.p4info, clock=self.clock)
        except (ValueError, KeyError) as exc:
            raise DeviceError(Code.INVALID_ARGUMENT, f"bad P4Info: {exc}") from exc
        try:
            pipeline = self.loader(config.p4_device_config, config.p4info, state, self.cpu_port)
        except DeviceError:
            raise
        except Exception as exc:  # the compiler's errors are the client's to read
            log.info("pipeline rejected: %s", exc)
            raise DeviceError(Code.INVALID_ARGUMENT, f"cannot load the pipeline: {exc}") from exc
        kept = pb.ForwardingPipelineConfig()
        kept.CopyFrom(config)
        try:
            return _Pipeline(kept, state, pipeline)
        except ValueError as exc:
            raise DeviceError(Code.INVALID_ARGUMENT, str(exc)) from exc

    def _commit(self, built: _Pipeline) -> None:
        built.state.digests.set_wakeup(self._wake.set)
        old = self._active
        self._active = built
        if old is not None and old.state is not built.state:
            old.state.digests.set_wakeup(None)
        if self.dataplane is not None:
            self.dataplane.set_pipeline(built.pipeline, built.state)
        self._wake.set()
        log.info("pipeline committed (%d tables)", len(built.state.tables))

    def get_pipeline_config(
        self, req: pb.GetForwardingPipelineConfigRequest
    ) -> pb.GetForwardingPipelineConfigResponse:
        self._check_device(req.device_id)
        active = self._active
        resp = pb.GetForwardingPipelineConfigResponse()
        if active is None:
            return resp
        R = pb.GetForwardingPipelineConfigRequest
        cfg = resp.config
        if active.config.HasField("cookie"):
            cfg.cookie.CopyFrom(active.config.cookie)
        if req.response_type in (R.ALL, R.P4INFO_AND_COOKIE):
            cfg.p4info.CopyFrom(active.config.p4info)
        if req.response_type in (R.ALL, R.DEVICE_CONFIG_AND_COOKIE):
            cfg.p4_device_config = active.config.p4_device_config
        return resp

    # ----------------------------------------------------------- write / read

    def write(self, req: pb.WriteRequest) -> list[tuple[Code, str]]:
        """Apply a batch; returns one (code, message) per update."""
        return self._write(req, self._active)

    def _write(self, req: pb.WriteRequest, active: _Pipeline | None) -> list[tuple[Code, str]]:
        self._check_device(req.device_id)
        self._check_role(req.role)
        if not self.arbiter.is_primary(req.role, _election(req)):
            raise DeviceError(Code.PERMISSION_DENIED, "writes are accepted from the primary only")
        if active is None:
            raise DeviceError(Code.FAILED_PRECONDITION, "no forwarding pipeline config set")
        W = pb.WriteRequest
        if req.atomicity not in (W.CONTINUE_ON_ERROR, W.ROLLBACK_ON_ERROR, W.DATAPLANE_ATOMIC):
            raise DeviceError(Code.INVALID_ARGUMENT, f"unknown atomicity {req.atomicity}")
        if not has_pipeline_access(req.role):
            # The role exists (its client is primary) but its scope is empty: each
            # update is refused, as the specification asks for an update outside a role.
            denied = (Code.PERMISSION_DENIED, _no_access(req.role, "write"))
            return [denied] * len(req.updates)
        if req.atomicity in (W.ROLLBACK_ON_ERROR, W.DATAPLANE_ATOMIC):
            results = self._write_all_or_none(active.state, list(req.updates))
        else:
            results = self._write_each(active.state, req.updates)
        if self._rescan_needed(req):
            self._rescan = True
            self._wake.set()
        return results

    def _rescan_needed(self, req: pb.WriteRequest) -> bool:
        """Whether an idle timeout in `req` wants a scan before the one planned (waking
        the housekeeping thread on every write would cost every write a thread switch)."""
        planned = self._next_idle_ns
        now = self.clock()
        for update in req.updates:
            entity = update.entity
            if entity.WhichOneof("entity") != "table_entry":
                continue
            ttl = entity.table_entry.idle_timeout_ns
            if ttl and planned > now + max(IDLE_SCAN_MIN_NS, ttl // 10):
                return True
        return False

    def write_inline(self, req: pb.WriteRequest) -> list[tuple[Code, str]] | None:
        """Apply a small batch on this thread if the device lock is free now; None
        (nothing done) if the batch is large or the lock is held: use a worker."""
        active = self._active
        if active is None or len(req.updates) > INLINE_WRITE_UPDATES:
            return None
        lock = active.state.lock
        if not lock.acquire(blocking=False):
            return None
        try:
            return self._write(req, active)  # the pipeline whose lock is held
        finally:
            lock.release()

    def _write_each(self, state: DeviceState, updates: Any) -> list[tuple[Code, str]]:
        with state.lock:
            state.sync()  # once for the batch: the lock keeps the data plane out
            return [self._try_write(state, update) for update in updates]

    def _write_all_or_none(
        self, state: DeviceState, updates: list[pb.Update]
    ) -> list[tuple[Code, str]]:
        """Apply every update or none (the lock makes it data-plane atomic too)."""
        undos = []
        with state.lock:
            state.sync()
            for index, update in enumerate(updates):
                undo = snapshot(state, update)
                code, message = self._try_write(state, update)
                if code == Code.OK:
                    undos.append(undo)
                    continue
                for done in reversed(undos):
                    done()
                return (
                    [(Code.ABORTED, "rolled back: another update of the batch failed")] * index
                    + [(code, message)]
                    + [(Code.ABORTED, "not attempted: an earlier update failed")]
                    * (len(updates) - index - 1)
                )
        return [(Code.OK, "")] * len(updates)

    def _try_write(self, state: DeviceState, update: pb.Update) -> tuple[Code, str]:
        """Apply one update; its result, never an exception (a bug must not take the
        server down)."""
        try:
            self._write_one(state, update)
        except DeviceError as exc:
            return exc.code, exc.message
        except Exception as exc:
            log.exception("write failed")
            return Code.INTERNAL, f"internal error: {exc}"
        return Code.OK, ""

    def _write_one(self, state: DeviceState, update: pb.Update) -> None:
        if update.entity.WhichOneof("entity") == "register_entry":
            self._check_register_access("write")
        write_synced(state, update)

    def _check_register_access(self, what: str) -> None:
        if not self.register_access:
            raise DeviceError(
                Code.UNIMPLEMENTED,
                f"register {what}s are not supported by this target "
                "(p4sim --no-register-access, like bmv2's P4Runtime server)",
            )

    def read(self, req: pb.ReadRequest) -> Iterator[pb.ReadResponse]:
        """The ReadResponse messages, READ_CHUNK entities each."""
        self._check_device(req.device_id)
        active = self._active
        if active is None:
            raise DeviceError(Code.FAILED_PRECONDITION, "no forwarding pipeline config set")
        state = active.state
        if any(q.WhichOneof("entity") == "register_entry" for q in req.entities):
            self._check_register_access("read")

        def entities() -> Iterator[pb.Entity]:
            for query in req.entities:
                yield from read_entities(state, query)

        sent = False
        pending: list[pb.Entity] = []
        made = 0
        slices = state.read_slices(entities(), READ_SLICE)
        while True:
            started = time.perf_counter()
            batch = next(slices, None)
            if batch is None:
                break
            made += len(batch)
            if made > READ_UNPACED:
                # The packet loop needs the GIL as well as the lock: a long read pauses
                # as long as it worked, or packets would get a fraction of the CPU.
                busy = time.perf_counter() - started
                time.sleep(busy * (1 - READ_DUTY) / READ_DUTY)
            pending.extend(batch)
            if len(pending) >= READ_CHUNK:
                yield pb.ReadResponse(entities=pending)
                pending = []
                sent = True
        if pending or not sent:
            yield pb.ReadResponse(entities=pending)

    def _check_role(self, role: str) -> None:
        if not self.arbiter.knows(role):
            raise DeviceError(Code.NOT_FOUND, f"unknown role {role!r}: no client arbitrated for it")

    def _check_device(self, device_id: int) -> None:
        if device_id != self.device_id:
            raise DeviceError(Code.NOT_FOUND, f"unknown device id {device_id}")

    # ----------------------------------------------------------- streams

    def open_stream(self, peer: str, loop: asyncio.AbstractEventLoop) -> _Stream:
        """A new StreamChannel; RESOURCE_EXHAUSTED when ``max_streams`` are open."""
        stream = _Stream(peer, loop)
        with self._streams_lock:
            if len(self._streams) >= self.max_streams:
                raise DeviceError(
                    Code.RESOURCE_EXHAUSTED,
                    f"too many open streams ({self.max_streams}); try again later",
                )
            self._streams[stream.client] = stream
        return stream

    def arbitration_overdue(self, stream: _Stream) -> None:
        """End a stream that did not arbitrate in time (it holds a place for nothing)."""
        if not stream.closed and not stream.client.arbitrated:
            log.info("stream from %s: no arbitration in time, closed", stream.peer)
            stream.end(
                _Abort(
                    Code.DEADLINE_EXCEEDED,
                    f"no MasterArbitrationUpdate within {self.arbitration_timeout:g} s",
                )
            )

    def close_stream(self, stream: _Stream) -> None:
        if stream.closed:
            return
        stream.closed = True
        with self._streams_lock:
            self._streams.pop(stream.client, None)
        self.arbiter.remove(stream.client)
        log.debug("stream from %s closed", stream.peer)

    def _stream_of(self, client: Client) -> _Stream | None:
        with self._streams_lock:
            return self._streams.get(client)

    def handle_stream_message(self, stream: _Stream, req: pb.StreamMessageRequest) -> None:
        kind = req.WhichOneof("update")
        if kind == "arbitration":
            arb = req.arbitration
            if arb.role.HasField("config"):
                raise _Abort(
                    Code.INVALID_ARGUMENT,
                    "p4sim implements no role configuration scheme: leave role.config unset",
                )
            try:
                self.arbiter.update(stream.client, arb.device_id, arb.role.name, _election(arb))
            except DeviceError as exc:
                raise _Abort(exc.code, exc.message) from exc
            return
        if not stream.client.arbitrated:
            self._stream_error(stream, Code.FAILED_PRECONDITION, "send arbitration first", req)
            return
        if kind == "packet":
            self._packet_out(stream, req)
        elif kind == "digest_ack":
            active = self._active
            ack = req.digest_ack
            if active is None or not active.state.digests.ack(ack.digest_id, ack.list_id):
                self._stream_error(stream, Code.NOT_FOUND, "unknown digest list", req)
        else:
            self._stream_error(stream, Code.UNIMPLEMENTED, f"unsupported message {kind}", req)

    def _packet_out(self, stream: _Stream, req: pb.StreamMessageRequest) -> None:
        if not self.arbiter.is_primary_client(stream.client):
            self._stream_error(stream, Code.PERMISSION_DENIED, "PacketOut from a backup", req)
            return
        if not has_pipeline_access(stream.client.role):
            message = _no_access(stream.client.role, "send PacketOuts")
            self._stream_error(stream, Code.PERMISSION_DENIED, message, req)
            return
        active = self._active
        if active is None:
            self._stream_error(stream, Code.FAILED_PRECONDITION, "no pipeline", req)
            return
        try:
            packet = active.packet_io.build_packet_out(req.packet)
        except DeviceError as exc:
            self._stream_error(stream, exc.code, exc.message, req)
            return
        if self.dataplane is not None:
            self.dataplane.inject(self.cpu_port, packet)

    def _stream_error(
        self, stream: _Stream, code: Code, message: str, req: pb.StreamMessageRequest
    ) -> None:
        msg = pb.StreamMessageResponse()
        err = msg.error
        err.canonical_code = int(code)
        err.message = message
        kind = req.WhichOneof("update")
        if kind == "packet":
            err.packet_out.packet_out.CopyFrom(req.packet)
        elif kind == "digest_ack":
            err.digest_list_ack.digest_list_ack.CopyFrom(req.digest_ack)
        elif kind == "other":
            err.other.other.CopyFrom(req.other)
        stream.put(msg)

    # ----------------------------------------------------------- background

    def _housekeeping(self) -> None:
        """Send due digest lists and idle-timeout notifications to the primaries."""
        next_idle = 0
        while not self._stopping.is_set():
            active = self._active
            timeout = 1.0
            if active is not None:
                try:
                    deadline = self._send_digests(active)
                    now = self.clock()
                    idle_tables = [
                        t for t in active.state.tables_by_id.values() if t.supports_idle_timeout
                    ]
                    if self._rescan:  # a write may have added a shorter TTL
                        self._rescan = False
                        next_idle = min(next_idle, now + IDLE_SCAN_MIN_NS)
                    if idle_tables and now >= next_idle:
                        self._send_idle(active, idle_tables, now)
                        next_idle = now + self._idle_period(idle_tables)
                    self._next_idle_ns = next_idle if idle_tables else 0
                    wait_ns = []
                    if deadline is not None:
                        wait_ns.append(deadline - now)
                    if idle_tables:
                        wait_ns.append(next_idle - now)
                    if wait_ns:
                        timeout = max(0.0, min(wait_ns) / 1e9)
                except Exception:  # keep the thread alive whatever one round does
                    log.exception("housekeeping failed")
            self._wake.wait(timeout)
            self._wake.clear()

    @staticmethod
    def _idle_period(tables: list[Any]) -> int:
        """Scan often enough to be within a tenth of the smallest TTL, but not too often."""
        ttls = [t.min_ttl_ns for t in tables if t.min_ttl_ns]
        if not ttls:
            return IDLE_SCAN_MIN_NS
        return max(IDLE_SCAN_MIN_NS, min(IDLE_SCAN_MAX_NS, min(ttls) // 10))

    def send_digests(self) -> None:
        """Send the digest lists due now (the packet loop calls it when it goes idle;
        the housekeeping thread sends the rest)."""
        active = self._active
        if active is None:
            return
        try:
            self._send_digests(active)
        except Exception:  # never take the caller's thread down
            log.exception("sending digests failed")

    def _send_digests(self, active: _Pipeline) -> int | None:
        lists, deadline = active.state.digests.poll()
        for dl in lists:
            try:
                msg = digest_list_proto(active.state, dl, time.time_ns())
            except ValueError:
                log.exception("digest %d: values do not fit the P4Info type", dl.digest_id)
                continue
            self._to_primaries(msg)
        return deadline

    def _send_idle(self, active: _Pipeline, tables: list[Any], now: int) -> None:
        for table in tables:
            with active.state.lock:
                expired = table.expired(now)
                if not expired:
                    continue
                msg = idle_timeout_proto(table, expired, time.time_ns())
            self._to_primaries(msg)

    def _to_primaries(self, msg: pb.StreamMessageResponse | bytes) -> None:
        for client in self.arbiter.primaries():
            stream = self._stream_of(client)
            if stream is not None:
                stream.put(msg)


def _no_access(role: str, what: str) -> str:
    return (
        f"role {role!r} may not {what}: p4sim has no role configuration, "
        "only the default role has pipeline access"
    )


def _serialize(msg: Any) -> bytes:
    """Responses may be messages or bytes the server already serialised."""
    return msg if isinstance(msg, bytes) else msg.SerializeToString()  # type: ignore[no-any-return]


def _handlers(servicer: _Servicer) -> grpc.GenericRpcHandler:
    """The P4Runtime service, as the generated code registers it, except that
    responses may be pre-serialised bytes (Read and StreamChannel use that)."""
    unary = grpc.unary_unary_rpc_method_handler
    methods = {
        "Write": unary(servicer.Write, pb.WriteRequest.FromString, _serialize),
        "Read": grpc.unary_stream_rpc_method_handler(
            servicer.Read, pb.ReadRequest.FromString, _serialize
        ),
        "SetForwardingPipelineConfig": unary(
            servicer.SetForwardingPipelineConfig,
            pb.SetForwardingPipelineConfigRequest.FromString,
            _serialize,
        ),
        "GetForwardingPipelineConfig": unary(
            servicer.GetForwardingPipelineConfig,
            pb.GetForwardingPipelineConfigRequest.FromString,
            _serialize,
        ),
        "StreamChannel": grpc.stream_stream_rpc_method_handler(
            servicer.StreamChannel, pb.StreamMessageRequest.FromString, _serialize
        ),
        "Capabilities": unary(servicer.Capabilities, pb.CapabilitiesRequest.FromString, _serialize),
    }
    return grpc.method_handlers_generic_handler("p4.v1.P4Runtime", methods)


async def _abort(context: grpc.aio.ServicerContext, code: Code, message: str) -> None:
    await context.abort(_GRPC_CODES.get(int(code), grpc.StatusCode.UNKNOWN), message)


class _Servicer(p4runtime_pb2_grpc.P4RuntimeServicer):
    """gRPC glue on the event loop: turns DeviceError into statuses, hands work that
    takes the device lock to the worker pool, runs the streams as coroutines."""

    def __init__(self, server: P4RuntimeServer) -> None:
        self.s = server

    async def Capabilities(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.CapabilitiesResponse(p4runtime_api_version=API_VERSION)

    async def SetForwardingPipelineConfig(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        try:
            self.s.check_primary(request)
            await self.s.in_writer(self.s.set_pipeline_config, request)
        except DeviceError as exc:
            await _abort(context, exc.code, exc.message)
        return pb.SetForwardingPipelineConfigResponse()

    async def GetForwardingPipelineConfig(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        try:
            return self.s.get_pipeline_config(request)
        except DeviceError as exc:
            await _abort(context, exc.code, exc.message)
        raise AssertionError("unreachable")

    async def Write(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            self.s.check_primary(request)
            results = self.s.write_inline(request)
            if results is None:
                results = await self.s.in_writer(self.s.write, request)
        except DeviceError as exc:
            await _abort(context, exc.code, exc.message)
            raise AssertionError("unreachable") from exc
        if any(code != Code.OK for code, _ in results):
            details, message = write_status(results)
            await context.abort(
                grpc.StatusCode.UNKNOWN,
                message,
                trailing_metadata=(("grpc-status-details-bin", details),),
            )
        return pb.WriteResponse()

    async def Read(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        responses = self.s.read(request)
        while True:
            try:
                chunk = await self.s.in_reader(next, responses, None)
            except DeviceError as exc:
                await _abort(context, exc.code, exc.message)
                return
            if chunk is None:
                return
            yield chunk

    async def StreamChannel(
        self, request_iterator: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        try:
            stream = self.s.open_stream(context.peer(), loop)
        except DeviceError as exc:
            await _abort(context, exc.code, exc.message)
            return
        timer = loop.call_later(self.s.arbitration_timeout, self.s.arbitration_overdue, stream)
        reader = asyncio.ensure_future(self._read_stream(stream, request_iterator))
        try:
            while True:
                item = await stream.out.get()
                if item is None:
                    return
                if isinstance(item, _Abort):
                    self.s.close_stream(stream)
                    await _abort(context, item.code, item.message)
                    return
                yield item
        finally:
            timer.cancel()
            reader.cancel()
            self.s.close_stream(stream)

    async def _read_stream(self, stream: _Stream, requests: AsyncIterator[Any]) -> None:
        try:
            async for req in requests:
                if stream.closed:
                    break
                try:
                    self.s.handle_stream_message(stream, req)
                except _Abort as abort:
                    stream.end(abort)
                    return
                except Exception:
                    log.exception("stream message from %s failed", stream.peer)
        except asyncio.CancelledError:
            raise
        except (grpc.RpcError, grpc.aio.AbortError):
            pass  # the peer went away, or the stream was ended here: a normal end
        except Exception:
            log.exception("stream from %s broke", stream.peer)
        self.s.close_stream(stream)
        stream.end(None)
