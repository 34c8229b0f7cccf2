"""Tests of the SYN-cookie reference (controller/cookie.py).

Run: .venv/bin/python -m pytest -q tests/controller/test_cookie.py
"""

from __future__ import annotations

import random

import pytest

from controller.cookie import (
    MSS_TABLE,
    CookieError,
    CookieOptions,
    Flow,
    check_cookie,
    cookie_words,
    decode_options,
    encode_options,
    halfsiphash24,
    halfsiphash24_words,
    key_words,
    make_cookie,
    mss_index,
)

# HalfSipHash-2-4, 32-bit output: the `vectors_hsip32` table of the reference
# implementation (github.com/veorq/SipHash, vectors.h). Entry i is the output for key
# bytes 00..07 and message bytes 00..(i-1), as 4 output bytes.
HSIP32_VECTORS = """
a9359f5b 27475ab8 fa62a603 8afee704 2a6e4689 c5fab669 5863fc23 8bcf63c5
d0b8848f f806e779 94b07934 08083050 57f0872f 77e663ff d6fff87c 74fe2b97
d9b5ac84 c474645b 465b8d9b 7befe387 e34d1045 613f62b3 70f367fe e6adb8bd
27400c63 26787875 4f567b5f 3ab0e669 b0644000 ff670fb4 509e338b 5d589f1a
fee72112 33753259 6a434f8c fe28b729 e75cc6ec 697e8d54 63688b0f 650b62b4
b6bc1840 5d074505 2442fd2e 7bb7863a 7705d548 d75208b1 b6d499c8 0892202e
69e12ce3 8db580e5 369764c6 016e0204 3b85f3d4 fedb66be 1e692a3a c68984c0
a5c5b940 9be9e88c 7dbc8140 7c078ec5 d4e76c73 428fcbb9 bd83997a 59ea4a74
""".split()

KEY = 0x0123456789ABCDEF
FLOW = Flow(saddr=0x0A000001, daddr=0xC0A80A0A, sport=40000, dport=80)


@pytest.mark.parametrize("length", range(64))
def test_halfsiphash_reference_vectors(length: int) -> None:
    key = bytes(range(8))
    out = halfsiphash24(key, bytes(range(length))).to_bytes(4, "little")
    assert out.hex() == HSIP32_VECTORS[length]


def test_word_interface_matches_byte_interface() -> None:
    # Words 0x03020100, 0x07060504 packed little-endian are message bytes 00..07,
    # and key 0x0706050403020100 is key bytes 00..07: vector 8.
    assert halfsiphash24_words(0x0706050403020100, [0x03020100, 0x07060504]) == int.from_bytes(
        bytes.fromhex(HSIP32_VECTORS[8]), "little"
    )


def test_key_words_split_low_word_first() -> None:
    assert key_words(0x1122334455667788) == (0x55667788, 0x11223344)
    with pytest.raises(CookieError):
        key_words(1 << 64)


def test_mss_index_rounds_down() -> None:
    assert [mss_index(m) for m in (None, 100, 536, 1299, 1300, 1439, 1440, 1459, 1460, 9000)] == [
        0,
        0,
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]


def test_options_round_trip() -> None:
    for idx, mss in enumerate(MSS_TABLE):
        for ws in (None, 0, 7, 14):
            for sack in (False, True):
                for ts in (False, True):
                    opts = encode_options(mss, ws, sack, ts)
                    assert 0 <= opts <= 0xFF
                    assert opts >> 6 == idx
                    assert decode_options(opts) == CookieOptions(mss, ws, sack, ts)


def test_options_layout_bits() -> None:
    # mss_index(2) ++ wscale(4) ++ sack_ok(1) ++ ts_ok(1)
    assert encode_options(1460, 7, True, False) == 0b11_0111_1_0
    assert encode_options(None, None, False, True) == 0b00_1111_0_1
    # Window scale above 14 is clamped (RFC 7323).
    assert decode_options(encode_options(1460, 200, False, False)).wscale == 14


