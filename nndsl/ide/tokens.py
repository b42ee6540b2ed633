"""Semantic tokens: a lexical scan of the whole text, identifiers classified by the index.

The scan covers every character, so comments, strings, numbers and keywords are highlighted
even inside a region the parser had to skip; identifiers take their class from the symbol
index (block, tensor, parameter, ...) where the tree reached them, else from the op table.
"""

from __future__ import annotations

import re

from nndsl.ide.index import DTYPES, PARAM_TYPES, Token
from nndsl.ide.model import SemanticToken
from nndsl.ops import OpKind, lookup
from nndsl.syntax import KEYWORDS

_LEXEME = re.compile(
    r"""(?P<comment>\#[^\n]*)
      | (?P<string>"[^"\\\n]*(?:\\.[^"\\\n]*)*"?)
      | (?P<number>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<operator>\|>)
    """,
    re.VERBOSE,
)


def semantic_tokens(text: str, classified: list[Token]) -> list[SemanticToken]:
    """Tokens in text order; `classified` are the index's identifier tokens."""
    by_start = {t.span.start: t for t in classified}
    out: list[SemanticToken] = []
    for m in _LEXEME.finditer(text):
        group = m.lastgroup
        start, end = m.start(), m.end()
        if group == "name":
            word = m.group()
            known = by_start.get(start)
            if known is not None and known.span.end == end:
                out.append(SemanticToken(start, end - start, known.kind, known.modifiers))
                continue
            kind = _fallback(word)
            if kind is not None:
                out.append(SemanticToken(start, end - start, kind[0], kind[1]))
        elif group is not None:
            out.append(SemanticToken(start, end - start, group))
    return out


def _fallback(word: str) -> tuple[str, tuple[str, ...]] | None:
    if word in KEYWORDS:
        return "keyword", ()
    if word in DTYPES or word in PARAM_TYPES:
        return "type", ()
    spec = lookup(word)
    if spec is not None and spec.kind is not OpKind.OPERATOR:
        return "function", ("defaultLibrary",)
    return None
