"""Collecting diagnostics while checking, with dedup and "did you mean" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Set as AbstractSet

from nndsl.diagnostics import Diagnostic, Fix, Label, Severity
from nndsl.source import SourceFile, Span

# A problem's identity: code, file, primary span and message.
Key = tuple[str, str, int, int, str]


class Reporter:
    """Appends diagnostics; the same problem found twice (two instantiations) is kept once.

    What a part of the check reported can be taken back: `begin()` opens a `Transaction`."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[Key] = set()
        self._attempts = 0  # problems found, kept or not: a memoized check must have found none
        self._dropped: list[Key] = []  # found again, so not kept

    @property
    def seen(self) -> AbstractSet[Key]:
        """The problems said so far (a problem found again is dropped)."""
        return self._seen

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
        traceback: str | None = None,
    ) -> None:
        self._attempts += 1
        key = (code, file.path, span.start, span.end, message)
        if key in self._seen:
            self._dropped.append(key)
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
                traceback,
            )
        )

    def parsed(self, diagnostics: Iterable[Diagnostic]) -> None:
        """The parser's diagnostics, kept as they are (a file is parsed once per analysis)."""
        self.diagnostics.extend(diagnostics)

    def replayed(self, d: Diagnostic) -> None:
        """A diagnostic a memoized check said before: said again, as the check would."""
        self._seen.add(key_of(d))
        self.diagnostics.append(d)

    def begin(self) -> Transaction:
        return Transaction(self)


def key_of(d: Diagnostic) -> Key:
    return (d.code, d.file.path, d.primary.span.start, d.primary.span.end, d.message)


class Transaction:
    """What the reporter was told from `Reporter.begin()` on: kept (`commit`) or taken back as
    if never found (`rollback`), e.g. by a memo replay that gave up half-way."""

    def __init__(self, rep: Reporter) -> None:
        self._rep = rep
        self._diagnostics = len(rep.diagnostics)
        self._seen = len(rep._seen)
        self._dropped = len(rep._dropped)
        self._attempts = rep._attempts

    @property
    def quiet(self) -> bool:
        """Whether nothing was found since, kept or dropped as a repeat."""
        return self._rep._attempts == self._attempts

    @property
    def added(self) -> list[Diagnostic]:
        return self._rep.diagnostics[self._diagnostics :]

    @property
    def all_new(self) -> bool:
        """Whether every diagnostic added since is one the reporter had not said before (the
        parser's are not checked for repeats)."""
        return len(self._rep._seen) - self._seen == len(self._rep.diagnostics) - self._diagnostics

    @property
    def found(self) -> list[Key]:
        """Every problem found since: those kept, then those dropped as repeats."""
        return [key_of(d) for d in self.added] + self._rep._dropped[self._dropped :]

    def commit(self) -> list[Diagnostic]:
        """Keep what was reported since; returns the diagnostics added."""
        return self.added

    def rollback(self) -> None:
        rep = self._rep
        for d in rep.diagnostics[self._diagnostics :]:
            rep._seen.discard(key_of(d))
        del rep.diagnostics[self._diagnostics :]
        del rep._dropped[self._dropped :]
        rep._attempts = self._attempts


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
