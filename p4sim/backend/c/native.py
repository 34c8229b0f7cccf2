"""`NativePipeline`: the program compiled to C, loaded with cffi, bound to one
`DeviceState`.

It has the interface of the Python back end's `Pipeline` (`load`, `process`,
`faults`, `dropped`), so the server, the switch and the harness take either.

State, one copy of each thing:

* registers and counters: native arrays are the store; the device's
  `RegisterState.values` and `CounterState.packets`/`bytes` become `NativeCells`
  views of them (list-like), so P4Runtime reads and writes go to native memory;
* tables: the `TableState`s keep the P4Runtime view (validation, reads, rollback)
  and every committed change reaches the native table through one hook,
  `TableState.on_change`: a changed table is rebuilt in native memory before the
  next packet. Direct counters and idle-timeout hit times are counted natively and
  added into the `Entry` objects before the control plane reads or writes them
  (`DeviceState.on_sync`, `TableState.on_sync`);
* clone sessions and multicast groups stay in `PreState`; the native pipeline asks
  for them through a callback when a packet is cloned or multicast.

Why cffi (ABI mode, `dlopen`): the declarations are plain C text shared with the
generated header, `from_buffer` passes packet bytes without a copy, and callbacks
(the replication engine) are one decorator; ctypes would need every struct restated
as Python classes.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from cffi import FFI
from p4.config.v1 import p4info_pb2

from p4sim.backend.common.tables import install_tables
from p4sim.devconfig import decode_device_config
from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error

from . import cpipeline
from .build import CompileError, build
from .cgen import CBinder, CCompiler

log = logging.getLogger("p4sim.native")

CDEF = f"""
typedef struct p4t_table p4t_table;
p4t_table *p4t_new(uint32_t nfields, const uint32_t *field_bytes, const uint8_t *field_is_range);
void p4t_free(p4t_table *t);
void p4t_clear(p4t_table *t);
int p4t_add(p4t_table *t, const uint8_t *value, const uint8_t *mask, const uint8_t *lo,
            const uint8_t *hi, int32_t rank, uint32_t handle, uint32_t action_id,
            uint32_t nargs, const uint64_t *args);
int p4t_delete_exact(p4t_table *t, const uint8_t *value);
int p4t_modify_exact(p4t_table *t, const uint8_t *value, uint32_t action_id, uint32_t nargs,
                     const uint64_t *args);
void p4t_set_default(p4t_table *t, uint32_t action_id, uint32_t nargs, const uint64_t *args);
uint32_t p4t_key_bytes(const p4t_table *t);
uint32_t p4t_size(const p4t_table *t);
uint32_t p4t_take_stats(p4t_table *t, uint32_t *handles, uint64_t *packets, uint64_t *bytes,
                        uint64_t *last_hit_ns, uint32_t max);

typedef struct {{ uint32_t port, off, len; }} p4_out;
typedef struct {{
    uint32_t nout;
    p4_out out[{cpipeline.MAX_OUT}];
    uint8_t *buf;
    uint32_t cap, used;
    uint32_t ndigest;
    uint32_t digest_site[{cpipeline.MAX_DIGESTS}];
    uint64_t digest_vals[{cpipeline.MAX_DIGESTS}][64];
    uint64_t faults, dropped;
}} p4_result;
typedef int (*p4_pre_fn)(int kind, uint32_t id, uint32_t *ports, uint32_t *rids, uint32_t max,
                         uint32_t *trunc);
struct p4_dev;
struct p4_dev *p4_dev_new(void);
void p4_dev_free(struct p4_dev *dev);
int p4_dev_set_table(struct p4_dev *dev, uint32_t i, p4t_table *t);
int p4_dev_set_register(struct p4_dev *dev, uint32_t i, uint64_t *cells, uint64_t n);
int p4_dev_set_counter(struct p4_dev *dev, uint32_t i, uint64_t *packets, uint64_t *bytes,
                       uint64_t n);
