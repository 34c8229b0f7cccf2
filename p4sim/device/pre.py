"""The packet replication engine: clone sessions and multicast groups.

The pipeline reads ``clone_sessions`` and ``multicast_groups`` directly; the control
plane goes through the methods, which enforce P4Runtime's rules (unique ids, no
duplicate replicas, INSERT of an existing id is ALREADY_EXISTS, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4sim.device.errors import Code, DeviceError, invalid

Replica = tuple[int, int]  # (egress port, instance / replication id)


@dataclass(slots=True)
class CloneSession:
    session_id: int
    replicas: list[Replica]
    class_of_service: int = 0
    packet_length_bytes: int = 0  # 0: do not truncate


@dataclass(slots=True)
class PreState:
    clone_sessions: dict[int, CloneSession] = field(default_factory=dict)
    multicast_groups: dict[int, list[Replica]] = field(default_factory=dict)
    multicast_metadata: dict[int, bytes] = field(default_factory=dict)

    def write_clone_session(self, op: str, session: CloneSession) -> None:
        """``op`` is "insert", "modify" or "delete"."""
        sid = session.session_id
        if sid <= 0:
            raise invalid("clone session id must be > 0")
        self._check_presence(op, sid in self.clone_sessions, f"clone session {sid}")
        if op == "delete":
            del self.clone_sessions[sid]
            return
        _check_replicas(session.replicas, f"clone session {sid}")
        if session.packet_length_bytes < 0:
            raise invalid(f"clone session {sid}: packet_length_bytes must be >= 0")
        self.clone_sessions[sid] = session

    def write_multicast_group(
        self, op: str, group_id: int, replicas: list[Replica], metadata: bytes = b""
    ) -> None:
        if group_id <= 0:
            raise invalid("multicast group id must be > 0")
        self._check_presence(op, group_id in self.multicast_groups, f"multicast group {group_id}")
        if op == "delete":
            del self.multicast_groups[group_id]
            self.multicast_metadata.pop(group_id, None)
            return
        _check_replicas(replicas, f"multicast group {group_id}")
        self.multicast_groups[group_id] = list(replicas)
        self.multicast_metadata[group_id] = metadata

    def clear(self) -> None:
        self.clone_sessions.clear()
        self.multicast_groups.clear()
        self.multicast_metadata.clear()

    @staticmethod
    def _check_presence(op: str, present: bool, what: str) -> None:
        if op == "insert" and present:
            raise DeviceError(Code.ALREADY_EXISTS, f"{what} already exists")
        if op in ("modify", "delete") and not present:
            raise DeviceError(Code.NOT_FOUND, f"{what} not found")
        if op not in ("insert", "modify", "delete"):
            raise invalid(f"unknown update type {op!r}")


def _check_replicas(replicas: list[Replica], what: str) -> None:
    if len(set(replicas)) != len(replicas):
        raise invalid(f"{what}: duplicate replicas")
    for port, instance in replicas:
        if port < 0 or instance < 0:
            raise invalid(f"{what}: replica ports and instances must be >= 0")
