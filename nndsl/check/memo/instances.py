"""The memo of block instantiations.

The editor re-checks after every keystroke. A model chaining many blocks is re-elaborated
whenever one of them changes; most of its block instances are the same as in the last
analysis. `InstanceMemo` replays such an instance (its nodes, values, names and types) instead
of running its body again, keyed by `keys.instance_key`. Only instances that reported nothing
are recorded, so a replay never has to reproduce the reporter's de-duplication.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import field, replace

from nndsl.check.builder import Delta, GraphBuilder, resolve
from nndsl.check.memo.keys import WORD, Shift
from nndsl.check.memo.models import Composite
from nndsl.check.report import Reporter, Transaction
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

    def get_or_instantiate(
        self,
        key: object,
        site: Site,
        path: str,
        start: int,
        rep: Reporter,
        instantiate: Callable[[bool], list[tuple[str, TensorVal]] | None],
    ) -> list[tuple[str, TensorVal]] | None:
        """The outputs of the instance `key` at `site`: replayed when recorded (moved when its
        definition, which starts at `start` in the file `path`, has), else
        `instantiate(True)`, recorded when it reported nothing and can be replayed."""
        hit = self.entries.get(key) or self.used.get(key)
        if hit is not None:
            self.hits += 1
            self.used[key] = hit
            shift = None if hit.start == start else Shift(path, start - hit.start)
            return replay(hit, site, shift)
        self.misses += 1
        recording = Recording(site, rep.begin(), start)
        outs = instantiate(True)
        recorded = recording.finish(outs)
        if recorded is not None:
            self.used[key] = recorded
        return outs

    def finish(self) -> None:
        """Keep what this analysis used: the memo follows the current text."""
        self.entries, self.used = self.used, {}
        self.tokens, self.used_tokens = self.used_tokens, {}
        self.words, self.used_words = self.used_words, {}
        self.composites, self.used_composites = self.used_composites, {}


@record(frozen=True, slots=True)
class Site:
    """Where an instance is elaborated or replayed: the caller's builder and hover list, the
    loaded files (by path, their current texts), the input tensors, its path and scope."""

    builder: GraphBuilder
    hover: list[tuple[SourceFile, Span, str]]
    files: dict[str, SourceFile]
    inputs: Sequence[TensorVal]
    path: str
    scope: tuple[str, ...]


class Recording:
    """The builder and reporter state at the start of an instance, to record what it adds."""

    def __init__(self, site: Site, reports: Transaction, start: int) -> None:
        self.site = site
        self.start = start
        self.mark = site.builder.mark()
        self.hover0 = len(site.hover)
        self.reports = reports

    def finish(self, outputs: list[tuple[str, TensorVal]] | None) -> _Instance | None:
        """What the instance added, relative to it; None when it cannot be replayed (it
        found a problem, or used what it was not given)."""
        if outputs is None or not self.reports.quiet:
            return None
        site = self.site
        inputs = [t.value for t in site.inputs]
        delta = site.builder.since(self.mark, inputs=inputs, prefix=site.path, scope=site.scope)
        if delta is None:
            return None
        v0 = self.mark.values
        index = {vid: -1 - i for i, vid in reversed(list(enumerate(inputs)))}
        outs = []
        for n, t in outputs:
            r = t.value - v0 if t.value >= v0 else index.get(t.value)
            if r is None:
                return None
            outs.append((n, r, t))
        return _Instance(self.start, delta, tuple(outs), tuple(site.hover[self.hover0 :]))


def replay(rec: _Instance, site: Site, shift: Shift | None = None) -> list[tuple[str, TensorVal]]:
    """Add a recorded instance at `site`, as a fresh elaboration would (with `shift`: for its
    definition moved since)."""
    ins = [t.value for t in site.inputs]
    files = site.files
    move = None if shift is None else shift.at
    v0 = site.builder.append(
        rec.delta, ins, prefix=site.path, scope=site.scope, files=files, move=move
    )
    if shift is None:
        site.hover.extend((files.get(f.path, f), s, t) for f, s, t in rec.hover)
        outputs = rec.outputs
    else:
        site.hover.extend((files.get(f.path, f), s, t) for f, s, t in shift.hover(rec.hover))
        outputs = tuple(
            (name, r, replace(t, origin=shift.origin(t.origin))) for name, r, t in rec.outputs
        )
    return [(name, TensorVal(resolve(r, v0, ins), t.type, t.origin)) for name, r, t in outputs]
