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

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nndsl.check.builder import GraphBuilder
from nndsl.check.values import ErrorVal, OpRef, Origin, TensorVal, Value, describe
from nndsl.diagnostics import Label
from nndsl.ir import Graph, LossExpr, OpCall
from nndsl.ops import OpKind, iter_specs, lookup
from nndsl.ops.callbacks import metric_label
from nndsl.ops.loss_functions import loss_function
from nndsl.ops.registry import ALIASES
from nndsl.ops.spec import OpSpec
from nndsl.shapes import DType, TensorType
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
    if not graph.outputs:
        return {}
    # keys of an npz list or a csv's label groups; else one labels array
    named = data.op.names(data.attrs, "y") if data is not None else None  # type: ignore[attr-defined]
    given = named if named is not None else LABEL
    outputs = {o.name for o in graph.outputs}
    if isinstance(given, tuple):
        return {LABEL_PREFIX + str(k): str(k) for k in given if str(k) in outputs}
    return {LABEL: graph.outputs[0].name}


def check_loss_expr(
    tc: TrainChecker,
    e: ast.Expr,
    graph: Graph,
    data: OpCall | None,
    keep: frozenset[str] = frozenset(),
) -> LossExpr | None:
    """The expression elaborated into a `LossExpr`, or None after reporting why not. `keep`:
    label names to load even if the expression does not read them (for metrics)."""
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
    labels = label_names(graph, data)
    governing = _governing_losses(e, set(labels))
    for name, output in labels.items():
        t = types[output]
        rule = governing.get(name)
        if rule is not None and getattr(rule.op, "labels", "same") == "sparse" and t.rank:
            t = TensorType(DType.I32, t.shape[:-1])  # integer class ids
        bind(name, t, ("label", output))
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
    built.inputs = [i for i in built.inputs if i.value in read or i.name in keep]
    kept = {i.name: sources[i.name] for i in built.inputs}
    rules = {n: c for n, c in governing.items() if n in kept}
    for name in keep - set(rules):  # read by metrics only: class ids or one-hot of classes
        t = types[labels[name]]
        classes = t.shape[-1].as_int() if t.rank >= 2 else None
        ce = lookup("cross_entropy")
        if name not in read_labels(built) and classes is not None and classes > 1 and ce:
            rules[name] = OpCall(ce, {}, e.span)
    return LossExpr(built, kept, e.span, rules)


def read_labels(graph: Graph) -> set[str]:
    """The graph inputs some node of the expression reads."""
    used = {v for n in graph.nodes for v in n.inputs} | {o.value for o in graph.outputs}
    return {i.name for i in graph.inputs if i.value in used}


def _children(node: object) -> Iterator[object]:
    for name in getattr(type(node), "FIELDS", ()):
        value = getattr(node, name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, ast.Node) and not isinstance(v, ast.Ident):
                yield v


def _loss_spec(func: ast.Expr) -> OpSpec | None:
    if not isinstance(func, ast.Name):
        return None
    spec = lookup(func.ident.name)
    return spec if spec is not None and spec.kind is OpKind.LOSS else None


def _governing_losses(e: ast.Expr, labels: set[str]) -> dict[str, OpCall]:
    """Labels read only as the `y_true` of built-in losses that agree on a label kind: the
    first such loss (its rule reads the array; `sparse` ones are integer ids)."""
    found: dict[str, list[OpSpec]] = {}
    other: set[str] = set()
    spans: dict[str, ast.Expr] = {}

    def visit(node: object) -> None:
        if isinstance(node, ast.Name):
            if node.ident.name in labels:
                other.add(node.ident.name)
            return
        if isinstance(node, ast.Call):
            spec = _loss_spec(node.func)
            if spec is not None:
                truth = next(
                    (
                        a
                        for i, a in enumerate(node.args)
                        if (a.name is None and i == 0)
                        or (a.name is not None and a.name.name == "y_true")
                    ),
                    None,
                )
                if isinstance(truth, ast.Argument) and isinstance(truth.value, ast.Name):
                    name = truth.value.ident.name
                    if name in labels:
                        found.setdefault(name, []).append(spec)
                        spans.setdefault(name, node)
                        for a in node.args:
                            if a is not truth:
                                visit(a)
                        return
        for child in _children(node):
            visit(child)

    visit(e)
    out: dict[str, OpCall] = {}
    for name, specs in found.items():
        kinds = {getattr(s, "labels", "same") for s in specs}
        if name not in other and len(kinds) == 1:
            out[name] = OpCall(specs[0], {}, spans[name].span)
    return out


def _origin_label(value: Value, e: ast.Expr) -> list[Label]:
    if isinstance(value, TensorVal) and value.origin.span != e.span:
        return [Label(value.origin.span, f"`{value.type}` comes from here", value.origin.file)]
    return []


__all__ = ["LABEL", "LABEL_PREFIX", "check_loss_expr", "is_expression", "label_names"]


class ExprSettings:
    """What a `train` section with a loss expression gives: the placeholder `loss`, the
    expression, its metrics (by metric name for the labels `y`, else `<output>_<metric>`) and
    class weights."""

    def __init__(self) -> None:
        self.loss: OpCall | None = None
        self.expr: LossExpr | None = None
        self.metrics: list[OpCall] = []
        self.output_metrics: dict[str, list[OpCall]] = {}
        self.class_weight: tuple[float, ...] | None = None

    def log_labels(self) -> list[str]:
        """What the loop logs besides `loss` (for callbacks' monitors)."""
        labels = [metric_label(m.op.name, m.attrs, m.op.args) for m in self.metrics]
        for n, calls in self.output_metrics.items():
            labels += [f"{n}_{metric_label(m.op.name, m.attrs, m.op.args)}" for m in calls]
        return labels


