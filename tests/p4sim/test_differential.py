"""The Python and C back ends, side by side: the same entries and the same packet
streams through both, every output compared.

Per packet: the packets sent (port, bytes), the digests, the drop and fault counts.
After each stream: every register cell, counter cell and direct counter. Programs:
forwarding.p4 and synproxy.p4 (with the in-process rig of tests/p4src: routes, keys,
a protected service, sessions), and the semantics programs of tests/p4sim/programs/
(tables filled with random entries). Streams: handshakes driven by the SYN/ACKs the
program sends, builders of the PTF suite's packets, and thousands of generated and
malformed packets (mutated, truncated, random), from fixed seeds.

    .venv/bin/python -m pytest -q tests/p4sim/test_differential.py
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from p4sim.backend.harness import Harness
from p4sim.device.errors import DeviceError
from p4sim.device.info import MatchKind
from p4sim.frontend import load
from tests.p4src import p4bench
from tests.p4src.p4bench import (
    CLIENT_PORT,
    CPU_PORT,
    SERVER_PORT,
    Bench,
    add_routes,
    protected,
)

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "tests" / "p4sim" / "programs"
sys.path.insert(0, str(ROOT / "ptf-tests" / "lib"))
import synproxy_packets as ptfpk  # noqa: E402


class Twin:
    """One program on both back ends, fed the same writes and packets."""

    def __init__(self, program: Any, cpu_port: int = CPU_PORT) -> None:
        now = [1_000_000_000]

        def clock() -> int:
            return now[0]

        self.now = now
        self.py = Harness(program, cpu_port=cpu_port, clock=clock, backend="python")
        self.c = Harness(program, cpu_port=cpu_port, clock=clock, backend="c")
        self.packets = 0
        self.sent = 0

    def both(self, setup: Callable[[Harness], Any]) -> None:
        setup(self.py)
        setup(self.c)

    def send(self, port: int, data: bytes) -> list[tuple[int, bytes]]:
        n_py, n_c = len(self.py.digests), len(self.c.digests)
        out_py = self.py.process(port, data)
        out_c = self.c.process(port, data)
        self.packets += 1
        self.sent += len(out_py)
        where = f"packet {self.packets} on port {port}: {data.hex()}"
        # Explicit failures with short messages: pytest's own diff of long byte lists
        # takes minutes.
        if out_c != out_py:
            pytest.fail(
                f"outputs differ, {where}\n python: {_show(out_py)}\n c:      {_show(out_c)}"
            )
        if self.c.digests[n_c:] != self.py.digests[n_py:]:
            pytest.fail(
                f"digests differ, {where}: {self.py.digests[n_py:]} / {self.c.digests[n_c:]}"
            )
        pc, pp = self.c.pipeline, self.py.pipeline
        if (pc.dropped, pc.faults) != (pp.dropped, pp.faults):
            pytest.fail(
                f"drop/fault counts differ, {where}: python {(pp.dropped, pp.faults)}, "
                f"c {(pc.dropped, pc.faults)}"
            )
        self.now[0] += 1_000  # one microsecond per packet: timestamps move
        return out_py

    def compare_state(self) -> None:
        sp, sc = self.py.state, self.c.state
        for name, reg in sp.registers.items():
            if list(sc.registers[name].values) != list(reg.values):
                pytest.fail(f"register {name} differs")
        for name, cnt in sp.counters.items():
            other = sc.counters[name]
            assert list(other.packets) == list(cnt.packets), f"counter {name} packets"
            assert list(other.bytes) == list(cnt.bytes), f"counter {name} bytes"
        sc.sync()
        for name, table in sp.tables.items():
            mine = {(e.match, e.priority): (e.packets, e.bytes) for e in table.entries()}
            theirs = {
                (e.match, e.priority): (e.packets, e.bytes) for e in sc.tables[name].entries()
            }
            assert theirs == mine, f"direct counters of {name}"


def _show(out: list[tuple[int, bytes]]) -> str:
    return ", ".join(f"port {p}: {d.hex()}" for p, d in out) or "nothing"


# ---------------------------------------------------------------------- packets


def mutations(rng: random.Random, seeds: list[bytes], count: int) -> Iterator[bytes]:
    """Malformed variants of valid packets: bit flips, truncations, random tails,
    random bytes."""
    for _ in range(count):
        base = bytearray(rng.choice(seeds))
        kind = rng.randrange(5)
        if kind == 0 and base:
            for _ in range(rng.randrange(1, 6)):
                i = rng.randrange(len(base))
                base[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            base = base[: rng.randrange(len(base) + 1)]
        elif kind == 2:
            base += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        elif kind == 3 and len(base) > 34:
            i = rng.randrange(14, len(base))
            base[i : i + 4] = bytes(rng.randrange(256) for _ in range(4))
        else:
            base = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        yield bytes(base)


def generic_frames(rng: random.Random, count: int, macs: list[str], ips: list[str]) -> list[bytes]:
    """Well-formed Ethernet frames over the layers the programs parse."""
    out = []
    for i in range(count):
        eth = Ether(src=rng.choice(macs), dst=rng.choice(macs))
        kind = i % 6
        ip = IP(
            src=rng.choice(ips),
            dst=rng.choice(ips),
            ttl=rng.choice([0, 1, 2, 64, 255]),
            tos=rng.randrange(256),
        )
        if kind == 0:
            pkt = (
                eth
                / ip
                / TCP(
                    sport=rng.randrange(1, 65536),
                    dport=rng.choice([80, 22, 8080]),
                    flags=rng.choice(["S", "SA", "A", "PA", "R", "F", "FA"]),
                    seq=rng.getrandbits(32),
                    ack=rng.getrandbits(32),
                    options=rng.choice(
                        [
                            [],
                            [("MSS", 1460)],
                            [("NOP", None)] * 3,
                            [("WScale", 7), ("SAckOK", b"")],
                            [("Timestamp", (1, 2))],
                        ]
                    ),
                )
            )
        elif kind == 1:
            pkt = (
                eth
                / ip
                / UDP(sport=rng.randrange(65536), dport=rng.randrange(65536))
                / Raw(b"u" * rng.randrange(40))
            )
        elif kind == 2:
            pkt = eth / ip / ICMP()
        elif kind == 3:
            pkt = eth / ARP(psrc=rng.choice(ips), pdst=rng.choice(ips), op=rng.choice([1, 2]))
        elif kind == 4:
            pkt = eth / Dot1Q(vlan=rng.randrange(4096)) / ip / TCP(flags="S")
        else:
            pkt = eth / Raw(bytes(rng.randrange(256) for _ in range(rng.randrange(60))))
        out.append(bytes(pkt))
    return out


# ---------------------------------------------------------------------- synproxy.p4


@pytest.fixture(scope="module")
def synproxy_program() -> Any:
    return load(p4bench.SYNPROXY)


@pytest.fixture(scope="module")
def forwarding_program() -> Any:
    return load(p4bench.FORWARDING)


def synproxy_setup(h: Harness) -> None:
    protected(h)


def test_synproxy_handshakes_sessions_and_malformed_packets(synproxy_program: Any) -> None:
    t = Twin(synproxy_program)
    t.both(synproxy_setup)
    b = Bench(t.py)  # packet builders only
    rng = random.Random(19)
    seeds: list[bytes] = []
    # Handshakes: SYN -> SYN/ACK (cookie) -> the ACK that answers it, with option mixes.
    for i in range(120):
        sport = 41000 + i
        opts: list[Any] = rng.choice(
            [
                [],
                [("MSS", 1460)],
                [("MSS", 536), ("WScale", 14)],
                [
                    ("MSS", 1460),
                    ("SAckOK", b""),
                    ("Timestamp", (1000 + i, 0)),
                    ("NOP", None),
                    ("WScale", 7),
                ],
                [("NOP", None), ("NOP", None), ("Timestamp", (i, 0))],
            ]
        )
        isn = rng.getrandbits(32)
        syn = bytes(b.client_tcp("S", isn, sport=sport, options=opts))
        seeds.append(syn)
        out = t.send(CLIENT_PORT, syn)
        for _, data in out:
            pkt: Packet = Ether(data)
            if TCP in pkt and pkt[TCP].flags == "SA":
                cookie = pkt[TCP].seq
                good = i % 3 != 2
                ack = bytes(
                    b.client_tcp(
                        "A", isn + 1, (cookie + (1 if good else 7)) & 0xFFFFFFFF, sport=sport
                    )
                )
                seeds.append(ack)
                t.send(CLIENT_PORT, ack)
    # Sessions installed as the controller does, then traffic both ways.
    for slot in range(16):
        sport = 42000 + slot

        def install(h: Harness, slot: int = slot, sport: int = sport) -> None:
            Bench(h).install_session(slot, cookie=0x1000 + slot, sport=sport, ts_base=slot)

        t.both(install)
        for k in range(6):
            c2s = bytes(
                b.client_tcp(
                    rng.choice(["A", "PA", "FA", "R"]),
                    5000 + k * 100,
                    0x1001 + slot + k,
                    sport=sport,
                    payload=b"q" * (k * 7),
                )
            )
            s2c = bytes(
                b.server_tcp(
                    rng.choice(["A", "PA", "SA", "FA"]),
                    9000 + k,
                    5000 + k,
                    sport=sport,
                    payload=b"r" * k,
                    options=rng.choice([[], [("Timestamp", (k, slot))]]),
                )
            )
            seeds += [c2s, s2c]
            t.send(CLIENT_PORT, c2s)
            t.send(SERVER_PORT, s2c)
    # The PTF suite's own option encodings (raw option bytes, bad data offsets).
    for opt_bytes in (
        b"",
        b"\x02\x04\x05\xb4",
        b"\x01" * 40,
        b"\x02\x04\x05",
        b"\x08\x0a" + b"\x00" * 8,
        b"\x03\x03\x0e\x04\x02\x00\x00",
        b"\xff\x00",
        b"\x05\x0a" + b"\x00" * 8,
    ):
        try:
            pkt = ptfpk.raw_options_tcp("S", opt_bytes)
        except Exception:  # noqa: BLE001 - a builder refusing an encoding: skip it
            continue
        pkt[Ether].dst = p4bench.ROUTER_MAC
        pkt[IP].dst = p4bench.VIP
        pkt[TCP].dport = p4bench.VPORT
        data = bytes(pkt)
        seeds.append(data)
        t.send(CLIENT_PORT, data)
    # Generated and malformed packets on every port, the CPU port included.
    frames = generic_frames(
        rng,
        400,
        [p4bench.ROUTER_MAC, p4bench.CLIENT_MAC, "ff:ff:ff:ff:ff:ff"],
        [p4bench.VIP, p4bench.CLIENT_IP, p4bench.RS_IP, "10.0.0.9"],
    )
    for data in frames:
        t.send(rng.choice([CLIENT_PORT, SERVER_PORT]), data)
    for data in mutations(rng, seeds + frames, 2500):
        t.send(rng.choice([CLIENT_PORT, SERVER_PORT, CLIENT_PORT, CPU_PORT]), data)
    assert t.packets > 3000 and t.sent > 300  # the streams reached the program's paths
    t.compare_state()


def test_forwarding_routes_and_malformed_packets(forwarding_program: Any) -> None:
    t = Twin(forwarding_program)
    t.both(add_routes)
    rng = random.Random(2)
    frames = generic_frames(
        rng,
        600,
        [p4bench.ROUTER_MAC, p4bench.CLIENT_MAC, "ff:ff:ff:ff:ff:ff"],
        ["10.0.0.1", "10.1.0.5", "10.2.0.1", "192.168.10.10"],
    )
    for data in frames:
        t.send(rng.choice([CLIENT_PORT, SERVER_PORT]), data)
    for data in mutations(rng, frames, 1500):
        t.send(rng.choice([CLIENT_PORT, SERVER_PORT, CPU_PORT]), data)
    assert t.sent > 100
    t.compare_state()


# ---------------------------------------------------------------------- semantics programs

VALUES = [0, 1, 2, 6, 17, 0x0800, 0x86DD, 0x0806, 0xFFFF, 0x0A000001, 0x0A010005, 0xAA, 80]


def random_entries(h: Harness, rng: random.Random, per_table: int) -> None:
    """Fill every non-const table with entries built from small value pools, and
    define clone sessions and multicast groups, so that packets hit."""
    state = h.state
    actions = {a.preamble.id: a for a in h.p4info.actions}
    for table in state.tables.values():
        if table.info.is_const:
            continue
        choices = [aid for aid, scope in table.info.actions.items() if scope != 2]
        for _ in range(per_table):
            match: list[Any] = []
            for f in table.fields:
                top = (1 << f.bitwidth) - 1
                v = rng.choice(VALUES) & top
                if f.kind == MatchKind.EXACT:
                    match.append(v)
                elif rng.random() < 0.2:
                    match.append(None)
                elif f.kind == MatchKind.LPM:
                    plen = rng.randint(1, f.bitwidth)
                    match.append((v & (top ^ (top >> plen)), plen))
                elif f.kind == MatchKind.TERNARY:
                    m = rng.choice([top, top & 0xFF, top ^ 1]) or top
                    match.append((v & m, m))
                elif f.kind == MatchKind.RANGE:
                    lo = v
                    match.append((lo, min(top, lo + rng.randrange(100))))
                else:
                    match.append(v)
            aid = rng.choice(choices) if choices else None
            if aid is None:
                continue
            params = actions[aid].params
            args = tuple(
                rng.choice(VALUES + [rng.randrange(8)]) & ((1 << p.bitwidth) - 1) for p in params
            )
            prio = rng.randint(1, 20) if table.needs_priority else 0
            try:
                table.insert(tuple(match), prio, aid, args)
            except DeviceError:
                pass  # duplicate or full: the next one
    for sid in range(1, 6):
        h.add_clone_session(sid, [(rng.randrange(1, 8), rng.randrange(3))], truncate=sid % 3 * 20)
    for gid in range(1, 6):
        h.add_multicast_group(gid, [(p, gid) for p in rng.sample(range(1, 8), 3)])


@pytest.mark.parametrize("name", sorted(p.stem for p in PROGRAMS.glob("*.p4")))
def test_semantics_programs(name: str) -> None:
    program = load(PROGRAMS / f"{name}.p4")
    t = Twin(program, cpu_port=255)
    rng = random.Random(name)
    seed = rng.randrange(1 << 30)
    t.both(lambda h: random_entries(h, random.Random(seed), 12))
    frames = generic_frames(
        rng,
        300,
        ["00:00:00:00:00:aa", "00:00:00:00:00:01", "ff:ff:ff:ff:ff:ff"],
        ["10.0.0.1", "10.1.0.5", "0.0.0.1", "10.0.0.2"],
    )
    for data in frames:
        t.send(rng.randrange(0, 8), data)
    for data in mutations(rng, frames, 700):
        t.send(rng.choice([0, 1, 2, 255]), data)
    t.compare_state()


def test_exact_table_churn() -> None:
    """Entries of an exact table added, changed, taken out and put back between packets
    (the session table's life): the C back end makes each change in its native hash
    instead of rebuilding the table, and must still match what the Python one does."""
    program = load(PROGRAMS / "packet_io.p4")
    t = Twin(program, cpu_port=255)
    rng = random.Random(19)
    macs = [0x020000000000 + i * 64 for i in range(300)]  # keys 64 apart: shared probe runs
    actions = {a.preamble.name.split(".")[-1]: a.preamble.id for a in t.py.p4info.actions}
    changes = hits = 0
    for step in range(3000):
        if rng.random() < 0.6:
            mac = rng.choice(macs)
            match = (mac, 1)  # the program's parser puts every frame in VLAN 1
            op = rng.random()
            for h in (t.py, t.c):
                table = next(v for k, v in h.state.tables.items() if k.endswith("l2_fwd"))
                entry = table.get(match, 0)
                if entry is None:
                    table.insert(match, 0, actions["set_port"], (1 + mac % 7,))
                elif op < 0.4:
                    table.delete(match, 0)
                elif op < 0.7:
                    table.modify(match, 0, actions["set_port"], (1 + (mac + step) % 7,))
                elif op < 0.9:
                    table.modify(match, 0, actions["flood"], ())
                else:  # a rolled-back batch: out and back in as it was
                    table.remove_entry(entry)
                    table.restore_entry(entry)
            changes += 1
        if step == 2000:
            t.both(lambda h: h.add_multicast_group(1, [(2, 0), (3, 0)]))
        dst = rng.choice(macs)
        frame = bytes(Ether(dst=dst.to_bytes(6, "big").hex(":"), src="00:00:00:00:00:01")
                      / IP(src="10.0.0.1", dst="10.0.0.2") / UDP())
        out = t.send(rng.randrange(1, 8), frame)
        hits += any(port != 255 for port, _ in out)  # not the miss's send_to_cpu
    assert changes > 1500 and hits > 1000
    table = next(v for k, v in t.c.state.tables.items() if k.endswith("l2_fwd"))
    assert 50 < len(table) < 300  # the table really filled and emptied
    t.compare_state()
