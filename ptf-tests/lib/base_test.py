"""Base class of the PTF tests: one P4Runtime connection per test, the pipeline
pushed once per run, names resolved by suffix, and every entry a test inserts
removed again in tearDown so that tests do not see each other's state.

The target is chosen only by test parameters (see ptf-tests/run.py): `grpcaddr`,
`p4info`, `config`, `target`, `cpu_port`.
"""

from __future__ import annotations

from pathlib import Path

import ptf
from ptf import testutils
from ptf.base_tests import BaseTest

from controller import entities
from controller.client import P4RuntimeClient
from controller.p4info import P4InfoIndex, load_p4info

_pipeline_pushed: set[str] = set()


class P4RuntimeTest(BaseTest):
    """A test that drives the switch over P4Runtime and checks packets with PTF."""

    def setUp(self) -> None:
        super().setUp()
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        params = testutils.test_params_get()
        self.target = params["target"]
        self.cpu_port = int(params["cpu_port"])
        self.p4info = load_p4info(params["p4info"])
        self.p4 = P4InfoIndex(self.p4info)
        self._undo: list = []  # Updates that restore the switch, applied in reverse
        self._released = False
        self.client = P4RuntimeClient(params["grpcaddr"])
        self.client.connect()
        # unittest skips tearDown when setUp raises (a subclass's setUp, after this
        # one): a cleanup still restores what was written and gives the connection
        # back, or every later test would wait on its arbitration.
        self.addCleanup(self._release)
        key = f"{params['grpcaddr']}|{params['config']}"
        if key not in _pipeline_pushed:
            self.client.set_pipeline(self.p4info, Path(params["config"]).read_bytes())
            _pipeline_pushed.add(key)
        self.ports = sorted(port for (_dev, port) in ptf.config["port_map"])

    def tearDown(self) -> None:
        try:
            self._release()
        finally:
            super().tearDown()

    def _release(self) -> None:
        """Undo this test's writes and close its connection, once."""
        if self._released:
            return
        self._released = True
        try:
            for upd in reversed(self._undo):
                try:
                    self.client.write([upd])
                except Exception as e:  # noqa: BLE001 - report, keep cleaning
                    print(f"cleanup failed: {e}")
        finally:
            self.client.close()

    # ------------------------------------------------------------------ writes

    def insert(self, table: str, match: dict | None = None, action: str | None = None,
               params: dict | None = None, priority: int = 0, idle_timeout_ns: int = 0):
        """Insert a table entry; it is deleted again in tearDown."""
        entry = entities.table_entry(self.p4, table, match, action, params, priority,
                                     idle_timeout_ns)
        self.client.write([entities.update("INSERT", entry)])
        key_only = entities.table_entry(self.p4, table, match, priority=priority)
        self._undo.append(entities.update("DELETE", key_only))
        return entry

    def set_default(self, table: str, action: str, params: dict | None = None) -> None:
        """Change a table's default action; reset to the program's default in tearDown."""
        entry = entities.table_entry(self.p4, table, None, action, params, is_default=True)
        self.client.write([entities.update("MODIFY", entry)])
        reset = entities.table_entry(self.p4, table, None, is_default=True)
        self._undo.append(entities.update("MODIFY", reset))

    def write_register(self, name: str, index: int, value: int) -> None:
        """Write a register cell; it is set back to 0 in tearDown."""
        self.client.write([entities.update("MODIFY",
                                           entities.register_entry(self.p4, name, index, value))])
        self._undo.append(entities.update("MODIFY",
                                          entities.register_entry(self.p4, name, index, 0)))

    def set_meter(self, name: str, index: int | None,
                  config: tuple[int, int, int, int] | None) -> None:
        """Configure a meter cell (None: every cell); unconfigured again in tearDown."""
        self.client.write([entities.update("MODIFY",
                                           entities.meter_entry(self.p4, name, index, config))])
        self._undo.append(entities.update("MODIFY", entities.meter_entry(self.p4, name, index)))

    def read_register(self, name: str, index: int) -> int:
        ents = self.client.read([p4rt_entity(register_entry=entities.register_entry(
            self.p4, name, index))])
        return entities.decode(ents[0].register_entry.data.bitstring)

    def add_clone_session(self, session_id: int, replicas: list[tuple[int, int]]) -> None:
        msg = entities.clone_session(session_id, replicas)
        self.client.write([entities.update("INSERT", msg)])
        self._undo.append(entities.update("DELETE", entities.clone_session(session_id, [])))

    def enable_digest(self, name: str) -> None:
        msg = entities.digest_config(self.p4, name)
        self.client.write([entities.update("INSERT", msg)])
        self._undo.append(entities.update("DELETE", entities.digest_config(self.p4, name)))

    def counter(self, name: str, index: int) -> tuple[int, int]:
        """(packets, bytes) of one counter cell."""
        ents = self.client.read([p4rt_entity(counter_entry=entities.counter_entry(
            self.p4, name, index))])
        data = ents[0].counter_entry.data
        return data.packet_count, data.byte_count

    def direct_counter(self, entry) -> tuple[int, int]:  # entry: a p4runtime TableEntry
        """(packets, bytes) of a table entry's direct counter."""
        from p4.v1 import p4runtime_pb2

        ent = p4runtime_pb2.Entity()
        ent.direct_counter_entry.table_entry.CopyFrom(entry)
        ent.direct_counter_entry.table_entry.ClearField("action")
        data = self.client.read([ent])[0].direct_counter_entry.data
        return data.packet_count, data.byte_count

    def table_entries(self, table: str) -> list:
        """The entries the switch holds in `table` (a wildcard read)."""
        from p4.v1 import p4runtime_pb2

        query = p4runtime_pb2.TableEntry(table_id=self.p4.get("tables", table).preamble.id)
        return [e.table_entry for e in self.client.read([p4rt_entity(table_entry=query)])]


def p4rt_entity(**kwargs):
    from p4.v1 import p4runtime_pb2

    ent = p4runtime_pb2.Entity()
    for k, v in kwargs.items():
        getattr(ent, k).CopyFrom(v)
    return ent
