"""The ``google.rpc.Status`` of a failed Write batch, sized to reach any gRPC client.

The P4Runtime specification ("Write RPC", "Error Reporting") asks for one ``p4.v1.Error``
per update, in update order, packed into ``Status.details`` and sent in the
``grpc-status-details-bin`` trailer. gRPC clients refuse trailers above their metadata
limit (the default soft limit is 8 KiB; above it calls fail with RESOURCE_EXHAUSTED and
the client sees none of the errors), and even an empty ``p4.Error`` costs ~35 bytes
packed, so a batch of a few hundred updates cannot be reported in full. The status is
therefore built in up to three forms, the first that fits ``budget`` bytes:

1. ``full``: every update in order, messages cut to ``FULL_MESSAGE`` characters (the
   specification's form);
2. ``terse``: every update in order, messages cut to ``TERSE_MESSAGE`` characters and
   dropped for updates ABORTED because of another one;
3. ``failures``: only the failed updates (ABORTED ones left out when another update
   holds the cause), as many as fit, in order. Each such ``p4.Error`` names its update:
   ``space`` is ``UPDATE_INDEX_SPACE`` and ``code`` the update's index in the batch.
   A message is given once, on the first update that fails with it; later updates
   failing alike carry only their code. The number of details then differs from the
   number of updates, which tells a client that the list is not positional; the
   status message says how many updates failed and how many are listed.
"""

from __future__ import annotations

from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2 as pb

from p4sim.device.errors import Code

#: Serialised Status at most; base64 on the wire makes it ~8 KiB, under the soft limit.
DEFAULT_BUDGET = 6 * 1024
FULL_MESSAGE = 200
TERSE_MESSAGE = 40
UPDATE_INDEX_SPACE = "p4sim.index"
MAX_STATUS_MESSAGE = 300  # the grpc-message trailer counts against the limit too

Result = tuple[Code, str]
_EMPTY = status_pb2.Status()
_EMPTY.details.add().Pack(pb.Error())
_MIN_PACKED_ERROR = _EMPTY.ByteSize()  # an OK p4.Error, packed, with its field tag


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_cause(results: list[Result]) -> str:
    failures = [m for c, m in results if c not in (Code.OK, Code.ABORTED)]
    if failures:
        return failures[0]
    return next((m for c, m in results if c != Code.OK), "")


def _positional(results: list[Result], limit: int, keep_aborted: bool) -> status_pb2.Status:
    status = status_pb2.Status(code=code_pb2.UNKNOWN, message="Write failure.")
    for code, message in results:
        err = pb.Error(canonical_code=int(code))
        if code != Code.OK and (keep_aborted or code != Code.ABORTED):
            err.message = _cut(message, limit)
        status.details.add().Pack(err)
    return status


def write_status(results: list[Result], budget: int = DEFAULT_BUDGET) -> tuple[bytes, str]:
    """(serialised Status for the trailer, status message) of a batch with a failure."""
    failed = sum(1 for c, _ in results if c != Code.OK)
    summary = f"Write failure: {failed} of {len(results)} updates failed"
    cause = _cut(_first_cause(results), FULL_MESSAGE)
    # Each packed p4.Error costs at least this much: skip building what cannot fit.
    fits = len(results) * _MIN_PACKED_ERROR <= budget
    for limit, keep_aborted in ((FULL_MESSAGE, True), (TERSE_MESSAGE, False)) if fits else ():
        data = _positional(results, limit, keep_aborted).SerializeToString()
        if len(data) <= budget:
            return data, _cut(f"{summary}; first: {cause}", MAX_STATUS_MESSAGE)
    causes = [i for i, (c, _) in enumerate(results) if c not in (Code.OK, Code.ABORTED)]
    listed = causes or [i for i, (c, _) in enumerate(results) if c != Code.OK]
    status = status_pb2.Status(code=code_pb2.UNKNOWN)
    used = 0
    shown = 0
    said: set[tuple[Code, str]] = set()
    for index in listed:
        code, message = results[index]
        err = pb.Error(canonical_code=int(code), space=UPDATE_INDEX_SPACE, code=index)
        if (code, message) not in said:
            said.add((code, message))
            err.message = _cut(message, FULL_MESSAGE)
        detail = status.details.add()
        detail.Pack(err)
        size = detail.ByteSize() + 3  # the field's tag and length
        if used + size > budget - MAX_STATUS_MESSAGE:
            del status.details[-1]
            break
        used += size
        shown += 1
    status.message = _cut(
        f"{summary}; details list failed updates only ({shown} of {len(listed)}), "
        f"each with its index as code in space {UPDATE_INDEX_SPACE}, a message once",
        MAX_STATUS_MESSAGE,
    )
    return status.SerializeToString(), _cut(f"{summary}; first: {cause}", MAX_STATUS_MESSAGE)