typedef int (*p4_meter_fn)(int kind, uint32_t obj, uint64_t index, uint64_t nbytes);
void p4_dev_set_pre(struct p4_dev *dev, p4_pre_fn fn, p4_meter_fn meter);
p4_result *p4_dev_result(struct p4_dev *dev);
void p4_process(struct p4_dev *dev, uint64_t now_ns, uint32_t port, const uint8_t *data,
                uint32_t len);
typedef struct {{
    uint32_t rx, rx_bytes, rx_dropped;
    uint64_t tx[64], tx_bytes[64];
    uint32_t no_port;
    uint32_t send_errors;
    uint64_t faults, dropped;
    uint32_t npunt, punt_dropped;
    uint32_t punt_off[256], punt_len[256];
    uint32_t ndigest, digest_dropped;
    uint32_t digest_site[256];
    uint64_t digest_vals[256][64];
    uint8_t punt_buf[1048576];
    uint8_t frames[64][16388];
}} p4_io_burst;
int p4_io_prepare(int fd);
int p4_io_burst_run(struct p4_dev *dev, uint64_t now_ns, int fd, uint32_t port,
                    const int *fds, const uint32_t *numbers, uint32_t nports, uint32_t cpu_port,
                    p4_io_burst *b);
uint64_t p4_run_batch(struct p4_dev *dev, uint64_t now_ns, uint32_t port,
                      const uint8_t *const *pkts, const uint32_t *lens, uint32_t npkts,
                      uint64_t count);
"""

ffi = FFI()
ffi.cdef(CDEF)

_LIBS: dict[str, Any] = {}  # path -> loaded library (dlopen once per process)


def load_library(path: str) -> Any:
    lib = _LIBS.get(path)
    if lib is None:
        lib = _LIBS[path] = ffi.dlopen(path)
    return lib


class NativeCells:
    """A fixed-length list of unsigned 64-bit cells in native memory, standing where
    the device state keeps a `list[int]` (register values, counter cells). A value
    wider than 64 bits (up to 128: a register of IPv6 addresses) takes two native
    words, the high one first (`wide`; the generated C indexes them so)."""

    __slots__ = ("cells", "n", "_mask", "_wide")

    def __init__(self, n: int, initial: list[int] | None = None, bitwidth: int = 64) -> None:
        if (bitwidth or 64) > 128:
            raise ValueError(f"native cells of {bitwidth} bits (at most 128)")
        self.n = n
        self._wide = (bitwidth or 64) > 64
        self.cells = ffi.new("uint64_t[]", max(n, 1) * (2 if self._wide else 1))
        self._mask = (1 << (bitwidth or 64)) - 1
        if initial:
            for i, v in enumerate(initial[:n]):
                self._put(i, v)

    def _put(self, i: int, value: int) -> None:
        value = int(value) & self._mask
        if self._wide:
            self.cells[2 * i] = value >> 64
            self.cells[2 * i + 1] = value & 0xFFFFFFFFFFFFFFFF
        else:
            self.cells[i] = value

    def _get(self, i: int) -> int:
        if self._wide:
            return (int(self.cells[2 * i]) << 64) | int(self.cells[2 * i + 1])
        return int(self.cells[i])

    def __len__(self) -> int:
        return self.n

    def _index(self, i: int) -> int:
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("cell index out of range")
        return i

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(self.n))]
        return self._get(self._index(i))

    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            idx = range(*i.indices(self.n))
            values = list(value)
            if len(values) != len(idx):
                raise ValueError("NativeCells cannot change length")
            for k, v in zip(idx, values, strict=True):
                self._put(k, v)
            return
        self._put(self._index(i), value)

    def __iter__(self) -> Any:
        return iter(self[:])

    def __copy__(self) -> list[int]:
        return self[:]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, list | NativeCells) else False

    __hash__ = None  # type: ignore[assignment]


class StateCBinder(CBinder):
    """Indices of the device's tables, registers and counters in the native device."""

    def __init__(self, p4info: p4info_pb2.P4Info, state: Any) -> None:
        self.tables = list(state.tables)
        self.registers = list(state.registers)
        self.counters = list(state.counters)
        self.meters = list(state.meters)
        self.actions = {a.preamble.name: a.preamble.id for a in p4info.actions}
        self.digests = {d.preamble.name: d.preamble.id for d in p4info.digests}

    @staticmethod
    def _index(kind: str, names: list[str], name: str) -> int:
        if name not in names:
            raise P4Error(None, f"the P4Info has no {kind} named '{name}'")
        return names.index(name)

    def table(self, name: str) -> int:
        return self._index("table", self.tables, name)

    def register(self, name: str) -> int:
        return self._index("register", self.registers, name)

    def counter(self, name: str) -> int:
        return self._index("counter", self.counters, name)

    def meter(self, name: str) -> int:
        return self._index("meter", self.meters, name)

    def action_id(self, name: str) -> int:
        if name not in self.actions:
            raise P4Error(None, f"the P4Info has no action named '{name}'")
        return int(self.actions[name])

    def digest_id(self, name: str) -> int:
        if name not in self.digests:
            raise P4Error(None, f"the P4Info has no digest named '{name}'")
        return int(self.digests[name])


