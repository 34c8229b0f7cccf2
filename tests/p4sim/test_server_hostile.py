"""The P4Runtime server of p4sim against idle, hostile or careless clients: no number of
streams freezes it, reads do not stop packets, roles without a configuration cannot
write, and the errors of a large failing batch reach a client with default options.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_server_hostile.py
"""

from __future__ import annotations

import queue
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
from p4sim.device.errors import Code
from p4sim.ports import MemoryPort
from p4sim.switch import Switch
from p4sim.write_status import DEFAULT_BUDGET, UPDATE_INDEX_SPACE, write_status
from tests.p4sim.runtime_fixtures import LPM, p4info
from tests.p4sim.test_server import CPU, Client, FakePipeline, route

pytestmark = pytest.mark.timeout(120)

REGISTER = 369098753  # ingress.seen
BIG_REGISTER = 50_000  # cells: a read of it takes many lock slices


@pytest.fixture()
def switch() -> Iterator[Switch]:
    sw = Switch([MemoryPort(1), MemoryPort(2)], cpu_port=CPU, loader=FakePipeline)
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


class IdleStream:
    """A StreamChannel that never sends anything (until closed)."""

    def __init__(self, stub: p4runtime_pb2_grpc.P4RuntimeStub) -> None:
        self._out: queue.Queue[pb.StreamMessageRequest | None] = queue.Queue()
        self.call = stub.StreamChannel(iter(self._out.get, None))
        self.status: queue.Queue[grpc.RpcError | None] = queue.Queue()
        threading.Thread(target=self._recv, daemon=True).start()

    def _recv(self) -> None:
        try:
            for _ in self.call:
                pass
            self.status.put(None)
        except grpc.RpcError as exc:
            self.status.put(exc)

    def close(self) -> None:
        self._out.put(None)
        self.call.cancel()


def write_request(election: int, role: str = "") -> pb.WriteRequest:
    req = pb.WriteRequest(device_id=0, role=role)
    req.election_id.low = election
    return req


def add_update(req: pb.WriteRequest, kind: int, text: str) -> None:
    text_format.Parse(text, req.updates.add(type=kind).entity)


def status_details(exc: grpc.RpcError) -> tuple[status_pb2.Status, list[pb.Error]]:
    trailers = dict(exc.trailing_metadata())  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    errors = []
    for detail in status.details:
        err = pb.Error()
        assert detail.Unpack(err)
        errors.append(err)
    return status, errors


def ip(i: int) -> str:
    return f"10.{(i >> 8) & 255}.{i & 255}.0"


# ------------------------------------------------------------------ streams


def test_idle_streams_do_not_block_the_primary(address: str) -> None:
    """64 streams that never arbitrate (the old thread-per-stream server froze at 31)."""
    channel = grpc.insecure_channel(address)
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    idle = [IdleStream(stub) for _ in range(64)]
    try:
        ctl = Client(address)
        assert ctl.arbitrate(10).status.code == code_pb2.OK
        ctl.push()
        for i in range(0, 200, 20):  # the primary's writes go through, batch after batch
            ctl.write(*[(pb.Update.INSERT, route(ip(j), 24, 1)) for j in range(i, i + 20)])
        caps = stub.Capabilities(pb.CapabilitiesRequest(), timeout=10)
        assert caps.p4runtime_api_version
        assert len(ctl.read(f"table_entry {{ table_id: {LPM} }}")) == 200
        assert all(s.status.empty() for s in idle)  # still open: nothing ended them
        ctl.close()
    finally:
        for s in idle:
            s.close()
        channel.close()


def test_stream_without_arbitration_is_closed(switch: Switch, address: str) -> None:
    switch.server.arbitration_timeout = 0.3
    channel = grpc.insecure_channel(address)
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    idle = IdleStream(stub)
    ctl = Client(address)
    assert ctl.arbitrate(10).status.code == code_pb2.OK
    err = idle.status.get(timeout=10)
    assert err is not None and err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "MasterArbitrationUpdate" in (err.details() or "")
    assert ctl.stream_status.empty()  # the arbitrated stream stays
    ctl.push()
    ctl.close()
    idle.close()
    channel.close()


def test_stream_budget_refuses_with_resource_exhausted(switch: Switch, address: str) -> None:
    switch.server.max_streams = 3
    channel = grpc.insecure_channel(address)
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    ctl = Client(address)
    assert ctl.arbitrate(10).status.code == code_pb2.OK
    idle = [IdleStream(stub) for _ in range(2)]
    stub.Capabilities(pb.CapabilitiesRequest(), timeout=10)  # the two are open now
    extra = IdleStream(stub)
    err = extra.status.get(timeout=10)
    assert err is not None and err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    idle[0].close()
    assert idle[0].status.get(timeout=10) is not None  # cancelled: its place is free
    again = Client(address)
    again.arbitrate(5)  # a backup: answered, so it got a place
    ctl.push()  # the primary is unaffected throughout
    for s in idle:
        s.close()
    again.close()
    ctl.close()
    channel.close()


