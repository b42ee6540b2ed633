"""Keys for reusing checks across edits, and the memo of block instantiations.

The editor re-checks after every keystroke. A model chaining 165 blocks is re-elaborated
whenever one of them changes; most of its block instances are the same as in the last
analysis. `InstanceMemo` replays such an instance (its nodes, values, names and types) instead
of running its body again. An instance's elaboration is a function of the block's syntax tree
(and those of the definitions it names, transitively), the module's names and constants, the
imported files, the bound arguments, the input types and the call stack; `DefinitionKeys`
turns the first four into a fingerprint. Only instances that reported nothing are recorded, so
a replay never has to reproduce the reporter's de-duplication.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import field, replace

from nndsl.check.builder import Delta, GraphBuilder, Mark, resolve
from nndsl.check.report import Transaction
from nndsl.check.values import DefRef, ModuleScope, Origin, ScalarVal, TensorVal, TupleVal, Value
from nndsl.diagnostics import Diagnostic
from nndsl.ir import Graph
from nndsl.records import record
from nndsl.shapes import TensorType
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TextKey = tuple[int, str, str]  # an item's start, text and doc comment


class DefinitionKeys:
    """What a definition's check can depend on, as a hashable key, for one analysis.

    For a definition of the checked file: its text, position and doc comment and those of
    every definition it names (transitively, by the words of its text), plus the module's
    names and constants and the imported files' texts. A definition of an imported file is
    keyed by its position in that file, whose text is part of every key.
    """

    def __init__(
        self,
        scope: ModuleScope,
        modules: Sequence[ModuleScope],
        memo: InstanceMemo,
    ) -> None:
        self.scope = scope
        self.memo = memo
        text = scope.file.text
        self.texts: dict[int, TextKey] = {}
        self.words: dict[int, frozenset[str]] = {}
        self.defs: dict[str, list[ast.Definition]] = {}
        for item in scope.module.items:
            chunk = text[item.span.start : item.span.end]
            doc = item.doc if isinstance(item, ast.Definition) else ""
            self.texts[id(item)] = (item.span.start, chunk, doc)
            self.words[id(item)] = memo.words_of(chunk)
            if isinstance(item, ast.Definition):
                self.defs.setdefault(item.name.name, []).append(item)
        names = tuple(
            (name, repr(value) if isinstance(value, ScalarVal) else type(value).__name__)
            for name, value in sorted(scope.names.items())
        )
        imported = tuple(sorted((m.file.path, m.file.text) for m in modules if m is not scope))
        self.common = (scope.file.path, names, imported)
        self.common_token = memo.token(self.common)
        self._closures: dict[int, tuple[TextKey, ...]] = {}
        self._definitions: dict[int, int] = {}

    def closure(self, item: ast.Item) -> tuple[TextKey, ...]:
        """The text keys of `item` and of the definitions it names, transitively, with
        positions relative to `item`: an edit above them all moves them together, and what
        they check is then the same, moved (see `Shift`)."""
        cached = self._closures.get(id(item))
        if cached is not None:
            return cached
        seen: dict[int, ast.Item] = {id(item): item}
        todo: list[ast.Item] = [item]
        defs = self.defs
        while todo:
            for word in self.words[id(todo.pop())] & defs.keys():
                for d in defs[word]:
                    if id(d) not in seen:
                        seen[id(d)] = d
                        todo.append(d)
        base = item.span.start
        texts = self.texts
        out = tuple(sorted((texts[i][0] - base, texts[i][1], texts[i][2]) for i in seen))
        self._closures[id(item)] = out
        return out

    def own(self, ref: DefRef) -> int | None:
        """Like `definition`, for the definition's own text only (not what it names)."""
        d = ref.definition
        if ref.module is self.scope:
            if id(d) not in self.texts:
                return None
            return self.memo.token((self.common_token, "own", self.texts[id(d)][1:]))
        return self.definition(ref)

    def definition(self, ref: DefRef) -> int | None:
        """A number standing for the key of a block or model's body and everything it can
        name (equal numbers: equal keys); None when unknown."""
        d = ref.definition
        cached = self._definitions.get(id(d))
        if cached is not None:
            return cached
        if ref.module is self.scope:
            if id(d) not in self.texts:
                return None
            key: object = (self.common_token, self.closure(d))
        else:
            key = (self.common_token, ref.module.file.path, d.span.start, d.span.end)
        token = self.memo.token(key)
        self._definitions[id(d)] = token
        return token


