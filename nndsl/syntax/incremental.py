"""Parsing a file item by item, reusing the trees of items whose text and position are unchanged.

The editor parses the whole document after every keystroke; an edit inside one block of a
2,000-line file should re-parse that block, not the file. The text is cut before every line
that starts at column 0, outside brackets, strings and comments, with a top-level keyword: in a
file without syntax errors every such line starts an item, so each piece is a sequence of whole
items, and LALR parsing (deterministic) gives each item the same tree, spans included, as a
parse of the whole file does. Each piece is parsed on its own (Lark parses a slice of the text,
so offsets stay absolute) and cached by its position and text. Lexical repairs run on the whole
text first, as in `parse`. A piece with a syntax error is parsed again with error recovery on
its own (`parser.parse_region`), which gives exactly what the whole file's parse gives for it
unless the recovery reaches the piece's end; then, and only then, the whole file is parsed.
`isolated` says whether every item's tree depended on its own text only (the checker reuses
item checks keyed by that text).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from lark import UnexpectedInput
from lark.exceptions import LarkError
from lark.utils import TextSlice

from nndsl.diagnostics import Diagnostic
from nndsl.limits import MAX_SOURCE_CHARS
from nndsl.records import set_frozen_field
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.keywords import ITEM_KEYWORDS, alternation
from nndsl.syntax.nesting import too_deep
from nndsl.syntax.parser import ParseResult, doc_comment, lark_parser, parse, parse_region
from nndsl.syntax.repair import code_part, repair

_ITEM_KEYWORD = alternation(ITEM_KEYWORDS)  # what starts the line of an item
_ITEM_LINE = re.compile(_ITEM_KEYWORD)


# What `item_starts` must look at: comments and strings (skipped), brackets, and line starts
# with a top-level keyword. An unterminated string ends at its line, as the lexer reports it.
_SCAN = re.compile(r'#[^\n]*|"[^"\n]*"?|[(\[{]|[)\]}]|\n(?=' + _ITEM_KEYWORD + ")")


def item_starts(text: str) -> list[int]:
    """Offsets of the lines that start an item: a top-level keyword at column 0, outside
    brackets, strings and comments."""
    starts: list[int] = [0] if _ITEM_LINE.match(text) else []
    _scan(text, 0, starts, None)
    return starts


def _scan(text: str, pos: int, starts: list[int], stop: Callable[[int], bool] | None) -> int:
    """Append the starts after `pos` (itself a start, or 0) to `starts`; return the length of
    the text, or the first start at which `stop` says the rest is known."""
    depth = 0
    for m in _SCAN.finditer(text, pos):
        at = m.start()
        ch = text[at]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "\n" and depth == 0:
            if stop is not None and stop(at + 1):
                return at + 1
            starts.append(at + 1)
    return len(text)


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # binary search on slice equality: compared in C
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def item_starts_after_edit(old: str, old_starts: list[int], text: str) -> list[int]:
    """`item_starts(text)`, from those of `old`: starts before the edit are kept, the text is
    scanned from the last of them until a start after the edit that `old` had too (the scanner
    is then in the same state, at column 0 outside brackets, over the same text), and the
    rest are those of `old`, moved by the edit's length change."""
    prefix = _common_prefix(old, text)
    limit = min(len(old), len(text)) - prefix
    suffix = _common_prefix(old[::-1][:limit], text[::-1][:limit]) if limit > 0 else 0
    delta = len(text) - len(old)
    edit_end = len(text) - suffix  # the new text differs from `old` in [prefix, edit_end)
    # A start is known up to 8 characters before the edit (a keyword and its `\b`).
    kept = [s for s in old_starts if s + 8 < prefix]
    starts = list(kept)
    if not kept and _ITEM_LINE.match(text):
        starts.append(0)
    known = set(old_starts)

    def resync(at: int) -> bool:
        return at >= edit_end + 1 and (at - delta) in known

    at = _scan(text, kept[-1] if kept else 0, starts, resync)
    if at < len(text):
        starts.append(at)
        starts.extend(s + delta for s in old_starts if s > at - delta)
    return starts


# What a line's code may end with for `repair` to change it (a superset: `and` also ends
# `band`, and a line with a `#` is cut at its comment exactly as `repair` cuts it).
_OPERATOR_ENDS = ("|>", "=", "<", ">", "-", "+", "*", "/", "@", "%", "and", "or", "not")


def _may_repair(text: str) -> bool:
    """Whether `repair` may change `text`: it has a single quote, or a line whose code ends
    with an operator. Much cheaper than `repair` on a file that needs none."""
    if "'" in text:
        return True
    for line in text.split("\n"):
        if "#" in line:
            line = code_part(line)
        if line.rstrip().endswith(_OPERATOR_ENDS):
            return True
    return False


_ITEM_LINE_START = re.compile(r"\n(?=" + _ITEM_KEYWORD + ")")


def _item_lines(text: str, start: int, end: int) -> list[int]:
    """The starts of the lines in `text[start:end]`, after its first, that begin with a
    top-level keyword, inside brackets or not (no valid item has such a line)."""
    return [m.end() for m in _ITEM_LINE_START.finditer(text, start, end) if m.end() < end]


