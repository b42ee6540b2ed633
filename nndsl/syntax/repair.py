"""Lexical repairs before parsing, for mistakes an LALR parser cannot undo afterwards.

Each repair replaces characters by others of the same length, so every offset in the repaired
text is still an offset in the original and diagnostics point at what the user wrote.
"""

from __future__ import annotations

import re

from nndsl.diagnostics import Diagnostic, Label
from nndsl.source import SourceFile, Span
from nndsl.syntax.keywords import (
    BODY_STATEMENT_KEYWORDS,
    ITEM_KEYWORDS,
    STATEMENT_KEYWORDS,
    alternation,
)

# A line that can only be the start of a statement: `name =`, `name:`, a keyword, or `}`.
STATEMENT_LINE = re.compile(
    r"[ \t]*(?:"
    + alternation(ITEM_KEYWORDS | STATEMENT_KEYWORDS - BODY_STATEMENT_KEYWORDS)
    + "|"
    + alternation(BODY_STATEMENT_KEYWORDS)
    + r"[^\n]*\{"
    r"|[A-Za-z_]\w*[ \t]*(?:=(?!=)|:)|\}|[A-Za-z_]\w*[ \t]*,[ \t]*[A-Za-z_]\w*[ \t]*(?:=|:))"
)
TRAILING_OPERATOR = re.compile(r"(\|>|==|!=|<=|>=|[-+*/@%<>]|\band|\bor|\bnot)[ \t]*$")
_SINGLE_QUOTED = re.compile(r"'([^'\n\"\\]*)'")
_CODE = re.compile(r'[^"#]*(?:"[^"]*"?[^"#]*)*')


def code_part(line: str) -> str:
    """The line without its comment (a `#` outside double-quoted strings). One regex match:
    code, then strings (a `"` opens one, the next `"` or the line's end closes it)."""
    return line[: _CODE.match(line).end()]  # type: ignore[union-attr]  # always matches


def repair(file: SourceFile) -> tuple[str, list[Diagnostic]]:
    text = file.text
    edits: list[tuple[int, str]] = []  # (offset, replacement character): applied at the end
    diagnostics: list[Diagnostic] = []
    lines = text.split("\n")
    offset = 0
    starts = []
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    for i, line in enumerate(lines):
        code = code_part(line)
        for m in _SINGLE_QUOTED.finditer(code):
            start = starts[i] + m.start()
            end = starts[i] + m.end()
            edits += [(start, '"'), (end - 1, '"')]
            diagnostics.append(
                Diagnostic(
                    "E0002",
                    "unexpected character `'`",
                    Label(Span(start, start + 1), "strings use double quotes"),
                    file,
                    help=f'strings use double quotes: write "{m.group(1)}"',
                )
            )
        trailing = TRAILING_OPERATOR.search(code.rstrip())
        if trailing is None or i + 1 >= len(lines):
            continue
        following = next((j for j in range(i + 1, len(lines)) if code_part(lines[j]).strip()), None)
        if following is None or not STATEMENT_LINE.match(lines[following]):
            continue
        if code.rstrip().endswith(("->",)):
            continue
        start = starts[i] + trailing.start(1)
        end = starts[i] + trailing.end(1)
        edits.extend((k, " ") for k in range(start, end))
        diagnostics.append(
            Diagnostic(
                "E0001",
                f"expected an expression after `{trailing.group(1)}`, found the end of the line",
                Label(Span(start, end), "nothing follows this operator"),
                file,
                help="finish the expression, or remove the operator",
            )
        )
    if not edits:
        return text, diagnostics
    chars = list(text)
    for k, ch in edits:
        chars[k] = ch
    return "".join(chars), diagnostics
