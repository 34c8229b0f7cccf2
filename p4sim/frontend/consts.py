"""Compile-time arithmetic with P4_16 width semantics.

The checker folds every compile-time known expression into a Python value. Fixed-width
values are kept in their type's range (0..2^W-1 for bit<W>, two's complement range for
int<W>), so every operation ends in `wrap`; unsized `int` values are exact. Keeping this
apart from the checker lets the known answers of the specification be tested directly.
"""

from __future__ import annotations

from .types import BitT


def wrap(value: int, t: BitT) -> int:
    """`value` reduced modulo 2^W and read back with `t`'s signedness."""
    if t.width == 0:
        return 0
    v = value & ((1 << t.width) - 1)
    if t.signed and v >> (t.width - 1):
        v -= 1 << t.width
    return v


def fits(value: int, t: BitT) -> bool:
    """True when `value` is representable in `t` without loss."""
    if t.signed:
        return -(1 << (t.width - 1)) <= value < (1 << (t.width - 1)) if t.width else value == 0
    return 0 <= value < (1 << t.width)


def bits_of(value: int, width: int) -> int:
    """The two's complement bit pattern of `value` on `width` bits (always >= 0)."""
    return value & ((1 << width) - 1) if width else 0


def saturate(value: int, t: BitT) -> int:
    """`value` clamped to `t`'s range (the `|+|` and `|-|` operators)."""
    if t.signed:
        lo, hi = -(1 << (t.width - 1)), (1 << (t.width - 1)) - 1
    else:
        lo, hi = 0, (1 << t.width) - 1
    return max(lo, min(hi, value))


def fold_fixed(op: str, a: int, b: int, t: BitT) -> int:
    """A binary arithmetic/bitwise operator on two values of fixed-width type `t`.

    Division and modulo only reach here for unsigned operands with a non-zero divisor
    (the checker rejects the rest), so Python's floor division is exact."""
    w = t.width
    if op == "+":
        return wrap(a + b, t)
    if op == "-":
        return wrap(a - b, t)
    if op == "*":
        return wrap(a * b, t)
    if op == "/":
        return wrap(a // b, t)
    if op == "%":
        return wrap(a % b, t)
    if op == "|+|":
        return saturate(a + b, t)
    if op == "|-|":
        return saturate(a - b, t)
    if op == "&":
        return wrap(bits_of(a, w) & bits_of(b, w), t)
    if op == "|":
        return wrap(bits_of(a, w) | bits_of(b, w), t)
    if op == "^":
        return wrap(bits_of(a, w) ^ bits_of(b, w), t)
    raise ValueError(f"not a fixed-width operator: {op}")


def fold_shift(op: str, a: int, amount: int, t: BitT | None) -> int:
    """`a << amount` / `a >> amount`. For fixed width, bits shifted out are lost and a
    right shift of int<W> is arithmetic; for `int` (t None) the shift is exact."""
    if op == "<<":
        return a << amount if t is None else wrap(a << amount, t)
    # Python's >> on a negative int is arithmetic, as P4 requires for int<W> and int.
    if t is None or t.signed:
        return a >> amount
    return a >> amount if amount < t.width else 0


def fold_int(op: str, a: int, b: int) -> int:
    """A binary arithmetic/bitwise operator on unsized `int` values (exact). The checker
    has already rejected `/` and `%` on negative operands or a zero divisor."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a // b
    if op == "%":
        return a % b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    raise ValueError(f"not an int operator: {op}")


def concat(a: int, ta: BitT, b: int, tb: BitT) -> int:
    """`a ++ b`: the bits of `a` above the bits of `b`; signedness of the left operand."""
    raw = (bits_of(a, ta.width) << tb.width) | bits_of(b, tb.width)
    return wrap(raw, BitT(ta.width + tb.width, ta.signed))


def slice_bits(a: int, width: int, hi: int, lo: int) -> int:
    """`a[hi:lo]` of a `width`-bit value: an unsigned bit<hi-lo+1>."""
    return (bits_of(a, width) >> lo) & ((1 << (hi - lo + 1)) - 1)
