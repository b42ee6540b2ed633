"""The memo of top-level items: an item whose inputs are unchanged since the last analysis
of the file is replayed (its diagnostics, types and result) instead of checked again."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import field, replace
from typing import TYPE_CHECKING, TypeVar

from nndsl.check.memo.instances import InstanceMemo
from nndsl.check.memo.keys import DefinitionKeys, Shift
from nndsl.check.report import Key, Reporter
from nndsl.check.values import ModuleScope
from nndsl.diagnostics import Diagnostic
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.records import record, set_frozen_field
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.incremental import IncrementalParser
from nndsl.syntax.parser import SYNTAX_CODES

if TYPE_CHECKING:
    from nndsl.check.elaborate import Elaborator

T = TypeVar("T")

# What an item's check added: diagnostics, types, its result, and the item's start then.
_Entry = tuple[list[Diagnostic], list[tuple[SourceFile, Span, str]], object, int]


@record
class CheckMemo:
    """What each top-level item's check produced in earlier analyses of one file, so that an
    editor re-checks only the items whose inputs changed (see `ItemMemo`), and the block
    instances elaborated then (see `nndsl.check.memo.instances`)."""

    parser: IncrementalParser = field(default_factory=IncrementalParser)
    entries: dict[tuple[object, ...], _Entry] = field(default_factory=dict)
    instances: InstanceMemo = field(default_factory=InstanceMemo)


class ItemMemo:
    """Replays an item's check from `CheckMemo` when nothing it can depend on has changed.

    An item's check (a block, model, data source or train section) is a function of its own
    syntax tree, the trees of the definitions it names (transitively), the module's names,
    constants, data sources and imported files, and the problems already reported (the
    reporter drops a problem reported twice). The key holds all of these (trees by their text,
    position and doc comment), so a replay appends exactly what a fresh check would. Nothing is
    memoized when an item's tree may depend on the text around it (a syntax error whose
    recovery went past its item).
    """

    def __init__(
        self,
        memo: CheckMemo,
        keys: DefinitionKeys,
        scope: ModuleScope,
        rep: Reporter,
        elab: Elaborator,
        parse_ok: bool,
    ) -> None:
        self.memo = memo
        self.keys = keys
        self.rep = rep
        self.elab = elab
        self.file = scope.file
        self.enabled = parse_ok
        self.used: dict[tuple[object, ...], _Entry] = {}
        self.common = keys.common_token  # a number: cheap to hash
        # Train sections also depend on the data sources (positions included: a replayed
        # section's data call points into them).
        self.data = tuple(keys.texts[id(d)] for d in scope.data.values() if id(d) in keys.texts)

    def _closure(self, item: ast.Item) -> tuple[tuple[int, str, str], ...]:
        return self.keys.closure(item)

    def _reach(self, item: ast.Item) -> tuple[tuple[int, int], ...]:
        """Where in this file the item's check can report, relative to its start: its own
        text, the definitions it names and, for a train section, the data sources. (Checked
        when an entry is stored: an item that reported elsewhere is not memoized.)"""
        reach = [(rel, rel + len(text)) for rel, text, _ in self._closure(item)]
        if isinstance(item, ast.TrainDef):
            base = item.span.start
            reach += [(start - base, start - base + len(text)) for start, text, _ in self.data]
        return tuple(reach)

    def _seen(self, base: int, reach: tuple[tuple[int, int], ...]) -> frozenset[Key]:
        """The problems reported so far that the item's own reports could repeat (the
        reporter drops a problem found twice): those in other files, and those of this file
        within the item's reach, relative to `base` (the item's start). Problems elsewhere in
        the file (an error in an unrelated block being edited) and syntax errors (codes the
        checker never reports) cannot, and are left out."""
        path = self.file.path
        out = []
        for key in self.rep.seen:
            code, p, start, end, message = key
            if p != path:
                out.append(key)
            elif code not in SYNTAX_CODES and _inside(reach, start - base, end - base):
                out.append((code, p, start - base, end - base, message))
        return frozenset(out)

    def _within(
        self,
        reports: list[Key],
        base: int,
        reach: tuple[tuple[int, int], ...],
    ) -> bool:
        path = self.file.path
        return all(p != path or _inside(reach, s - base, e - base) for _, p, s, e, _ in reports)

    def run(self, item: ast.Item, check: Callable[[], T]) -> T:
        if not self.enabled:
            return check()
        start = item.span.start
        data = self.data if isinstance(item, ast.TrainDef) else ()
        reach = self._reach(item)
        key = (self.common, self._closure(item), self._seen(start, reach), data)
        hit = self.memo.entries.get(key)
        if hit is not None and hit[3] != start and isinstance(hit[2], TrainConfig):
            hit = None  # moved: its graph may come from another file; checked again
        if hit is not None:
            diagnostics, hover, result, _ = hit
            if hit[3] != start:  # moved with all it names by an edit above: move the results
                shift = Shift(self.file.path, start - hit[3])
                diagnostics = [shift.diagnostic(d) for d in diagnostics]
                hover = shift.hover(hover)
                if isinstance(result, Graph):
                    result = shift.graph(result, inputs=True)
                elif isinstance(result, OpCall):
                    result = replace(result, span=shift.span(result.span))
                elif result is not None:
                    hit = None
        if hit is not None:
            for d in diagnostics:
                d = _rebind(d, self.file)
                if d.code == "E0812":  # said once per analysis: the replay said it
                    self.elab.reported_depth = True
                self.rep.replayed(d)
            files = self.elab.files
            hover = [(files.get(f.path, f), span, t) for f, span, t in hover]
            self.elab.hover.extend(hover)
            result = _rebind_result(result, files)
            self.used[key] = (diagnostics, hover, result, start)
            return result  # type: ignore[return-value]
        reports, n_hover = self.rep.begin(), len(self.elab.hover)
        result = check()
        added = reports.commit()
        if (
            reports.all_new
            and all(d.code != "E9999" for d in added)
            and self._within(reports.found, start, reach)
        ):
            self.used[key] = (list(added), self.elab.hover[n_hover:], result, start)
        return result

    def finish(self) -> None:
        """Keep only the entries of this analysis: the memo follows the current text."""
        self.memo.entries = self.used


def _inside(reach: tuple[tuple[int, int], ...], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in reach)


def _rebind_graph(graph: Graph, files: dict[str, SourceFile]) -> Graph:
    """A replayed graph whose nodes point at the current texts of their files."""
    if all(files.get(n.file.path, n.file) is n.file for n in graph.nodes):
        return graph
    nodes = []
    for n in graph.nodes:
        file = files.get(n.file.path, n.file)
        if file is not n.file:
            n = copy.copy(n)
            set_frozen_field(n, "file", file)  # a copy nothing else holds yet
        nodes.append(n)
    return replace(graph, nodes=nodes)


def _rebind_result(result: object, files: dict[str, SourceFile]) -> object:
    """A replayed item's result (a graph or a train section), rebound like its diagnostics:
    a node's file gives its line (`Node.scope_name`), which an edit above it may change."""
    if isinstance(result, Graph):
        return _rebind_graph(result, files)
    if isinstance(result, TrainConfig):
        graph = _rebind_graph(result.graph, files)
        file = result.file if result.file is None else files.get(result.file.path, result.file)
        if graph is result.graph and file is result.file:
            return result
        return replace(result, graph=graph, file=file)
    return result


def _rebind(d: Diagnostic, file: SourceFile) -> Diagnostic:
    """A replayed diagnostic, pointing at the current text of its file (same offsets)."""
    if d.file.path != file.path or d.file is file:
        return d
    secondary = tuple(
        replace(label, file=file)
        if label.file is not None and label.file.path == file.path
        else label
        for label in d.secondary
    )
    return replace(d, file=file, secondary=secondary)
