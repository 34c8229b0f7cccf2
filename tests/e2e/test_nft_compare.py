"""The comparison harness (bench/compare.py, bench/nft_systems.py): verdicts, CPU
accounting, the table/CSV/PNG outputs, and one short real series on the nft side.

    .venv/bin/python -m pytest -q tests/e2e/test_nft_compare.py   (root for the last test)
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.compare import (
    HEADER,
    Load,
    Point,
    compare,
    row,
    summary,
    systems,
    verdict,
    write_csv,
)
from bench.compare import plot as plot_points
from bench.nft_systems import (
    CLK_TCK,
    NftSystem,
    P4System,
    parse_proc_stat,
    session_cpu_seconds,
)
from topo.netns import wait_for
from topo.nft import SynproxyOptions
from topo.topology import default_topology


def point(**kw: object) -> Point:
    base = Point(system="x", rate=1000, flood_sent=6000, flood_pps=1000.0, requests=20, ok=20,
                 success=1.0, connect_p50_ms=1.0, connect_p99_ms=5.0, first_byte_p50_ms=2.0,
                 first_byte_p99_ms=8.0, mbytes_per_s=3.0,
                 conn_attempts=120, conn_success=1.0, conn_p99_ms=4.0, spoofed_syn_at_servers=0, proxy_syn_in=6020, proxy_cookies_sent=6020,
                 proxy_valid_acks=20, syn_answered=1.0, proxy_cpu_s=math.nan, system_cpu_s=6.0,
                 system_softirq_s=0.5, window_s=6.0, verdict="")
    return replace(base, **kw)  # type: ignore[arg-type]


def test_verdicts() -> None:
    assert verdict(point()) == "ok"
    assert verdict(point(rate=0, flood_pps=0.0, syn_answered=0.0)) == "ok"
    assert verdict(point(success=0.9)) == "saturated"
    assert verdict(point(connect_p99_ms=1003.0)) == "saturated"
    assert verdict(point(connect_p99_ms=math.nan, ok=0, success=0.0)) == "saturated"
    assert verdict(point(syn_answered=0.5)) == "saturated"
    assert verdict(point(conn_success=0.8)) == "saturated"  # open-loop attempts failing
    assert verdict(point(conn_p99_ms=1010.0)) == "saturated"  # ... or retransmitting SYNs
    idle = point(rate=0, flood_pps=0.0, mbytes_per_s=4.0)
    assert verdict(point(mbytes_per_s=1.1), idle) == "ok"
    assert verdict(point(requests=2, ok=2, mbytes_per_s=0.5), idle) == "saturated"
    # A short flood is the generator's limit only where the proxy held what it got.
    assert verdict(point(flood_pps=500.0)) == "generator-limited"
    assert verdict(point(flood_pps=500.0, success=0.5)) == "saturated"


def test_load_and_rates_are_bounded() -> None:
    with pytest.raises(ValueError, match="flood_from"):
        Load(flood_from="server")
    with pytest.raises(ValueError, match="seconds"):
        Load(seconds=0)
    with pytest.raises(ValueError, match="rates"):
        compare(rates=(0, 200_000), under_test=[])
    with pytest.raises(ValueError, match="rates"):
        compare(rates=(1000, 500), under_test=[])


def test_proc_stat_busy_excludes_idle_and_iowait() -> None:
    text = "cpu  100 20 30 1000 50 5 7 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
    cpu = parse_proc_stat(text)
    assert cpu.busy == pytest.approx((100 + 20 + 30 + 5 + 7 + 3) / CLK_TCK)
    assert cpu.softirq == pytest.approx(7 / CLK_TCK)
    assert cpu.total == pytest.approx((165 + 1000 + 50) / CLK_TCK)
    assert (cpu - cpu).busy == 0
    with pytest.raises(ValueError, match="cpu"):
        parse_proc_stat("intr 1 2 3\n")


def test_session_cpu_counts_the_session_and_its_children_only() -> None:
    # A session leader whose child burns CPU: the child's time belongs to the session.
    burn = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import time\\nwhile time.process_time() < 0.5: pass']); "
            "import time; time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", burn], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while session_cpu_seconds(proc.pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        used = session_cpu_seconds(proc.pid)
        assert used >= 0.5
        assert session_cpu_seconds(os.getsid(0)) != used  # another session is not this one
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the leader and its child: the whole session
        proc.wait()
    # Nothing of the session is left to count once all of it is gone (the orphaned child
    # is reaped by init asynchronously, hence the poll).
    wait_for(lambda: session_cpu_seconds(proc.pid) == 0, 10, what="the session to be gone")


def test_table_csv_plot_and_summary(tmp_path: Path) -> None:
    pts = [point(system="p4-p4sim", rate=0, flood_pps=0.0, proxy_cpu_s=2.0, verdict="ok"),
           point(system="p4-p4sim", rate=2000, success=0.5, proxy_cpu_s=5.5,
                 flood_pps=1990.0, verdict="saturated"),
           point(system="nft-synproxy", rate=0, flood_pps=0.0, verdict="ok"),
           point(system="nft-synproxy", rate=64000, flood_pps=30000.0, success=1.0,
                 verdict="generator-limited")]
    lines = [row(p) for p in pts]
    assert all(len(ln.split()) == len(HEADER.split()) for ln in lines)
    assert "n/a" in lines[2] and "5.50" in lines[1] and "50.0%" in lines[1]
    write_csv(pts, tmp_path / "c.csv")
    with (tmp_path / "c.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["system"] for r in table] == [p.system for p in pts]
    assert table[1]["verdict"] == "saturated" and table[0]["system_cpu_pct"] == "100.0"
    plot_points(pts, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = "\n".join(summary(pts))
    assert "p4-p4sim: held 0 spoofed SYN/s" in text and "saturated at 2000 SYN/s" in text
    assert "nft-synproxy: held 30000 spoofed SYN/s" in text
    assert "generator-limited at 64000" in text
    more = [*pts, point(system="p4-p4sim", rate=500, flood_pps=498.0, verdict="ok"),
            point(system="nft-synproxy", rate=32000, flood_pps=27000.0, verdict="ok")]
    text = "\n".join(summary(more))
    # The generator-limited point counts as held at the rate it achieved.
    assert "p4-p4sim held 498 SYN/s where nft synproxy held at least 30000 (x60" in text
    # Over IPv6 each P4 row is set against the kernel's IPv6 row, not the IPv4 one.
    six = [*more, point(system="p4-p4sim6", rate=500, flood_pps=400.0, verdict="ok"),
           point(system="nft-synproxy6", rate=8000, flood_pps=8000.0, verdict="ok")]
    text = "\n".join(summary(six))
    assert "p4-p4sim6 held 400 SYN/s where nft synproxy over IPv6 held at least 8000 (x20" \
        in text
    assert "nft-synproxy6 held" not in text and "nft-synproxy held" not in text


@pytest.mark.parametrize("family", [4, 6])
def test_a_short_real_series_on_the_nft_side(tmp_path: Path, family: int) -> None:
    """The kernel's proxy, measured as the P4 side is; over IPv6 on the dual-stack
    topology, the flood spoofed from 2001:2::/48 (the servers' guard counts it)."""
    ran: list[str] = []
    name = "nft-synproxy6" if family == 6 else "nft-synproxy"
    system = NftSystem(default_topology(ipv6=family == 6), name=name, family=family)
    points = compare(components={"fake": lambda: ran.append("fake")}, rates=(0, 500),
                     load=Load(seconds=2, size=50_000), out=tmp_path, under_test=[system])
    assert ran == ["fake"]
    assert [p.rate for p in points] == [0, 500]
    idle, flooded = points
    assert idle.flood_sent == 0 and flooded.flood_sent >= 500
    for p in points:
        assert p.system == name and p.requests > 0 and p.success == 1.0, p
        assert p.spoofed_syn_at_servers == 0 and p.mbytes_per_s > 0
        assert p.connect_p50_ms <= p.connect_p99_ms and math.isnan(p.proxy_cpu_s)
        # the first byte of the answer comes after the connect and before the end
        assert p.connect_p50_ms <= p.first_byte_p50_ms <= p.first_byte_p99_ms
    assert flooded.proxy_syn_in >= flooded.flood_sent
    assert all(p.conn_attempts >= 30 and p.conn_success == 1.0 for p in points)
    assert flooded.proxy_valid_acks >= flooded.ok
    report = (tmp_path / "compare.txt").read_text()
    assert "-- component: fake" in report and name in report
    assert (tmp_path / "compare.csv").exists() and (tmp_path / "compare.png").exists()


@pytest.mark.parametrize("family", [4, 6])
def test_the_p4_side_is_measured_the_same_way(tmp_path: Path, family: int) -> None:
    """Over IPv6 on the dual-stack topology, the flood from 2001:2::/48, as the kernel's."""
    system = P4System("p4sim", default_topology(ipv6=family == 6), family=family)
    points = compare(rates=(0, 250), load=Load(seconds=3, size=50_000), out=tmp_path,
                     under_test=[system])
    assert [p.rate for p in points] == [0, 250]
    name = "p4-p4sim6" if family == 6 else "p4-p4sim"
    for p in points:
        assert p.system == name and p.ok > 0 and p.spoofed_syn_at_servers == 0, p
        assert p.proxy_cpu_s > 0  # the switch and the controller did work in the window
        assert p.proxy_valid_acks >= p.ok  # every download was a validated cookie handshake
    assert points[1].flood_sent >= 250 and points[1].proxy_syn_in >= points[1].flood_sent // 2


def test_a_system_that_cannot_start_fails_the_run_after_the_others(tmp_path: Path) -> None:
    class Broken:
        name, topo, net, describe = "broken", default_topology(), None, "cannot start"

        def start(self) -> None:
            raise RuntimeError("no such target")

        def close(self) -> None:
            pass

    with pytest.raises(RuntimeError, match="could not measure broken"):
        compare(rates=(0,), out=tmp_path, under_test=[Broken()])  # type: ignore[list-item]
    assert "broken: FAILED: no such target" in (tmp_path / "compare.txt").read_text()


def test_every_system_offers_the_same_synack_options() -> None:
    opts = SynproxyOptions(mss=1400, wscale=5, timestamp=False, sack_perm=True)
    found = systems(opts)
    names = [s.name for s in found]
    # bmv2's rows only where it is installed
    assert [n for n in names if "bmv2" not in n] == ["p4-p4sim", "nft-synproxy", "p4-p4sim6",
                                                     "nft-synproxy6"]
    for s in found:
        v6 = s.name.endswith("6")
        assert s.family == (6 if v6 else 4)  # type: ignore[attr-defined]
        assert bool(s.topo.vip6) == v6  # type: ignore[attr-defined]
    assert all(s.options == opts for s in found)  # type: ignore[attr-defined]
    assert "mss 1400 wscale 5 sack" in found[0].describe
    assert "(over IPv6: VIP 2001:db8::100" in found[names.index("p4-p4sim6")].describe
    assert "timestamp" not in found[0].describe and "timestamp" not in found[-1].describe
    assert [s.name for s in systems(opts, families=(6,))
            if "bmv2" not in s.name] == ["p4-p4sim6", "nft-synproxy6"]


def test_connection_probe_is_open_loop_and_counts_failures() -> None:
    from bench.nft_connect import probe

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)
    port = srv.getsockname()[1]
    try:
        r = probe("127.0.0.1", port, rate=50, seconds=1, timeout=2)
        assert r["attempts"] == 50 and r["connected"] == 50 and not r["errors"]
        assert len(r["connect_ms"]) == 50
    finally:
        srv.close()
    refused = probe("127.0.0.1", port, rate=50, seconds=0.2, timeout=2)
    assert refused["attempts"] == 10 and refused["connected"] == 0
    assert refused["errors"] == {"ECONNREFUSED": 10}
    with pytest.raises(ValueError):
        probe("127.0.0.1", port, rate=0, seconds=1, timeout=1)


def test_connection_probe_times_out_when_syns_are_lost() -> None:
    from topo.netns import Lab, sh

    with Lab(prefix="tp") as lab:
        ns = lab.add_ns("p")
        proc = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], text=True,
                              capture_output=True, input="table ip t { chain o { type filter "
                              "hook output priority 0; tcp dport 9 drop; }; }")
        assert proc.returncode == 0, proc.stderr
        sh(["ip", "link", "set", "lo", "up"], netns=ns)
        out = sh([sys.executable, "-m", "bench.nft_connect", "--vip", "127.0.0.1", "--port",
                  "9", "--rate", "20", "--seconds", "0.5", "--timeout", "0.5"], netns=ns).stdout
    r = json.loads(out)
    # Every attempt was made on schedule although none completed: the probe is open-loop.
    assert r["attempts"] == 10 and r["connected"] == 0 and r["errors"] == {"timeout": 10}