def generate(program: ast.Program, binder: StateCBinder) -> tuple[CCompiler, str]:
    """The C source of `program` (raises P4Error / Unsupported)."""
    comp = CCompiler(program, binder)
    comp.binder_counts = {
        "table": len(binder.tables),
        "register": len(binder.registers),
        "counter": len(binder.counters),
    }
    try:
        frames = comp.compile()
        missing = [r for r in cpipeline.ROLES if r not in comp.roles]
        if missing:
            raise P4Error(program.loc, f"main is not a V1Switch: no block for {missing}")
        return comp, cpipeline.source(comp, frames)
    except P4Error:
        raise
    except Exception as exc:  # a program shape the generator does not handle
        raise P4Error(program.loc, f"p4sim C code generation failed: {exc!r}") from exc


def compile_native(program: ast.Program, p4info: p4info_pb2.P4Info) -> str:
    """Generate and build the C of `program` (what loading it would do); returns the
    C source. Raises P4Error for what the C back end refuses or the C compiler rejects."""
    from p4sim.device import DeviceState

    _, source = generate(program, StateCBinder(p4info, DeviceState(p4info)))
    try:
        build(source)
    except CompileError as exc:
        raise P4Error(program.loc, f"p4sim C back end: {exc}") from exc
    return source


class NativePipeline:
    """A v1model program compiled to C and bound to one `DeviceState`."""

    def __init__(
        self, program: ast.Program, p4info: p4info_pb2.P4Info, state: Any, cpu_port: int
    ) -> None:
        from .ntables import NativeTables

        self.program = program
        self.state = state
        self.cpu_port = cpu_port
        self.faults = 0
        self.dropped = 0
        binder = StateCBinder(p4info, state)
        comp, self.source = generate(program, binder)
        try:
            path = build(self.source)
        except CompileError as exc:
            raise P4Error(program.loc, f"p4sim C back end: {exc}") from exc
        self.lib = lib = load_library(str(path))
        dev = lib.p4_dev_new()
        if dev == ffi.NULL:
            raise P4Error(program.loc, "p4sim C back end: out of memory")
        self.dev = ffi.gc(dev, lib.p4_dev_free)
        self.res = lib.p4_dev_result(self.dev)
        self._digest_shapes = comp.ext.digest_shapes
        self._io: Any = None
        self._io_key: tuple[int, ...] | None = None
        self._prepared: set[int] = set()
        self._meters = binder.meters
        self._bind_externs(binder)
        self.tables = NativeTables(lib, ffi, self.dev, state, binder.tables, comp.key_widths)
        self._pre_cb = ffi.callback(
            "int(int, uint32_t, uint32_t *, uint32_t *, uint32_t, uint32_t *)",
            self._pre,
            error=-1,  # no replicas
            onerror=_callback_error,
        )
        self._meter_cb = ffi.callback(
            "int(int, uint32_t, uint64_t, uint64_t)",
            self._meter,
            error=0,  # green
            onerror=_callback_error,
        )
        lib.p4_dev_set_pre(self.dev, self._pre_cb, self._meter_cb)
        # Initial default actions and const entries go into the device state (and from
        # there, like every other change, into the native tables).
        self.binder = _InstallBinder(state, binder.actions)
        install_tables(self.binder, comp.table_setups)
        self.tables.sync()

    @classmethod
    def load(
        cls, device_config: bytes, p4info: p4info_pb2.P4Info, state: Any, cpu_port: int
    ) -> NativePipeline:
        from p4sim.frontend import parse_and_check

        config = decode_device_config(device_config)
        program = parse_and_check(config.source, config.filename)
        return cls(program, p4info, state, cpu_port)

    def _bind_externs(self, binder: StateCBinder) -> None:
        lib, state = self.lib, self.state
        for i, name in enumerate(binder.registers):
            reg = state.registers[name]
            cells = NativeCells(reg.size, list(reg.values), reg.bitwidth)
            reg.values = cells
            lib.p4_dev_set_register(self.dev, i, cells.cells, reg.size)
        for i, name in enumerate(binder.counters):
            cnt = state.counters[name]
            pk = NativeCells(cnt.size, list(cnt.packets))
            by = NativeCells(cnt.size, list(cnt.bytes))
            cnt.packets, cnt.bytes = pk, by
            lib.p4_dev_set_counter(self.dev, i, pk.cells, by.cells, cnt.size)

    def _pre(self, kind: int, ident: int, ports: Any, rids: Any, cap: int, trunc: Any) -> int:
        pre = self.state.pre
        if kind == 1:
            session = pre.clone_sessions.get(ident)
            if session is None:
                return -1
            reps = session.replicas
            trunc[0] = session.packet_length_bytes or 0
        else:
            reps = pre.multicast_groups.get(ident, [])
        n = min(len(reps), cap)
        for i in range(n):
            ports[i], rids[i] = reps[i]
        return n

    def _meter(self, kind: int, obj: int, index: int, nbytes: int) -> int:
        """Execute a meter for the native pipeline: an indirect meter cell, or the
        direct meter of a table entry (obj: table index, index: entry handle)."""
        if kind == 1:
            return int(self.state.meters[self._meters[obj]].execute(index, nbytes))
        nt = self.tables.by_index[obj]
        return int(nt.ts.meter(nt.handles[index], nbytes))

    def process(self, ingress_port: int, packet: bytes) -> list[tuple[int, bytes]]:
        """Run one received packet; returns the packets to transmit, in order. It
        never raises: a packet the program cannot process is dropped and counted in
        `faults` (program drops in `dropped`)."""
        state = self.state
        with state.lock:
            if self.tables.dirty:
                self.tables.sync()
            data = packet if isinstance(packet, bytes) else bytes(packet)
            self.lib.p4_process(self.dev, state.now_ns(), ingress_port, data, len(data))
            res = self.res
            buf = res.buf
            outs = res.out
            out = []
            for i in range(res.nout):
                o = outs[i]
                out.append((o.port, ffi.buffer(buf + o.off, o.len)[:]))
            if res.faults:
                self.faults += res.faults
                log.warning("packet dropped: fault in the native pipeline")
            self.dropped += res.dropped
            for i in range(res.ndigest):
                did, shape = self._digest_shapes[res.digest_site[i]]
                state.digest_sink(did, _rebuild(shape, res.digest_vals[i], [0]))
        return out

    def burst(self, port: Any, out_ports: list[Any], cpu_port: int) -> Burst:
        """Take a burst of frames from `port` (a port with a kernel socket) and run
        them natively, the GIL released: outputs are sent on `out_ports`' sockets,
        digests go to the device's sink, packets for `cpu_port` come back in
        `Burst.punts`. The caller holds the device lock."""
        io = self._io
        if io is None:
            io = self._io = ffi.new("p4_io_burst *")
        fd = port.fileno()
        for p in (port, *out_ports):
            if p.fileno() not in self._prepared:
                self.lib.p4_io_prepare(p.fileno())
                self._prepared.add(p.fileno())
        if self.tables.dirty:
            self.tables.sync()
        key = tuple(p.fileno() for p in out_ports)
        if key != self._io_key:
            self._io_key = key
            self._io_fds = ffi.new("int[]", list(key) or [0])
            self._io_numbers = ffi.new("uint32_t[]", [p.number for p in out_ports] or [0])
        n = self.lib.p4_io_burst_run(
            self.dev,
            self.state.now_ns(),
            fd,
            port.number,
            self._io_fds,
            self._io_numbers,
            len(out_ports),
            cpu_port,
            io,
        )
        if n < 0:
            raise OSError(ffi.errno, f"receive on {port.name} failed")
        self.faults += io.faults
        self.dropped += io.dropped
        if io.faults:
            log.warning("%d packets dropped: faults in the native pipeline", io.faults)
        for i in range(io.ndigest):
            did, shape = self._digest_shapes[io.digest_site[i]]
            self.state.digest_sink(did, _rebuild(shape, io.digest_vals[i], [0]))
        punts = [
            ffi.buffer(io.punt_buf + io.punt_off[i], io.punt_len[i])[:] for i in range(io.npunt)
        ]
        tx = [(int(io.tx[i]), int(io.tx_bytes[i])) for i in range(len(out_ports))]
        return Burst(
            n,
            io.rx,
            io.rx_bytes,
            io.rx_dropped,
            tx,
            punts,
            io.punt_dropped,
            io.digest_dropped,
            io.no_port,
            io.send_errors,
        )

    def run_batch(self, ingress_port: int, packets: list[bytes], count: int) -> int:
        """The pipeline alone, for benchmarks: `count` packets cycling through
        `packets`, run in one native call; outputs and digests are discarded.
        Returns how many packets would have been sent."""
        with self.state.lock:
            self.tables.sync()
            bufs = [ffi.from_buffer(p) for p in packets]
            ptrs = ffi.new("const uint8_t *[]", bufs)
            lens = ffi.new("uint32_t[]", [len(p) for p in packets])
            now = int(self.state.now_ns())
            return int(
                self.lib.p4_run_batch(self.dev, now, ingress_port, ptrs, lens, len(packets), count)
            )


