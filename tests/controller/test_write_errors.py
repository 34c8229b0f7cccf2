"""The controller's clients map a failed Write's details to update indices in both forms
p4sim sends: positional (one p4.Error per update) and, for a batch too large to report
in full, failed updates only, each naming its index.

Run: .venv/bin/python -m pytest -q tests/controller/test_write_errors.py
"""

from __future__ import annotations

import grpc
from google.rpc import code_pb2

from controller.client import P4RuntimeWriteError
from controller.p4rt import _write_errors
from p4sim.device.errors import Code
from p4sim.write_status import write_status


def rpc_error(results: list[tuple[Code, str]]) -> grpc.aio.AioRpcError:
    details, message = write_status(results)
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", details))
    return grpc.aio.AioRpcError(grpc.StatusCode.UNKNOWN, grpc.aio.Metadata(), trailers, message)


def test_positional_details() -> None:
    exc = rpc_error([(Code.OK, ""), (Code.NOT_FOUND, "gone"), (Code.OK, "")])
    assert _write_errors(exc).errors == {1: (code_pb2.NOT_FOUND, "gone")}
    assert [(e.index, e.code) for e in P4RuntimeWriteError(exc).errors] == [(1, code_pb2.NOT_FOUND)]


def test_failures_only_details_keep_their_indices() -> None:
    results = [(Code.OK, "")] * 1000
    results[123] = (Code.ALREADY_EXISTS, "exists")
    results[987] = (Code.RESOURCE_EXHAUSTED, "table full")
    exc = rpc_error(results)
    assert _write_errors(exc).errors == {123: (code_pb2.ALREADY_EXISTS, "exists"),
                                         987: (code_pb2.RESOURCE_EXHAUSTED, "table full")}
    assert [e.index for e in P4RuntimeWriteError(exc).errors] == [123, 987]
