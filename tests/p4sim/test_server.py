"""The P4Runtime server of p4sim, over real gRPC on localhost with the generated stubs.

A fake pipeline stands in for the compiled program: it forwards by the LPM table of
the test P4Info, sends misses to the CPU port with a packet_in header, and emits a
digest for packets that start with b"LEARN".

Run: .venv/bin/python -m pytest -q tests/p4sim/test_server.py
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2 as pb
from p4.v1 import p4runtime_pb2_grpc

from p4sim.device import DeviceState
from p4sim.ports import MemoryPort
from p4sim.switch import Switch
from tests.p4sim.runtime_fixtures import LEARN, LPM, SET_PORT, p4info

CPU = 255
pytestmark = pytest.mark.timeout(60)


class FakePipeline:
    def __init__(self, device_config: bytes, p4i: Any, state: DeviceState, cpu_port: int) -> None:
        if device_config.startswith(b"bad"):
            raise ValueError("prog.p4:3:1: syntax error")
        self.state = state
        self.cpu_port = cpu_port
        self.lpm = state.tables["ingress.ipv4_lpm"]

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        if port == self.cpu_port:  # packet_out header: egress_port:9, pad:7
            return [(int.from_bytes(packet[:2], "big") >> 7, packet[2:])]
        if packet.startswith(b"LEARN"):
            self.state.digest_sink(LEARN, (int(packet[5:7].decode()), port))
            return []
        entry = self.lpm.lookup((int.from_bytes(packet[:4], "big"),))
        if entry is not None:
            self.lpm.count(entry, len(packet))
            return [(entry.args[0], packet)]
        return [(self.cpu_port, (port << 7).to_bytes(2, "big") + packet)]


class Client:
    """A P4Runtime client on the generated stubs, with one queue per stream message kind."""

    def __init__(self, address: str, device_id: int = 0) -> None:
        self.device_id = device_id
        self.channel = grpc.insecure_channel(address)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self._out: queue.Queue[pb.StreamMessageRequest | None] = queue.Queue()
        self.inbox: dict[str, queue.Queue[Any]] = {
            k: queue.Queue()
            for k in ("arbitration", "packet", "digest", "idle_timeout_notification", "error")
        }
        self.stream_status: queue.Queue[grpc.RpcError | None] = queue.Queue()
        self.election: int | None = None
        self._stream = self.stub.StreamChannel(iter(self._out.get, None))
        threading.Thread(target=self._recv, daemon=True).start()

    def _recv(self) -> None:
        try:
            for msg in self._stream:
                self.inbox[msg.WhichOneof("update")].put(msg)
            self.stream_status.put(None)
        except grpc.RpcError as exc:
            self.stream_status.put(exc)

    def send(self, msg: pb.StreamMessageRequest) -> None:
        self._out.put(msg)

    def arbitrate(self, election: int | None) -> pb.MasterArbitrationUpdate:
        self.election = election
        req = pb.StreamMessageRequest()
        req.arbitration.device_id = self.device_id
        if election is not None:
            req.arbitration.election_id.low = election
        self.send(req)
        return self.next("arbitration")

    def next(self, kind: str, timeout: float = 10.0) -> Any:
        msg = self.inbox[kind].get(timeout=timeout)
        return getattr(msg, kind)

    def nothing(self, kind: str, timeout: float = 0.3) -> bool:
        try:
            self.inbox[kind].get(timeout=timeout)
        except queue.Empty:
            return True
        return False

    def push(self, config: bytes = b"fake", action: int = 3) -> None:
        req = pb.SetForwardingPipelineConfigRequest(device_id=self.device_id, action=action)
        if self.election is not None:
            req.election_id.low = self.election
        req.config.p4info.CopyFrom(p4info())
        req.config.p4_device_config = config
        req.config.cookie.cookie = 42
        self.stub.SetForwardingPipelineConfig(req)

    def write(self, *updates: tuple[int, str]) -> None:
        req = pb.WriteRequest(device_id=self.device_id)
        if self.election is not None:
            req.election_id.low = self.election
        for kind, text in updates:
            u = req.updates.add()
            u.type = kind
            text_format.Parse(text, u.entity)
        self.stub.Write(req)

    def read(self, text: str) -> list[pb.Entity]:
        req = pb.ReadRequest(device_id=self.device_id)
        text_format.Parse(text, req.entities.add())
        return [e for resp in self.stub.Read(req) for e in resp.entities]

    def close(self) -> None:
        self._out.put(None)
        self.channel.close()


@pytest.fixture()
def switch(request: pytest.FixtureRequest) -> Iterator[Switch]:
    # parametrize("switch", [False], indirect=True): lists wait for size or timeout
    eager = getattr(request, "param", True)
    sw = Switch(
        [MemoryPort(1), MemoryPort(2)], cpu_port=CPU, loader=FakePipeline, eager_digests=eager
    )
    sw.start("127.0.0.1:0")
    yield sw
    sw.stop()


@pytest.fixture()
def address(switch: Switch) -> str:
    return f"127.0.0.1:{switch.server.port}"


@pytest.fixture()
def primary(address: str) -> Iterator[Client]:
    c = Client(address)
    assert c.arbitrate(10).status.code == code_pb2.OK
    c.push()
    yield c
    c.close()


def route(prefix: str, plen: int, port: int) -> str:
    value = "".join(f"\\x{int(x):02x}" for x in prefix.split("."))
    return (
        f'table_entry {{ table_id: {LPM} match {{ field_id: 1 lpm {{ value: "{value}" '
        f"prefix_len: {plen} }} }} action {{ action {{ action_id: {SET_PORT} "
        f'params {{ param_id: 1 value: "\\x{port:02x}" }} }} }} }}'
    )


def code(exc: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return exc.value.code()  # type: ignore[attr-defined,no-any-return]


# ---------------------------------------------------------------- pipeline config


def test_capabilities(address: str) -> None:
    c = Client(address)
    assert c.stub.Capabilities(pb.CapabilitiesRequest()).p4runtime_api_version.startswith("1.")
    c.close()


def test_pipeline_push_and_get(primary: Client) -> None:
    R = pb.GetForwardingPipelineConfigRequest
    full = primary.stub.GetForwardingPipelineConfig(R(device_id=0, response_type=R.ALL)).config
    assert full.p4info == p4info() and full.p4_device_config == b"fake"
    assert full.cookie.cookie == 42
    cookie = primary.stub.GetForwardingPipelineConfig(R(response_type=R.COOKIE_ONLY)).config
    assert cookie.cookie.cookie == 42 and not cookie.HasField("p4info")
    assert not cookie.p4_device_config
    info = primary.stub.GetForwardingPipelineConfig(R(response_type=R.P4INFO_AND_COOKIE)).config
    assert info.HasField("p4info") and not info.p4_device_config
    dev = primary.stub.GetForwardingPipelineConfig(R(response_type=R.DEVICE_CONFIG_AND_COOKIE))
    assert dev.config.p4_device_config == b"fake" and not dev.config.HasField("p4info")
    with pytest.raises(grpc.RpcError) as exc:
        primary.stub.GetForwardingPipelineConfig(R(device_id=7))
    assert code(exc) == grpc.StatusCode.NOT_FOUND


def test_compile_error_is_invalid_argument(primary: Client) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        primary.push(b"bad program")
    assert code(exc) == grpc.StatusCode.INVALID_ARGUMENT
    assert "prog.p4:3:1: syntax error" in exc.value.details()  # type: ignore[attr-defined]


def test_verify_save_commit(primary: Client, switch: Switch) -> None:
    A = pb.SetForwardingPipelineConfigRequest
    primary.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
    state_before = switch.server.state
    primary.push(b"fake", A.VERIFY)
    assert switch.server.state is state_before  # VERIFY changes nothing
    primary.push(b"fake", A.RECONCILE_AND_COMMIT)
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 1  # state kept
    primary.push(b"saved", A.VERIFY_AND_SAVE)
    R = pb.GetForwardingPipelineConfigRequest
    get = primary.stub.GetForwardingPipelineConfig(R(response_type=R.ALL))
    assert get.config.p4_device_config == b"fake"
    primary.push(b"ignored", A.COMMIT)
    get = primary.stub.GetForwardingPipelineConfig(R(response_type=R.ALL))
    assert get.config.p4_device_config == b"saved"
    assert primary.read(f"table_entry {{ table_id: {LPM} }}") == []  # a new pipeline: empty
    with pytest.raises(grpc.RpcError) as exc:
        primary.push(b"x", A.COMMIT)  # nothing saved any more
    assert code(exc) == grpc.StatusCode.NOT_FOUND


def test_read_before_pipeline(address: str) -> None:
    c = Client(address)
    with pytest.raises(grpc.RpcError) as exc:
        c.read("table_entry {}")
    assert code(exc) == grpc.StatusCode.FAILED_PRECONDITION
    c.close()


# ---------------------------------------------------------------- write / read


def test_write_read_delete_wildcard(primary: Client) -> None:
    primary.write(
        (pb.Update.INSERT, route("10.0.0.0", 8, 1)),
        (pb.Update.INSERT, route("10.1.0.0", 16, 2)),
    )
    assert len(primary.read("table_entry {}")) == 2
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 2
    primary.write((pb.Update.MODIFY, route("10.1.0.0", 16, 1)))
    got = primary.read(
        f"table_entry {{ table_id: {LPM} action {{ action {{ action_id: {SET_PORT} }} }} }}"
    )
    assert {e.table_entry.action.action.params[0].value for e in got} == {b"\x01"}
    primary.write((pb.Update.DELETE, route("10.0.0.0", 8, 1)))
    got = primary.read(f"table_entry {{ table_id: {LPM} }}")
    assert [e.table_entry.match[0].lpm.prefix_len for e in got] == [16]
    default = primary.read(f"table_entry {{ table_id: {LPM} is_default_action: true }}")
    assert len(default) == 1 and default[0].table_entry.is_default_action


def test_batch_reports_each_update(primary: Client) -> None:
    req = pb.WriteRequest(device_id=0)
    req.election_id.low = 10
    for kind, text in (
        (pb.Update.INSERT, route("10.0.0.0", 8, 1)),
        (pb.Update.INSERT, route("10.0.0.0", 8, 2)),  # duplicate key
        (pb.Update.INSERT, route("10.0.0.1", 8, 1)),  # bits past the prefix
        (pb.Update.DELETE, route("11.0.0.0", 8, 1)),  # not there
    ):
        u = req.updates.add(type=kind)
        text_format.Parse(text, u.entity)
    with pytest.raises(grpc.RpcError) as exc:
        primary.stub.Write(req)
    assert code(exc) == grpc.StatusCode.UNKNOWN
    trailers = dict(exc.value.trailing_metadata())  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    codes = []
    for detail in status.details:
        err = pb.Error()
        assert detail.Unpack(err)
        codes.append(err.canonical_code)
    assert codes == [
        code_pb2.OK,
        code_pb2.ALREADY_EXISTS,
        code_pb2.INVALID_ARGUMENT,
        code_pb2.NOT_FOUND,
    ]
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 1  # the good one stays


def test_externs_over_grpc(primary: Client, switch: Switch) -> None:
    primary.write(
        (
            pb.Update.MODIFY,
            "register_entry { register_id: 369098753 index { index: 1 } "
            'data { bitstring: "\\x2a" } }',
        ),
        (
            pb.Update.MODIFY,
            "counter_entry { counter_id: 302006273 index { index: 0 } "
            "data { packet_count: 3 byte_count: 300 } }",
        ),
        (
            pb.Update.INSERT,
            "packet_replication_engine_entry { multicast_group_entry { "
            "multicast_group_id: 7 replicas { egress_port: 1 } "
            "replicas { egress_port: 2 } } }",
        ),
    )
    state = switch.server.state
    assert state is not None and state.registers["ingress.seen"].values[1] == 42
    regs = primary.read("register_entry { register_id: 369098753 index { index: 1 } }")
    assert regs[0].register_entry.data.bitstring == b"\x2a"
    ctr = primary.read("counter_entry { counter_id: 302006273 index { index: 0 } }")
    assert ctr[0].counter_entry.data.byte_count == 300
    assert state.pre.multicast_groups[7] == [(1, 0), (2, 0)]
    assert len(primary.read("packet_replication_engine_entry { multicast_group_entry {} }")) == 1


def _update_codes(exc: pytest.ExceptionInfo[grpc.RpcError]) -> list[tuple[int, str]]:
    """(canonical code, message) of each update of a failed Write."""
    trailers = dict(exc.value.trailing_metadata())  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    out = []
    for detail in status.details:
        err = pb.Error()
        assert detail.Unpack(err)
        out.append((err.canonical_code, err.message))
    return out


REGISTER_CELL = "register_entry { register_id: 369098753 index { index: 1 } }"


def test_no_register_access_refuses_register_writes(primary: Client, switch: Switch) -> None:
    """Like bmv2's PI server: a register write fails with UNIMPLEMENTED (and a message
    that says so) while the rest of the batch is applied."""
    switch.server.register_access = False
    with pytest.raises(grpc.RpcError) as exc:
        primary.write(
            (
                pb.Update.MODIFY,
                "register_entry { register_id: 369098753 index { index: 1 } "
                'data { bitstring: "\\x2a" } }',
            ),
            (pb.Update.INSERT, route("10.0.0.0", 8, 1)),
        )
    assert code(exc) == grpc.StatusCode.UNKNOWN
    (reg, entry) = _update_codes(exc)
    assert reg[0] == code_pb2.UNIMPLEMENTED and "register writes are not supported" in reg[1]
    assert entry[0] == code_pb2.OK
    state = switch.server.state
    assert state is not None and state.registers["ingress.seen"].values[1] == 0
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 1


def test_no_register_access_refuses_register_reads(primary: Client, switch: Switch) -> None:
    switch.server.register_access = False
    for query in (REGISTER_CELL, "register_entry {}"):
        with pytest.raises(grpc.RpcError) as exc:
            primary.read(query)
        assert code(exc) == grpc.StatusCode.UNIMPLEMENTED
        assert "register reads are not supported" in exc.value.details()  # type: ignore[attr-defined]
    # Everything else still reads, and so do registers once access is allowed again.
    assert primary.read("counter_entry { counter_id: 302006273 index { index: 0 } }")
    switch.server.register_access = True
    assert primary.read(REGISTER_CELL)[0].register_entry.index.index == 1


def test_no_register_access_rolls_back_an_atomic_batch(primary: Client, switch: Switch) -> None:
    switch.server.register_access = False
    req = pb.WriteRequest(device_id=0, atomicity=pb.WriteRequest.ROLLBACK_ON_ERROR)
    req.election_id.low = 10
    for kind, text in (
        (pb.Update.INSERT, route("10.0.0.0", 8, 1)),
        (
            pb.Update.MODIFY,
            "register_entry { register_id: 369098753 index { index: 1 } "
            'data { bitstring: "\\x2a" } }',
        ),
    ):
        text_format.Parse(text, req.updates.add(type=kind).entity)
    with pytest.raises(grpc.RpcError) as exc:
        primary.stub.Write(req)
    assert [c for c, _ in _update_codes(exc)] == [code_pb2.ABORTED, code_pb2.UNIMPLEMENTED]
    assert primary.read(f"table_entry {{ table_id: {LPM} }}") == []


# ---------------------------------------------------------------- arbitration


def test_arbitration_backup_takeover(address: str) -> None:
    a = Client(address)
    assert a.arbitrate(10).status.code == code_pb2.OK
    a.push()
    b = Client(address)
    upd = b.arbitrate(5)
    assert upd.status.code == code_pb2.ALREADY_EXISTS and upd.election_id.low == 10
    assert a.nothing("arbitration")  # a backup joining does not disturb the primary
    with pytest.raises(grpc.RpcError) as exc:
        b.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
    assert code(exc) == grpc.StatusCode.PERMISSION_DENIED
    # Same election id as a live client: the stream is refused.
    c = Client(address)
    req = pb.StreamMessageRequest()
    req.arbitration.election_id.low = 10
    c.send(req)
    err = c.stream_status.get(timeout=10)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The primary leaves: the backup hears there is no primary, and cannot write.
    a.close()
    upd = b.next("arbitration")
    assert upd.status.code == code_pb2.NOT_FOUND and upd.election_id.low == 10
    with pytest.raises(grpc.RpcError):
        b.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
    # A higher election id takes over.
    assert b.arbitrate(11).status.code == code_pb2.OK
    b.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
    d = Client(address)
    assert d.arbitrate(20).status.code == code_pb2.OK
    upd = b.next("arbitration")
    assert upd.status.code == code_pb2.ALREADY_EXISTS and upd.election_id.low == 20
    with pytest.raises(grpc.RpcError):
        b.write((pb.Update.DELETE, route("10.0.0.0", 8, 1)))
    d.write((pb.Update.DELETE, route("10.0.0.0", 8, 1)))
    # Unset election id: always a backup.
    e = Client(address)
    assert e.arbitrate(None).status.code == code_pb2.ALREADY_EXISTS
    for cl in (b, d, e, c):
        cl.close()


def test_wrong_device_id_ends_stream(address: str) -> None:
    c = Client(address, device_id=3)
    req = pb.StreamMessageRequest()
    req.arbitration.device_id = 3
    req.arbitration.election_id.low = 1
    c.send(req)
    err = c.stream_status.get(timeout=10)
    assert err is not None and err.code() == grpc.StatusCode.NOT_FOUND
    c.close()


def test_killed_client_is_cleaned_up(address: str) -> None:
    script = f"""