class Burst(NamedTuple):
    """What `NativePipeline.burst` did."""

    taken: int  # frames read from the socket (ours included)
    rx: int  # frames received (not our own transmissions)
    rx_bytes: int
    rx_dropped: int  # too long for the receive buffers
    tx: list[tuple[int, int]]  # (packets, bytes) sent per output port, in order
    punts: list[bytes]  # packets for the CPU port
    punt_dropped: int
    digest_dropped: int
    no_port: int
    send_errors: int


class _InstallBinder:
    def __init__(self, state: Any, actions: dict[str, int]) -> None:
        self.state = state
        self.actions = actions

    def table(self, name: str) -> Any:
        return self.state.tables[name]

    def action_id(self, name: str) -> int:
        if name not in self.actions:
            raise P4Error(None, f"the P4Info has no action named '{name}'")
        return self.actions[name]


def _callback_error(exc_type: Any, exc: Any, tb: Any) -> None:
    """A failure inside a replication-engine or meter callback: logged, and the
    packet goes on with no replicas / a green meter (never a traceback on stderr)."""
    log.error("native pipeline callback failed: %s: %s", exc_type.__name__, exc)


def _rebuild(shape: list[Any], words: Any, pos: list[int]) -> tuple[Any, ...]:
    out: list[Any] = []
    for s in shape:
        if isinstance(s, list):
            out.append(_rebuild(s, words, pos))
        elif s == 2:
            out.append((int(words[pos[0]]) << 64) | int(words[pos[0] + 1]))
            pos[0] += 2
        else:
            out.append(int(words[pos[0]]))
            pos[0] += 1
    return tuple(out)


__all__ = ["NativePipeline", "NativeCells", "CompileError"]
