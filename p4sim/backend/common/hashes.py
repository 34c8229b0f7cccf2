"""Hash and checksum algorithms of v1model, computed exactly as bmv2 computes them.

The input of every algorithm is the byte string bmv2 builds from a field list: the
fields' bits concatenated most significant first and padded with zero bits at the end
up to a whole byte (`pack_bits`). Results are plain ints; callers truncate them to
the destination width.

Parameters (the CRC "catalogue" names in brackets):
* crc16: polynomial 0x8005, reflected in and out, init 0, no final xor [CRC-16/ARC].
* crc32: polynomial 0x04C11DB7, reflected, init and final xor 0xFFFFFFFF [CRC-32].
* crc16_custom / crc32_custom: bmv2's defaults for the configurable CRCs, which are the
  same parameters as crc16 / crc32 (the control plane could change them in bmv2; p4sim
  keeps the defaults).
* csum16: the Internet checksum: ones' complement of the ones' complement sum of
  16-bit big-endian words, an odd trailing byte padded with a zero byte.
* xor16: xor of 16-bit big-endian words, a short tail padded with zero bytes.
* identity: the first (at most) 8 bytes read as a big-endian integer.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterable


def pack_bits(fields: Iterable[tuple[int, int]]) -> bytes:
    """Concatenate `(value, width)` pairs MSB first; pad with zero bits to a byte."""
    acc = 0
    nbits = 0
    for value, width in fields:
        acc = (acc << width) | (value & ((1 << width) - 1))
        nbits += width
    pad = (-nbits) % 8
    return (acc << pad).to_bytes((nbits + pad) // 8, "big")


def bits_to_bytes(value: int, nbits: int) -> bytes:
    """`nbits` bits of `value` (MSB first) as bytes, zero-padded at the end to a byte."""
    pad = (-nbits) % 8
    return (value << pad).to_bytes((nbits + pad) >> 3, "big")


def _reflect(value: int, nbits: int) -> int:
    out = 0
    for _ in range(nbits):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _reflected_table(poly: int, width: int) -> list[int]:
    """Table for the bit-reversed (LSB-first) form of a CRC with polynomial `poly`."""
    rpoly = _reflect(poly, width)
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ rpoly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC16_TABLE = _reflected_table(0x8005, 16)
_CRC32_TABLE = _reflected_table(0x04C11DB7, 32)


def crc16(data: bytes) -> int:
    """CRC-16/ARC, as bmv2's `crc16` (and the default `crc16_custom`)."""
    crc = 0
    table = _CRC16_TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def crc32(data: bytes) -> int:
    """CRC-32 (IEEE 802.3), as bmv2's `crc32` (and the default `crc32_custom`)."""
    crc = 0xFFFFFFFF
    table = _CRC32_TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def csum16(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data = data + b"\x00"
    # The ones' complement sum of 16-bit words is the number mod 0xFFFF (2^16 = 1
    # modulo 0xFFFF), except that a non-zero multiple of 0xFFFF sums to 0xFFFF.
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return (~total) & 0xFFFF


def csum16_bits(value: int, nbits: int) -> int:
    """`csum16(bits_to_bytes(value, nbits))` without the bytes: padding to a whole
    byte and then to a whole 16-bit word is padding the bits to a multiple of 16."""
    value <<= (-nbits) % 16
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return (~total) & 0xFFFF


def xor16(data: bytes) -> int:
    if len(data) % 2:
        data = data + b"\x00"
    out = 0
    for i in range(0, len(data), 2):
        out ^= int.from_bytes(data[i : i + 2], "big")
    return out


def identity(data: bytes) -> int:
    return int.from_bytes(data[:8], "big")


def random_hash(data: bytes) -> int:
    """`HashAlgorithm.random`: a fresh random 32-bit value, whatever the input."""
    del data
    return _random.getrandbits(32)


# v1model's HashAlgorithm members -> implementation.
ALGORITHMS: dict[str, Callable[[bytes], int]] = {
    "crc32": crc32,
    "crc32_custom": crc32,
    "crc16": crc16,
    "crc16_custom": crc16,
    "random": random_hash,
    "identity": identity,
    "csum16": csum16,
    "xor16": xor16,
}
