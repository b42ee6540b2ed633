"""The memo of block instantiations.

The editor re-checks after every keystroke. A model chaining many blocks is re-elaborated
whenever one of them changes; most of its block instances are the same as in the last
analysis. `InstanceMemo` replays such an instance (its nodes, values, names and types) instead
of running its body again, keyed by `keys.instance_key`. Only instances that reported nothing
are recorded, so a replay never has to reproduce the reporter's de-duplication.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, replace

from nndsl.check.builder import Delta, GraphBuilder, resolve
from nndsl.check.memo.keys import WORD, Shift
from nndsl.check.memo.models import Composite
from nndsl.check.report import Transaction
from nndsl.check.values import TensorVal
from nndsl.records import record
from nndsl.source import SourceFile, Span


@record(frozen=True, slots=True)
class _Instance:
    start: int  # the definition's start when recorded (spans of its file move with it)
    delta: Delta  # what it added, relative to its path and scope; outside: its inputs
    outputs: tuple[tuple[str, int, TensorVal], ...]  # name, relative id, recorded value
    hover: tuple[tuple[SourceFile, Span, str], ...]


@record
class InstanceMemo:
    """Recorded block instances, by key; `finish` keeps those the last analysis used."""

    entries: dict[object, _Instance] = field(default_factory=dict)
    used: dict[object, _Instance] = field(default_factory=dict)
    # Each distinct definition key gets a number, never reused: instance keys hold it, so
    # they hash and compare in constant time.
    tokens: dict[object, int] = field(default_factory=dict)
    used_tokens: dict[object, int] = field(default_factory=dict)
    next_token: int = 0
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    used_words: dict[str, frozenset[str]] = field(default_factory=dict)
    composites: dict[object, Composite] = field(default_factory=dict)
    used_composites: dict[object, Composite] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def token(self, key: object) -> int:
        token = self.used_tokens.get(key)
        if token is None:
            token = self.tokens.get(key)
            if token is None:
                self.next_token += 1
                token = self.next_token
            self.used_tokens[key] = token
        return token

    def words_of(self, chunk: str) -> frozenset[str]:
        """The words of an item's text (cached: most items are unchanged by an edit)."""
        words = self.used_words.get(chunk)
        if words is None:
            words = self.words.get(chunk)
            if words is None:
                words = frozenset(WORD.findall(chunk))
            self.used_words[chunk] = words
        return words

    def finish(self) -> None:
        """Keep what this analysis used: the memo follows the current text."""
        self.entries, self.used = self.used, {}
        self.tokens, self.used_tokens = self.used_tokens, {}
        self.words, self.used_words = self.used_words, {}
        self.composites, self.used_composites = self.used_composites, {}


class Recording:
    """The builder and elaborator state at the start of an instance, to record what it adds."""

    def __init__(
        self,
        builder: GraphBuilder,
        hover: list[tuple[SourceFile, Span, str]],
        reports: Transaction,
        path: str,
        scope: tuple[str, ...],
        inputs: Sequence[TensorVal],
        start: int,
    ) -> None:
        self.start = start
        self.mark = builder.mark()
        self.hover0 = len(hover)
        self.reports = reports
        self.path = path
        self.scope = scope
        self.inputs = [t.value for t in inputs]

    def finish(
        self,
        builder: GraphBuilder,
        hover: list[tuple[SourceFile, Span, str]],
        outputs: list[tuple[str, TensorVal]] | None,
    ) -> _Instance | None:
        """What the instance added, relative to it; None when it cannot be replayed (it
        found a problem, or used what it was not given)."""
        if outputs is None or not self.reports.quiet:
            return None
        delta = builder.since(self.mark, inputs=self.inputs, prefix=self.path, scope=self.scope)
        if delta is None:
            return None
        v0 = self.mark.values
        index = {vid: -1 - i for i, vid in reversed(list(enumerate(self.inputs)))}
        outs = []
        for n, t in outputs:
            r = t.value - v0 if t.value >= v0 else index.get(t.value)
            if r is None:
                return None
            outs.append((n, r, t))
        return _Instance(self.start, delta, tuple(outs), tuple(hover[self.hover0 :]))


def replay(
    rec: _Instance,
    builder: GraphBuilder,
    hover: list[tuple[SourceFile, Span, str]],
    files: dict[str, SourceFile],
    inputs: Sequence[TensorVal],
    path: str,
    scope: tuple[str, ...],
    shift: Shift | None = None,
) -> list[tuple[str, TensorVal]]:
    """Add a recorded instance to `builder` at `path`, as a fresh elaboration would (with
    `shift`: for its definition moved since)."""
    ins = [t.value for t in inputs]
    move = None if shift is None else shift.at
    v0 = builder.append(rec.delta, ins, prefix=path, scope=scope, files=files, move=move)
    if shift is None:
        hover.extend((files.get(f.path, f), s, t) for f, s, t in rec.hover)
        outputs = rec.outputs
    else:
        hover.extend((files.get(f.path, f), s, t) for f, s, t in shift.hover(rec.hover))
        outputs = tuple(
            (name, r, replace(t, origin=shift.origin(t.origin))) for name, r, t in rec.outputs
        )
    return [(name, TensorVal(resolve(r, v0, ins), t.type, t.origin)) for name, r, t in outputs]
