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
    KEYWORDS,
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
# The kinds of STATEMENT_LINE that an expression may also continue on: `repeat` (a pipeline
# stage, `repeat primary stage`) and `name, name =` / `name, name:` (arguments, or parameters).
_REPEAT_LINE = re.compile(r"[ \t]*repeat\b")
_TARGETS_LINE = re.compile(r"[ \t]*[A-Za-z_]\w*[ \t]*,")
_GAP = re.compile(r"(?:\s|#[^\n]*)*")  # what the lexer ignores, line breaks included
_ATOM = re.compile(r'[A-Za-z_]\w*|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|"(?:[^"\\\n]|\\.)*"')
_BRACKET_TOKEN = re.compile(r'#[^\n]*|"(?:[^"\\\n]|\\.)*"?|[()\[\]{}]')
_LITERAL_WORDS = frozenset({"true", "false", "none"})
TRAILING_OPERATOR = re.compile(r"(\|>|==|!=|<=|>=|[-+*/@%<>]|\band|\bor|\bnot)[ \t]*$")
_SINGLE_QUOTED = re.compile(r"'([^'\n\"\\]*)'")
_CODE = re.compile(r'[^"#]*(?:"[^"]*"?[^"#]*)*')


def code_part(line: str) -> str:
    """The line without its comment (a `#` outside double-quoted strings). One regex match:
    code, then strings (a `"` opens one, the next `"` or the line's end closes it)."""
    return line[: _CODE.match(line).end()]  # type: ignore[union-attr]  # always matches


def _skip_gap(text: str, pos: int) -> int:
    return _GAP.match(text, pos).end()  # type: ignore[union-attr]  # always matches


def _after_primary(text: str, pos: int) -> int:
    """The end of the primary expression at `pos` (a name, literal or bracketed group), or -1."""
    if pos < len(text) and text[pos] in "([":
        depth = 0
        for m in _BRACKET_TOKEN.finditer(text, pos):
            ch = m.group()
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    return m.end()
        return -1
    atom = _ATOM.match(text, pos)
    if atom is None or (atom.group() in KEYWORDS and atom.group() not in _LITERAL_WORDS):
        return -1
    return atom.end()


def _repeat_stage(text: str, line_start: int) -> bool:
    """Whether the line at `line_start` starts with `repeat` read as a pipeline stage: the
    count is followed by a name, which no `repeat` statement's count is (`repeat 2 f {` can
    only be a stage, its `{` that of a body around it; `repeat n {` only a statement)."""
    m = _REPEAT_LINE.match(text, line_start)
    if m is None:
        return False
    count = _skip_gap(text, m.end())
    end = _after_primary(text, count)
    if end < 0:
        return False
    stage = _ATOM.match(text, _skip_gap(text, end))
    word = "" if stage is None else stage.group()
    return (word[:1].isalpha() or word[:1] == "_") and word not in KEYWORDS


def _inside_brackets(text: str, at: int) -> bool:
    """Whether `at` is inside `(` or `[` (arguments, parameters, a list), not a body."""
    stack: list[str] = []
    for m in _BRACKET_TOKEN.finditer(text, 0, at):
        ch = m.group()
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}" and stack:
            stack.pop()
    return bool(stack) and stack[-1] != "{"


def _starts_statement(text: str, line_start: int, operator: int) -> bool:
    """Whether the line at `line_start`, the first with code after an operator at
    `operator` that ends its line, starts a statement, so the operator has no operand. A line
    that the expression may go on with is not one: the grammar ignores line breaks, so the
    expression must parse as it does on one line (`A |>` then `repeat 2 f) {`)."""
    if not STATEMENT_LINE.match(text, line_start) or _repeat_stage(text, line_start):
        return False
    if _TARGETS_LINE.match(text, line_start):  # `a, b =`: more arguments inside brackets
        return not _inside_brackets(text, operator)
    return True


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
        start = starts[i] + trailing.start(1)
        if following is None or not _starts_statement(text, starts[following], start):
            continue
        if code.rstrip().endswith(("->",)):
            continue
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
