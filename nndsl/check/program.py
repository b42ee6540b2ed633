"""Checking one file (with its imports) into a `Program` and diagnostics."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from nndsl.check.builder import GraphBuilder
from nndsl.check.elaborate import PARAM_TYPES, Elaborator, Frame
from nndsl.check.modules import ModuleLoader, Reader, read_text
from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.training import TrainChecker, instantiate_graph
from nndsl.check.values import DefRef, ModuleScope, ScalarVal, Value
from nndsl.diagnostics import Diagnostic, Label
from nndsl.ir import Graph, Program
from nndsl.shapes import Dim
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.incremental import IncrementalParser


@dataclass
class Analysis:
    program: Program
    diagnostics: list[Diagnostic]
    scope: ModuleScope
    hover: list[tuple[SourceFile, object, str]] = field(default_factory=list)


T = TypeVar("T")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class CheckMemo:
    """What each top-level item's check produced in earlier analyses of one file, so that an
    editor re-checks only the items whose inputs changed (see `_Memoizer`)."""

    parser: IncrementalParser = field(default_factory=IncrementalParser)
    entries: dict[
        tuple[object, ...], tuple[list[Diagnostic], list[tuple[SourceFile, Span, str]], object]
    ] = field(default_factory=dict)


class _Memoizer:
    """Replays an item's check from `CheckMemo` when nothing it can depend on has changed.

    An item's check (a block, model, data source or train section) is a function of its own
    syntax tree, the trees of the definitions it names (transitively), the module's names,
    constants, data sources and imported files, and the problems already reported (the
    reporter drops a problem reported twice). The key holds all of these (trees by their text,
    position and doc comment), so a replay appends exactly what a fresh check would. A file
    with syntax errors is never memoized: its trees may depend on the text around them.
    """

    def __init__(
        self,
        memo: CheckMemo,
        loader: ModuleLoader,
        scope: ModuleScope,
        rep: Reporter,
        elab: Elaborator,
        parse_ok: bool,
    ) -> None:
        self.memo = memo
        self.rep = rep
        self.elab = elab
        self.file = scope.file
        self.enabled = parse_ok
        self.used: dict[
            tuple[object, ...],
            tuple[list[Diagnostic], list[tuple[SourceFile, Span, str]], object],
        ] = {}
        text = scope.file.text
        self.texts: dict[int, tuple[int, str, str]] = {}
        self.words: dict[int, set[str]] = {}
        self.defs: dict[str, list[ast.Definition]] = {}
        for item in scope.module.items:
            chunk = text[item.span.start : item.span.end]
            doc = item.doc if isinstance(item, ast.Definition) else ""
            self.texts[id(item)] = (item.span.start, chunk, doc)
            self.words[id(item)] = set(_WORD.findall(chunk))
            if isinstance(item, ast.Definition):
                self.defs.setdefault(item.name.name, []).append(item)
        names = tuple(
            (name, repr(value) if isinstance(value, ScalarVal) else type(value).__name__)
            for name, value in sorted(scope.names.items())
        )
        imported = tuple(
            sorted((k, s.file.text) for k, s in loader.cache.items() if s is not scope)
        )
        data = tuple(self.texts[id(d)] for d in scope.data.values() if id(d) in self.texts)
        self.common = (scope.file.path, names, imported, data)

    def _closure(self, item: ast.Item) -> tuple[tuple[int, str, str], ...]:
        seen: dict[int, ast.Item] = {id(item): item}
        todo: list[ast.Item] = [item]
        while todo:
            for word in self.words[id(todo.pop())]:
                for d in self.defs.get(word, ()):
                    if id(d) not in seen:
                        seen[id(d)] = d
                        todo.append(d)
        return tuple(sorted(self.texts[i] for i in seen))

    def run(self, item: ast.Item, check: Callable[[], T]) -> T:
        if not self.enabled:
            return check()
        key = (self.common, self._closure(item), frozenset(self.rep._seen))
        hit = self.memo.entries.get(key)
        if hit is not None:
            diagnostics, hover, result = hit
            for d in diagnostics:
                d = _rebind(d, self.file)
                self.rep._seen.add(
                    (d.code, d.file.path, d.primary.span.start, d.primary.span.end, d.message)
                )
                self.rep.diagnostics.append(d)
            self.elab.hover.extend(
                (self.file if f.path == self.file.path else f, span, t) for f, span, t in hover
            )
            self.used[key] = hit
            return result  # type: ignore[return-value]
        n_diags, n_seen, n_hover = (
            len(self.rep.diagnostics),
            len(self.rep._seen),
            len(self.elab.hover),
        )
        result = check()
        added = self.rep.diagnostics[n_diags:]
        if len(self.rep._seen) - n_seen == len(added) and all(d.code != "E9999" for d in added):
            self.used[key] = (list(added), self.elab.hover[n_hover:], result)
        return result

    def finish(self) -> None:
        """Keep only the entries of this analysis: the memo follows the current text."""
        self.memo.entries = self.used


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
    text: str, path: str, read: Reader = read_text, memo: CheckMemo | None = None
) -> Analysis:
    """Check `text`. With a `memo` (the editor's), items whose inputs are unchanged since the
    analysis that filled it are replayed instead of re-checked; the diagnostics and types are
    the same as without it. The replayed items' graphs come from that earlier analysis."""
    rep = Reporter()
    elab = Elaborator(rep)
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
    memoizer = (
        None
        if memo is None
        else _Memoizer(memo, loader, scope, rep, elab, parse_ok=not rep.diagnostics)
    )

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
