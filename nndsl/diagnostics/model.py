"""The diagnostic record: code, severity, spans with labels, notes and a help line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from enum import Enum

from nndsl.records import record
from nndsl.source import SourceFile, Span


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@record(frozen=True, slots=True)
class Label:
    """A span with a short text; `file` is set when the span lies in another file."""

    span: Span
    text: str = ""
    file: SourceFile | None = None


@record(frozen=True, slots=True)
class Fix:
    """A machine-applicable suggestion: replace `span` (in the diagnostic's file) with `text`.

    Editors offer it as a quick fix; the plain-text renderer ignores it (the `help` says it).
    """

    span: Span
    text: str


@record(frozen=True)
class Diagnostic:
    code: str
    message: str
    primary: Label
    file: SourceFile
    severity: Severity = Severity.ERROR
    secondary: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None
    fixes: tuple[Fix, ...] = ()
    internal_traceback: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file.path, self.primary.span.start, self.primary.span.end, self.code)

    def location(self) -> str:
        pos = self.file.position(self.primary.span.start)
        return f"{self.file.path}:{pos.line}:{pos.column}"


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
