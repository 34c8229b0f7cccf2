"""Digests arriving faster than writes complete: the controller batches them into few
WriteRequests, installs every session once, in distinct slots, sends every server SYN
after its entries were written, and acknowledges every digest list.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_batching.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.p4info import P4InfoIndex, load_p4info
from controller.synpkt import parse_tcp
from controller.testing.fakeswitch import FakeSwitch, cookie_rows
from tests.controller.ctlbench import ControllerThread, config_text, load_cfg, wait_for

pytestmark = pytest.mark.timeout(120)


def test_digest_burst_against_slow_writes(artefacts: tuple[Path, Path], tmp_path) -> None:
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch(write_delay=0.05)
    fake.start(f"unix:{sock}")
    cfg = load_cfg(config_text(*artefacts, sock), tmp_path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        setup_writes = len(fake.writes)
        did = P4InfoIndex(load_p4info(artefacts[0])).get("digests",
                                                         "cookie_ack_digest_t").preamble.id
        rows = cookie_rows(600)
        lists = [fake.send_digest_list(did, rows[i:i + 50]) for i in range(0, 600, 50)]
        assert wait_for(lambda: len(ct.ctl.view.table) == 600 and fake.packet_outs.qsize() >= 600, 30)
        session_writes = fake.writes[setup_writes:]
        assert sum(session_writes) == 600 * 2  # two entries each, no register
        assert len(session_writes) < 12, session_writes  # batched, not one write per digest
        slots = {s.slot for s in ct.ctl.view.table.by_slot.values()}
        assert len(slots) == 600 and 0 not in slots
        outs = [fake.packet_outs.get()[1] for _ in range(600)]
        syns = [parse_tcp(out.payload) for out in outs]
        assert sorted((t.sport, t.seq) for t in syns if t) == sorted((r[2], r[4]) for r in rows)
        # port 0, flags 1
        assert all(sorted(m.value for m in out.metadata) == [b"\0", b"\x01"] for out in outs)
        assert wait_for(lambda: fake.acks.qsize() == len(lists))
        acked = sorted(fake.acks.get()[1] for _ in lists)
        assert acked == lists
        # The same digests again (the switch resends unacknowledged lists): no new sessions.
        fake.send_digest_list(did, rows[:50])
        assert wait_for(lambda: ct.ctl.stats["duplicate_digests"] == 50)
        assert len(ct.ctl.view.table) == 600
        # Every cookie-ACK digest that reached the controller is counted, duplicates too.
        assert ct.ctl.stats["cookie_digests"] == 650
    finally:
        ct.stop()
        fake.stop()


def test_malformed_stream_messages_are_counted_not_fatal(artefacts: tuple[Path, Path], tmp_path) -> None:
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch()
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path))
    try:
        ct.wait_synced()
        fake.out.put(b"\x1a\x02\x08\xff")  # a digest list cut short
        fake.out.put(b"\x12\x04\x0a\x05ab")  # a PacketIn whose payload runs out
        did = P4InfoIndex(load_p4info(artefacts[0])).get("digests",
                                                         "cookie_ack_digest_t").preamble.id
        fake.send_digest_list(did, cookie_rows(3))
        assert wait_for(lambda: len(ct.ctl.view.table) == 3)
        assert ct.ctl.stats["bad_messages"] == 2 and ct.ctl.stats["reconnects"] == 0
    finally:
        ct.stop()
        fake.stop()


def test_a_switch_answering_as_bmv2_gets_the_pipeline_and_no_register_reads(
        artefacts: tuple[Path, Path], tmp_path) -> None:
    """bmv2 without a pipeline refuses GetForwardingPipelineConfig (FAILED_PRECONDITION)
    and has no register access: the controller pushes the pipeline, runs without
    register reads, and installs sessions by their two entries."""
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch(bmv2_like=True)
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path))
    try:
        ct.wait_synced()
        assert fake.pipeline_set.is_set()
        assert ct.ctl.view.register_reads is False and ct.ctl.stats["reconnects"] == 0
        setup_writes = len(fake.writes)
        did = P4InfoIndex(load_p4info(artefacts[0])).get("digests",
                                                         "cookie_ack_digest_t").preamble.id
        fake.send_digest_list(did, cookie_rows(3))
        assert wait_for(lambda: len(ct.ctl.view.table) == 3 and fake.packet_outs.qsize() == 3)
        assert sum(fake.writes[setup_writes:]) == 3 * 2
    finally:
        ct.stop()
        fake.stop()