import sys, grpc
from p4.v1 import p4runtime_pb2 as pb, p4runtime_pb2_grpc as g
stub = g.P4RuntimeStub(grpc.insecure_channel("{address}"))
def requests():
    req = pb.StreamMessageRequest()
    req.arbitration.election_id.low = 99
    yield req
    sys.stdin.read()  # hold the stream open until the test kills this process
stream = stub.StreamChannel(requests())
print(next(stream).arbitration.status.code, flush=True)
sys.stdin.read()
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "0"
        backup = Client(address)
        assert backup.arbitrate(5).status.code == code_pb2.ALREADY_EXISTS
        proc.kill()
        upd = backup.next("arbitration")
        assert upd.status.code == code_pb2.NOT_FOUND  # the primary vanished
        # The server is fine: a new primary (>= the highest id seen) takes over.
        assert backup.arbitrate(100).status.code == code_pb2.OK
        backup.push()
        backup.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
        backup.close()
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- packet I/O


def test_packet_out_and_packet_in(primary: Client, switch: Switch) -> None:
    out = pb.StreamMessageRequest()
    out.packet.payload = b"hello"
    out.packet.metadata.add(metadata_id=1, value=b"\x02")  # egress_port 2
    primary.send(out)
    port2 = switch.ports[2]
    assert isinstance(port2, MemoryPort)
    assert port2.sent.get(timeout=10) == b"hello"
    # A miss goes to the CPU port; the packet_in header becomes metadata.
    port1 = switch.ports[1]
    assert isinstance(port1, MemoryPort)
    port1.inject(b"\xc0\xa8\x00\x01payload")
    pin = primary.next("packet")
    assert pin.payload == b"\xc0\xa8\x00\x01payload"
    assert [(m.metadata_id, m.value) for m in pin.metadata] == [(1, b"\x01"), (2, b"\x00")]
    # A hit is forwarded by the entry.
    primary.write((pb.Update.INSERT, route("10.0.0.0", 8, 2)))
    port1.inject(b"\x0a\x00\x00\x05data")
    assert port2.sent.get(timeout=10) == b"\x0a\x00\x00\x05data"
    assert switch.counters[2].tx_packets == 2 and switch.counters[1].rx_packets == 2


