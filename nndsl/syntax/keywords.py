"""The language's keywords, read once from the grammar so no list of them can drift from it.

Every other list (the parser's messages and fused scanner, the lexical repairs, the item
scanner of the incremental parser, the terminal lexer, the editor grammars) is built from these
sets or checked against them (`tests/frontend/test_keywords.py`). Reading the grammar's text
costs far less than building Lark's parser, so the terminal lexer can import this at start-up.
"""

from __future__ import annotations

import re

from nndsl.resources import grammar_path

_LITERAL = re.compile(r'"([a-z]+)"')
# `foo_item: "kw" ...` / `foo_stmt: "kw" ...`: the keyword that starts an item or a statement.
_FIRST = re.compile(r'^(\w+)_(item|stmt):\s*"([a-z]+)"([^\n]*)', re.MULTILINE)


def _grammar() -> str:
    text = grammar_path().read_text(encoding="utf-8")
    return re.sub(r"//[^\n]*", "", text)  # comments: their quotes are no literals


def _derive() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    text = _grammar()
    keywords = frozenset(_LITERAL.findall(text))
    items = frozenset(kw for _, kind, kw, _ in _FIRST.findall(text) if kind == "item")
    statements = frozenset(kw for _, kind, kw, _ in _FIRST.findall(text) if kind == "stmt")
    bodies = frozenset(
        kw for _, kind, kw, rest in _FIRST.findall(text) if kind == "stmt" and "body" in rest
    )
    return keywords, items, statements, bodies


KEYWORDS: frozenset[str]
"""Every keyword: a word the lexer never reads as a name."""
ITEM_KEYWORDS: frozenset[str]
"""The keywords that start a top-level item (`model`, `import`, ...)."""
STATEMENT_KEYWORDS: frozenset[str]
"""The keywords that start a statement inside a body (`input`, `if`, ...)."""
BODY_STATEMENT_KEYWORDS: frozenset[str]
"""The statement keywords followed by a braced body on their line (`if`, `repeat`): the word
alone does not start a statement (`repeat` is also a pipeline stage)."""
KEYWORDS, ITEM_KEYWORDS, STATEMENT_KEYWORDS, BODY_STATEMENT_KEYWORDS = _derive()


def alternation(words: frozenset[str]) -> str:
    """A regex group matching any of `words` as a whole word (sorted: a stable pattern)."""
    return "(?:" + "|".join(sorted(words)) + r")\b"
