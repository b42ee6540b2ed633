"""Checking one file (with its imports) into a `Program` and diagnostics."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import field, replace
from typing import TypeVar

from nndsl.check.builder import GraphBuilder
from nndsl.check.elaborate import PARAM_TYPES, Elaborator, Frame
from nndsl.check.memo import DefinitionKeys, InstanceMemo, Shift
from nndsl.check.modules import ModuleLoader, Reader, read_text
from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.training import TrainChecker, instantiate_graph
from nndsl.check.values import DefRef, ModuleScope, ScalarVal, Value
from nndsl.diagnostics import Diagnostic, Label
from nndsl.ir import Graph, OpCall, Program, TrainConfig
from nndsl.records import record
from nndsl.shapes import Dim
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.incremental import IncrementalParser
from nndsl.syntax.parser import SYNTAX_CODES


@record
class Analysis:
    program: Program
    diagnostics: list[Diagnostic]
    scope: ModuleScope
    hover: list[tuple[SourceFile, object, str]] = field(default_factory=list)


T = TypeVar("T")


# What an item's check added: diagnostics, types, its result, and the item's start then.
_Entry = tuple[list[Diagnostic], list[tuple[SourceFile, Span, str]], object, int]


@record
class CheckMemo:
    """What each top-level item's check produced in earlier analyses of one file, so that an
    editor re-checks only the items whose inputs changed (see `_Memoizer`), and the block
    instances elaborated then (see `nndsl.check.memo`)."""

    parser: IncrementalParser = field(default_factory=IncrementalParser)
    entries: dict[tuple[object, ...], _Entry] = field(default_factory=dict)
    instances: InstanceMemo = field(default_factory=InstanceMemo)


class _Memoizer:
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

    def _seen(
        self, base: int, reach: tuple[tuple[int, int], ...]
    ) -> frozenset[tuple[str, str, int, int, str]]:
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
        reports: list[tuple[str, str, int, int, str]],
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
            object.__setattr__(n, "file", file)
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


def analyze(
    text: str,
    path: str,
    read: Reader = read_text,
    memo: CheckMemo | None = None,
    *,
    reuse: bool = True,
) -> Analysis:
    """Check `text`. With a `memo` (the editor's), items whose inputs are unchanged since the
    analysis that filled it are replayed instead of re-checked; the diagnostics, types and
    graphs are the same as without it. `reuse=False` also elaborates every block instance
    afresh (by default a block called again with the same arguments and input types is
    replayed, see `nndsl.check.memo`): the reference the memos are tested against."""
    rep = Reporter()
    instances = memo.instances if memo is not None else InstanceMemo()
    elab = Elaborator(rep, instances)
    loader = ModuleLoader(rep, read)

    def const_value(scope: ModuleScope, expr: ast.Expr) -> Value:
        d = ast.Definition("model", ast.Ident("<const>", expr.span), (), (), expr.span)
        return elab.evaluate(
            Frame(scope, d, {}, GraphBuilder("<const>", {}), "", (), True, ()), expr
        )

    loader.const_evaluator = const_value
    if memo is not None:
        loader.parse = memo.parser.parse
    scope = loader.load_text(text, path)
    program = Program(scope.file)
    keys = DefinitionKeys(scope, list(loader.cache.values()), instances)
    elab.files = {m.file.path: m.file for m in loader.cache.values()}
    # Memos are keyed by item texts: valid while each item's tree depends on its own text
    # (a syntax error recovered within its item keeps that; see `IncrementalParser.isolated`).
    trees_ok = not rep.diagnostics or (
        memo is not None
        and memo.parser.isolated.get(path, False)
        and not any(d.code in SYNTAX_CODES and d.file.path != path for d in rep.diagnostics)
    )
    if reuse and trees_ok:
        elab.keys = keys
    memoizer = None if memo is None else _Memoizer(memo, keys, scope, rep, elab, parse_ok=trees_ok)

    def once(item: ast.Item, check: Callable[[], T]) -> T:
        return check() if memoizer is None else memoizer.run(item, check)

    for item in scope.module.items:
        if isinstance(item, ast.Definition):
            graph = once(item, functools.partial(_check_definition, elab, scope, item, program))
            if graph is not None:
                program.graphs[item.name.name] = graph
    for item in scope.module.items:
        if isinstance(item, ast.DataDef):
            once(item, functools.partial(TrainChecker(elab, scope).check_data, item, scope.file))
    trains = [i for i in scope.module.items if isinstance(i, ast.TrainDef)]
    for i, item in enumerate(trains):
        config = once(item, functools.partial(TrainChecker(elab, scope).check, item))
        if i == 0:
            program.train = config
    if memoizer is not None:
        memoizer.finish()
    instances.finish()
    diagnostics = sorted(rep.diagnostics, key=lambda d: d.sort_key)
    return Analysis(program, diagnostics, scope, list(elab.hover))


def _check_definition(
    elab: Elaborator, scope: ModuleScope, d: ast.Definition, program: Program
) -> Graph | None:
    """Models with all defaults are checked as that instance (and give a graph); the rest,
    blocks included, are checked generically with their parameters as unknowns."""
    for p in d.params:
        if p.type.name not in PARAM_TYPES:
            elab.rep.error(
                "E0101",
                f"unknown parameter type `{p.type.name}`",
                scope.file,
                p.type.span,
                "not a type",
                help=did_you_mean(p.type.name, PARAM_TYPES)
                or "parameter types are `int`, `float`, `bool` and `str`",
            )
    seen: dict[str, ast.Param] = {}
    for p in d.params:
        first = seen.setdefault(p.name.name, p)
        if first is not p:
            elab.rep.error(
                "E0102",
                f"parameter `{p.name.name}` is declared twice",
                scope.file,
                p.name.span,
                "declared again here",
                secondary=[Label(first.name.span, "first declared here")],
            )
    ref = DefRef(d, scope)
    if d.kind == "model" and all(p.default is not None for p in d.params):
        frame = Frame(scope, d, {}, GraphBuilder(d.name.name, {}), "", (), True, ())
        bound = elab.bind_params(frame, ref, [], d.name.span)
        if bound is not None:
            return instantiate_graph(elab, DefRef(d, scope, bound, d.name.span))
        return None
    _generic(elab, scope, d)
    return None


def _generic(elab: Elaborator, scope: ModuleScope, d: ast.Definition) -> None:
    """Check a body with symbolic parameters, reporting what holds for every instantiation."""
    args: dict[str, Value] = {}
    for p in d.params:
        kind = p.type.name
        if kind == "int":
            args[p.name.name] = ScalarVal("int", Dim.sym(p.name.name))
        else:
            args[p.name.name] = ScalarVal(kind if kind in PARAM_TYPES else "int", None)
    elab.opaque = frozenset(p.name.name for p in d.params)
    try:
        elab.instantiate(
            DefRef(d, scope, args),
            GraphBuilder(d.name.name, {}),
            None,
            prefix="",
            scope=(d.name.name,),
            concrete=False,
        )
    finally:
        elab.opaque = frozenset()
