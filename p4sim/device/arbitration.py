"""Client arbitration of P4Runtime (primary / backup election per device and role).

Pure bookkeeping, no gRPC: the server feeds it arbitration requests and disconnects,
and it answers with the notifications to send. The rules are those of the P4Runtime
specification, "Rules for Handling MasterArbitrationUpdate Messages":

* a client becomes (or stays) primary when its election id is >= the highest election
  id ever seen for the role; the highest id is never forgotten, so after the primary
  leaves, a client with a lower id cannot take over;
* an unset election id is lower than any id: such a client is always a backup;
* two live clients of a role may not share an election id.

Roles: p4sim implements no role-configuration scheme. The default role (``""``) has
full pipeline access, as the specification says. A client may arbitrate for a named
role (and becomes primary or backup of it), but without a role configuration such a
role's scope is empty: it may read, but every update it writes fails with
PERMISSION_DENIED, it may not set the pipeline or send PacketOuts, and PacketIns,
digests and idle-timeout notifications go to the default role's primary only. A
``role.config`` in an arbitration update names a scheme p4sim does not know: the
server ends that stream with INVALID_ARGUMENT.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from p4sim.device.errors import Code, DeviceError

ElectionId = int | None
DEFAULT_ROLE = ""
_ids = itertools.count(1)


def has_pipeline_access(role: str) -> bool:
    """Whether a role may write entities, set the pipeline and exchange packets."""
    return role == DEFAULT_ROLE


@dataclass(eq=False)
class Client:
    """One StreamChannel, once it sent a valid MasterArbitrationUpdate."""

    send: Callable[[int, str, ElectionId, Code], None]
    role: str = ""
    election_id: ElectionId = None
    arbitrated: bool = False
    serial: int = field(default_factory=lambda: next(_ids))


@dataclass
class _Role:
    clients: list[Client] = field(default_factory=list)
    highest: ElectionId = None
    primary: Client | None = None


class Arbiter:
    """Tracks the live clients of one device and who is primary for each role."""

    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self._lock = threading.Lock()
        self._roles: dict[str, _Role] = {}

    def update(self, client: Client, device_id: int, role: str, election_id: ElectionId) -> None:
        """Apply a MasterArbitrationUpdate; raises DeviceError when the stream must end."""
        with self._lock:
            if not client.arbitrated:
                if device_id != self.device_id:
                    raise DeviceError(Code.NOT_FOUND, f"unknown device id {device_id}")
            else:
                if device_id != self.device_id:
                    raise DeviceError(Code.FAILED_PRECONDITION, "device id of a stream is fixed")
                if role != client.role:
                    raise DeviceError(
                        Code.FAILED_PRECONDITION, "role of a stream is fixed; open a new stream"
                    )
            rs = self._roles.setdefault(role, _Role())
            if election_id is not None:
                for other in rs.clients:
                    if other is not client and other.election_id == election_id:
                        raise DeviceError(
                            Code.INVALID_ARGUMENT,
                            f"election id {election_id} is used by another client",
                        )
            if not client.arbitrated:
                client.arbitrated = True
                client.role = role
                rs.clients.append(client)
            client.election_id = election_id
            if election_id is not None and (rs.highest is None or election_id >= rs.highest):
                rs.highest = election_id
                rs.primary = client
                self._notify(rs, rs.clients)
            elif rs.primary is client:
                rs.primary = None  # a primary downgraded itself
                self._notify(rs, rs.clients)
            else:
                self._notify(rs, [client])

    def remove(self, client: Client) -> None:
        """Forget a closed stream; tell the others if it was the primary."""
        with self._lock:
            if not client.arbitrated:
                return
            rs = self._roles.get(client.role)
            if rs is None or client not in rs.clients:
                return
            rs.clients.remove(client)
            if rs.primary is client:
                rs.primary = None
                self._notify(rs, rs.clients)

    def knows(self, role: str) -> bool:
        """Whether ``role`` is a role of the device: the default one, or one a client
        arbitrated for."""
        with self._lock:
            return role == DEFAULT_ROLE or role in self._roles

    def is_primary(self, role: str, election_id: ElectionId) -> bool:
        """Whether a write carrying (role, election id) comes from the current primary."""
        with self._lock:
            rs = self._roles.get(role)
            return (
                rs is not None
                and rs.primary is not None
                and election_id is not None
                and rs.primary.election_id == election_id
            )

    def is_primary_client(self, client: Client) -> bool:
        with self._lock:
            rs = self._roles.get(client.role)
            return rs is not None and rs.primary is client

    def primaries(self) -> list[Client]:
        """The primaries of the roles with pipeline access (the receivers of PacketIns,
        digests and idle-timeout notifications)."""
        with self._lock:
            return [
                rs.primary
                for role, rs in self._roles.items()
                if rs.primary is not None and has_pipeline_access(role)
            ]

    def _notify(self, rs: _Role, clients: list[Client]) -> None:
        for c in clients:
            if rs.primary is c:
                status = Code.OK
            elif rs.primary is not None:
                status = Code.ALREADY_EXISTS
            else:
                status = Code.NOT_FOUND
            c.send(self.device_id, c.role, rs.highest, status)