# ------------------------------------------------------------------ reads


class CountingPipeline(FakePipeline):
    """Forwards port 1 -> 2 and counts every packet in the register's last cell."""

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        reg = self.state.registers["ingress.seen"]
        reg.values[-1] += 1
        return [(2, packet)] if port == 1 else []


def test_packets_flow_during_a_wildcard_register_read() -> None:
    sw = Switch([MemoryPort(1), MemoryPort(2)], cpu_port=CPU, loader=CountingPipeline)
    sw.start("127.0.0.1:0")
    try:
        ctl = Client(f"127.0.0.1:{sw.server.port}")
        assert ctl.arbitrate(10).status.code == code_pb2.OK
        info = p4info()
        info.registers[0].size = BIG_REGISTER
        push = pb.SetForwardingPipelineConfigRequest(device_id=0, action=3)
        push.election_id.low = 10
        push.config.p4info.CopyFrom(info)
        push.config.p4_device_config = b"fake"
        ctl.stub.SetForwardingPipelineConfig(push)
        req = pb.ReadRequest(device_id=0)
        req.entities.add().register_entry.register_id = REGISTER  # every cell
        responses = ctl.stub.Read(req)
        first = next(responses)  # the read has begun: one slice is out
        assert len(first.entities) > 0
        # While the rest of the read is pending, packets are forwarded...
        in_port, out_port = sw.ports[1], sw.ports[2]
        assert isinstance(in_port, MemoryPort) and isinstance(out_port, MemoryPort)
        for i in range(5):
            in_port.inject(b"packet %d" % i)
        got = [out_port.sent.get(timeout=30) for _ in range(5)]
        assert got == [b"packet %d" % i for i in range(5)]
        # ... and the read, still running, sees what they did to the last cell.
        cells = list(first.entities) + [e for r in responses for e in r.entities]
        assert len(cells) == BIG_REGISTER
        last = cells[-1].register_entry
        assert last.index.index == BIG_REGISTER - 1
        assert int.from_bytes(last.data.bitstring, "big") == 5
        ctl.close()
    finally:
        sw.stop()


def test_read_slices_release_the_lock_between_slices() -> None:
    state = DeviceState(p4info())
    held: list[bool] = []

    def items() -> Iterator[int]:
        for i in range(10):
            # RLock: _is_owned is True only while this thread holds it.
            held.append(state.lock._is_owned())  # type: ignore[attr-defined]
            yield i

    slices = []
    for batch in state.read_slices(items(), 4):
        acquired = state.lock.acquire(blocking=False)  # free between slices
        assert acquired
        state.lock.release()
        slices.append(batch)
    assert slices == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(held)


# ------------------------------------------------------------------ roles


def test_named_role_cannot_write(primary: Client, address: str) -> None:
    other = Client(address)
    req = pb.StreamMessageRequest()
    req.arbitration.device_id = 0
    req.arbitration.role.name = "observer"
    req.arbitration.election_id.low = 99
    other.send(req)
    arb = other.next("arbitration")
    assert arb.status.code == code_pb2.OK and arb.role.name == "observer"

    write = write_request(99, role="observer")
    add_update(write, pb.Update.INSERT, route("10.9.0.0", 16, 1))
    add_update(write, pb.Update.INSERT, route("10.8.0.0", 16, 1))
    with pytest.raises(grpc.RpcError) as exc:
        other.stub.Write(write)
    assert exc.value.code() == grpc.StatusCode.UNKNOWN
    _, errors = status_details(exc.value)
    assert [e.canonical_code for e in errors] == [code_pb2.PERMISSION_DENIED] * 2
    assert "role 'observer'" in errors[0].message

    push = pb.SetForwardingPipelineConfigRequest(device_id=0, action=3, role="observer")
    push.election_id.low = 99
    push.config.p4info.CopyFrom(p4info())
    push.config.p4_device_config = b"fake"
    with pytest.raises(grpc.RpcError) as exc:
        other.stub.SetForwardingPipelineConfig(push)
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED

    out = pb.StreamMessageRequest()
    out.packet.payload = b"hello"
    other.send(out)
    assert other.next("error").canonical_code == code_pb2.PERMISSION_DENIED

    assert other.read(f"table_entry {{ table_id: {LPM} }}") == []  # reading is allowed
    primary.write((pb.Update.INSERT, route("10.9.0.0", 16, 1)))  # the default role writes
    other.close()