def test_cookie_carries_options_in_low_byte() -> None:
    opts = encode_options(1460, 7, True, True)
    cookie = make_cookie(KEY, 5, FLOW, 123456, opts)
    assert cookie & 0xFF == opts
    assert check_cookie([(KEY, 5)], FLOW, 123456, cookie) == decode_options(opts)


def test_cookie_words_layout() -> None:
    assert cookie_words(FLOW, 0xDEADBEEF, 0x1234567, 0xAB) == (
        0x0A000001,
        0xC0A80A0A,
        (40000 << 16) | 80,
        0xDEADBEEF,
        (0x234567 << 8) | 0xAB,
    )


def test_cookie_is_halfsiphash_of_words() -> None:
    opts = encode_options(536, None, False, False)
    words = cookie_words(FLOW, 1, 9, opts)
    mac = halfsiphash24_words(KEY, words)
    # MAC[31:9] ++ epoch[0] ++ OPTS
    assert make_cookie(KEY, 9, FLOW, 1, opts) == (mac & 0xFFFFFE00) | 0x100 | opts
    assert make_cookie(KEY, 8, FLOW, 1, opts) & 0x100 == 0


def test_previous_epoch_accepted_older_rejected() -> None:
    opts = encode_options(1440, 2, False, True)
    cookie = make_cookie(KEY, 41, FLOW, 777, opts)
    assert check_cookie([(KEY, 42), (KEY, 41)], FLOW, 777, cookie) is not None
    assert check_cookie([(KEY, 43), (KEY, 42)], FLOW, 777, cookie) is None


def test_any_field_change_invalidates() -> None:
    opts = encode_options(1460, 7, True, True)
    cookie = make_cookie(KEY, 3, FLOW, 1000, opts)
    keys = [(KEY, 3)]
    assert (
        check_cookie(keys, Flow(FLOW.saddr + 1, FLOW.daddr, FLOW.sport, FLOW.dport), 1000, cookie)
        is None
    )
    assert (
        check_cookie(keys, Flow(FLOW.saddr, FLOW.daddr, FLOW.sport, FLOW.dport + 1), 1000, cookie)
        is None
    )
    assert check_cookie(keys, FLOW, 1001, cookie) is None
    assert check_cookie([(KEY ^ 1, 3)], FLOW, 1000, cookie) is None
    # Flipping an option bit in the clear part is caught by the MAC.
    assert check_cookie(keys, FLOW, 1000, cookie ^ 0x01) is None
    assert check_cookie(keys, FLOW, 1000, cookie ^ 0x100) is None


def test_random_guesses_rarely_pass() -> None:
    # 2^-23 per guess (23 MAC bits): 20000 random guesses should essentially never pass.
    rng = random.Random(1)
    keys = [(KEY, 10), (KEY, 9)]
    hits = sum(
        check_cookie(keys, FLOW, 5000, rng.getrandbits(32)) is not None for _ in range(20000)
    )
    assert hits == 0


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(CookieError, match="sport"):
        Flow(1, 2, 70000, 80)
    with pytest.raises(CookieError, match="ISN"):
        make_cookie(KEY, 1, FLOW, 1 << 32, 0)
    with pytest.raises(CookieError, match="OPTS"):
        decode_options(256)
    with pytest.raises(CookieError, match="8 bytes"):
        halfsiphash24(b"short", b"")


def test_constants_match_the_p4_program() -> None:
    """The reference and p4src/common/defines.p4 (through the generated module, which
    tests/p4src/test_p4consts.py holds to the program) describe the same layout."""
    from controller import cookie
    from controller import p4consts as consts

    assert tuple(getattr(consts, f"COOKIE_MSS_{i}") for i in range(4)) == cookie.MSS_TABLE
    assert consts.TCP_WSCALE_MAX == cookie.WSCALE_MAX
    assert consts.COOKIE_MAC_MASK == cookie.MAC_MASK
    assert consts.COOKIE_EPOCH_BIT == cookie.EPOCH_BIT
    assert consts.COOKIE_OPTS_MASK == cookie.OPTS_MASK
    # The last HalfSipHash block of the 20-byte message: length in the top byte.
    assert consts.HSIP_COOKIE_LEN_WORD == 20 << 24


