"""`loss = <expression>` in `train`: an objective written over the model's outputs, its inputs
and the labels, e.g. `binary_crossentropy(x, x_hat) * 784 + 0.5 * mean(square(z_mean))`.

The expression is elaborated as a model body is, into a small graph (`ir.LossExpr`) whose
inputs are the tensors it can read, by name:
- each output of the model (`x_hat`) and each input (`x`; an output of the same name wins);
- the labels: `y` when the data gives one labels array (the first output's), `y_<output>`
  for each key of an npz `y = [...]` list; labels are typed as the output they label;
- every built-in loss as a function of `(y_true, y_pred)`: the batch mean (`LossFunction`).
Its one result must be a float scalar `f32[]`; every error is a diagnostic with its span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nndsl.check.builder import GraphBuilder
from nndsl.check.values import ErrorVal, OpRef, Origin, TensorVal, Value, describe
from nndsl.diagnostics import Label
from nndsl.ir import Graph, LossExpr, OpCall
from nndsl.ops import OpKind, iter_specs, lookup
from nndsl.ops.loss_functions import loss_function
from nndsl.ops.registry import ALIASES
from nndsl.shapes import TensorType
from nndsl.syntax import ast

if TYPE_CHECKING:
    from nndsl.check.training import TrainChecker

PER_OUTPUT = "per_output"
LABEL = "y"  # the labels of a data source that gives one array
LABEL_PREFIX = "y_"  # `y_<output>`: the labels of an output named in an npz `y = [...]` list


def is_expression(e: ast.Expr) -> bool:
    """Whether `loss = e` is an expression rather than a built-in loss named, or configured
    by keyword (`cross_entropy(from_logits = true)`), or `per_output(...)`."""
    if isinstance(e, ast.BinOp | ast.UnaryOp | ast.Pipe):
        return True
    if not isinstance(e, ast.Call):
        return False
    if any(a.name is None for a in e.args) or not isinstance(e.func, ast.Name):
        return True
    name = e.func.ident.name
    spec = lookup(name)
    return name != PER_OUTPUT and spec is not None and spec.kind is not OpKind.LOSS


def label_names(graph: Graph, data: OpCall | None) -> dict[str, str]:
    """The labels an expression can read: their name -> the output they label."""
    given = data.attrs.get("y", LABEL) if data is not None else LABEL
    if given is None or not graph.outputs:
        return {}
    outputs = {o.name for o in graph.outputs}
    if isinstance(given, tuple):
        return {LABEL_PREFIX + str(k): str(k) for k in given if str(k) in outputs}
    return {LABEL: graph.outputs[0].name}


def check_loss_expr(
    tc: TrainChecker, e: ast.Expr, graph: Graph, data: OpCall | None
) -> LossExpr | None:
    """The expression elaborated into a `LossExpr`, or None after reporting why not."""
    elab, file = tc.elab, tc.file
    frame = tc._frame()
    frame.builder = GraphBuilder("<loss>", {})
    sources: dict[str, tuple[str, str]] = {}
    types = {o.name: o.type for o in graph.outputs}

    # Where each tensor comes from in the model, for "`f32[B, 8]` comes from here" labels.
    model_file = graph.nodes[0].file if graph.nodes else file
    made = {n.output: Origin(n.file, n.span) for n in graph.nodes}
    origins = {i.name: Origin(model_file, i.span) for i in graph.inputs}
    for o in graph.outputs:
        origins[o.name] = made.get(o.value) or origins.get(o.name) or Origin(file, e.span)

    def bind(name: str, t: TensorType, source: tuple[str, str]) -> None:
        if name in sources:
            return
        vid = frame.builder.add_input(name, t, e.span)
        frame.env[name] = TensorVal(vid, t, origins[source[1]])
        sources[name] = source

    for o in graph.outputs:
        bind(o.name, o.type, ("output", o.name))
    for i in graph.inputs:
        bind(i.name, i.type, ("input", i.name))
    for name, output in label_names(graph, data).items():
        bind(name, types[output], ("label", output))
    for spec in iter_specs(OpKind.LOSS):
        fn: Value = OpRef(loss_function(spec))
        for name in (spec.name, *(a for a, n in ALIASES.items() if n == spec.name)):
            frame.env.setdefault(name, fn)
    value = elab.evaluate(frame, e)
    if isinstance(value, ErrorVal):
        return None
    if not isinstance(value, TensorVal) or value.type.rank != 0 or not value.type.dtype.is_float:
        found = f"`{value.type}`" if isinstance(value, TensorVal) else describe(value)
        tc.rep.error(
            "E0601",
            f"a loss expression must be a float scalar `f32[]`, found {found}",
            file,
            e.span,
            "not a scalar"
            if isinstance(value, TensorVal) and value.type.rank
            else "not a float scalar",
            help="reduce it, e.g. `mean(...)` over every axis, or `sum(..., axis = -1)` then "
            "`mean`",
            secondary=_origin_label(value, e),
        )
        return None
    frame.builder.add_output("loss", value.value)
    built = frame.builder.finish()
    # Only what it reads is fed: an autoencoder's expression reads no labels, so none load.
    read = {value.value, *(v for n in built.nodes for v in n.inputs)}
    built.inputs = [i for i in built.inputs if i.value in read]
    kept = {i.name: sources[i.name] for i in built.inputs}
    return LossExpr(built, kept, e.span)


def _origin_label(value: Value, e: ast.Expr) -> list[Label]:
    if isinstance(value, TensorVal) and value.origin.span != e.span:
        return [Label(value.origin.span, f"`{value.type}` comes from here", value.origin.file)]
    return []


__all__ = ["LABEL", "LABEL_PREFIX", "check_loss_expr", "is_expression", "label_names"]


# Settings that need a built-in loss (its labels and predictions, one output at a time).
_NEEDS_BUILT_IN = {
    "metrics": "metrics compare one output with its labels",
    "loss_weights": "weigh the terms in the expression itself",
    "class_weight": "weigh the terms in the expression itself",
}


def check_setting(
    tc: TrainChecker,
    values: dict[str, ast.Setting],
    graph: Graph | None,
    data: OpCall | None,
) -> tuple[OpCall | None, LossExpr | None]:
    """`loss = <expression>` of a `train` section: (the placeholder `loss`, the expression).
    The settings it cannot go with are reported and removed from `values`, so that the rest
    of the section's check does not report them again."""
    setting = values["loss"]
    for name, why in _NEEDS_BUILT_IN.items():
        if name in values:
            tc.rep.error(
                "E0601",
                f"`{name}` cannot be used with a loss expression (not supported yet)",
                tc.file,
                values[name].name.span,
                "needs a built-in loss",
                secondary=[Label(setting.value.span, "the loss is an expression")],
                help=why,
            )
            del values[name]
    if graph is None:
        return None, None
    expr = check_loss_expr(tc, setting.value, graph, data)
    if expr is None:
        return None, None
    placeholder = lookup("mse")
    assert placeholder is not None
    return OpCall(placeholder, {}, setting.value.span), expr


__all__ += ["check_setting"]
