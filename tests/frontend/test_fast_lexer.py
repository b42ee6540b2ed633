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

from nndsl.syntax import fastpath, parser
from tests.frontend.mutations import FILES, mutate, outcome


@contextmanager
def _lark_lexer() -> Iterator[None]:
    """Parse with Lark's contextual lexer instead of the fast one."""
    frontend: Any = parser.lark_parser().parser
    fast = frontend.lexer
    frontend.lexer = fast.inner
    try:
        yield
    finally:
        frontend.lexer = fast


def test_the_fast_lexer_is_installed() -> None:
    assert isinstance(parser.lark_parser().parser.lexer, fastpath.FastContextualLexer)


@pytest.mark.parametrize("path", FILES[::3], ids=lambda p: p.name)
def test_same_parse_as_lark_lexer(path: Path) -> None:
    rng = random.Random(path.name)
    source = path.read_text(encoding="utf-8")
    for text in [source, *(mutate(rng, source) for _ in range(12))]:
        fast = outcome(text)
        with _lark_lexer():
            slow = outcome(text)
        assert fast == slow, text
