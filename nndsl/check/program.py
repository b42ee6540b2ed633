"""Checking one file (with its imports) into a `Program` and diagnostics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import field
from typing import TypeVar

from nndsl.check.builder import GraphBuilder
from nndsl.check.elaborate import PARAM_TYPES, Elaborator, Frame
from nndsl.check.memo import CheckMemo, DefinitionKeys, InstanceMemo, ItemMemo
from nndsl.check.modules import ModuleLoader, Reader, read_text
from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.training import TrainChecker, instantiate_graph
from nndsl.check.values import DefRef, ModuleScope, ScalarVal, Value
from nndsl.diagnostics import Diagnostic, Label
from nndsl.ir import Graph, Program
from nndsl.records import record
from nndsl.shapes import Dim
from nndsl.source import SourceFile
from nndsl.syntax import ast
from nndsl.syntax.parser import SYNTAX_CODES


@record
class Analysis:
    program: Program
    diagnostics: list[Diagnostic]
    scope: ModuleScope
    hover: list[tuple[SourceFile, object, str]] = field(default_factory=list)


T = TypeVar("T")


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
    replayed, see `nndsl.check.memo.instances`): the reference the memos are tested against."""
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
    memoizer = None if memo is None else ItemMemo(memo, keys, scope, rep, elab, parse_ok=trees_ok)

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


__all__ = ["Analysis", "CheckMemo", "analyze"]