def test_packet_out_from_backup_is_refused(primary: Client, address: str, switch: Switch) -> None:
    backup = Client(address)
    backup.arbitrate(3)
    out = pb.StreamMessageRequest()
    out.packet.payload = b"nope"
    out.packet.metadata.add(metadata_id=1, value=b"\x02")
    backup.send(out)
    err = backup.next("error")
    assert err.canonical_code == code_pb2.PERMISSION_DENIED
    assert err.packet_out.packet_out.payload == b"nope"
    assert switch.wait_idle()
    port2 = switch.ports[2]
    assert isinstance(port2, MemoryPort) and port2.sent.empty()
    backup.close()


# ---------------------------------------------------------------- digests


def digest_config(max_timeout_ns: int, max_list_size: int, ack_timeout_ns: int) -> str:
    return (
        f"digest_entry {{ digest_id: {LEARN} config {{ max_timeout_ns: {max_timeout_ns} "
        f"max_list_size: {max_list_size} ack_timeout_ns: {ack_timeout_ns} }} }}"
    )


def learn(switch: Switch, n: int, port: int = 1) -> None:
    p = switch.ports[port]
    assert isinstance(p, MemoryPort)
    p.inject(b"LEARN%02d" % n)


def values(dl: pb.DigestList) -> list[tuple[int, ...]]:
    return [tuple(int.from_bytes(m.bitstring, "big") for m in d.struct.members) for d in dl.data]


