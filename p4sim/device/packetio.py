"""PacketOut/PacketIn <-> bytes, through the program's controller headers.

As bmv2 with PI does: a PacketOut becomes the ``@controller_header("packet_out")``
header (its fields packed big-endian in P4Info order) followed by the payload; a packet
the pipeline sends to the CPU port starts with the ``packet_in`` header, which is cut
off and turned into PacketIn metadata.
"""

from __future__ import annotations

from p4.v1 import p4runtime_pb2 as pb

from p4sim.device.codec import to_bytes, to_int
from p4sim.device.errors import invalid
from p4sim.device.info import PacketMetadataInfo


class PacketIo:
    def __init__(
        self,
        packet_in: tuple[PacketMetadataInfo, ...],
        packet_out: tuple[PacketMetadataInfo, ...],
    ) -> None:
        self.packet_in = packet_in
        self.packet_out = packet_out
        self.in_bits = sum(m.bitwidth for m in packet_in)
        self.out_bits = sum(m.bitwidth for m in packet_out)
        for name, bits in (("packet_in", self.in_bits), ("packet_out", self.out_bits)):
            if bits % 8:
                raise ValueError(f"controller header {name} is {bits} bits, not whole bytes")
        self._out_ids = {m.id: m for m in packet_out}

    def build_packet_out(self, msg: pb.PacketOut) -> bytes:
        """The bytes entering the pipeline on the CPU port for one PacketOut."""
        if not self.packet_out:
            if len(msg.metadata):
                raise invalid("the program has no packet_out header, metadata not allowed")
            return msg.payload
        values: dict[int, int] = {}
        for md in msg.metadata:
            info = self._out_ids.get(md.metadata_id)
            if info is None:
                raise invalid(f"unknown packet_out metadata id {md.metadata_id}")
            if md.metadata_id in values:
                raise invalid(f"packet_out metadata {info.name} given twice")
            values[md.metadata_id] = to_int(md.value, info.bitwidth, f"packet_out {info.name}")
        header = 0
        for info in self.packet_out:
            header = (header << info.bitwidth) | values.get(info.id, 0)
        return header.to_bytes(self.out_bits // 8, "big") + msg.payload

    def parse_packet_in(self, packet: bytes) -> pb.PacketIn:
        """Split a packet sent to the CPU port into metadata and payload."""
        out = pb.PacketIn()
        nbytes = self.in_bits // 8
        if not self.packet_in or len(packet) < nbytes:
            out.payload = packet
            return out
        header = int.from_bytes(packet[:nbytes], "big")
        shift = self.in_bits
        for info in self.packet_in:
            shift -= info.bitwidth
            md = out.metadata.add()
            md.metadata_id = info.id
            md.value = to_bytes((header >> shift) & ((1 << info.bitwidth) - 1))
        out.payload = packet[nbytes:]
        return out

    def packet_in_message(self, packet: bytes) -> pb.StreamMessageResponse:
        """The stream message carrying ``packet`` as a PacketIn."""
        msg = pb.StreamMessageResponse()
        msg.packet.CopyFrom(self.parse_packet_in(packet))
        return msg