def _repair_crosses(text: str, end: int) -> bool:
    """Whether a lexical repair ending at `end` (an operator at the end of a line, blanked
    because the next line with code starts a statement) looked at a line that starts an
    item: then the piece's tree depends on the next piece. (A quote repair looks at its own
    line only; erring on the safe side costs reuse, never correctness.)"""
    at = text.find("\n", end)
    while at >= 0:
        line_end = text.find("\n", at + 1)
        line = text[at + 1 : len(text) if line_end < 0 else line_end]
        if code_part(line).strip():
            return _ITEM_LINE.match(line) is not None
        at = line_end
    return False


class IncrementalParser:
    """`parse`, with a cache of item trees per file; the results equal `parse(text, path)`."""

    def __init__(self) -> None:
        self._pieces: dict[str, dict[tuple[int, str], tuple[ast.Item, ...]]] = {}
        # Per file: whether the last parse's item trees each depend on their own text and
        # position only (no syntax error, or each recovered within its item, and no lexical
        # repair that looked at another item): the checker's memos are keyed so.
        self.isolated: dict[str, bool] = {}
        # The last result per file: the editor parses the same text for its index and then
        # for its check.
        self._last: dict[str, tuple[str, ParseResult]] = {}
        self._starts: dict[str, tuple[str, list[int]]] = {}  # the last text's item starts

    def parse(self, text: str, path: str = "<input>") -> ParseResult:
        last = self._last.get(path)
        if last is not None and last[0] == text:
            return last[1]
        result = self._parse(text, path)
        self._last[path] = (text, result)
        return result

    def _parse(self, text: str, path: str) -> ParseResult:
        if len(text) > MAX_SOURCE_CHARS:
            self.isolated[path] = False
            return parse(text, path)
        file = SourceFile(path, text)
        repaired = text
        diagnostics: list[Diagnostic] = []
        isolated = True
        if _may_repair(text):
            repaired, diagnostics = repair(file)
            isolated = not any(_repair_crosses(text, d.primary.span.end) for d in diagnostics)
        previous = self._starts.get(path)
        if previous is not None:
            starts = item_starts_after_edit(previous[0], previous[1], repaired)
        else:
            starts = item_starts(repaired)
        self._starts[path] = (repaired, starts)
        bounds = [0, *starts, len(repaired)]
        old = self._pieces.get(path, {})
        moved = {chunk: (at, piece) for (at, chunk), piece in old.items()}
        new: dict[tuple[int, str], tuple[ast.Item, ...]] = {}
        items: list[ast.Item] = []
        todo = [(a, b) for a, b in itertools.pairwise(bounds) if a != b][::-1]  # a stack
        spent, budget = 0, len(repaired) + 20_000  # characters re-parsed by recoveries
        while todo:
            start, end = todo.pop()
            key = (start, repaired[start:end])
            piece = old.get(key)
            if piece is None and key[1] in moved:  # the same text, shifted by an edit above
                at, tree = moved[key[1]]
                piece = tuple(ast.shifted(item, start - at) for item in tree)
            if piece is None:
                piece = self._parse_piece(file, repaired, start, end)
            if piece is not None:
                new[key] = piece
                items.extend(piece)
                continue
            # A syntax error: recovered as `parse` recovers it, in the shortest region from
            # `start` to a line that starts an item (an unclosed bracket no longer hides
            # those lines from `item_starts`: the rest of the piece is parsed as pieces again).
            cuts = _item_lines(repaired, start, end)
            region = None
            for stop in (*cuts, end):
                spent += stop - start  # each try re-parses from `start`: quadratic unbounded
                if spent > budget:
                    break
                region = parse_region(file, repaired, start, stop, diagnostics)
                if region is not None:
                    break
            if region is None:  # the recovery depends on what follows, or it cost too much
                self._pieces[path] = new
                self.isolated[path] = False
                return parse(text, path)
            piece, found = region
            diagnostics.extend(found)
            items.extend(piece)
            rest = [c for c in cuts if c > stop]
            todo.extend(list(itertools.pairwise([stop, *rest, end]))[::-1])
        self._pieces[path] = new
        self.isolated[path] = isolated
        for item in items:
            if isinstance(item, ast.Definition):
                doc = doc_comment(text, item.span.start)  # the `##` lines above may have changed
                if item.doc != doc:
                    set_frozen_field(item, "doc", doc)
        span = Span(items[0].span.start, items[-1].span.end) if items else Span(0, 0)
        return ParseResult(file, ast.Module(tuple(items), span), diagnostics)

    def _parse_piece(
        self, file: SourceFile, text: str, start: int, end: int
    ) -> tuple[ast.Item, ...] | None:
        """The items of `text[start:end]`, or None when it has a syntax error."""
        try:
            # No recovery: a piece with an error falls back to `parse_region`.
            parsed = lark_parser().parse(TextSlice(text, start, end))
        except (UnexpectedInput, LarkError, RecursionError):
            return None
        if not isinstance(parsed, ast.Module):
            return None
        if any(too_deep(item) is not None for item in parsed.items):
            return None  # cut by `parse_region` (or the whole file's parse), with its E0811
        return parsed.items
