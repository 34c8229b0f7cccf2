"""The session writes equal what the generic `entities` builders make, digests decode
by the P4Info's member names; the frames the controller builds have correct checksums
and the options it promised.

Run: .venv/bin/python -m pytest -q tests/controller/test_messages.py
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from p4.config.v1 import p4info_pb2
from p4.v1 import p4data_pb2
from p4.v1 import p4runtime_pb2 as pb
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt
from scapy.layers.l2 import Ether

from controller import entities as ent
from controller.digests import CookieAck, DigestDecoder, SessionEvent, struct_members
from controller.install import MODIFY, SessionCodec, SessionParams
from controller.p4info import P4InfoIndex, load_p4info
from controller.p4rt import uint128
from controller.sessions import Session
from controller.synpkt import Handshake, client_rst, parse_tcp, server_syn


@pytest.fixture(scope="module")
def p4(artefacts) -> P4InfoIndex:
    return P4InfoIndex(load_p4info(artefacts[0]))


def session() -> Session:
    return Session(7, (0x0A000001, 0xC0A80A0A, 40000, 80), 3, 0x0A010005, 8080, 0xDEADBEEF,
                   1234, None, gen=0x89ABCDEF)


PARAMS = SessionParams(0xC0A80A0A, 80, 555, 501, 7)


def test_session_install_equals_generated(p4: P4InfoIndex) -> None:
    codec = SessionCodec(p4, idle_timeout_s=30)
    ups = pb.WriteRequest().updates
    codec.install(ups, session(), PARAMS)
    want_client = ent.table_entry(
        p4, "sessions", {"src_addr": 0x0A000001, "dst_addr": 0xC0A80A0A, "src_port": 40000,
                         "dst_port": 80}, "set_client_session",
        {"slot": 7, "service_id": 3, "rs_addr": 0x0A010005, "rs_port": 8080, "gen": 0x89ABCDEF},
        idle_timeout_ns=30_000_000_000)
    want_server = ent.table_entry(
        p4, "sessions", {"src_addr": 0x0A010005, "dst_addr": 0x0A000001, "src_port": 8080,
                         "dst_port": 40000}, "set_server_session",
        {"slot": 7, "service_id": 3, "vip_addr": 0xC0A80A0A, "vip_port": 80,
         "cookie": 0xDEADBEEF, "ts_base": 555, "client_window": 501, "win_shift": 7,
         "gen": 0x89ABCDEF},
        idle_timeout_ns=30_000_000_000)
    # The two entries and nothing else: the controller writes no register.
    assert list(ups) == [ent.update("INSERT", want_client), ent.update("INSERT", want_server)]
    modify = pb.WriteRequest().updates
    codec.install(modify, session(), PARAMS, MODIFY)
    assert [u.type for u in modify] == [pb.Update.MODIFY, pb.Update.MODIFY]


def test_session_remove_and_decode_round_trip(p4: P4InfoIndex) -> None:
    codec = SessionCodec(p4)
    dels = pb.WriteRequest().updates
    codec.remove(dels, session())
    assert [u.type for u in dels] == [pb.Update.DELETE, pb.Update.DELETE]
    assert not dels[0].entity.table_entry.HasField("action")
    ups = pb.WriteRequest().updates
    codec.install(ups, session(), PARAMS)
    client, server = (u.entity.table_entry for u in ups)
    assert codec.key_of(dels[1].entity.table_entry) == codec.key_of(server)
    got = codec.decode_entry(server)
    assert got is not None and got.direction == "server"
    assert got.key == (0x0A010005, 0x0A000001, 8080, 40000)
    assert got.params["cookie"] == 0xDEADBEEF and got.params["win_shift"] == 7
    assert got.params["gen"] == 0x89ABCDEF
    got = codec.decode_entry(client)
    assert got is not None and got.direction == "client" and got.params["gen"] == 0x89ABCDEF


def test_election_ids_are_128_bits() -> None:
    eid = uint128((1 << 64) + 5)
    assert (eid.high, eid.low) == (1, 5)


def test_read_queries(p4: P4InfoIndex) -> None:
    codec = SessionCodec(p4)
    assert codec.read_entries_query().table_entry.table_id == codec.table_id
    cell = codec.read_cell_query("session_gen", 9).register_entry
    assert (cell.register_id, cell.index.index) == (codec.reg["session_gen"], 9)
    assert not codec.read_register_query("session_gen").register_entry.HasField("index")


def digest_list(did: int, rows: list[list[int]]) -> pb.DigestList:
    dl = pb.DigestList(digest_id=did, list_id=4)
    for row in rows:
        d = dl.data.add()
        for v in row:
            d.struct.members.add().bitstring = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    return dl


def test_digests_decode_by_p4info_member_names(p4: P4InfoIndex) -> None:
    dec = DigestDecoder(p4)
    cid = dec.ids["cookie_ack_digest_t"]
    # In declaration order: client, vip, cport, vport, isn, cookie, mss, wscale, sack, ts,
    # payload, pad, window, tsval, tsecr, port, service, old_slot, old_state.
    row = [1, 2, 3, 4, 5, 6, 1460, 9, 1, 0, 1, 0, 700, 11, 12, 1, 3, 8, 7]
    did, lid, items = dec.decode(digest_list(cid, [row, row[:5]]))
    assert (did, lid) == (cid, 4) and len(items) == 1  # a short digest is skipped
    ck = items[0]
    assert isinstance(ck, CookieAck)
    assert ck.flow == (1, 2, 3, 4) and ck.handshake.cookie == 6 and ck.handshake.wscale == 9
    assert ck.handshake.sack_ok and not ck.handshake.ts_ok and ck.has_payload
    assert (ck.client_tsecr, ck.service_id, ck.old_slot, ck.old_state) == (12, 3, 8, 7)
    eid = dec.ids["session_event_digest_t"]
    # slot, event, delta, tsoff, client, cport, state, gen
    _, _, (ev,) = dec.decode(digest_list(eid, [[5, 4, 100, 200, 1, 40000, 3, 1 << 31]]))
    assert ev == SessionEvent(5, 4, 100, 200, 1, 40000, 3, 1 << 31)
    assert dec.decode(digest_list(12345, [[1]]))[2] == []


def csum_ok(frame: bytes) -> bool:
    pkt = Ether(frame)
    fresh = pkt.copy()
    del fresh[IP].chksum
    del fresh[TCP].chksum
    fresh = Ether(bytes(fresh))
    return pkt[IP].chksum == fresh[IP].chksum and pkt[TCP].chksum == fresh[TCP].chksum


@pytest.mark.parametrize("wscale, sack, ts", [(9, True, True), (15, False, True),
                                              (0, True, False), (15, False, False)])
def test_server_syn_options_and_checksums(wscale: int, sack: bool, ts: bool) -> None:
    h = Handshake(0x0A000001, 0xC0A80A0A, 40000, 80, 0xFFFFFFF0, 5, 1440, wscale, sack, ts,
                  700, 123456)
    frame = server_syn(h, b"\x02" * 6)
    assert csum_ok(frame)
    t = Ether(frame)[TCP]
    opts = dict(t.options)
    assert t.flags == "S" and t.seq == 0xFFFFFFF0 and t.window == 700
    assert opts["MSS"] == 1440
    assert ("WScale" in opts) == (wscale != 15) and opts.get("WScale", wscale) == wscale
    assert ("SAckOK" in opts) == sack
    assert opts.get("Timestamp") == ((123456, 0) if ts else None)
    info = parse_tcp(frame)
    assert info is not None and info.payload_len == 0 and info.seq == 0xFFFFFFF0


def test_client_rst_sequence_and_checksum() -> None:
    frame = client_rst(0x0A000001, 40000, 0xC0A80A0A, 80, 0xFFFFFFFF, 9, b"\x02" * 6)
    assert csum_ok(frame)
    p = Ether(frame)
    assert p[IP].src == "192.168.10.10" and p[TCP].sport == 80 and p[TCP].dport == 40000
    assert p[TCP].seq == 0 and p[TCP].ack == 10 and "R" in str(p[TCP].flags)  # wraps


def test_parse_tcp_rejects_other_frames() -> None:
    assert parse_tcp(b"\x00" * 10) is None
    udp = bytes(Ether() / IP(dst="1.2.3.4", proto=17) / (b"x" * 30))
    assert parse_tcp(udp) is None
    data = bytes(Ether() / IP() / TCP(seq=7) / b"hello")
    info = parse_tcp(data)
    assert info is not None and (info.seq, info.payload_len) == (7, 5)


# ----------------------------------------------------------------------------- IPv6 (D13)

CLIENT6 = int(ipaddress.IPv6Address("2001:db8:1::10"))
VIP6 = int(ipaddress.IPv6Address("2001:db8::100"))


def csum6_ok(frame: bytes) -> bool:
    pkt = Ether(frame)
    fresh = pkt.copy()
    del fresh[TCP].chksum
    return pkt[TCP].chksum == Ether(bytes(fresh))[TCP].chksum


@pytest.mark.parametrize("wscale, sack, ts", [(9, True, True), (15, False, False)])
def test_server_syn_over_ipv6(wscale: int, sack: bool, ts: bool) -> None:
    """The server SYN of an IPv6 handshake: an IPv6 header (no extension header, hop
    limit 64), the client's options, the TCP checksum over the IPv6 pseudo-header."""
    h = Handshake(CLIENT6, VIP6, 40000, 80, 0xFFFFFFF0, 5, 1440, wscale, sack, ts, 700, 99)
    frame = server_syn(h, b"\x02" * 6)
    p = Ether(frame)
    assert p.type == 0x86DD and IPv6 in p and IP not in p
    assert (p[IPv6].src, p[IPv6].dst) == ("2001:db8:1::10", "2001:db8::100")
    assert p[IPv6].nh == 6 and p[IPv6].hlim == 64 and p[IPv6].plen == len(p[TCP])
    assert csum6_ok(frame)
    opts = dict(p[TCP].options)
    assert p[TCP].flags == "S" and p[TCP].seq == 0xFFFFFFF0 and opts["MSS"] == 1440
    assert ("SAckOK" in opts) == sack and ("Timestamp" in opts) == ts
    info = parse_tcp(frame)
    assert info is not None and (info.src, info.dst, info.sport, info.dport) == (
        CLIENT6, VIP6, 40000, 80)
    assert info.payload_len == 0 and info.seq == 0xFFFFFFF0


