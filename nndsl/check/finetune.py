"""The fine-tuning settings of a `train` section: `freeze`, `init` and `strict`.

`freeze = ["trunk/*", "dense/kernel"]` freezes the weights whose path (`node/weight`, as the
saved weights name them) matches a pattern, or whose node or an enclosing block instance does
(`"trunk"` freezes the whole block); patterns are `fnmatch`'s (`*` also crosses `/`). A
pattern that matches nothing is a warning at its span: a typo must not silently train what
was meant to stay frozen. `init = "runs/Pre/model.safetensors"` starts training from saved
weights, matched by path at run time (`nndsl.runtime.pretrained`); the path is read, so it
stays inside the project like a data source's (E0803).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path

from nndsl.check.arguments import INVALID, convert
from nndsl.check.paths import is_inside, outside_allowed, project_root
from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.values import Value
from nndsl.diagnostics import Severity
from nndsl.ir import Graph, Node
from nndsl.ir.graph import InitWeights
from nndsl.ops import Arg
from nndsl.records import record
from nndsl.source import SourceFile
from nndsl.syntax import ast

SETTINGS = ("freeze", "init", "strict")
STRICT = Arg(
    "strict",
    "bool",
    True,
    "with `init`: a weight whose shape differs from the saved one is an error; false: it is "
    "reported and initialised afresh",
)


@record(frozen=True, slots=True)
class FineTuning:
    graph: Graph  # with the `freeze` patterns' weights frozen
    init: InitWeights | None = None


def check_finetune(
    rep: Reporter,
    file: SourceFile,
    graph: Graph,
    settings: dict[str, ast.Setting],
    evaluate: Callable[[ast.Expr], Value],
) -> FineTuning | None:
    """The settings checked (None after an error); `init` must stay in `file`'s project.
    `evaluate` gives a setting's value (`strict = STRICT` may name a constant)."""
    ok = True
    freeze = settings.get("freeze")
    if freeze is not None:
        patterns = _strings(rep, file, freeze)
        if patterns is None:
            ok = False
        else:
            graph = _frozen(rep, file, graph, patterns)
    init = None
    if (s := settings.get("init")) is not None:
        if not isinstance(s.value, ast.StrLit):
            rep.error(
                "E0601",
                "`init` is the path of saved weights, as a string",
                file,
                s.value.span,
                "not a string",
                help='e.g. `init = "runs/Pre/model.safetensors"`',
            )
            ok = False
        elif _outside(s.value.value, file):
            root = project_root(Path(file.path).parent)
            rep.error(
                "E0803",
                f"`init` would read `{s.value.value}`, outside the project",
                file,
                s.value.span,
                "outside the project",
                notes=[f"the project is {root}"],
                help="copy the weights into the project, or run with "
                "`--allow-outside-project` if you trust this model file",
            )
            ok = False
        else:
            init = s.value
    strict = True
    if (s := settings.get("strict")) is not None:
        value = evaluate(s.value)
        converted = convert(STRICT, value, file, s.value.span, "train", rep, "setting")
        if converted is INVALID:
            ok = False
        else:
            strict = bool(converted)
    if not ok:
        return None
    return FineTuning(graph, None if init is None else InitWeights(init.value, strict, init.span))


def _strings(rep: Reporter, file: SourceFile, s: ast.Setting) -> list[ast.StrLit] | None:
    items = s.value.items if isinstance(s.value, ast.ListLit) else (s.value,)
    bad = next((e for e in items if not isinstance(e, ast.StrLit)), None)
    if bad is not None:
        rep.error(
            "E0601",
            "`freeze` takes weight-path patterns, as strings",
            file,
            bad.span,
            "not a string",
            help='e.g. `freeze = ["trunk/*", "dense/kernel"]`',
        )
        return None
    return [e for e in items if isinstance(e, ast.StrLit)]


def matches(pattern: str, node: Node, weight: str) -> bool:
    """Whether `pattern` names the weight `node.path/weight`, its node or a block around it."""
    if fnmatchcase(f"{node.path}/{weight}", pattern):
        return True
    parts = node.path.split("/")
    return any(fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def _frozen(rep: Reporter, file: SourceFile, graph: Graph, patterns: list[ast.StrLit]) -> Graph:
    """A copy of `graph` with the matched parameters frozen; a warning per idle pattern.
    A repeat with a matched weight is unrolled first: its copies then differ (the body is
    shared only by copies trained alike)."""
    hit_repeats = [
        n.id
        for n in graph.nodes
        if n.repeat is not None
        and any(
            matches(p.value, inner, w.name)
            for inner, w in Graph(graph.name, {}, nodes=[n]).weights()
            for p in patterns
        )
    ]
    if hit_repeats:
        graph = graph.unrolled(only=hit_repeats)
    used: set[int] = set()
    nodes = []
    for node in graph.nodes:
        weights = []
        for w in node.weights:
            hit = [i for i, p in enumerate(patterns) if matches(p.value, node, w.name)]
            used.update(hit)
            weights.append(replace(w, frozen=True) if hit and not w.frozen else w)
        changed = any(a is not b for a, b in zip(weights, node.weights, strict=True))
        nodes.append(replace(node, weights=tuple(weights)) if changed else node)
    known = [f"{n.path}/{w.name}" for n, w in graph.weights()]
    for i, p in enumerate(patterns):
        if i not in used:
            _idle(rep, file, graph, p, known)
    return Graph(
        graph.name,
        dict(graph.args),
        list(graph.inputs),
        list(graph.outputs),
        nodes,
        dict(graph.values),
    )


def _idle(rep: Reporter, file: SourceFile, graph: Graph, p: ast.StrLit, known: list[str]) -> None:
    paths = sorted({k.rsplit("/", 1)[0] for k in known})
    hint = did_you_mean(p.value, [*paths, *known])
    shown = ", ".join(f"`{k}`" for k in paths[:8]) + (" ..." if len(paths) > 8 else "")
    rep.error(
        "W0601",
        f"`freeze` pattern `{p.value}` matches no weight of `{graph.name}`",
        file,
        p.span,
        "matches nothing",
        help=hint or (f"weight paths are `layer/weight` under {shown}" if paths else None),
        severity=Severity.WARNING,
    )


def _outside(value: str, file: SourceFile) -> bool:
    if outside_allowed() or "\0" in value:
        return "\0" in value
    root = project_root(Path(file.path).parent)
    return not is_inside(Path(file.path).parent / value, root)


__all__ = ["SETTINGS", "FineTuning", "check_finetune", "matches"]
