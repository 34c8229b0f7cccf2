"""Bad input gets a clear P4Error, never a Python crash: mutated programs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from p4sim.frontend import parse, preprocess
from p4sim.frontend.errors import P4Error
from p4sim.frontend.lexer import EOF, tokenize

PROGRAMS = Path(__file__).parent / "programs"


def _mutants(text: str, seed: int, count: int) -> list[str]:
    """Programs with one token deleted, duplicated or swapped with a neighbour."""
    toks, _ = tokenize(text, "m.p4")
    toks = [t for t in toks if t.kind != EOF]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        i = rng.randrange(len(toks) - 1)
        t, u = toks[i], toks[i + 1]
        op = rng.choice(("delete", "duplicate", "swap"))
        if op == "delete":
            out.append(text[: t.start] + " " + text[t.end :])
        elif op == "duplicate":
            out.append(text[: t.end] + " " + t.text + text[t.end :])
        else:
            out.append(text[: t.start] + u.text + " " + t.text + text[u.end :])
    return out


@pytest.mark.parametrize("name", ["basic_fwd.p4", "tcp_options.p4"])
def test_mutated_programs_fail_cleanly(name: str) -> None:
    path = PROGRAMS / name
    text = preprocess(path)
    for i, mutant in enumerate(_mutants(text, seed=len(name), count=100)):
        try:
            parse(mutant, str(path))
        except P4Error as e:
            assert e.loc.line >= 0 and e.message, f"mutant {i}"
        # Anything else (IndexError, AttributeError, RecursionError...) fails the test.


@pytest.mark.parametrize(
    "src",
    [
        "",
        ";;",
        "@",
        "@name(",
        "header",
        "control C(",
        "parser P() { state",
        "const bit<8> X = (((((1;",
        '"unterminated',
        "/* unterminated",
        "const bit<8> X = 1 $ 2;",
        "control C() { apply { x = (bit<8>)(bit<8>)(bit<8>)(bit<8>) + ; } }",
        "extern E<T { }",
        "enum bit<8> E { A }",
        "V1Switch<",
        "table t { }",
    ],
)
def test_truncated_and_odd_inputs(src: str) -> None:
    try:
        parse(src, "odd.p4")
    except P4Error as e:
        assert e.loc.file == "odd.p4"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    n = 5000
    with pytest.raises(P4Error) as ei:
        parse("const bit<8> X = " + "(" * n + "1" + ")" * n + ";", "deep.p4")
    assert "nested too deeply" in ei.value.message