@pytest.mark.parametrize("switch", [False], indirect=True)
def test_digest_batching_and_ack(primary: Client, switch: Switch) -> None:
    hour = 3600 * 10**9
    primary.write((pb.Update.INSERT, digest_config(hour, 2, hour)))
    learn(switch, 1)
    learn(switch, 1)  # a duplicate in the same batch
    learn(switch, 2)
    dl = primary.next("digest")
    assert dl.digest_id == LEARN and values(dl) == [(1, 1), (2, 1)]
    learn(switch, 1)  # in flight, not acknowledged: suppressed
    learn(switch, 3)
    learn(switch, 4)
    dl2 = primary.next("digest")
    assert values(dl2) == [(3, 1), (4, 1)] and dl2.list_id != dl.list_id
    ack = pb.StreamMessageRequest()
    ack.digest_ack.digest_id = LEARN
    ack.digest_ack.list_id = dl.list_id
    primary.send(ack)
    # Stream messages are handled in order: once a PacketOut sent after the ack comes
    # out of port 2, the ack has been processed.
    marker = pb.StreamMessageRequest()
    marker.packet.payload = b"marker"
    marker.packet.metadata.add(metadata_id=1, value=b"\x02")
    primary.send(marker)
    port2 = switch.ports[2]
    assert isinstance(port2, MemoryPort) and port2.sent.get(timeout=10) == b"marker"
    # After the ack the same data can be learnt again.
    for n in (1, 5):
        learn(switch, n)
    assert values(primary.next("digest")) == [(1, 1), (5, 1)]


