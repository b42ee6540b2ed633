"""Parsing a file item by item, reusing the trees of items whose text and position are unchanged.

The editor parses the whole document after every keystroke; an edit inside one block of a
2,000-line file should re-parse that block, not the file. The text is cut before every line
that starts at column 0, outside brackets, strings and comments, with a top-level keyword: in a
file without syntax errors every such line starts an item, so each piece is a sequence of whole
items, and LALR parsing (deterministic) gives each item the same tree, spans included, as a
parse of the whole file does. Each piece is parsed on its own (Lark parses a slice of the text,
so offsets stay absolute) and cached by its position and text. When any piece has a syntax
error, or the lexical repairs fire, the whole file is parsed as before: recovery may depend on
the text around an error, and the diagnostics must be exactly those of a full parse.
"""

from __future__ import annotations

import itertools
import re

from lark import UnexpectedInput
from lark.exceptions import LarkError
from lark.utils import TextSlice

from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.parser import ParseResult, _attach_docs, _lark, parse
from nndsl.syntax.repair import repair

_ITEM_LINE = re.compile(r"(?:import|const|block|model|data|train)\b")


def item_starts(text: str) -> list[int]:
    """Offsets of the lines that start an item: a top-level keyword at column 0, outside
    brackets, strings and comments."""
    starts: list[int] = []
    depth = 0
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        ch = text[i]
        if at_line_start and depth == 0 and _ITEM_LINE.match(text, i):
            starts.append(i)
        at_line_start = False
        if ch == "\n":
            at_line_start = True
        elif ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif ch == '"':
            close = text.find('"', i + 1)
            nl = text.find("\n", i + 1)
            if close < 0 or (0 <= nl < close):
                i = n if nl < 0 else nl  # unterminated: the lexer reports it; stop at the line
                continue
            i = close + 1
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    return starts


class IncrementalParser:
    """`parse`, with a cache of item trees per file; the results equal `parse(text, path)`."""

    def __init__(self) -> None:
        self._pieces: dict[str, dict[tuple[int, str], tuple[ast.Item, ...]]] = {}

    def parse(self, text: str, path: str = "<input>") -> ParseResult:
        file = SourceFile(path, text)
        repaired, repairs = repair(file)
        if repairs:
            return parse(text, path)
        bounds = [0, *item_starts(repaired), len(repaired)]
        old = self._pieces.get(path, {})
        new: dict[tuple[int, str], tuple[ast.Item, ...]] = {}
        items: list[ast.Item] = []
        for start, end in itertools.pairwise(bounds):
            if start == end:
                continue
            key = (start, repaired[start:end])
            piece = old.get(key)
            if piece is None:
                piece = self._parse_piece(file, repaired, start, end)
                if piece is None:
                    self._pieces[path] = {}
                    return parse(text, path)
            new[key] = piece
            items.extend(piece)
        self._pieces[path] = new
        for item in items:
            if isinstance(item, ast.Definition) and item.doc:
                object.__setattr__(item, "doc", "")  # the `##` lines above may have changed
        span = Span(items[0].span.start, items[-1].span.end) if items else Span(0, 0)
        module = ast.Module(tuple(items), span)
        _attach_docs(file, module)
        return ParseResult(file, module, [])

    def _parse_piece(
        self, file: SourceFile, text: str, start: int, end: int
    ) -> tuple[ast.Item, ...] | None:
        """The items of `text[start:end]`, or None when it has a syntax error."""
        try:
            parsed = _lark().parse(TextSlice(text, start, end))  # no recovery: errors fall back
        except (UnexpectedInput, LarkError, RecursionError):
            return None
        return parsed.items if isinstance(parsed, ast.Module) else None