def test_client_rst_over_ipv6() -> None:
    frame = client_rst(CLIENT6, 40000, VIP6, 80, 0xFFFFFFFF, 9, b"\x02" * 6)
    p = Ether(frame)
    assert csum6_ok(frame) and p[IPv6].src == "2001:db8::100"
    assert p[TCP].seq == 0 and p[TCP].ack == 10 and "R" in str(p[TCP].flags)


def test_parse_tcp_over_ipv6_and_what_it_refuses() -> None:
    data = bytes(Ether() / IPv6(src="2001:db8:1::10", dst="2001:db8::100") / TCP(seq=7, ack=3)
                 / b"hello")
    info = parse_tcp(data)
    assert info is not None and (info.seq, info.ack, info.payload_len) == (7, 3, 5)
    # An extension header before TCP, UDP, a truncated frame, a payload length past the
    # frame, a data offset past the payload: not a TCP segment the controller reads.
    ext = bytes(Ether() / IPv6() / IPv6ExtHdrDestOpt() / TCP())
    udp = bytes(Ether() / IPv6() / UDP())
    assert parse_tcp(ext) is None and parse_tcp(udp) is None
    assert parse_tcp(data[:60]) is None
    long = bytearray(data)
    long[18:20] = (len(data)).to_bytes(2, "big")
    assert parse_tcp(bytes(long)) is None
    bad_doff = bytearray(bytes(Ether() / IPv6() / TCP()))
    bad_doff[54 + 12] = 0xF0  # 60 bytes of header in a 20-byte segment
    assert parse_tcp(bytes(bad_doff)) is None