def test_digest_timeout_and_ack_timeout(primary: Client, switch: Switch) -> None:
    primary.write((pb.Update.INSERT, digest_config(1_000_000, 100, 100_000_000)))
    learn(switch, 9)
    dl = primary.next("digest")  # a partial list, flushed by max_timeout_ns
    assert values(dl) == [(9, 1)]
    # Never acknowledged: once ack_timeout_ns passes, the same data is sent again.
    got = None
    for _ in range(200):
        learn(switch, 9)
        try:
            got = primary.inbox["digest"].get(timeout=0.05).digest
            break
        except queue.Empty:
            continue
    assert got is not None and values(got) == [(9, 1)] and got.list_id != dl.list_id


def test_digest_sent_when_the_packet_loop_is_idle(primary: Client, switch: Switch) -> None:
    # An hour's timeout and room for 100: only the idle packet loop sends the list.
    hour = 3600 * 10**9
    primary.write((pb.Update.INSERT, digest_config(hour, 100, hour)))
    learn(switch, 7)
    assert values(primary.next("digest")) == [(7, 1)]
    # A burst in one call of the packet loop's port: each digest is in some list,
    # each once, and lists are never longer than max_list_size.
    port = switch.ports[1]
    assert isinstance(port, MemoryPort)
    for n in range(10, 40):
        port.inject(b"LEARN%02d" % n)
    seen: list[tuple[int, ...]] = []
    while len(seen) < 30:
        dl = primary.next("digest")
        assert 1 <= len(dl.data) <= 100
        seen.extend(values(dl))
    assert sorted(seen) == [(n, 1) for n in range(10, 40)]


