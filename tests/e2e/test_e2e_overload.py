"""The overload fallback (D15) end to end: meters set low, spoofed SYN floods above
them, a real client below the per-source cap downloading all along.

Under the floods the SYNs above a meter are dropped with that meter's event, the
SYN/ACKs the switch sends and the cookie-ACK digests the controller receives stay
within what the meters allow, no spoofed SYN reaches a server, and every download
completes byte-exact. A rate changed at run time (`synproxyctl rate`) is what the
switch then holds and what its data plane does.

Everything is asserted from counters. The meters' allowance over an interval of T
seconds is at most `pburst + pir * T` per cell (a cell's bucket holds no more than
its burst), with T measured generously around the flood, so the bounds hold however
slowly the machine runs; the floods exceed them many times over.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_overload.py   (root: namespaces)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.control import request
from tests.e2e.flooding import Background, assert_nothing_spoofed_reached_a_server, delta
from topo.netns import wait_for

pytestmark = pytest.mark.netns

SYNPROXYCTL = str(Path(sys.executable).parent / "synproxyctl")

RATE = 300  # spoofed SYNs per second (what p4sim takes in without losing frames)
# The meters, in SYNs (digests) per second; rate = peak, burst = the default (one
# second's worth) unless given.
SOURCE_SYN = 20         # per source /24: the flood's prefix is far above it ...
LEGIT_COUNT = 12        # ... the client's far below: fewer SYNs than one burst in all
SERVICE_SYN = 20        # nosack's: the spread flood is above it
DIGESTS, DIGEST_BURST = 5, 3    # the legitimate clients' first handshakes exceed it
FLOOD_PREFIX = "198.18.7.0/24"  # one /24 of the spoof range


def allowance(rate: int, burst: int, seconds: float) -> float:
    """What one meter cell lets through (green or yellow) in `seconds` at most."""
    return burst + rate * seconds


def set_rate(proxy, meter: str, rate: str, service: str | None = None) -> None:
    req = {"cmd": "rate_set", "meter": meter, "rate": rate}
    if service is not None:
        req["service"] = service
    request(proxy.socket, req)


@pytest.fixture
def low_meters(proxy) -> Iterator[float]:
    """The meters set low for the test (the time they were set: buckets full then),
    all back to uncapped afterwards (the rig's config sets none)."""
    t_set = time.monotonic()
    set_rate(proxy, "source_syn", str(SOURCE_SYN))
    set_rate(proxy, "syn_rate", str(SERVICE_SYN), "nosack")
    set_rate(proxy, "digests", f"{DIGESTS}:{DIGEST_BURST}")
    try:
        yield t_set
    finally:
        set_rate(proxy, "source_syn", "off")
        set_rate(proxy, "syn_rate", "off", "nosack")
        set_rate(proxy, "digests", "off")


def wait_syns(proxy, service: str, before: dict[str, int], count: int) -> dict[str, int]:
    """Poll `service`'s counters until it counted `count` more SYNs; the counters then."""
    now: dict[str, dict[str, int]] = {}

    def done() -> bool:
        now["e"] = proxy.service_events(service)
        return delta(before, now["e"], "SYN_IN") >= count

    wait_for(done, 120, interval=0.5, what=f"{count} SYNs counted for {service}")
    return now["e"]


def test_flood_above_the_meters(proxy, low_meters: float) -> None:
    t_set = low_meters
    web0, nosack0 = proxy.service_events("web"), proxy.service_events("nosack")
    glob0, guard0 = proxy.events(), proxy.guard()
    digests0 = proxy.status()["stats"]["cookie_digests"]
    legit = Background(proxy, count=LEGIT_COUNT, concurrency=6, size=50_000)

    # 1. A flood from one /24 to web, the service the client uses: above the
    #    per-source meter, so dropped there before it reaches the service's meter.
    ta0 = time.monotonic()
    flood_a = proxy.flood("syn", RATE, count=600, service="web", source=FLOOD_PREFIX)
    wait_syns(proxy, "web", web0, flood_a["sent"])
    ta = time.monotonic()
    # 2. A flood spread over the whole range (about one SYN per /24: under every
    #    source cell) to nosack: above nosack's service meter.
    tb0 = time.monotonic()
    flood_b = proxy.flood("syn", RATE, count=450, service="nosack")
    nosack1 = wait_syns(proxy, "nosack", nosack0, flood_b["sent"])
    tb = time.monotonic()
    records = legit.result()
    web1 = wait_syns(proxy, "web", web0, flood_a["sent"] + len(records))
    glob1, t_end = proxy.events(), time.monotonic()
    digests = proxy.status()["stats"]["cookie_digests"] - digests0
    assert flood_a["sent"] == 600 and flood_b["sent"] == 450

    # The legitimate client, below the per-source cap, is served: every download
    # complete and hash-checked (topo.workload), none refused by a meter.
    assert len(records) == LEGIT_COUNT
    failed = [r for r in records if not r["ok"]]
    assert not failed, failed[:5]
    legit_syns = delta(web0, web1, "SYN_IN") - flood_a["sent"]
    assert legit_syns >= LEGIT_COUNT

    # Web: the flood's prefix passes at most what its two source cells allow (it is
    # red only where both are); at most `legit_syns` of its SYNs were still queued
    # when it was counted. Every other SYN of it was dropped as over the source rate.
    pass_a = 2 * allowance(SOURCE_SYN, SOURCE_SYN, ta - ta0) + legit_syns
    dropped_a = delta(web0, web1, "DROP_SYN_SOURCE_RATE")
    assert dropped_a >= flood_a["sent"] - pass_a, (dropped_a, pass_a)
    assert dropped_a <= flood_a["sent"]  # the client's SYNs were not
    assert delta(web0, web1, "DROP_SYN_SERVICE_RATE") == 0  # web's meter is not set
    assert delta(web0, web1, "SYNACK_SENT") <= pass_a + legit_syns

    # Nosack: its service meter's one cell bounds its SYN/ACKs; the rest dropped by
    # it (or, for the odd spread SYN whose prefix shares both cells of the first
    # flood's, by the source meters).
    pass_b = allowance(SERVICE_SYN, SERVICE_SYN, tb - tb0)
    dropped_b = delta(nosack0, nosack1, "DROP_SYN_SERVICE_RATE")
    assert delta(nosack0, nosack1, "SYNACK_SENT") <= pass_b
    assert dropped_b + delta(nosack0, nosack1, "DROP_SYN_SOURCE_RATE") \
        >= flood_b["sent"] - pass_b, (dropped_b, pass_b)
    assert dropped_b > flood_b["sent"] // 2

    # The controller: the cookie-ACK digests it received are within the digest
    # meter's allowance since it was set; the first handshakes (six at once against
    # a burst of three; a request that comes before its session is installed carries
    # the cookie too) went above it and were dropped with the meter's event, and the
    # clients sent again.
    assert digests >= LEGIT_COUNT
    assert digests <= allowance(DIGESTS, DIGEST_BURST, t_end - t_set), digests
    assert delta(glob0, glob1, "DROP_CONTROLLER_RATE") > 0
    # ... and exactly what the meter let through reached it (a cookie ACK counts
    # ACK_VALID or REUSE_ACK when its digest is sent, DROP_CONTROLLER_RATE when not).
    assert digests == delta(glob0, glob1, "ACK_VALID") + delta(glob0, glob1, "REUSE_ACK")

    # Nothing of the floods reached a server, nor became a session.
    assert_nothing_spoofed_reached_a_server(proxy, guard0)
    client_ip = proxy.topo.host("client").ip
    assert {s["client"].split(":")[0] for s in proxy.sessions()} <= {client_ip}


def synproxyctl(proxy, *args: str) -> str:
    out = subprocess.run([SYNPROXYCTL, *args, "--socket", proxy.socket],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# meter -> (its service, the flood's sources, its drop event, how many cells the
# flood's passes may come through: source_syn's are the two of the flood's prefix).
RUN_TIME = {
    "syn_rate": ("ws2", None, "DROP_SYN_SERVICE_RATE", 1),
    "source_syn": (None, "198.18.9.0/24", "DROP_SYN_SOURCE_RATE", 2),
}


@pytest.mark.parametrize("meter", sorted(RUN_TIME))
def test_rate_changed_at_run_time_takes_effect(proxy, meter: str) -> None:
    """`synproxyctl rate` writes the switch's meter cells (read back over P4Runtime)
    and the data plane drops by them at once; `off` lifts the cap."""
    service, source, event, n_cells = RUN_TIME[meter]
    sid = proxy.service_id("ws2")
    read = ([("service_syn_meter", sid)] if meter == "syn_rate" else
            [("source_syn_meter_a", 0), ("source_syn_meter_a", 1023),
             ("source_syn_meter_b", 511)])
    args = ["--service", service] if service else []
    assert all(proxy.meter(*c) is None for c in read)  # the rig's config: no cap
    try:
        synproxyctl(proxy, "rate", meter, "10", *args)
        assert all(proxy.meter(*c) == (10, 10, 10, 10) for c in read)
        rates = request(proxy.socket, {"cmd": "rates"})
        assert (rates["services"][service] if service else rates)[meter] == "10"

        before = proxy.service_events("ws2")
        t0 = time.monotonic()
        flood = proxy.flood("syn", RATE, count=300, service="ws2", source=source)
        after = wait_syns(proxy, "ws2", before, flood["sent"])
        passed = n_cells * allowance(10, 10, time.monotonic() - t0)
        assert delta(before, after, "SYNACK_SENT") <= passed
        assert delta(before, after, event) >= flood["sent"] - passed
    finally:
        synproxyctl(proxy, "rate", meter, "off", *args)
    assert all(proxy.meter(*c) is None for c in read)

    # Uncapped again: every SYN of the same flood gets a cookie.
    before = proxy.service_events("ws2")
    flood = proxy.flood("syn", RATE, count=300, service="ws2", source=source)
    after = wait_syns(proxy, "ws2", before, flood["sent"])
    assert delta(before, after, event) == 0
    assert delta(before, after, "SYNACK_SENT") == flood["sent"]
