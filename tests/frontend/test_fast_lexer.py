"""The parser's fast lexer gives exactly what Lark's contextual lexer gives, on broken text too.

The fast path only takes a token the parser state accepts and leaves everything else to Lark's
per-state lexer; these tests compare whole parses (tree and syntax diagnostics) with Lark's own
lexer on mutated copies of every shipped and golden `.nn` file, where the error paths matter.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nndsl.syntax import parser

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/*.nn"), *ROOT.glob("tests/ui/**/*.nn")]
)
PIECES = [*"(){}[],:=.;|>+-*/<!#\"' \n\tab1_", "==", "|>", "1.", "model", "input", "->", "'x'"]


@contextmanager
def _lark_lexer() -> Iterator[None]:
    """Parse with Lark's contextual lexer instead of the fast one."""
    frontend: Any = parser._lark().parser
    fast = frontend.lexer
    frontend.lexer = fast.inner
    try:
        yield
    finally:
        frontend.lexer = fast


def _outcome(text: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    result = parser.parse(text, "t.nn")
    diags = [
        (d.code, d.message, d.primary.span.start, d.primary.span.end) for d in result.diagnostics
    ]
    return repr(result.module), diags


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:i] + rng.choice(PIECES) + text[i:]
        elif op < 0.8:
            text = text[:i] + text[i + rng.randint(1, 3) :]
        else:
            text = text[:i] + rng.choice(PIECES) + text[i + 1 :]
    return text


def test_the_fast_lexer_is_installed() -> None:
    assert isinstance(parser._lark().parser.lexer, parser._FastContextualLexer)


@pytest.mark.parametrize("path", FILES[::3], ids=lambda p: p.name)
def test_same_parse_as_lark_lexer(path: Path) -> None:
    rng = random.Random(path.name)
    source = path.read_text(encoding="utf-8")
    for text in [source, *(_mutate(rng, source) for _ in range(12))]:
        fast = _outcome(text)
        with _lark_lexer():
            slow = _outcome(text)
        assert fast == slow, text
