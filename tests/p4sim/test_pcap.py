"""`p4sim --pcap DIR`: bmv2-named per-interface captures holding exactly the packets
each interface received and sent.

Run: .venv/bin/python -m pytest -q tests/p4sim/test_pcap.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from p4sim.pcap import PcapPort, pcap_paths
from p4sim.ports import MemoryPort
from topo.netns import Lab, wait_for

pytestmark = pytest.mark.timeout(180)

BIN = Path(sys.executable).parent

# Every IPv4 frame from port 1 goes out of port 2; anything else is dropped.
PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct h_t { eth_t eth; }
struct m_t { bit<1> unused; }
parser P(packet_in pk, out h_t h, inout m_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control VC(inout h_t h, inout m_t m) { apply { } }
control Ig(inout h_t h, inout m_t m, inout standard_metadata_t sm) {
    apply {
        if (h.eth.type == 0x0800 && sm.ingress_port == 1) { sm.egress_spec = 2; }
        else { mark_to_drop(sm); }
    }
}
control Eg(inout h_t h, inout m_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout h_t h, inout m_t m) { apply { } }
control Dp(packet_out pk, in h_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), VC(), Ig(), Eg(), CC(), Dp()) main;
"""


def frames() -> list[bytes]:
    ipv4 = [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                  / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=9)
                  / Raw(b"p%d" % i)) for i in range(3)]
    arp = [bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
                 / ARP(psrc="10.0.0.1", pdst=f"10.0.0.{9 + i}")) for i in range(2)]
    return [ipv4[0], arp[0], ipv4[1], arp[1], ipv4[2]]


def test_pcap_port_records_what_passes(tmp_path: Path) -> None:
    port = PcapPort(MemoryPort(4, "veth4"), tmp_path)
    sent_in = [b"\x01" * 60, b"\x02" * 70]
    for f in sent_in:
        port.port.inject(f)  # type: ignore[attr-defined]
    got = [port.recv_nowait(), port.recv_nowait(), port.recv_nowait()]
    assert got == [*sent_in, None]
    port.send(b"\x03" * 64)
    in_path, out_path = pcap_paths(tmp_path, "veth4")
    assert (in_path.name, out_path.name) == ("veth4_in.pcap", "veth4_out.pcap")
    assert [bytes(p) for p in rdpcap(str(in_path))] == sent_in  # readable while open
    assert [bytes(p) for p in rdpcap(str(out_path))] == [b"\x03" * 64]
    port.close()


def test_unwritable_pcap_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        PcapPort(MemoryPort(1), tmp_path / "missing")


SENDER = textwrap.dedent("""
    import sys
    from scapy.all import sendp
    frames = [bytes.fromhex(x) for x in sys.argv[2:]]
    sendp(frames, iface=sys.argv[1], verbose=False)
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
def test_p4sim_pcap_files_hold_exactly_the_packets(tmp_path: Path) -> None:
    """p4sim on two veths with --pcap (and -L trace): the capture files hold exactly
    the frames each interface received and sent, and the log each packet's fate."""
    src = tmp_path / "fwd.p4"
    src.write_text(PROGRAM)
    done = subprocess.run([str(BIN / "p4sim-compile"), str(src), "-o", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pcaps = tmp_path / "pcaps"
    pcaps.mkdir()
    sent = frames()
    log = tmp_path / "p4sim.log"
    with Lab(prefix="p4pc") as lab:
        ns = lab.add_ns("sw")
        lab.veth(ns, "sw1", ns, "h1")
        lab.veth(ns, "sw2", ns, "h2")
        proc = lab.popen([str(BIN / "p4sim"), str(tmp_path / "b" / "fwd.p4sim"),
                          "-i", "1@sw1", "-i", "2@sw2", "--pcap", str(pcaps),
                          "--grpc-server-addr", f"unix:{tmp_path}/sw.sock",
                          "--log-console", "-L", "trace"],
                         netns=ns, log_path=str(log))
        wait_for(lambda: (tmp_path / "sw.sock").exists() or proc.poll() is not None, 60,
                 what="p4sim to start")
        assert proc.poll() is None, log.read_text()
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", SENDER, "h1",
                        *(f.hex() for f in sent)], check=True, timeout=60)
        out_path = pcaps / "sw2_out.pcap"
        wait_for(lambda: len(rdpcap(str(out_path))) >= 3, 30, what="3 packets out of port 2")
        lab.stop(proc)
        assert proc.returncode == 0, log.read_text()
    # -L trace on the command line: every packet's fate is in the log.
    trace = log.read_text()
    assert trace.count("fate: sent to port 2, ") == 3, trace
    assert trace.count("fate: dropped in ingress: mark_to_drop()") == 2, trace
    captured = {f.name: [bytes(p) for p in rdpcap(str(f))] for f in pcaps.iterdir()}
    ipv4 = [f for f in sent if f[12:14] == b"\x08\x00"]
    assert captured == {
        "sw1_in.pcap": sent,  # all five, in order, byte for byte
        "sw1_out.pcap": [],
        "sw2_in.pcap": [],
        "sw2_out.pcap": ipv4,  # the program forwards IPv4 and drops ARP
    }
