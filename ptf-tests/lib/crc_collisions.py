"""4-tuples that the pending-handshake memory of an earlier synproxy.p4 could not
tell apart (DESIGN D16; p4src/README.md "Registers keyed by a hash").

That memory indexed its slots by crc16(client, VIP, cport, vport) mod 8192 and
took a crc32 of the same bytes, mod 2^31, as the tag that "identified" the flow.
CRCs are affine over GF(2): for messages of one length, crc(x ^ d) = crc(x) ^ L(d)
with L linear. With the VIP and its port fixed, L maps the 48 bits of (client
address, client port) onto the 13 + 31 = 44 bits of (index, tag), so its kernel
has dimension >= 4: for every flow there are >= 15 others with the same index and
the same tag, found here by Gaussian elimination. The tests use them to show that
the data plane no longer takes one for the other.
"""

from __future__ import annotations

import struct
import zlib

INDEX_BITS = 13   # old PENDING_SIZE 8192
TAG_BITS = 31     # old tag: crc32 mod 2^31, with bit 31 set


def crc16_arc(data: bytes) -> int:
    """v1model's `crc16`: CRC-16/ARC (polynomial 0x8005 reflected, init 0, no xor out)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def old_index_and_tag(client: int, vip: int, cport: int, vport: int) -> tuple[int, int]:
    """(slot index, tag) of a 4-tuple in the old crc16/crc32 pending memory."""
    data = struct.pack("!IIHH", client, vip, cport, vport)
    tag = (zlib.crc32(data) % (1 << TAG_BITS)) | (1 << TAG_BITS)
    return crc16_arc(data) % (1 << INDEX_BITS), tag


def _image(client: int, vip: int, cport: int, vport: int) -> int:
    index, tag = old_index_and_tag(client, vip, cport, vport)
    return index << TAG_BITS | (tag & ((1 << TAG_BITS) - 1))


def collision_kernel(vip: int, vport: int) -> list[int]:
    """A basis of the differences d (48 bits: client address << 16 | client port)
    with L(d) = 0: (client ^ d >> 16, cport ^ d & 0xffff) collides with any flow."""
    base = _image(0, vip, 0, vport)
    columns = [_image((1 << i) >> 16, vip, (1 << i) & 0xFFFF, vport) ^ base
               for i in range(48)]
    # Row-reduce the 44 x 48 matrix whose column i is L(e_i); the kernel follows from
    # the free columns.
    pivots: dict[int, tuple[int, int]] = {}   # leading output bit -> (image, combination)
    kernel: list[int] = []
    for i, col in enumerate(columns):
        image, combo = col, 1 << i
        # Pivots have distinct leading bits; eliminating from the highest down
        # clears each pivot bit once and for all.
        for bit, (p_image, p_combo) in sorted(pivots.items(), reverse=True):
            if image >> bit & 1:
                image ^= p_image
                combo ^= p_combo
        if image == 0:
            kernel.append(combo)
        else:
            pivots[image.bit_length() - 1] = (image, combo)
    return kernel


def kernel_span(vip: int, vport: int) -> list[int]:
    """Every non-zero vector of the span of `collision_kernel(vip, vport)` (client
    address << 16 | client port differences that keep the old slot and tag)."""
    basis = collision_kernel(vip, vport)
    out = []
    for mask in range(1, 1 << len(basis)):
        d = 0
        for j, vec in enumerate(basis):
            if mask >> j & 1:
                d ^= vec
        out.append(d)
    return out


def colliding_tuples(client: int, cport: int, vip: int, vport: int) -> list[tuple[int, int]]:
    """Every other (client address, client port) in the old memory's slot of the
    flow with the same tag: client ^ d for every non-zero d of the kernel's span."""
    return [(client ^ (d >> 16), cport ^ (d & 0xFFFF)) for d in kernel_span(vip, vport)]


def spoofed_pairs(vip: int, vport: int, spoofed: list[tuple[int, int]]
                  ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """For each spoofed (address, port) the test wants to send from (198.18.0.0/15),
    a genuine (address, port) that the old memory confused it with: the spoofed one
    xor a different non-zero kernel vector each."""
    return [((addr ^ (d >> 16), port ^ (d & 0xFFFF)), (addr, port))
            for (addr, port), d in zip(spoofed, kernel_span(vip, vport), strict=False)]
