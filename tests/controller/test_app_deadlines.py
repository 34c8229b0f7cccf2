"""Every controller RPC has a deadline: a switch that stops answering Writes makes the
controller give the write up, say so, undo its sessions, and carry on once the switch
answers again; a switch that never answers at start-up is retried, never waited on.

Run: .venv/bin/python -m pytest -q tests/controller/test_app_deadlines.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.p4info import P4InfoIndex, load_p4info
from controller.p4rt import Deadlines
from controller.testing.fakeswitch import FakeSwitch, cookie_rows
from controller.timers import POLL_TIMEOUTS_MAX
from tests.controller.ctlbench import ControllerThread, config_text, load_cfg, wait_for

pytestmark = pytest.mark.timeout(120)


def test_unanswered_session_write_times_out_and_the_controller_recovers(
        artefacts: tuple[Path, Path], tmp_path) -> None:
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch()
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path),
                          deadlines=Deadlines(write=0.3))
    try:
        ct.wait_synced()
        did = P4InfoIndex(load_p4info(artefacts[0])).get("digests",
                                                         "cookie_ack_digest_t").preamble.id
        rows = cookie_rows(3)
        fake.stall_writes()
        fake.send_digest_list(did, rows)
        assert wait_for(lambda: ct.ctl.stats["write_timeouts"] >= 1, 10)
        # Unknown whether the entries landed: no server SYN, sessions released, and
        # their slots held back until a later batch deleted the entries.
        assert wait_for(lambda: len(ct.ctl.view.table) == 0)
        assert fake.packet_outs.empty()
        assert ct.ctl.view.table.free_slots < ct.ctl.view.table.capacity
        assert ct.ctl.stats["failed_installs"] == 3
        fake.resume_writes()
        assert wait_for(lambda: ct.ctl.view.table.free_slots == ct.ctl.view.table.capacity, 10)
        # The clients' next segments bring the handshakes again: installed this time.
        fake.send_digest_list(did, rows)
        assert wait_for(lambda: len(ct.ctl.view.table) == 3 and fake.packet_outs.qsize() == 3, 10)
        assert ct.ctl.stats["reconnects"] == 0 and ct.ctl.synced.is_set()
    finally:
        fake.resume_writes()
        ct.stop()
        fake.stop()


def test_switch_silent_at_start_up_is_retried_until_it_answers(artefacts: tuple[Path, Path], tmp_path) -> None:
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch()
    fake.stall_writes()
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path),
                          deadlines=Deadlines(write=0.2))
    try:
        # The config install times out: the controller reconnects and tries again.
        assert wait_for(lambda: ct.ctl.stats["reconnects"] >= 2, 20)
        assert not ct.ctl.synced.is_set()
        fake.resume_writes()
        ct.wait_synced()
    finally:
        fake.resume_writes()
        ct.stop()
        fake.stop()


def test_an_unanswered_poll_read_is_skipped_and_only_a_run_of_them_reconnects(
        artefacts: tuple[Path, Path], tmp_path: Path) -> None:
    sock = str(tmp_path / "fake.sock")
    fake = FakeSwitch()
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path),
                          deadlines=Deadlines(read=0.3))
    try:
        ct.wait_synced()
        did = P4InfoIndex(load_p4info(artefacts[0])).get("digests",
                                                         "cookie_ack_digest_t").preamble.id
        fake.send_digest_list(did, cookie_rows(3))
        assert wait_for(lambda: len(ct.ctl.view.table) == 3)
        assert wait_for(lambda: fake.reads >= 2, 10)  # the session-state poll reads
        # A busy switch: two reads in a row go unanswered. Skipped, not a lost link.
        fake.stall_reads(POLL_TIMEOUTS_MAX - 1)
        assert wait_for(lambda: ct.ctl.stats["poll_timeouts"] >= POLL_TIMEOUTS_MAX - 1, 10)
        reads = fake.reads
        assert wait_for(lambda: fake.reads > reads + 2, 10)  # polling goes on, answered
        assert ct.ctl.stats["reconnects"] == 0 and ct.ctl.synced.is_set()
        assert len(ct.ctl.view.table) == 3
        # A switch that answers no read at all: after POLL_TIMEOUTS_MAX the link is lost.
        fake.stall_reads(POLL_TIMEOUTS_MAX)
        assert wait_for(lambda: ct.ctl.stats["reconnects"] >= 1, 20)
        ct.wait_synced()
    finally:
        fake.stall_reads(0)
        ct.stop()
        fake.stop()
