"""Collecting diagnostics while checking, with dedup and "did you mean" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from nndsl.diagnostics import Diagnostic, Fix, Label, Severity
from nndsl.source import SourceFile, Span


class Reporter:
    """Appends diagnostics; the same problem found twice (two instantiations) is kept once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple[str, str, int, int, str]] = set()
        self.muted = 0  # >0 while speculatively checking a branch we may discard
        self.attempts = 0  # problems found, kept or not: a memoized check must have found none
        self.dropped: list[tuple[str, str, int, int, str]] = []  # found again, so not kept

    def error(
        self,
        code: str,
        message: str,
        file: SourceFile,
        span: Span,
        label: str = "",
        *,
        secondary: Iterable[Label] = (),
        notes: Iterable[str] = (),
        help: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.attempts += 1
        if self.muted:
            return
        key = (code, file.path, span.start, span.end, message)
        if key in self._seen:
            self.dropped.append(key)
            return
        self._seen.add(key)
        fixes = _fixes(help, file, span)
        self.diagnostics.append(
            Diagnostic(
                code,
                message,
                Label(span, label),
                file,
                severity,
                tuple(secondary),
                tuple(notes),
                None if help is None else str(help),
                fixes,
            )
        )


class Suggestion(str):
    """A "did you mean" help text that also knows the misspelled name and the candidates, so
    the diagnostic can carry them as machine-applicable fixes (editor quick fixes)."""

    original: str
    names: tuple[str, ...]

    def __new__(cls, text: str, original: str, names: tuple[str, ...]) -> Suggestion:
        self = super().__new__(cls, text)
        self.original = original
        self.names = names
        return self


def _fixes(help: str | None, file: SourceFile, span: Span) -> tuple[Fix, ...]:
    """One fix per suggested name, replacing the misspelled name inside the primary span."""
    if not isinstance(help, Suggestion):
        return ()
    at = file.text.find(help.original, span.start, max(span.end, span.start + len(help.original)))
    if at < 0:
        return ()
    where = Span(at, at + len(help.original))
    return tuple(Fix(where, name) for name in help.names)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    pool = [c for c in set(candidates) if not c.startswith("<")]
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered and lowered[name.lower()] != name:
        only = lowered[name.lower()]
        return Suggestion(f"did you mean `{only}`?", name, (only,))
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    if not close:
        close = [
            lowered[c]
            for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        ]
    if not close:
        return None
    if len(close) == 1:
        return Suggestion(f"did you mean `{close[0]}`?", name, (close[0],))
    text = "did you mean " + ", ".join(f"`{c}`" for c in close[:-1]) + f" or `{close[-1]}`?"
    return Suggestion(text, name, tuple(close))
