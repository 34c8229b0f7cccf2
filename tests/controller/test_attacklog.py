"""Attack log events: the switch's counts of invalid ACKs and drops summarised per
service, one line per period however large the flood, with its start and end; the
defence's on/off lines name the rates.

Run: .venv/bin/python -m pytest -q tests/controller/test_attacklog.py
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from controller.attacklog import AttackLog
from tests.controller.ctlbench import CLIENT_PORT, client_tcp, start_controller, wait_for

pytestmark = pytest.mark.timeout(120)
SYN_IN, ACK_INVALID, DROP_UDP = 1, 4, 8


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"event={name} " in r.getMessage()
            or r.getMessage().endswith(f"event={name}")]


def test_one_summary_per_period_with_start_and_end(caplog) -> None:
    caplog.set_level(logging.INFO, logger="controller.attack")
    counts = {1: {SYN_IN: 0, ACK_INVALID: 0}}
    now = [0.0]

    async def read():
        return {}, {sid: dict(c) for sid, c in counts.items()}

    al = AttackLog(read, lambda sid: "web" if sid == 1 else None, 10.0, lambda: now[0])

    async def periods() -> None:
        await al.tick()  # the baseline
        for syn, bad, udp in ((2000, 500, 3), (100, 40, 0), (0, 0, 0), (0, 0, 0)):
            counts[1][SYN_IN] += syn
            counts[1][ACK_INVALID] += bad
            counts[1][DROP_UDP] = counts[1].get(DROP_UDP, 0) + udp
            now[0] += 10.0
            await al.tick()

    asyncio.run(periods())
    assert len(events(caplog, "attack_start")) == 1
    summaries = events(caplog, "attack_summary")
    assert len(summaries) == 2
    assert "syn_in=2000" in summaries[0] and "ack_invalid=500" in summaries[0]
    assert "drops=3 drop_reasons=udp:3" in summaries[0] and "invalid_ack_rate=50" in summaries[0]
    assert "ack_invalid=40" in summaries[1]
    assert len(events(caplog, "attack_end")) == 1


def test_forged_acks_on_p4sim_are_summarised(artefacts, sock, switch, tmp_path,
                                             caplog) -> None:
    caplog.set_level(logging.INFO, logger="controller.attack")
    ct = start_controller(artefacts, sock, tmp_path, control="control: {summary_seconds: 0.1}\n")
    try:
        # a baseline read first, so that the flood falls in a later period
        assert wait_for(lambda: ct.ctl is not None and ct.ctl.attacks.has_baseline, 30)
        for i in range(40):
            switch.send(CLIENT_PORT, client_tcp("A", 1000 + i, 0xBAD0000 + i, sport=30000 + i))
        assert switch.wait_idle()

        def invalid_total() -> int:
            return sum(int(m.group(1)) for line in events(caplog, "attack_summary")
                       if (m := re.search(r" ack_invalid=(\d+)", line)))

        assert wait_for(lambda: invalid_total() == 40, 30), events(caplog, "attack_summary")
        assert wait_for(lambda: events(caplog, "attack_end"), 30)
        assert len(events(caplog, "attack_start")) == 1
        assert all("service=web" in line for line in events(caplog, "attack_summary"))
    finally:
        ct.stop()