_CLASS_KINDS = ("classes", "sparse", "onehot")


def check_setting(
    tc: TrainChecker,
    values: dict[str, ast.Setting],
    graph: Graph | None,
    data: OpCall | None,
    data_name: str,
) -> ExprSettings:
    """`loss = <expression>` of a `train` section with the settings that go with it. Those it
    handles (`metrics`, `class_weight`) or refuses (`loss_weights`) are removed from `values`,
    so that the rest of the section's check does not see them again."""
    out = ExprSettings()
    setting = values["loss"]
    weights = values.pop("loss_weights", None)
    if weights is not None:
        tc.rep.error(
            "E0601",
            "`loss_weights` has no meaning with a loss expression",
            tc.file,
            weights.name.span,
            "weighs built-in per-output losses",
            secondary=[Label(setting.value.span, "the loss is an expression")],
            help="weigh the terms in the expression itself, e.g. "
            "`loss = 0.5 * mse(y_price, price) + cross_entropy(y_label, label)`",
        )
    metrics = values.pop("metrics", None)
    class_weight = values.pop("class_weight", None)
    if graph is None:
        return out
    labels = label_names(graph, data)
    labelled = {o: n for n, o in labels.items()}
    types = {o.name: o.type for o in graph.outputs}
    names = [o.name for o in graph.outputs]
    keep: set[str] = set()
    if metrics is not None and not labels:
        tc.rep.error(
            "E0601",
            f"`metrics` compare an output with its labels, but data `{data_name}` gives none",
            tc.file,
            metrics.name.span,
            "no labels to measure against",
            secondary=[Label(setting.value.span, "the loss reads no labels")],
            help='name the labels in the data (`y = "key"`, or `y = ["output", ...]` '
            "per output), or drop `metrics`",
        )
    elif metrics is not None:
        entries = tc._entries(metrics, "metrics")
        keyed = entries is not None
        if entries is None:  # one list for every labelled output (as Keras 2)
            entries = [(ast.Ident(o, metrics.name.span), metrics.value) for o in labelled]
        for ident, e in tc._keyed(entries, names, "metrics", graph, metrics):
            if ident.name not in labelled:
                tc.rep.error(
                    "E0601",
                    f"output `{ident.name}` has no labels to measure against",
                    tc.file,
                    ident.span,
                    "no labels for this output",
                    help=f"data `{data_name}` labels "
                    + ", ".join(f"`{o}`" for o in labelled)
                    + f"; add `{ident.name}` to its `y` list, or remove it here",
                )
                continue
            keep.add(labelled[ident.name])
            for item in e.items if isinstance(e, ast.ListLit) else (e,):
                call = tc._op_expr(item, OpKind.METRIC, types[ident.name])
                if call is None:
                    continue
                if keyed or LABEL not in labels:
                    out.output_metrics.setdefault(ident.name, []).append(call)
                else:
                    out.metrics.append(call)
        out.output_metrics = {n: out.output_metrics[n] for n in names if n in out.output_metrics}
    weights_given = None
    if class_weight is not None:
        weights_given = tc._class_weight_value(class_weight)
        if weights_given is not None and LABEL not in labels:
            tc.rep.error(
                "E0601",
                "`class_weight` weighs each example by the class in its labels `y`, but data "
                f"`{data_name}` " + ("labels each output apart" if labels else "gives no labels"),
                tc.file,
                class_weight.name.span,
                "no one labels array",
                help='as in Keras, class weights need one labels array (`y = "key"`); '
                "with several, weigh the terms in the expression itself",
            )
            weights_given = None
        elif weights_given is not None:
            keep.add(LABEL)
    out.expr = check_loss_expr(tc, setting.value, graph, data, frozenset(keep))
    if out.expr is None:
        return out
    if weights_given is not None:
        out.class_weight = _check_class_weight(tc, class_weight, weights_given, out.expr, graph)
    placeholder = lookup("mse")
    assert placeholder is not None
    out.loss = OpCall(placeholder, {}, setting.value.span)
    return out


def _check_class_weight(
    tc: TrainChecker,
    setting: ast.Setting | None,
    weights: tuple[float, ...],
    expr: LossExpr,
    graph: Graph,
) -> tuple[float, ...] | None:
    """Class weights for the labels `y`: read as the labels of a classification loss, with as
    many classes as weights."""
    assert setting is not None
    rule = expr.label_losses.get(LABEL)
    kind = getattr(rule.op, "labels", "same") if rule is not None else None
    if LABEL not in read_labels(expr.graph) or kind not in _CLASS_KINDS:
        tc.rep.error(
            "E0601",
            "`class_weight` needs the labels `y` read as classes: the loss expression reads "
            "`y` only as the labels of a classification loss",
            tc.file,
            setting.name.span,
            "no classes to weigh",
            secondary=[Label(expr.span, "the loss expression")],
            help="e.g. `loss = cross_entropy(y, logits, from_logits = true) + ...`",
        )
        return None
    output = expr.labels()[LABEL]
    t = next(o.type for o in graph.outputs if o.name == output)
    classes = t.shape[-1].as_int() if t.rank else None
    if classes is not None and len(weights) != classes:
        tc.rep.error(
            "E0601",
            f"`class_weight` has {len(weights)} weights, but output `{output}` has "
            f"{classes} classes",
            tc.file,
            setting.value.span,
            f"expected {classes} weights",
            notes=[f"`{output}` is `{t}`"],
        )
        return None
    return weights


__all__ += ["ExprSettings", "check_setting"]
