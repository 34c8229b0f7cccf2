"""Tokens of P4_16 source that has been through the C preprocessor.

The text the lexer sees is `cpp` output: it carries `# N "file"` line markers,
which the lexer follows so that every token's `Loc` points into the original file
(the main program or the header it was #included from), never into the
preprocessed blob. Comments (kept by `cpp -C`, as the reference compiler runs
it) are skipped, so `parse()` accepts raw text as well.

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

# One alternation picks the kind of the next lexeme; `lastgroup` names it.
_MASTER_RE = re.compile(
    r"[ \t\r\f\v\ufeff]*(?:"
    r"(?P<nl>\n)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<digit>[0-9])"
    r"|(?P<lcomment>//[^\n]*)"
    r"|(?P<bcomment>/\*)"
    r'|(?P<str>")'
    r"|(?P<hash>\#)"
    r"|(?P<punct>" + "|".join(re.escape(p) for p in _PUNCT if p != "#") + ")"
    r"|(?P<end>$))"
)
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
        self._pending: list[Token] = []  # tokens produced by a directive

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
        counter; `#pragma` turns into an annotation; anything else was left
        unexpanded."""
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
        if name == "pragma" and word is not None:
            # As the reference compiler does, `#pragma name body` becomes the
            # annotation `@pragma name body` (the parser reads it to the line's end).
            at = self._loc(pos)
            self._pending.append(Token(OP, "@", at, pos, pos))
            start = pos + word.start(1)
            self._pending.append(Token(ID, "pragma", self._loc(start), start, pos + word.end(1)))
            return pos + word.end(1)
        raise P4Error(
            self._loc(pos),
            f"preprocessor directive '#{name}' left in the source "
            "(run the file through preprocess() first)",
        )

    def tokens(self) -> list[Token]:
        text = self.text
        n = len(text)
        out: list[Token] = []
        append = out.append
        match = _MASTER_RE.match
        pos = 0
        at_line_start = True
        while pos < n:
            m = match(text, pos)
            if m is None:
                kind = None  # blanks, then a character that starts no token
                while text[pos] in _BLANKS:
                    pos += 1
            else:
                kind = m.lastgroup
                pos = m.start(kind)  # type: ignore[arg-type]
            if kind == "end":
                break
            if kind == "nl":
                pos += 1
                self._line += 1
                self._line_start = pos
                at_line_start = True
                continue
            if kind == "word":
                end = m.end()  # type: ignore[union-attr]
                loc = Loc(self.file, self._line, pos - self._line_start + 1)
                append(Token(ID, text[pos:end], loc, pos, end))
                at_line_start = False
                pos = end
                continue
            if kind == "hash" and at_line_start:
                pos = self._directive(pos)
                out.extend(self._pending)
                self._pending.clear()
                at_line_start = False
                continue
            at_line_start = False
            if kind == "lcomment":
                pos = m.end()  # type: ignore[union-attr]
                continue
            if kind == "bcomment":
                end = text.find("*/", pos + 2)
                if end < 0:
                    raise P4Error(self._loc(pos), "unterminated comment")
                newlines = text.count("\n", pos, end)
                if newlines:
                    self._line += newlines
                    self._line_start = text.rfind("\n", pos, end) + 1
                pos = end + 2
                continue
            loc = self._loc(pos)
            if kind == "digit":
                pos = self._int(pos, loc, out)
            elif kind == "str":
                pos = self._string(pos, loc, out)
            elif kind in ("punct", "hash"):
                end = m.end()  # type: ignore[union-attr]
                append(Token(OP, text[pos:end], loc, pos, end))
                pos = end
            else:
                # Not a P4 token. Free-form annotation bodies may hold anything, so
                # the parser, not the lexer, rejects it where it matters.
                append(Token(BAD, text[pos], loc, pos, pos + 1))
                pos += 1
        out.append(Token(EOF, "end of input", self._loc(pos), pos, pos))
        if self._markers:
            _realign_columns(out, self.text)
        return out

    def _int(self, pos: int, loc: Loc, out: list[Token]) -> int:
        text = self.text
        m = _INT_RE.match(text, pos)
        assert m is not None
        end = m.end()
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            bad = _WORD_RE.match(text, end)
            tail = bad.group(0) if bad else text[end]
            raise P4Error(loc, f"malformed integer literal '{m.group(0)}{tail}'")
        try:
            value = _int_value(m.group("num"))
        except ValueError:
            raise P4Error(loc, f"malformed integer literal '{m.group(0)}'") from None
        width = int(m.group("width").replace("_", "")) if m.group("width") else None
        out.append(Token(INT, m.group(0), loc, pos, end, value, width, m.group("ws") == "s"))
        return end

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


_BLANKS = " \t\r\f\v\ufeff"
_RUN_RE = re.compile(r"\S+")


def _column_map(out_line: str, orig_line: str) -> list[int] | None:
    """Map each index of a preprocessed line to the index in the original line,
    when the two differ only in blanks (what `cpp` does to lines without macros);
    None when they differ otherwise."""
    out_runs = [(m.start(), m.group()) for m in _RUN_RE.finditer(out_line)]
    orig_runs = [(m.start(), m.group()) for m in _RUN_RE.finditer(orig_line)]
    if [r for _, r in out_runs] != [r for _, r in orig_runs]:
        return None
    cols = list(range(len(out_line) + 1))
    for (o, run), (g, _) in zip(out_runs, orig_runs, strict=True):
        cols[o : o + len(run)] = range(g, g + len(run))
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
    orig: str | None = None
    identity = False
    line_start = cursor = 0
    for tok in tokens:
        loc = tok.loc
        if (loc.file, loc.line) != key:
            key = (loc.file, loc.line)
            cursor = 0
            lines = files.get(loc.file, ())
            if lines == ():
                lines = files[loc.file] = _read_lines(loc.file)
            if lines is None or not 1 <= loc.line <= len(lines):
                orig = None
                continue
            orig = lines[loc.line - 1]
            line_start = tok.start - loc.col + 1
            end = text.find("\n", tok.start)
            out_line = text[line_start : len(text) if end < 0 else end]
            identity = out_line == orig
            cols = None if identity else _column_map(out_line, orig)
        if orig is None or identity or tok.kind == EOF:
            continue
        if cols is not None:
            offset = tok.start - line_start
            if 0 <= offset < len(cols):
                tok.loc = Loc(loc.file, loc.line, cols[offset] + 1)
            continue
        idx = orig.find(tok.text, cursor)
        if idx >= 0:
            tok.loc = Loc(loc.file, loc.line, idx + 1)
            cursor = idx + len(tok.text)


def _read_lines(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\r") for line in fh.read().split("\n")]
    except OSError:
        return None


def tokenize(text: str, filename: str) -> tuple[list[Token], list[str]]:
    """Lex `text` (named `filename` until a line marker says otherwise); returns the
    tokens, ending with an EOF token, and the source files named by line markers."""
    lx = Lexer(text, filename)
    toks = lx.tokens()
    return toks, lx.files or [filename]
