"""Tokens of P4_16 source that has been through the C preprocessor.

The text the lexer sees is `cpp` output: it carries `# N "file"` line markers,
which the lexer follows so that every token's `Loc` points into the original file
(the main program or the header it was #included from), never into the
preprocessed blob. Comments are normally stripped by `cpp` but are skipped here
too, so that `parse()` also accepts raw text.

Words are all emitted as `ID` tokens; whether a word is a keyword is the parser's
business, because P4 lets several keywords (`key`, `apply`, `state`, `type`,
`priority`, ...) also serve as names. `>` is always a token of its own: the
parser joins two adjacent `>` into a shift (and `>` `=` into `>=`), so that
`register<bit<32>>` closes two type-argument lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Loc, P4Error

ID = "ID"
INT = "INT"
STRING = "STRING"
OP = "OP"
EOF = "EOF"
BAD = "BAD"  # a character that starts no P4 token

# Longest first: maximal munch picks `&&&` over `&&`, `|+|` over `|`.
_PUNCT = [
    "&&&", "|+|", "|-|",
    "..", "++", "<<", "<=", "==", "!=", "&&", "||",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "<", ">", "=", "!", "~", "-", "+", "*", "/", "%", "&", "|", "^",
    "?", ":", ";", ",", ".", "(", ")", "{", "}", "[", "]", "@", "#",
]  # fmt: skip

_PUNCT_RE = re.compile("|".join(re.escape(p) for p in _PUNCT))
_BLANKS_RE = re.compile(r"[ \t\r\f\v]+")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A literal: optional width+signedness prefix, then a number with optional base prefix.
_INT_RE = re.compile(
    r"(?:(?P<width>[0-9][0-9_]*)(?P<ws>[ws]))?"
    r"(?P<num>0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[dD][0-9_]+|[0-9][0-9_]*)"
)
_MARKER_RE = re.compile(r'#\s*(?:line\s+)?(\d+)\s+"((?:[^"\\]|\\.)*)"[^\n]*')
_BARE_MARKER_RE = re.compile(r"#\s*(?:line\s+)?(\d+)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0", "'": "'"}


@dataclass(slots=True)
class Token:
    """One token. `value` is the int value for INT (with `width`/`signed`), the
    unescaped text for STRING. `start`/`end` are offsets in the lexed text: two
    tokens are adjacent when one's `end` equals the next one's `start`."""

    kind: str
    text: str
    loc: Loc
    start: int
    end: int
    value: object = None
    width: int | None = None
    signed: bool = False

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.loc})"


def _int_value(digits: str) -> int:
    d = digits.replace("_", "")
    if len(d) > 1 and d[0] == "0" and d[1] in "xXbBoOdD":
        base = {"x": 16, "b": 2, "o": 8, "d": 10}[d[1].lower()]
        return int(d[2:], base)
    return int(d, 10)


class Lexer:
    """Turns preprocessed text into a list of tokens (see module docstring)."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.file = filename
        self.files: list[str] = []
        self._line = 1
        self._line_start = 0
        self._markers = False

    def _loc(self, pos: int) -> Loc:
        return Loc(self.file, self._line, pos - self._line_start + 1)

    def _seen(self, name: str) -> None:
        if not (name.startswith("<") and name.endswith(">")) and name not in self.files:
            self.files.append(name)

    def _newline(self, pos_after: int) -> None:
        self._line += 1
        self._line_start = pos_after

    def _directive(self, pos: int) -> int:
        """Handle a `#` that starts a line: a line marker moves the location
        counter; `#pragma` is ignored; anything else was left unexpanded."""
        end = self.text.find("\n", pos)
        if end < 0:
            end = len(self.text)
        line = self.text[pos:end]
        m = _MARKER_RE.match(line) or _BARE_MARKER_RE.match(line)
        if m:
            self._markers = True
            if m.lastindex and m.lastindex >= 2:
                self.file = re.sub(r"\\(.)", r"\1", m.group(2))
                self._seen(self.file)
            # The marker names the number of the line that follows it.
            self._line = int(m.group(1)) - 1
            self._line_start = end + 1
            return end
        word = re.match(r"#\s*(\w*)", line)
        name = word.group(1) if word else ""
        if name == "pragma":
            return end
        raise P4Error(
            self._loc(pos),
            f"preprocessor directive '#{name}' left in the source "
            "(run the file through preprocess() first)",
        )

    def tokens(self) -> list[Token]:
        text = self.text
        n = len(text)
        out: list[Token] = []
        pos = 0
        at_line_start = True
        while pos < n:
            c = text[pos]
            if c == "\n":
                pos += 1
                self._newline(pos)
                at_line_start = True
                continue
            if c in " \t\r\f\v":
                m = _BLANKS_RE.match(text, pos)
                pos = m.end() if m else pos + 1
                continue
            if c.isalpha() or c == "_":
                at_line_start = False
                m = _WORD_RE.match(text, pos)
                assert m is not None
                out.append(Token(ID, m.group(0), self._loc(pos), pos, m.end()))
                pos = m.end()
                continue
            if c == "#" and at_line_start:
                pos = self._directive(pos)
                continue
            at_line_start = False
            if text.startswith("//", pos):
                end = text.find("\n", pos)
                pos = n if end < 0 else end
                continue
            if text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                if end < 0:
                    raise P4Error(self._loc(pos), "unterminated comment")
                for i in range(pos, end):
                    if text[i] == "\n":
                        self._newline(i + 1)
                pos = end + 2
                continue
            loc = self._loc(pos)
            if c.isdigit():
                m = _INT_RE.match(text, pos)
                assert m is not None
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] == "_"):
                    bad = _WORD_RE.match(text, end)
                    tail = bad.group(0) if bad else text[end]
                    raise P4Error(loc, f"malformed integer literal '{m.group(0)}{tail}'")
                try:
                    value = _int_value(m.group("num"))
                except ValueError:
                    raise P4Error(loc, f"malformed integer literal '{m.group(0)}'") from None
                width = int(m.group("width").replace("_", "")) if m.group("width") else None
                signed = m.group("ws") == "s"
                out.append(Token(INT, m.group(0), loc, pos, end, value, width, signed))
                pos = end
                continue
            if c == '"':
                pos = self._string(pos, loc, out)
                continue
            m = _PUNCT_RE.match(text, pos)
            if m:
                out.append(Token(OP, m.group(0), loc, pos, m.end()))
                pos = m.end()
                continue
            # Not a P4 token. Free-form annotation bodies may hold anything, so the
            # parser, not the lexer, rejects it where it matters.
            out.append(Token(BAD, c, loc, pos, pos + 1))
            pos += 1
        out.append(Token(EOF, "end of input", self._loc(pos), pos, pos))
        if self._markers:
            _realign_columns(out, self.text)
        return out

    def _string(self, pos: int, loc: Loc, out: list[Token]) -> int:
        text = self.text
        i = pos + 1
        chars: list[str] = []
        while True:
            if i >= len(text):
                raise P4Error(loc, "unterminated string literal")
            ch = text[i]
            if ch == "\n":
                self._newline(i + 1)  # strings may span lines
            if ch == '"':
                break
            if ch == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                chars.append(_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            chars.append(ch)
            i += 1
        out.append(Token(STRING, text[pos : i + 1], loc, pos, i + 1, "".join(chars)))
        return i + 1


def _column_map(out_line: str, orig_line: str) -> list[int] | None:
    """Map each index of a preprocessed line to the index in the original line,
    when the two differ only in blanks (what `cpp` does to lines without macros);
    None when they differ otherwise."""
    cols = [0] * (len(out_line) + 1)
    i = j = 0
    while i < len(out_line) or j < len(orig_line):
        if i < len(out_line) and out_line[i].isspace():
            cols[i] = j
            i += 1
        elif j < len(orig_line) and orig_line[j].isspace():
            j += 1
        elif i < len(out_line) and j < len(orig_line) and out_line[i] == orig_line[j]:
            cols[i] = j
            i += 1
            j += 1
        else:
            return None
    cols[len(out_line)] = j
    return cols


def _realign_columns(tokens: list[Token], text: str) -> None:
    """Give tokens the columns they have in their original source line.

    `cpp` collapses runs of blanks (and turns a tab into a space), so columns in
    its output drift from the file the user wrote. When the original file is
    readable, a line that differs from its original only in blanks is mapped
    character by character; on a line changed by macro expansion, each token is
    looked up left to right in the original line, and one that is not found
    there (it came from the macro) keeps its column in the preprocessed text.
    """
    files: dict[str, list[str] | None] = {}
    key: tuple[str, int] | None = None
    cols: list[int] | None = None
    line_start = cursor = 0
    for tok in tokens:
        if tok.kind == EOF:
            break
        file, line = tok.loc.file, tok.loc.line
        if file not in files:
            try:
                with open(file, encoding="utf-8", errors="replace") as fh:
                    files[file] = fh.read().split("\n")
            except OSError:
                files[file] = None
        lines = files[file]
        if lines is None or not 1 <= line <= len(lines):
            continue
        orig = lines[line - 1].rstrip("\r")
        if key != (file, line):
            key, cursor = (file, line), 0
            line_start = tok.start - tok.loc.col + 1
            end = text.find("\n", tok.start)
            cols = _column_map(text[line_start : len(text) if end < 0 else end], orig)
        offset = tok.start - line_start
        if cols is not None and 0 <= offset < len(cols):
            tok.loc = Loc(file, line, cols[offset] + 1)
            continue
        idx = orig.find(tok.text, cursor)
        if idx >= 0:
            tok.loc = Loc(file, line, idx + 1)
            cursor = idx + len(tok.text)


def tokenize(text: str, filename: str) -> tuple[list[Token], list[str]]:
    """Lex `text` (named `filename` until a line marker says otherwise); returns the
    tokens, ending with an EOF token, and the source files named by line markers."""
    lx = Lexer(text, filename)
    toks = lx.tokens()
    return toks, lx.files or [filename]