def test_mixed_families_are_not_a_frame() -> None:
    with pytest.raises(ValueError, match="different families"):
        client_rst(CLIENT6, 40000, 0x0A000064, 80, 1, 1, b"\x02" * 6)


def test_idle_timeout_only_where_supported(p4: P4InfoIndex) -> None:
    info = p4info_pb2.P4Info()
    info.CopyFrom(p4.info)
    for t in info.tables:
        t.idle_timeout_behavior = p4info_pb2.Table.NO_TIMEOUT
    codec = SessionCodec(P4InfoIndex(info), idle_timeout_s=30)
    assert not codec.supports_idle
    ups = pb.WriteRequest().updates
    codec.install(ups, session(), PARAMS)
    assert ups[0].entity.table_entry.idle_timeout_ns == 0


def test_p4data_of_a_plain_bitstring() -> None:
    d = p4data_pb2.P4Data(bitstring=b"\x01\x00")
    assert struct_members(d) == [256]
    assert struct_members(p4data_pb2.P4Data(bool=True)) == []


def test_client_rst_without_a_known_isn_carries_no_ack() -> None:
    frame = client_rst(0x0A000001, 40000, 0xC0A80A0A, 80, 41, None, b"\x02" * 6)
    assert csum_ok(frame)
    t = Ether(frame)[TCP]
    assert t.flags == "R" and t.seq == 42 and t.ack == 0


def test_p4info_read_in_each_format(artefacts: tuple[Path, Path], tmp_path) -> None:
    from google.protobuf import json_format

    from controller.app import read_p4info

    info = load_p4info(artefacts[0])
    (tmp_path / "p.bin").write_bytes(info.SerializeToString())
    (tmp_path / "p.json").write_text(json_format.MessageToJson(info))
    assert read_p4info(tmp_path / "p.bin") == info
    assert read_p4info(tmp_path / "p.json") == info
    assert read_p4info(artefacts[0]) == info
