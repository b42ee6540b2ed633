"""The parser's fused LALR loop gives exactly what Lark's own loop gives, on broken text too.

`nndsl.syntax.fastpath.FusedLALR` replaces Lark's `parse_from_state` (lexing and parsing in one
loop, precomputed actions, unit reductions without their callback); these tests compare whole
parses (tree with spans, syntax diagnostics after error recovery) with Lark's loop on mutated
copies of every shipped and golden `.nn` file and on the benchmark's generated file.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from lark import Token

from nndsl.source import Span
from nndsl.syntax import fastpath, parser
from nndsl.syntax.incremental import IncrementalParser
from tests.frontend.mutations import FILES, ROOT, mutate, outcome


def _inner() -> Any:
    return parser.lark_parser().parser.parser.parser  # lark.parsers.lalr_parser._Parser


@contextmanager
def _lark_loop() -> Iterator[None]:
    """Parse with Lark's own `parse_from_state` instead of the fused loop."""
    inner = _inner()
    fused = inner.__dict__.pop("parse_from_state")
    try:
        yield
    finally:
        inner.parse_from_state = fused


def test_the_fused_loop_is_installed() -> None:
    assert isinstance(_inner().parse_from_state.__self__, fastpath.FusedLALR)


def test_the_fused_loop_is_used_on_valid_text() -> None:
    """It parses a valid file to the end itself (Lark's loop would be called otherwise)."""
    fused = _inner().parse_from_state.__self__
    calls: list[object] = []
    original = fused.original

    def counted(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    fused.original = counted
    try:
        result = parser.parse((ROOT / "examples" / "digits_mlp.nn").read_text(), "digits_mlp.nn")
    finally:
        fused.original = original
    assert not result.diagnostics and result.module.items
    assert calls == []


@pytest.mark.parametrize("path", FILES[1::2], ids=lambda p: p.name)
def test_same_parse_as_lark_loop(path: Path) -> None:
    rng = random.Random("fused " + path.name)
    source = path.read_text(encoding="utf-8")
    for text in [source, *(mutate(rng, source) for _ in range(12))]:
        fast = outcome(text)
        with _lark_loop():
            slow = outcome(text)
        assert fast == slow, text


def test_same_tree_on_the_benchmark_file() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from check_speed import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    text = generate(40)
    fast = IncrementalParser().parse(text, "big.nn")
    with _lark_loop():
        slow = IncrementalParser().parse(text, "big.nn")
    assert repr(fast.module) == repr(slow.module)
    assert fast.module == slow.module
    assert len(fast.module.items) > 40


def _reference_bounds(x: Any) -> tuple[int, int] | None:
    """The spans' first definition (generators over `map`), kept to check the faster one."""
    if isinstance(x, Token):
        start = x.start_pos or 0
        return start, x.end_pos if x.end_pos is not None else start + len(x)
    span = getattr(x, "span", None)
    if isinstance(span, Span):
        return span.start, span.end
    if isinstance(x, tuple | list):
        first = next((b for b in map(_reference_bounds, x) if b is not None), None)
        last = next((b for b in map(_reference_bounds, reversed(x)) if b is not None), None)
        if first is not None and last is not None:
            return first[0], last[1]
    return None


def test_rule_spans_as_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lower._span` (called for every rule) gives what the plain definition gives."""
    from nndsl.syntax import lower

    fast = lower._span
    seen: list[int] = []

    def checked(children: list[Any]) -> Any:
        span = fast(children)
        first = next((b for b in map(_reference_bounds, children) if b is not None), None)
        last = next((b for b in map(_reference_bounds, reversed(children)) if b is not None), None)
        if first is None or last is None:
            assert span == Span(0, 0)
        else:
            assert span == Span(first[0], last[1]), children
        seen.append(len(children))
        return span

    monkeypatch.setattr(lower, "_span", checked)
    rng = random.Random("spans")
    for path in FILES:
        source = path.read_text(encoding="utf-8")
        for text in [source, mutate(rng, source), "model m() { x = (a, ) }", "[]"]:
            parser.parse(text, "t.nn")
    assert len(seen) > 1000


# Lexemes where the fused loop's own scanner could part from Lark's: keywords as prefixes of
# names and next to non-ASCII letters, every number form, strings with escapes, comments and
# all whitespace characters between tokens, operators sharing a first character.
_LEXEMES = [
    *("if", "iffy", "on", "one", "or", "order", "not", "nothing", "none", "nonex", "input2"),
    *(
        "_if",
        "data_",
        "train",
        "é",
        "ifé",
        "onλ",
        "x\u0661",
        "if\u0661",
        "true",
        "false",
        "repeat",
        "return",
    ),
    *("0", "12", "1_000", "1_", "1.", "1.5", ".5", "1e5", "1E-3", "2.5e+4", "1e", "1.e2", "..5"),
    *('"s"', '"a\\"b"', '"\\\\"', '"open', "#c", "# x if\n", "\f", "\r\n", "\t", " ", "\n"),
    *("|>", "|", "==", "=", "!=", "!", "<=", "<", ">=", ">", "*", "/", "@", "%", "+", "-"),
    *(":", ",", ".", ";", "(", ")", "[", "]", "{", "}", "$", "'", "\\"),
]


def test_same_parse_as_lark_loop_on_token_soup() -> None:
    rng = random.Random("soup")
    heads = ["", "const X = ", "model M() { y = ", "block B(x: int = ", "train M on d { a = "]
    for _ in range(400):
        body = "".join(rng.choice(_LEXEMES) + rng.choice(["", " ", ""]) for _ in range(12))
        text = rng.choice(heads) + body
        fast = outcome(text)
        with _lark_loop():
            slow = outcome(text)
        assert fast == slow, text


def test_same_parse_as_lark_loop_on_valid_lexeme_mixes() -> None:
    """Valid programs whose every token is a tricky lexeme: the fused loop parses them to the
    end itself, so each token it made is compared."""
    rng = random.Random("valid lexemes")
    atoms = ["iffy", "order", "nonex", "input2", "_if", "data_", "1_000", "1.", ".5", "1e5"]
    atoms += ["2.5e+4", "1E-3", '"a\\"b"', "true", "none", "x"]
    gaps = [" ", "\f", "\t", " # note if\n", "\r\n", "\n\n"]
    for _ in range(150):
        parts = [rng.choice(atoms) for _ in range(rng.randint(1, 6))]
        op = rng.choice(["+", "-", "*", "/", "@", "%", "and", "or"])
        expr = f"{rng.choice(gaps)}{op}{rng.choice(gaps)}".join(parts)
        if rng.random() < 0.3:  # comparisons do not chain: one, between two sums
            expr = f"{expr} {rng.choice(['==', '!=', '<=', '>=', '<', '>'])} {rng.choice(atoms)}"
        text = f"const K{rng.choice(gaps)}={rng.choice(gaps)}{expr}{rng.choice(gaps)}"
        fast = outcome(text)
        assert not fast[1], (text, fast)
        with _lark_loop():
            assert outcome(text) == fast, text


def test_the_scanner_is_the_one_written_for_this_grammar() -> None:
    """A change to the grammar's terminals changes Lark's root pattern; then `fastpath.Scanner` must
    be updated (and `LARK_SCANNER_CRC` with it), or the fused loop is not used at all."""
    root = parser.lark_parser().parser.lexer.inner.root_lexer
    assert fastpath.Scanner.lark_crc(root) == fastpath.LARK_SCANNER_CRC


def _open_brackets_reference(text: str, end: int) -> list[tuple[str, int]]:
    """`open_brackets` as first written (a character loop), kept to check the regex one."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[tuple[str, int]] = []
    i = 0
    while i < end:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
            continue
        if ch == '"':
            close = text.find('"', i + 1)
            i = end if close < 0 else close + 1
            continue
        if ch in pairs:
            stack.append((ch, i))
        elif ch in ")]}" and stack and pairs[stack[-1][0]] == ch:
            stack.pop()
        i += 1
    return stack


def test_open_brackets_as_the_character_loop() -> None:
    rng = random.Random("brackets")
    alphabet = ["(", ")", "[", "]", "{", "}", '"', "#", "\n", "a", " ", "x = f(", "# (\n"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for end in {0, len(text) // 2, len(text), rng.randint(0, len(text))}:
            assert parser.open_brackets(text, end) == _open_brackets_reference(text, end), text