class Shift:
    """Moves the spans of one file by `delta`: a check replayed for a definition that an edit
    above it moved (with everything it names) gives what it gave, moved."""

    def __init__(self, path: str, delta: int) -> None:
        self.path = path
        self.delta = delta

    def span(self, span: Span) -> Span:
        return Span(span.start + self.delta, span.end + self.delta)

    def at(self, file: SourceFile | None, span: Span) -> Span:
        if file is None or file.path != self.path:
            return span
        return Span(span.start + self.delta, span.end + self.delta)

    def origin(self, o: Origin) -> Origin:
        return o if o.file.path != self.path else Origin(o.file, self.span(o.span))

    def diagnostic(self, d: Diagnostic) -> Diagnostic:
        if d.file.path != self.path:
            secondary = tuple(replace(lb, span=self.at(lb.file, lb.span)) for lb in d.secondary)
            return replace(d, secondary=secondary)
        return replace(
            d,
            primary=replace(d.primary, span=self.span(d.primary.span)),
            secondary=tuple(
                replace(lb, span=self.at(lb.file or d.file, lb.span)) for lb in d.secondary
            ),
            fixes=tuple(replace(f, span=self.span(f.span)) for f in d.fixes),
        )

    def hover(
        self, hover: Sequence[tuple[SourceFile, Span, str]]
    ) -> list[tuple[SourceFile, Span, str]]:
        return [(f, self.at(f, s), t) for f, s, t in hover]

    def graph(self, graph: Graph, inputs: bool) -> Graph:
        """`inputs`: the graph's model is in the shifted file (its inputs' spans are)."""
        nodes = []
        for n in graph.nodes:
            if n.file.path == self.path:
                n = copy.copy(n)
                object.__setattr__(n, "span", self.span(n.span))
            nodes.append(n)
        graph_inputs = (
            [replace(i, span=self.span(i.span)) for i in graph.inputs]
            if inputs
            else list(graph.inputs)
        )
        return replace(graph, nodes=nodes, inputs=graph_inputs)


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
                words = frozenset(_WORD.findall(chunk))
            self.used_words[chunk] = words
        return words

    def finish(self) -> None:
        """Keep what this analysis used: the memo follows the current text."""
        self.entries, self.used = self.used, {}
        self.tokens, self.used_tokens = self.used_tokens, {}
        self.words, self.used_words = self.used_words, {}
        self.composites, self.used_composites = self.used_composites, {}


def instance_key(
    definition: object,
    args: dict[str, Value] | None,
    inputs: Sequence[TensorVal],
    stack: tuple[str, ...],
) -> object | None:
    """The key of a concrete instantiation, or None when its arguments are not plain scalars."""
    bound: list[object] = []
    for name, v in (args or {}).items():
        if not isinstance(v, ScalarVal):
            return None
        value = v.value
        shown = repr(value) if isinstance(value, float) else value  # -0.0, 1 == 1.0 == True
        bound.append((name, v.kind, type(value).__name__, shown))
    first: dict[int, int] = {}
    aliases = tuple(first.setdefault(t.value, i) for i, t in enumerate(inputs))
    return (definition, tuple(bound), tuple(t.type for t in inputs), aliases, stack)


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


# == models: replayed around their block calls ==============================================
# A model chaining 165 blocks is re-elaborated when one of them changes, although its own
# statements do the same thing as long as every block call returns the same types. A
# `Composite` records a top-level instantiation as the model's own work (values, nodes, names,
# paths and types, in chunks) between its block calls; a replay redoes the own work from the
# record and each block call for real (most of them replay from the instance memo), and gives
# up (the caller then elaborates afresh) as soon as a call reports something or returns other
# types than recorded.


