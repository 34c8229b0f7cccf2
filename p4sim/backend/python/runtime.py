"""Support code the generated per-packet Python calls into.

Generated code builds one class per header/struct/union type (see `codegen`); what is
shared by all programs lives here: the packet cursor of the parser, the byte sink of
the deparser, header stacks, and the exceptions that carry `exit`, parser errors and
assertion failures out of deeply nested generated code.
"""

from __future__ import annotations

from typing import Any


class ParserReject(Exception):  # a control-flow signal, not an error
    """Leaves the parser: `code` is the error to record (None keeps the current one)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


class ExitSignal(Exception):
    """`exit`: ends the enclosing top-level control."""


class DropSignal(Exception):
    """A failed `assert`/`assume`, or a fault the pipeline treats as a drop."""


class Absent:
    """Stands for an object the P4Info does not have (p4c leaves out what the program
    never uses). Using it is a packet fault, not a load error."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise DropSignal(f"{self._what} is not in the P4Info")


class NeverMade:
    """Stands in for an aggregate member that was never built (struct and union
    members are built on first access, see `typegen`): a header that was never
    built is invalid, so hot paths that only ask whether it is valid (deparser,
    field lists, `isValid()`) read `(agg.__dict__.get(name) or NEVER_MADE).valid`
    instead of building a header per member per packet just to find it invalid."""

    __slots__ = ()
    valid = False


NEVER_MADE = NeverMade()


class PacketIn:
    """The parser's view of the packet: bytes and a cursor counted in bits."""

    __slots__ = ("data", "pos", "nbits", "too_short")

    def __init__(self, data: bytes, too_short: int) -> None:
        self.data = data
        self.pos = 0
        self.nbits = len(data) * 8
        self.too_short = too_short  # the numeric value of error.PacketTooShort

    def take(self, width: int) -> int:
        """Read `width` bits and advance, or reject with PacketTooShort."""
        pos = self.pos
        end = pos + width
        if end > self.nbits:
            raise ParserReject(self.too_short)
        self.pos = end
        if not (pos & 7 or end & 7):  # byte-aligned: the common case, inlined
            return int.from_bytes(self.data[pos >> 3 : end >> 3], "big")
        return self._bits(pos, end)

    def peek(self, width: int) -> int:
        pos = self.pos
        end = pos + width
        if end > self.nbits:
            raise ParserReject(self.too_short)
        if not (pos & 7 or end & 7):
            return int.from_bytes(self.data[pos >> 3 : end >> 3], "big")
        return self._bits(pos, end)

    def advance(self, width: int) -> None:
        end = self.pos + width
        if end > self.nbits:
            raise ParserReject(self.too_short)
        self.pos = end

    def _bits(self, pos: int, end: int) -> int:
        if not (pos & 7 or end & 7):
            return int.from_bytes(self.data[pos >> 3 : end >> 3], "big")
        first = pos >> 3
        last = (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        chunk >>= (last << 3) - end
        return chunk & ((1 << (end - pos)) - 1)

    def remaining(self) -> bytes:
        """The unparsed tail (from the byte holding the cursor)."""
        return self.data[self.pos >> 3 :]

    def length_bits(self) -> int:
        return self.nbits


class PacketOut:
    """The deparser's sink: whole-byte headers are appended as bytes; headers that do
    not end on a byte boundary are gathered in a bit accumulator until they do."""

    __slots__ = ("buf", "acc", "accbits")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.acc = 0
        self.accbits = 0

    def put(self, value: int, width: int) -> None:
        if not self.accbits and not width & 7:
            self.buf += value.to_bytes(width >> 3, "big")
            return
        self.acc = (self.acc << width) | value
        self.accbits += width
        if not self.accbits & 7:
            self.buf += self.acc.to_bytes(self.accbits >> 3, "big")
            self.acc = 0
            self.accbits = 0

    def finish(self) -> bytes:
        if self.accbits:
            pad = (-self.accbits) % 8
            self.buf += (self.acc << pad).to_bytes((self.accbits + pad) >> 3, "big")
            self.acc = 0
            self.accbits = 0
        return bytes(self.buf)


class Stack:
    """A header stack: fixed `elems`, and `next_index` (the spec's nextIndex)."""

    __slots__ = ("elems", "next_index")

    def __init__(self, elems: list[Any]) -> None:
        self.elems = elems
        self.next_index = 0

    def copy(self) -> Stack:
        out = Stack([e.copy() for e in self.elems])
        out.next_index = self.next_index
        return out

    def assign(self, other: Stack) -> None:
        for mine, theirs in zip(self.elems, other.elems, strict=True):
            mine.assign(theirs)
        self.next_index = other.next_index

    def eq(self, other: Stack) -> bool:
        return all(a.eq(b) for a, b in zip(self.elems, other.elems, strict=True))

    def push_front(self, count: int) -> None:
        """Shift elements up by `count`; the first `count` become invalid."""
        elems = self.elems
        size = len(elems)
        for i in range(size - 1, -1, -1):
            if i >= count:
                elems[i].assign(elems[i - count])
            else:
                elems[i].invalidate()
        self.next_index = min(size, self.next_index + count)

    def pop_front(self, count: int) -> None:
        """Shift elements down by `count`; the last `count` become invalid."""
        elems = self.elems
        size = len(elems)
        for i in range(size):
            if i + count < size:
                elems[i].assign(elems[i + count])
            else:
                elems[i].invalidate()
        self.next_index = max(0, self.next_index - count)

    def invalidate(self) -> None:
        for e in self.elems:
            e.invalidate()
        self.next_index = 0


def stack_next(stack: Stack, oob: int) -> Any:
    """`stack.next` in a parser: the element at nextIndex, or StackOutOfBounds."""
    i = stack.next_index
    if i >= len(stack.elems):
        raise ParserReject(oob)
    return stack.elems[i]


def stack_last(stack: Stack, oob: int) -> Any:
    i = stack.next_index
    if i == 0:
        raise ParserReject(oob)
    return stack.elems[i - 1]


def stack_at(stack: Stack, index: int) -> Any:
    """`stack[i]` with a run-time index; out of range is a packet fault (bmv2 errors)."""
    if not 0 <= index < len(stack.elems):
        raise DropSignal(f"header stack index {index} out of range")
    return stack.elems[index]


def stack_at_parser(stack: Stack, index: int, oob: int) -> Any:
    """`stack[i]` in a parser: out of range is the StackOutOfBounds parser error."""
    if not 0 <= index < len(stack.elems):
        raise ParserReject(oob)
    return stack.elems[index]


def div(a: int, b: int) -> int:
    """Unsigned `/`; division by zero yields 0 instead of a crash."""
    return a // b if b else 0


def mod(a: int, b: int) -> int:
    return a % b if b else 0


def shl(a: int, b: int, width: int) -> int:
    """`a << b` kept to `width` bits; shifting by `width` or more gives 0."""
    if b >= width:
        return 0
    return (a << b) & ((1 << width) - 1)


def shl_signed(a: int, b: int, width: int) -> int:
    if b >= width:
        return 0
    half = 1 << (width - 1)
    return (((a << b) + half) & ((1 << width) - 1)) - half