def test_epoch_bit_selects_the_pair() -> None:
    opts = encode_options(1460, None, False, False)
    cookie = make_cookie(KEY, 41, FLOW, 777, opts)
    assert cookie & 0x100
    # Same key, an epoch of the same parity as 41 is not "previous": rejected.
    assert check_cookie([(KEY, 43)], FLOW, 777, cookie) is None
    assert check_cookie([(KEY ^ 5, 42), (KEY, 41)], FLOW, 777, cookie) is not None
    # Flipping E makes the checker use the other pair: rejected.
    assert check_cookie([(KEY, 42), (KEY, 41)], FLOW, 777, cookie ^ 0x100) is None


# ----------------------------------------------------------------------------- IPv6 (D13)

import ipaddress  # noqa: E402
import struct  # noqa: E402

from controller.cookie import MSS_TABLE6, Flow6  # noqa: E402

CLIENT6 = int(ipaddress.IPv6Address("2001:db8:1::1"))
VIP6 = int(ipaddress.IPv6Address("2001:db8:f::10"))
FLOW6 = Flow6(saddr=CLIENT6, daddr=VIP6, sport=40000, dport=80)


def test_ipv6_cookie_words_are_the_addresses_in_full() -> None:
    """Eleven words: the two addresses as on the wire (big-endian 32-bit words, the
    first first), then ports, ISN, epoch/OPTS as for IPv4."""
    words = cookie_words(FLOW6, 0xDEADBEEF, 0x1234567, 0xAB)
    wire = ipaddress.IPv6Address(CLIENT6).packed + ipaddress.IPv6Address(VIP6).packed
    assert words[:8] == struct.unpack(">8I", wire)
    assert words[8:] == ((40000 << 16) | 80, 0xDEADBEEF, (0x234567 << 8) | 0xAB)
    mac = halfsiphash24_words(KEY, words)
    assert make_cookie(KEY, 0x1234567, FLOW6, 0xDEADBEEF, 0xAB) == \
        (mac & 0xFFFFFE00) | 0x100 | 0xAB


def test_ipv6_cookie_has_no_fold() -> None:
    """Addresses that any fold of the words (xor, sum) maps to one value, and the
    IPv4 flow whose addresses are the low words, all get different cookies."""
    opts = encode_options(1440, 7, True, True, MSS_TABLE6)
    a = 0x20010DB8_00000001_00000002_00000003
    b = 0x20010DB8_00000002_00000001_00000003   # same words, two swapped
    cookies = {make_cookie(KEY, 5, Flow6(a, VIP6, 1, 80), 9, opts),
               make_cookie(KEY, 5, Flow6(b, VIP6, 1, 80), 9, opts),
               make_cookie(KEY, 5, Flow(a & 0xFFFFFFFF, VIP6 & 0xFFFFFFFF, 1, 80), 9, opts)}
    assert len(cookies) == 3
    for bit in range(128):
        flipped = Flow6(CLIENT6 ^ (1 << bit), VIP6, 40000, 80)
        cookie = make_cookie(KEY, 5, FLOW6, 9, opts)
        assert check_cookie([(KEY, 5)], flipped, 9, cookie) is None


def test_ipv6_mss_table_and_check() -> None:
    """The index stands for MSS_TABLE6 (1220 .. 1440) for an IPv6 flow."""
    assert MSS_TABLE6 == (1220, 1300, 1380, 1440)
    opts = encode_options(1400, None, False, False, MSS_TABLE6)
    assert opts >> 6 == 2
    cookie = make_cookie(KEY, 3, FLOW6, 100, opts)
    decoded = check_cookie([(KEY, 3)], FLOW6, 100, cookie)
    assert decoded is not None and decoded.mss == 1380
    with pytest.raises(CookieError):
        Flow6(saddr=1 << 128, daddr=VIP6, sport=1, dport=2)
