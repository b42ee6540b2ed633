"""Plain-text rendering of diagnostics in the rustc/Elm style.

Rendering yields styled segments so the CLI can colour them with rich while tests and pipes get
deterministic plain text from the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nndsl.diagnostics.model import Diagnostic, Label
from nndsl.records import record
from nndsl.source import SourceFile

Segment = tuple[str, str]  # (text, style name); style "" = plain


@record(frozen=True, slots=True)
class _Mark:
    line: int
    col_start: int  # 1-based, inclusive
    col_end: int  # exclusive
    text: str
    primary: bool


def _marks(file: SourceFile, label: Label, primary: bool) -> _Mark:
    start = file.position(label.span.start)
    end_offset = max(label.span.end, label.span.start)
    end = file.position(end_offset)
    if end.line != start.line:
        # Multi-line spans are underlined to the end of their first line.
        end_col = len(file.line_text(start.line)) + 1
    else:
        end_col = end.column
    end_col = max(end_col, start.column + 1)
    return _Mark(start.line, start.column, end_col, label.text, primary)


MAX_LINE = 400  # source columns shown in a frame: a longer line is clipped around the caret
MAX_TEXT = 2000  # characters of a message, label, note or help: a 1 MB name is clipped


def _clip(src: str, col: int) -> tuple[str, int]:
    """`src` cut to `MAX_LINE` columns around the 1-based column `col`, marked with `...`,
    and how many columns the marks move left. Output stays small whatever the line's length.
    """
    if len(src) <= MAX_LINE:
        return src, 0
    lo = min(max(col - 1 - MAX_LINE // 3, 0), len(src) - MAX_LINE)
    hi = lo + MAX_LINE
    head = "..." if lo > 0 else ""
    tail = "..." if hi < len(src) else ""
    return head + src[lo:hi] + tail, lo - len(head)


def _short(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    half = MAX_TEXT // 2
    return f"{text[:half]} ... {text[-half:]}"


def render_segments(diag: Diagnostic) -> Iterator[Segment]:
    sev = diag.severity.value
    yield (f"{sev}[{diag.code}]", sev)
    yield (f": {_short(diag.message)}\n", "bold")
    file = diag.file
    marks = [_marks(file, diag.primary, True)]
    other_files: list[Label] = []
    for lab in diag.secondary:
        if lab.file is None or lab.file.path == file.path:
            marks.append(_marks(file, lab, False))
        else:
            other_files.append(lab)
    lines = sorted({m.line for m in marks})
    width = len(str(lines[-1]))
    pad = " " * width
    yield (f"{pad}--> ", "gutter")
    yield (f"{diag.location()}\n", "")
    yield (f"{pad} |\n", "gutter")
    previous = None
    for line in lines:
        if previous is not None and line > previous + 1:
            yield ("...\n", "gutter")
        previous = line
        line_marks = sorted(
            (m for m in marks if m.line == line), key=lambda m: (not m.primary, m.col_start)
        )
        src, shift = _clip(file.line_text(line).replace("\t", " "), line_marks[0].col_start)
        yield (f"{line:>{width}} | ", "gutter")
        yield (f"{src}\n", "")
        for mark in line_marks:
            yield (f"{pad} | ", "gutter")
            start = max(mark.col_start - shift, 1)
            end = min(max(mark.col_end - shift, start + 1), len(src) + 2)
            under = ("^" if mark.primary else "-") * (end - start)
            text = f" {_short(mark.text)}" if mark.text else ""
            yield (
                " " * (start - 1) + under + text + "\n",
                sev if mark.primary else "secondary",
            )
    for lab in other_files:
        assert lab.file is not None
        pos = lab.file.position(lab.span.start)
        yield (f"{pad} = ", "gutter")
        yield (f"note: {_short(lab.text)} ({lab.file.path}:{pos.line}:{pos.column})\n", "")
    for note in diag.notes:
        yield (f"{pad} = ", "gutter")
        yield (f"note: {_short(note)}\n", "")
    if diag.help:
        yield (f"{pad} = ", "gutter")
        yield ("help", "help")
        yield (f": {_short(diag.help)}\n", "")


def render_plain(diagnostics: Iterable[Diagnostic]) -> str:
    parts: list[str] = []
    for diag in diagnostics:
        parts.append("".join(text for text, _ in render_segments(diag)))
    return "\n".join(parts)
