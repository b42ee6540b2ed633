"""The parser's API: `.nn` text to a syntax tree with spans and syntax diagnostics, never raising.

Lark's LALR parser (built once, cached, with the fast path of `nndsl.syntax.fastpath` where
it applies) parses the text after the lexical repairs of `nndsl.syntax.repair`; errors are
recovered by `nndsl.syntax.recovery` and put in words by `nndsl.syntax.messages`.
"""

from __future__ import annotations

from dataclasses import field
from functools import cache

from lark import Lark, UnexpectedInput
from lark.exceptions import LarkError
from lark.utils import TextSlice

from nndsl.diagnostics import Diagnostic, Label
from nndsl.limits import MAX_SOURCE_CHARS
from nndsl.records import record, set_frozen_field
from nndsl.resources import grammar_path
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast, fastpath
from nndsl.syntax.lower import ToAst
from nndsl.syntax.nesting import limit_nesting, too_deep
from nndsl.syntax.recovery import Recovery, open_brackets
from nndsl.syntax.repair import repair

__all__ = [
    "SYNTAX_CODES",
    "ParseResult",
    "doc_comment",
    "lark_parser",
    "open_brackets",
    "parse",
    "parse_region",
]

# The codes of syntax errors: the parser and its lexical repairs report these, nothing else does.
SYNTAX_CODES = frozenset({"E0001", "E0002", "E0003"})


@cache
def lark_parser() -> Lark:
    """The LALR parser of the grammar, lowering to `nndsl.syntax.ast` as it parses."""
    lark = Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        keep_all_tokens=True,
        maybe_placeholders=True,
        cache=True,
        transformer=ToAst(),
    )
    fastpath.install(lark)
    return lark


@record
class ParseResult:
    file: SourceFile
    module: ast.Module
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse(text: str, path: str = "<input>") -> ParseResult:
    """Parse `.nn` text; never raises for bad input. Recovered trees contain `<missing>` names."""
    file = SourceFile(path, text)
    if len(text) > MAX_SOURCE_CHARS:
        return ParseResult(file, ast.Module((), Span(0, 0)), [_too_large(file)])
    repaired, repairs = repair(file)
    recovery = Recovery(file, lark_parser())
    recovery.diagnostics.extend(repairs)
    try:
        parsed: object = lark_parser().parse(repaired, on_error=recovery)
        if not isinstance(parsed, ast.Module):
            raise LarkError("the parse produced no module")
        module = parsed
    except (UnexpectedInput, LarkError, RecursionError):
        if not recovery.diagnostics:
            recovery.diagnostics.append(
                Diagnostic(
                    "E0001",
                    "the parser could not recover from the errors above",
                    Label(Span(0, 0)),
                    file,
                )
            )
        module = ast.Module((), Span(0, len(text)))
    module, deep = limit_nesting(file, module)
    recovery.diagnostics.extend(deep)
    _attach_docs(file, module)
    return ParseResult(file, module, recovery.diagnostics)


def _too_large(file: SourceFile) -> Diagnostic:
    return Diagnostic(
        "E0810",
        f"this source has {len(file.text):,} characters, over the limit of {MAX_SOURCE_CHARS:,}",
        Label(Span(0, 0), "nothing of it is parsed"),
        file,
        help="split the file, or move data into a data file",
    )


def parse_region(
    file: SourceFile, repaired: str, start: int, end: int, before: list[Diagnostic]
) -> tuple[tuple[ast.Item, ...], list[Diagnostic]] | None:
    """The items of `repaired[start:end]` and their syntax diagnostics, exactly as `parse`
    gives them for that region, when the whole file's parser is between two items at
    `start` and at `end` (the editor's item pieces: `nndsl.syntax.incremental`); `before`
    are the diagnostics `parse` has reported before `start` (lexical repairs, earlier
    regions: they count towards `recovery.MAX_SYNTAX_ERRORS`).

    The parser's state at an item boundary is the same wherever it is, and recovery reads no
    text past the line after an error and, before the region, only the brackets left open,
    so a region with no bracket open before it whose errors are all recovered before its end
    parses as in the whole file. None when that does not hold: a bracket open before
    `start`, an error at the region's end (there `parse` would see the next item, here the
    end of the input), or a recovery that gave up."""
    if open_brackets(file.text, start):  # recovery reads brackets left open before `start`
        return None
    recovery = Recovery(file, lark_parser())
    recovery.diagnostics.extend(before)
    try:
        parsed: object = lark_parser().parse(TextSlice(repaired, start, end), on_error=recovery)
    except (UnexpectedInput, LarkError, RecursionError):
        return None
    if recovery.met_end or not isinstance(parsed, ast.Module):
        return None
    if any(too_deep(item) is not None for item in parsed.items):
        return None  # cut as the whole file's parse cuts it
    return parsed.items, recovery.diagnostics[len(before) :]


def doc_comment(text: str, start: int) -> str:
    """The `##` comment lines right above the line of `start`: a definition's documentation."""
    line_start = text.rfind("\n", 0, start) + 1
    doc: list[str] = []
    while line_start > 0:
        prev = text.rfind("\n", 0, line_start - 1) + 1
        line = text[prev : line_start - 1].strip()
        if not line.startswith("##"):
            break
        doc.append(line[2:].strip())
        line_start = prev
    return "\n".join(reversed(doc))


def _attach_docs(file: SourceFile, module: ast.Module) -> None:
    for item in module.items:
        if isinstance(item, ast.Definition):
            doc = doc_comment(file.text, item.span.start)
            if doc:
                set_frozen_field(item, "doc", doc)
