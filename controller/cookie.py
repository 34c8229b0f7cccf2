"""SYN-cookie reference: the one Python definition of the cookie the data plane mints.

The switch computes the same function in P4 (p4src/v1model/control/cookie.p4); tests and
the controller use this module to predict and to verify cookies, so the two must agree
bit for bit. The layout is described in p4src/README.md and repeated here:

    cookie (32 bits)  = MAC[31:9] ++ E ++ OPTS[7:0]
    E      (1 bit)    = epoch[0]
    OPTS   (8 bits)   = mss_index(2) ++ wscale(4) ++ sack_ok(1) ++ ts_ok(1)
    MAC    (32 bits)  = HalfSipHash-2-4(key, m0..m4) with the message words
                        m0 = client address, m1 = VIP address,
                        m2 = client port << 16 | VIP port, m3 = client ISN,
                        m4 = epoch[23:0] << 8 | OPTS

For an IPv6 flow (`Flow6`) the addresses enter in full, eleven words: the client
address's four 32-bit words, most significant first, then the VIP's, then the ports,
ISN and epoch/OPTS words as above; the MSS index stands for `MSS_TABLE6`.

The options travel in the clear in the low byte but are part of the MAC input, so an
attacker who flips them invalidates the MAC. Two (key, epoch) pairs are accepted, the
current and the previous one, whose epochs differ in their low bit: E says which
pair minted the cookie, so a check costs one hash (not two, which matters under an
ACK flood), and a blind guess succeeds with probability 2^-23 (23 MAC bits), within
the 2^-22 budget. A keyed PRF rather than a CRC: CRCs are affine, so one observed
cookie would let an attacker compute cookies for any other flow.

HalfSipHash treats its input as bytes and reads 32-bit words little-endian. The data
plane works on 32-bit words directly; packing the words little-endian here makes
both compute the standard function, checkable against the published test vectors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import p4consts

MASK32 = 0xFFFFFFFF

#: MSS values the cookie can carry, indexed by the 2-bit mss_index. A client MSS is
#: rounded down to the largest entry not above it (smaller MSSes use entry 0), so the
#: server is never told a larger MSS than the client accepts, except below 536, the
#: IPv4 default every host must accept anyway.
MSS_TABLE: tuple[int, ...] = (p4consts.COOKIE_MSS_0, p4consts.COOKIE_MSS_1,
                               p4consts.COOKIE_MSS_2, p4consts.COOKIE_MSS_3)
#: The same for IPv6 flows (1220: what the IPv6 minimum MTU leaves for TCP).
MSS_TABLE6: tuple[int, ...] = (p4consts.COOKIE_MSS6_0, p4consts.COOKIE_MSS6_1,
                                p4consts.COOKIE_MSS6_2, p4consts.COOKIE_MSS6_3)
#: Window-scale field value meaning "the client sent no window-scale option".
#: Largest shift RFC 7323 allows; larger advertised shifts are treated as this.
WSCALE_MAX = p4consts.TCP_WSCALE_MAX
#: Bits of the cookie that carry the MAC, the epoch's low bit and OPTS.
MAC_MASK = p4consts.COOKIE_MAC_MASK
EPOCH_BIT = p4consts.COOKIE_EPOCH_BIT
OPTS_MASK = p4consts.COOKIE_OPTS_MASK
#: The epoch occupies the top 24 bits of the last message word.
EPOCH_MASK = 0x00FFFFFF


class CookieError(ValueError):
    """An argument to a cookie function is out of range."""


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (32 - b))) & MASK32


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & MASK32
    v1 = _rotl(v1, 5) ^ v0
    v0 = _rotl(v0, 16)
    v2 = (v2 + v3) & MASK32
    v3 = _rotl(v3, 8) ^ v2
    v0 = (v0 + v3) & MASK32
    v3 = _rotl(v3, 7) ^ v0
    v2 = (v2 + v1) & MASK32
    v1 = _rotl(v1, 13) ^ v2
    v2 = _rotl(v2, 16)
    return v0, v1, v2, v3


def halfsiphash24(key: bytes, data: bytes) -> int:
    """HalfSipHash-2-4 with a 32-bit output, returned as the little-endian integer of
    the 4 output bytes (which is the final `v1 ^ v3` word itself)."""
    if len(key) != 8:
        raise CookieError(f"HalfSipHash key must be 8 bytes, got {len(key)}")
    k0, k1 = struct.unpack("<2I", key)
    v0, v1 = k0, k1
    v2 = p4consts.HSIP_IV2 ^ k0
    v3 = p4consts.HSIP_IV3 ^ k1
    full = len(data) - len(data) % 4
    words = list(struct.unpack(f"<{full // 4}I", data[:full]))
    last = (len(data) & 0xFF) << 24
    for i, byte in enumerate(data[full:]):
        last |= byte << (8 * i)
    words.append(last)
    for m in words:
        v3 ^= m
        for _ in range(2):
            v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= p4consts.HSIP_FINAL_XOR
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v1 ^ v3


def key_words(key: int) -> tuple[int, int]:
    """Split a 64-bit key into the (k0, k1) words the data plane is configured with.

    k0 is the low half: the key's bytes are `key.to_bytes(8, "little")`, and HalfSipHash
    reads k0 from bytes 0..3."""
    if not 0 <= key <= 0xFFFFFFFFFFFFFFFF:
        raise CookieError(f"cookie key must be a 64-bit unsigned integer, got {key!r}")
    return key & MASK32, key >> 32


def halfsiphash24_words(key: int, words: Iterable[int]) -> int:
    """HalfSipHash-2-4 over 32-bit message words, as the P4 code computes it."""
    ws = list(words)
    for w in ws:
        if not 0 <= w <= MASK32:
            raise CookieError(f"message word out of 32-bit range: {w!r}")
    return halfsiphash24(key.to_bytes(8, "little"), struct.pack(f"<{len(ws)}I", *ws))


def _check_flow(flow: Flow | Flow6, mask: int, family: str) -> None:
    for name in ("saddr", "daddr"):
        value = getattr(flow, name)
        if not 0 <= value <= mask:
            raise CookieError(f"{name} must be a {family} address, got {value!r}")
    for name in ("sport", "dport"):
        value = getattr(flow, name)
        if not 0 <= value <= 0xFFFF:
            raise CookieError(f"{name} must be a 16-bit port, got {value!r}")


@dataclass(frozen=True)
class Flow:
    """The client side of a TCP connection to a VIP (addresses as 32-bit ints)."""

    saddr: int
    daddr: int
    sport: int
    dport: int

    def __post_init__(self) -> None:
        _check_flow(self, MASK32, "32-bit IPv4")


MASK128 = (1 << 128) - 1


@dataclass(frozen=True)
class Flow6:
    """The client side of a TCP connection to an IPv6 VIP (addresses as 128-bit ints)."""

    saddr: int
    daddr: int
    sport: int
    dport: int

    def __post_init__(self) -> None:
        _check_flow(self, MASK128, "128-bit IPv6")


def address_words(addr: int) -> tuple[int, int, int, int]:
    """An IPv6 address's four 32-bit words, most significant (first on the wire)
    first."""
    return ((addr >> 96) & MASK32, (addr >> 64) & MASK32, (addr >> 32) & MASK32,
            addr & MASK32)


def mss_table(flow: Flow | Flow6) -> tuple[int, ...]:
    """The MSS values the cookie's index stands for, by the flow's family."""
    return MSS_TABLE6 if isinstance(flow, Flow6) else MSS_TABLE


@dataclass(frozen=True)
class CookieOptions:
    """The client's SYN options as the cookie remembers them.

    `mss` is the table value (rounded down), `wscale` is None when the client sent no
    window-scale option."""

    mss: int
    wscale: int | None
    sack_ok: bool
    ts_ok: bool


def mss_index(mss: int | None, table: Sequence[int] = MSS_TABLE) -> int:
    """Index of the largest `table` entry not above `mss` (0 when absent or smaller);
    `MSS_TABLE6` for IPv6 flows."""
    if mss is None:
        return 0
    if not 0 <= mss <= 0xFFFF:
        raise CookieError(f"MSS must be a 16-bit value, got {mss!r}")
    index = 0
    for i, value in enumerate(table):
        if mss >= value:
            index = i
    return index


def encode_options(mss: int | None, wscale: int | None, sack_ok: bool, ts_ok: bool,
                   table: Sequence[int] = MSS_TABLE) -> int:
    """The 8-bit OPTS field for a client's SYN options (raw values as sent);
    `table=MSS_TABLE6` for an IPv6 flow."""
    if wscale is None:
        ws = p4consts.COOKIE_WSCALE_NONE
    elif not 0 <= wscale <= 0xFF:
        raise CookieError(f"window scale must be an 8-bit value, got {wscale!r}")
    else:
        ws = min(wscale, WSCALE_MAX)
    return (mss_index(mss, table) << 6) | (ws << 2) | (int(sack_ok) << 1) | int(ts_ok)


def decode_options(opts: int, table: Sequence[int] = MSS_TABLE) -> CookieOptions:
    """Inverse of encode_options (up to MSS rounding and window-scale clamping)."""
    if not 0 <= opts <= 0xFF:
        raise CookieError(f"OPTS must be 8 bits, got {opts!r}")
    ws = (opts >> 2) & 0xF
    return CookieOptions(
        mss=table[opts >> 6],
        wscale=None if ws == p4consts.COOKIE_WSCALE_NONE else ws,
        sack_ok=bool(opts & 0x2),
        ts_ok=bool(opts & 0x1),
    )


def cookie_words(flow: Flow | Flow6, isn: int, epoch: int, opts: int) -> tuple[int, ...]:
    """The message words the MAC is computed over: m0..m4 for IPv4, eleven for
    IPv6 (both addresses in full, then the same three words)."""
    if not 0 <= isn <= MASK32:
        raise CookieError(f"ISN must be 32 bits, got {isn!r}")
    if not 0 <= opts <= 0xFF:
        raise CookieError(f"OPTS must be 8 bits, got {opts!r}")
    if epoch < 0:
        raise CookieError(f"epoch must be non-negative, got {epoch!r}")
    addresses: tuple[int, ...] = (flow.saddr, flow.daddr)
    if isinstance(flow, Flow6):
        addresses = address_words(flow.saddr) + address_words(flow.daddr)
    return (
        *addresses,
        (flow.sport << 16) | flow.dport,
        isn,
        ((epoch & EPOCH_MASK) << 8) | opts,
    )


def make_cookie(key: int, epoch: int, flow: Flow | Flow6, isn: int, opts: int) -> int:
    """The SYN/ACK sequence number the switch sends for this SYN."""
    mac = halfsiphash24_words(key, cookie_words(flow, isn, epoch, opts))
    return (mac & MAC_MASK) | ((epoch & 1) << 8) | opts


def check_cookie(
    keys: Sequence[tuple[int, int]], flow: Flow | Flow6, isn: int, cookie: int
) -> CookieOptions | None:
    """Decoded options if `cookie` is valid for `flow` and `isn` under one of the
    (key, epoch) pairs in `keys` (the switch holds the current and the previous
    pair), else None. Only pairs whose epoch has the cookie's E bit are tried, as in
    the switch. For a client's ACK, `isn = seq - 1` and `cookie = ack - 1`."""
    if not 0 <= cookie <= MASK32:
        raise CookieError(f"cookie must be 32 bits, got {cookie!r}")
    opts = cookie & OPTS_MASK
    e_bit = (cookie & EPOCH_BIT) >> 8
    for key, epoch in keys:
        if epoch & 1 != e_bit:
            continue
        if make_cookie(key, epoch, flow, isn, opts) == cookie:
            return decode_options(opts, mss_table(flow))
    return None
