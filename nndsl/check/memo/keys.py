"""What a check can depend on, as keys, and moving a replayed check's spans by an edit.

An item's or instance's elaboration is a function of the definition's syntax tree (and those
of the definitions it names, transitively), the module's names and constants, the imported
files, the bound arguments, the input types and the call stack; `DefinitionKeys` turns the
first four into a number, `instance_key` adds the rest.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nndsl.check.values import DefRef, ModuleScope, Origin, ScalarVal, TensorVal, Value
from nndsl.diagnostics import Diagnostic
from nndsl.ir import Graph
from nndsl.records import set_frozen_field
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast

if TYPE_CHECKING:
    from nndsl.check.memo.instances import InstanceMemo

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
                set_frozen_field(n, "span", self.span(n.span))  # a copy nothing else holds yet
            nodes.append(n)
        graph_inputs = (
            [replace(i, span=self.span(i.span)) for i in graph.inputs]
            if inputs
            else list(graph.inputs)
        )
        return replace(graph, nodes=nodes, inputs=graph_inputs)


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