@record(frozen=True, slots=True)
class _Chunk:
    """The model's own work between two block calls: value ids relative to the chunk's
    first, those it uses from before it (earlier chunks and calls) in `delta.outside`."""

    delta: Delta
    hover: tuple[tuple[SourceFile, Span, str], ...]


@record(frozen=True, slots=True)
class _Call:
    name: str  # looked up in the model's module
    module: str  # the called definition's file
    token: int  # its definition key when recorded
    call_args: tuple[object, ...]
    args: dict[str, Value]  # bound when recorded
    call_span: Span | None
    span: Span
    inputs: tuple[tuple[int, TensorType, Origin], ...]  # old id, type, origin
    outputs: tuple[tuple[int, TensorType], ...] | None  # None: a single tensor, not a tuple
    single: tuple[int, TensorType] | None


@record(frozen=True, slots=True)
class Composite:
    start: int  # the model's start when recorded (spans of its file move with it)
    chunks: tuple[_Chunk, ...]  # one more than calls: chunk, call, chunk, ..., chunk
    starts: tuple[int, ...]  # each chunk's first value id when recorded
    calls: tuple[_Call, ...]
    outputs: tuple[tuple[str, int, TensorVal], ...]


# A builder mark and the hover list's length then.
_Marks = tuple[Mark, int]


class CompositeRecorder:
    """Records a top-level instantiation on a fresh builder (see `Composite`)."""

    def __init__(
        self,
        builder: GraphBuilder,
        hover: list[tuple[SourceFile, Span, str]],
        keys: DefinitionKeys,
        model_start: int,
    ) -> None:
        self.model_start = model_start
        self.builder = builder
        self.hover = hover
        self.keys = keys
        self.ok = True
        self.bounds: list[tuple[_Marks, _Marks]] = []
        self.calls: list[_Call] = []
        self.start = self.mark()  # the hover list already holds other items' types

    def mark(self) -> _Marks:
        return self.builder.mark(), len(self.hover)

    def call(
        self,
        start: _Marks,
        layer: DefRef,
        inputs: Sequence[TensorVal],
        span: Span,
        out: Value,
    ) -> None:
        """A block call of the model's own body, between `start` and now."""
        end = self.mark()
        token = self.keys.definition(layer)
        args = layer.args or {}
        call_args = layer.call_args
        if (
            token is None
            or call_args is None
            or not all(isinstance(getattr(a, "value", None), ScalarVal) for a in call_args)
            or not all(isinstance(v, ScalarVal) for v in args.values())
        ):
            self.ok = False
            return
        single: tuple[int, TensorType] | None = None
        outputs: tuple[tuple[int, TensorType], ...] | None = None
        if isinstance(out, TensorVal):
            single = (out.value, out.type)
        elif isinstance(out, TupleVal):
            outputs = tuple((t.value, t.type) for t in out.items)
        else:
            self.ok = False
            return
        self.bounds.append((start, end))
        self.calls.append(
            _Call(
                layer.definition.name.name,
                layer.module.file.path,
                token,
                call_args,
                dict(args),
                layer.call_span,
                span,
                tuple((t.value, t.type, t.origin) for t in inputs),
                outputs,
                single,
            )
        )

    def finish(self, outputs: list[tuple[str, TensorVal]] | None) -> Composite | None:
        if not self.ok or outputs is None:
            return None
        chunks = []
        edges = [(self.start, self.start), *self.bounds, (self.mark(), self.mark())]
        for (_, (begin, h0)), ((end, h1), _) in itertools.pairwise(edges):
            delta = self.builder.since(begin, end)  # own paths are at the top level (prefix "")
            if delta is None:
                return None
            chunks.append(_Chunk(delta, tuple(self.hover[h0:h1])))
        return Composite(
            self.model_start,
            tuple(chunks),
            tuple(begin.values for (_, (begin, _)), _ in itertools.pairwise(edges)),
            tuple(self.calls),
            tuple((n, t.value, t) for n, t in outputs),
        )