def test_strict_digest_timeout_holds_the_list() -> None:
    sw = Switch([MemoryPort(1)], cpu_port=CPU, loader=FakePipeline, eager_digests=False)
    sw.start("127.0.0.1:0")
    c = Client(f"127.0.0.1:{sw.server.port}")
    try:
        assert c.arbitrate(10).status.code == code_pb2.OK
        c.push()
        hour = 3600 * 10**9
        c.write((pb.Update.INSERT, digest_config(hour, 2, hour)))
        learn(sw, 1)
        assert sw.wait_idle()
        with pytest.raises(queue.Empty):
            c.inbox["digest"].get(timeout=0.3)  # held: one of two, an hour to go
        learn(sw, 2)
        assert values(c.next("digest")) == [(1, 1), (2, 1)]
    finally:
        c.close()
        sw.stop()


def test_unknown_digest_ack_reports_error(primary: Client) -> None:
    ack = pb.StreamMessageRequest()
    ack.digest_ack.digest_id = LEARN
    ack.digest_ack.list_id = 12345
    primary.send(ack)
    assert primary.next("error").canonical_code == code_pb2.NOT_FOUND


# ---------------------------------------------------------------- idle timeout


def test_idle_timeout_notification(primary: Client) -> None:
    entry = route("10.0.0.0", 8, 1).replace(
        f"table_id: {LPM}", f"table_id: {LPM} idle_timeout_ns: 50000000"
    )
    primary.write((pb.Update.INSERT, entry))
    note = primary.next("idle_timeout_notification")
    te = note.table_entry[0]
    assert te.table_id == LPM and te.idle_timeout_ns == 50_000_000
    assert te.match[0].lpm.prefix_len == 8 and note.timestamp > 0
    got = primary.read(f"table_entry {{ table_id: {LPM} time_since_last_hit {{}} }}")
    assert got[0].table_entry.HasField("time_since_last_hit")