def test_write_for_an_unknown_role_is_not_found(primary: Client) -> None:
    write = write_request(10, role="nobody")
    add_update(write, pb.Update.INSERT, route("10.9.0.0", 16, 1))
    with pytest.raises(grpc.RpcError) as exc:
        primary.stub.Write(write)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND  # the spec's first check


def test_role_config_is_refused(primary: Client, address: str) -> None:
    other = Client(address)
    req = pb.StreamMessageRequest()
    req.arbitration.device_id = 0
    req.arbitration.role.name = "observer"
    req.arbitration.role.config.type_url = "type.example/SomeRoleConfig"
    other.send(req)
    err = other.stream_status.get(timeout=10)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    other.close()


# ------------------------------------------------------------------ error details


def plain_stub(address: str) -> tuple[grpc.Channel, p4runtime_pb2_grpc.P4RuntimeStub]:
    """A client with gRPC's default channel options (default metadata limit)."""
    channel = grpc.insecure_channel(address)
    return channel, p4runtime_pb2_grpc.P4RuntimeStub(channel)


def test_failing_1000_update_batch_reaches_a_plain_client(primary: Client, address: str) -> None:
    write = write_request(10)
    bad = set(range(3, 1000, 10))
    for i in range(1000):
        # Bits past the prefix length are an INVALID_ARGUMENT.
        text = route(ip(i), 24, 1) if i not in bad else route("10.0.0.1", 8, 1)
        add_update(write, pb.Update.INSERT, text)
    channel, stub = plain_stub(address)
    with pytest.raises(grpc.RpcError) as exc:
        stub.Write(write)
    channel.close()
    assert exc.value.code() == grpc.StatusCode.UNKNOWN
    status, errors = status_details(exc.value)
    assert "100 of 1000 updates failed" in status.message
    assert len(errors) == len(bad)  # failed updates only: every one fits
    assert {e.code for e in errors} == bad
    assert all(e.space == UPDATE_INDEX_SPACE for e in errors)
    assert all(e.canonical_code == code_pb2.INVALID_ARGUMENT for e in errors)
    assert "bits" in errors[0].message  # said once, for the first update failing so
    assert all(not e.message for e in errors[1:])
    assert len(primary.read(f"table_entry {{ table_id: {LPM} }}")) == 900  # good ones applied


def test_failing_atomic_batch_names_its_cause(primary: Client, address: str) -> None:
    write = write_request(10)
    write.atomicity = pb.WriteRequest.ROLLBACK_ON_ERROR
    for i in range(999):
        add_update(write, pb.Update.INSERT, route(ip(i), 24, 1))
    add_update(write, pb.Update.DELETE, route("11.0.0.0", 8, 1))  # not there
    channel, stub = plain_stub(address)
    with pytest.raises(grpc.RpcError) as exc:
        stub.Write(write)
    channel.close()
    status, errors = status_details(exc.value)
    assert [(e.code, e.canonical_code) for e in errors] == [(999, code_pb2.NOT_FOUND)]
    assert "1000 of 1000 updates failed" in status.message
    assert primary.read(f"table_entry {{ table_id: {LPM} }}") == []  # rolled back


def test_mid_size_batch_stays_positional(primary: Client, address: str) -> None:
    """Up to the size that fits, every update has its p4.Error, in order (the spec)."""
    write = write_request(10)
    for i in range(100):
        text = route(ip(i), 24, 1) if i != 50 else route("10.0.0.1", 8, 1)
        add_update(write, pb.Update.INSERT, text)
    channel, stub = plain_stub(address)
    with pytest.raises(grpc.RpcError) as exc:
        stub.Write(write)
    channel.close()
    _, errors = status_details(exc.value)
    codes: list[Any] = [e.canonical_code for e in errors]
    assert codes == [code_pb2.OK] * 50 + [code_pb2.INVALID_ARGUMENT] + [code_pb2.OK] * 49


def test_write_status_always_fits_its_budget() -> None:
    """Worst case: every update fails, each with its own long message."""
    results = [(Code.INVALID_ARGUMENT, f"update {i}: " + "x" * 300) for i in range(1000)]
    data, message = write_status(results)
    assert len(data) <= DEFAULT_BUDGET and len(message) <= 300
    status = status_pb2.Status.FromString(data)
    assert 0 < len(status.details) < 1000
    assert "1000 of 1000 updates failed" in status.message
    small = [(Code.OK, ""), (Code.NOT_FOUND, "gone")]
    status = status_pb2.Status.FromString(write_status(small)[0])
    assert len(status.details) == 2  # positional, as the specification has it