def test_small_write_inline_only_when_the_lock_is_free(primary: Client, switch: Switch) -> None:
    server = switch.server
    state = server.state
    assert state is not None
    req = pb.WriteRequest(device_id=0)
    req.election_id.low = 10
    text_format.Parse(route("10.9.0.0", 16, 1), req.updates.add(type=pb.Update.INSERT).entity)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with state.lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        assert server.write_inline(req) is None  # held: nothing done, a worker's job
    finally:
        release.set()
        t.join()
    assert primary.read(f"table_entry {{ table_id: {LPM} }}") == []
    assert server.write_inline(req) == [(0, "")]
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 1
    big = pb.WriteRequest(device_id=0)
    big.election_id.low = 10
    for i in range(17):  # over INLINE_WRITE_UPDATES: always a worker's
        text_format.Parse(
            route(f"11.{i}.0.0", 16, 1), big.updates.add(type=pb.Update.INSERT).entity
        )
    assert server.write_inline(big) is None
    primary.stub.Write(big)  # through the Write RPC: applied by a worker
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 18


def test_rollback_on_error_is_all_or_none(primary: Client) -> None:
    primary.write((pb.Update.INSERT, route("10.0.0.0", 8, 1)))
    for atomicity in (pb.WriteRequest.ROLLBACK_ON_ERROR, pb.WriteRequest.DATAPLANE_ATOMIC):
        req = pb.WriteRequest(device_id=0, atomicity=atomicity)
        req.election_id.low = 10
        for kind, text in (
            (pb.Update.INSERT, route("11.0.0.0", 8, 1)),
            (pb.Update.MODIFY, route("10.0.0.0", 8, 2)),
            (pb.Update.INSERT, route("10.0.0.0", 8, 2)),  # duplicate: fails
            (pb.Update.INSERT, route("12.0.0.0", 8, 1)),
        ):
            u = req.updates.add(type=kind)
            text_format.Parse(text, u.entity)
        with pytest.raises(grpc.RpcError) as exc:
            primary.stub.Write(req)
        trailers = dict(exc.value.trailing_metadata())  # type: ignore[attr-defined]
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        codes = []
        for detail in status.details:
            err = pb.Error()
            detail.Unpack(err)
            codes.append(err.canonical_code)
        assert codes == [
            code_pb2.ABORTED,
            code_pb2.ABORTED,
            code_pb2.ALREADY_EXISTS,
            code_pb2.ABORTED,
        ]
        got = primary.read(f"table_entry {{ table_id: {LPM} }}")
        assert len(got) == 1
        assert got[0].table_entry.action.action.params[0].value == b"\x01"  # not modified


def test_stop_with_connected_clients() -> None:
    sw = Switch([MemoryPort(1)], cpu_port=CPU, loader=FakePipeline)
    sw.start("127.0.0.1:0")
    c = Client(f"127.0.0.1:{sw.server.port}")
    assert c.arbitrate(1).status.code == code_pb2.OK
    sw.stop()  # returns although a stream is open
    err = c.stream_status.get(timeout=10)  # the client sees its stream end, not succeed
    assert err is not None
    assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    c.close()
