"""Checking `data` and `train` sections into a `TrainConfig`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nndsl.check.arguments import INVALID, CallArg, bind_op_args, convert
from nndsl.check.builder import GraphBuilder
from nndsl.check.elaborate import Elaborator, Frame, article
from nndsl.check.memo import CompositeRecorder, instance_key
from nndsl.check.paths import is_inside, outside_allowed, project_root, write_path_problem
from nndsl.check.report import did_you_mean
from nndsl.check.values import DefRef, ErrorVal, ModuleScope, ScalarVal, TensorVal, describe
from nndsl.diagnostics import Label
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.ops import Arg, ArgValue, OpKind, OpSpec, ShapeError, iter_specs, lookup
from nndsl.ops.callbacks import Callback, logged_names, metric_label
from nndsl.ops.data import DataSource
from nndsl.shapes import Dim
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast

# The numbers and flags of a `train` section, declared like arguments so that one definition
# gives the defaults, the checks and the docs.
SCALAR_SETTINGS = (
    Arg("epochs", "int", 10, "passes over the training data", min=1),
    Arg("batch", "int", 32, "examples per step", min=1),
    Arg("seed", "int", 0, "seeds initialisation, shuffling and dropout", min=0),
    Arg(
        "validation_split",
        "float",
        0.1,
        "fraction of the training rows held out",
        min=0.0,
        max=1.0,
        max_exclusive=True,
    ),
    Arg("shuffle", "bool", True, "reshuffle the training rows every epoch"),
    Arg(
        "class_weight",
        "floats",
        None,
        "one weight per class, multiplying each example's loss by its class's weight",
        min=0.0,
        nullable=True,
    ),
    Arg(
        "on_nonfinite",
        "str",
        "stop",
        'a step whose loss or gradients are NaN or infinite: "stop" training with a message '
        'naming the step and the first layer that went non-finite, or "skip" the step',
        choices=("stop", "skip"),
    ),
    Arg(
        "precision",
        "str",
        "float32",
        "compute dtype of the layers; weights and the loss stay float32 (float16 adds dynamic "
        "loss scaling)",
        choices=("float32", "bfloat16", "float16"),
    ),
    Arg(
        "steps_per_execution",
        "int",
        1,
        'train steps per compiled call (`lax.scan` over stacked batches), or "auto" to measure '
        "1 against 32 on this model and machine at start-up",
        min=1,
    ),
)
SETTINGS = ("loss", "optimizer", "metrics", "callbacks", *(a.name for a in SCALAR_SETTINGS))
# `steps_per_execution = "auto"`: decided by measurement at start-up (0 in the TrainConfig).
AUTO = "auto"


class TrainChecker:
    def __init__(self, elab: Elaborator, scope: ModuleScope) -> None:
        self.elab = elab
        self.rep = elab.rep
        self.scope = scope
        self.file = scope.file

    def _frame(self) -> Frame:
        d = ast.Definition(
            "model", ast.Ident("<train>", ast.Module((), _zero()).span), (), (), _zero()
        )
        return Frame(self.scope, d, {}, GraphBuilder("<train>", {}), "", (), True, ())

    def instantiate_model(self, expr: ast.Expr, builder_name: str | None = None) -> Graph | None:
        frame = self._frame()
        if isinstance(expr, ast.Call):
            callee = self.elab.evaluate(frame, expr.func)
            args = self.elab._call_args(frame, expr.args)
            if isinstance(callee, ErrorVal) or any(isinstance(a.value, ErrorVal) for a in args):
                return None
            if not isinstance(callee, DefRef):
                self.rep.error(
                    "E0105",
                    f"`train` needs a model, found {describe(callee)}",
                    self.file,
                    expr.func.span,
                    "not a model",
                )
                return None
            bound = self.elab.bind_params(frame, callee, args, expr.span)
            if bound is None:
                return None
            ref = DefRef(callee.definition, callee.module, bound, expr.span)
        else:
            callee = self.elab.evaluate(frame, expr)
            if isinstance(callee, ErrorVal):
                return None
            if not isinstance(callee, DefRef):
                self.rep.error(
                    "E0105",
                    f"`train` needs a model, found {describe(callee)}",
                    self.file,
                    expr.span,
                    "not a model",
                )
                return None
            bound = self.elab.bind_params(frame, callee, [], expr.span)
            if bound is None:
                return None
            ref = DefRef(callee.definition, callee.module, bound, expr.span)
        return instantiate_graph(self.elab, ref)

    def check(self, item: ast.TrainDef) -> TrainConfig | None:
        errors_before = _error_count(self)
        graph = self.instantiate_model(item.model)
        data_call = self._data(item)
        values: dict[str, ast.Setting] = {}
        for s in item.settings:
            name = s.name.name
            if name not in SETTINGS:
                self.rep.error(
                    "E0601",
                    f"unknown training setting `{name}`",
                    self.file,
                    s.name.span,
                    "not a setting",
                    help=did_you_mean(name, SETTINGS)
                    or "settings are " + ", ".join(f"`{x}`" for x in SETTINGS),
                )
                continue
            if name in values:
                self.rep.error(
                    "E0601",
                    f"`{name}` is set twice",
                    self.file,
                    s.name.span,
                    "set again here",
                    secondary=[Label(values[name].name.span, "first set here")],
                )
                continue
            values[name] = s
        for required in ("loss", "optimizer"):
            if required not in values:
                self.rep.error(
                    "E0601",
                    f"the `train` section has no `{required}`",
                    self.file,
                    _head(item),
                    f"`{required}` missing",
                    help=f"add e.g. `{_example(required)}`",
                )
        if graph is not None and len(graph.outputs) != 1:
            self.rep.error(
                "E0601",
                f"training needs a model with one output; `{graph.name}` has {len(graph.outputs)}",
                self.file,
                item.model.span,
                "several outputs",
            )
            graph = None
        pred = graph.outputs[0].type if graph is not None else None
        if graph is not None and data_call is not None:
            self._check_data_fits(item, data_call, graph)
        loss = self._op(values.get("loss"), OpKind.LOSS, pred)
        optimizer = self._op(values.get("optimizer"), OpKind.OPTIMIZER, None)
        metrics: list[OpCall] = []
        if "metrics" in values:
            m = values["metrics"].value
            items = m.items if isinstance(m, ast.ListLit) else (m,)
            for e in items:
                call = self._op_expr(e, OpKind.METRIC, pred)
                if call is not None:
                    metrics.append(call)
        scalars = {
            arg.name: self._scalar_setting(arg, values.get(arg.name)) for arg in SCALAR_SETTINGS
        }
        callbacks = self._callbacks(
            values.get("callbacks"),
            metrics,
            float(scalars["validation_split"]),  # type: ignore[arg-type]
            optimizer,
        )
        class_weight = self._class_weight(
            values.get("class_weight"), scalars["class_weight"], loss, pred
        )
        if (
            graph is None
            or data_call is None
            or loss is None
            or optimizer is None
            or _error_count(self) > errors_before
        ):
            return None
        return TrainConfig(
            graph,
            item.data.name,
            data_call,
            loss,
            optimizer,
            metrics,
            epochs=int(scalars["epochs"]),  # type: ignore[arg-type]
            batch=int(scalars["batch"]),  # type: ignore[arg-type]
            seed=int(scalars["seed"]),  # type: ignore[arg-type]
            validation_split=float(scalars["validation_split"]),  # type: ignore[arg-type]
            shuffle=bool(scalars["shuffle"]),
            callbacks=callbacks,
            class_weight=class_weight,
            on_nonfinite=str(scalars["on_nonfinite"]),
            precision=str(scalars["precision"]),
            steps_per_execution=int(scalars["steps_per_execution"]),  # type: ignore[arg-type]
            file=self.file,
            span=item.span,
        )

    def _data(self, item: ast.TrainDef) -> OpCall | None:
        name = item.data.name
        data = self.scope.data.get(name)
        if data is None:
            self.rep.error(
                "E0101",
                f"unknown data source `{name}`",
                self.file,
                item.data.span,
                "no `data` with this name",
                help=did_you_mean(name, self.scope.data)
                or f'declare it: `data {name} = npz("file.npz", x = "x", y = "y")`',
            )
            return None
        return self.check_data(data, self.scope.data_files.get(name, self.file))

    def _check_data_fits(self, item: ast.TrainDef, data: OpCall, graph: Graph) -> None:
        """What the declaration alone tells of the data (token ids' length, image size) against
        the model's input; the files are checked by the runtime."""
        if len(graph.inputs) != 1 or not isinstance(data.op, DataSource):
            return
        try:
            data.op.check_input(data.attrs, graph.inputs[0].type)
        except ShapeError as err:
            self.rep.error(
                err.code,
                f"data `{item.data.name}` does not fit model `{graph.name}`: {err.message}",
                self.file,
                item.data.span,
                f"feeds input `{graph.inputs[0].name}: {graph.inputs[0].type}`",
                help=err.help,
            )

    def check_data(self, data: ast.DataDef, file: SourceFile) -> OpCall | None:
        """A `data` declaration: a known source with valid arguments (E0602 otherwise)."""
        return self._op_expr(data.source, OpKind.DATA, None, file)

    def _op(self, setting: ast.Setting | None, kind: OpKind, pred: object) -> OpCall | None:
        if setting is None:
            return None
        return self._op_expr(setting.value, kind, pred)

    def _op_expr(
        self, e: ast.Expr, kind: OpKind, pred: object, file: SourceFile | None = None
    ) -> OpCall | None:
        frame = self._frame()
        if file is not None and file is not self.file:
            frame.module = ModuleScope(file, ast.Module((), Span(0, 0)), dict(self.scope.names))
        file = file or self.file
        noun = _NOUNS[kind]
        bad_code = "E0602" if kind is OpKind.DATA else None
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            ident, args_ast = e.func.ident, e.args
        elif isinstance(e, ast.Name):
            ident, args_ast = e.ident, ()
        else:
            self.rep.error(
                bad_code or "E0601",
                f"expected {article(noun)} {noun} such as `{_example_name(kind)}`",
                file,
                e.span,
                "not understood",
            )
            return None
        spec = lookup(ident.name)
        # Any loss is also a metric (its mean), as Keras's loss-named metrics.
        usable = spec is not None and (
            spec.kind is kind or (kind is OpKind.METRIC and spec.kind is OpKind.LOSS)
        )
        if spec is None or not usable:
            names = [s.name for s in iter_specs(kind)]
            losses = [s.name for s in iter_specs(OpKind.LOSS)] if kind is OpKind.METRIC else []
            other = _NOUNS.get(spec.kind, spec.kind.value) if spec is not None else ""
            found = f", but `{ident.name}` is {article(other)} {other}" if spec else ""
            self.rep.error(
                bad_code or ("E0101" if spec is None else "E0105"),
                f"unknown {noun} `{ident.name}`"
                if spec is None
                else f"expected {article(noun)} {noun}{found}",
                file,
                ident.span,
                f"not {article(noun)} {noun}",
                help=did_you_mean(ident.name, names + losses)
                or f"the {noun}s are "
                + ", ".join(f"`{n}`" for n in names)
                + (", and any loss (its mean)" if losses else ""),
            )
            return None
        args: list[CallArg] = []
        for a in args_ast:
            v = self.elab.evaluate(frame, a.value)
            if isinstance(v, ErrorVal):
                return None
            args.append(
                CallArg(a.name.name if a.name else None, a.name.span if a.name else None, v, a.span)
            )
        spans: dict[str, Span] = {}
        attrs = bind_op_args(spec, args, file, e.span, self.rep, spans)
        if attrs is None or not self._paths_ok(spec, attrs, spans, file, e.span):
            return None
        if pred is not None:
            from nndsl.shapes import TensorType

            assert isinstance(pred, TensorType)
            try:
                spec.output(attrs, [pred])
            except ShapeError as err:
                self.rep.error(
                    err.code,
                    f"`{spec.name}`: {err.message}",
                    file,
                    e.span,
                    f"the model's output is `{pred}`",
                    notes=[f"`{spec.name}` expects {spec.rule}"] if spec.rule else [],
                )
                return None
        return OpCall(spec, attrs, e.span)

    def _paths_ok(
        self,
        spec: OpSpec,
        attrs: dict[str, ArgValue],
        spans: dict[str, Span],
        file: SourceFile,
        call: Span,
    ) -> bool:
        """Paths a callback writes stay in the run directory (E0801); paths a data source
        reads stay in the project (E0803). The run repeats both checks with symlinks
        resolved, before it reads or writes anything."""
        ok = True
        for name in spec.writes if isinstance(spec, Callback) else ():
            value = attrs.get(name)
            problem = write_path_problem(value) if isinstance(value, str) else None
            if problem is not None:
                ok = False
                self.rep.error(
                    "E0801",
                    f"`{spec.name}` would write outside the run directory: {problem}",
                    file,
                    spans.get(name, call),
                    "not inside the run directory",
                    help="give a path relative to the run directory (`--out`), without `..`",
                )
        if not isinstance(spec, DataSource) or outside_allowed():
            return ok
        root = project_root(Path(self.scope.file.path).parent)
        base = Path(file.path).parent
        for name in spec.reads:
            value = attrs.get(name)
            if not isinstance(value, str) or "\0" in value or is_inside(base / value, root):
                continue
            ok = False
            self.rep.error(
                "E0803",
                f"`{spec.name}` would read `{value}`, outside the project",
                file,
                spans.get(name, call),
                "outside the project",
                notes=[f"the project is {root}"],
                help="move the data into the project, or run with `--allow-outside-project` "
                "if you trust this model file",
            )
        return ok

    def _callbacks(
        self,
        setting: ast.Setting | None,
        metrics: list[OpCall],
        validation_split: float,
        optimizer: OpCall | None,
    ) -> list[OpCall]:
        """The `callbacks` list; every monitor must name a value the loop logs."""
        if setting is None:
            return []
        v = setting.value
        out: list[OpCall] = []
        labels = [metric_label(m.op.name, m.attrs, m.op.args) for m in metrics]
        logged = logged_names(labels, validation_split > 0)
        seen: dict[str, Span] = {}
        for e in v.items if isinstance(v, ast.ListLit) else (v,):
            call = self._op_expr(e, OpKind.CALLBACK, None)
            if call is None:
                continue
            if call.op.name in seen:
                self.rep.error(
                    "E0601",
                    f"`{call.op.name}` is listed twice",
                    self.file,
                    e.span,
                    "listed again here",
                    secondary=[Label(seen[call.op.name], "first listed here")],
                )
                continue
            seen[call.op.name] = e.span
            ok = True
            for arg_name in getattr(call.op, "monitors", ()):
                monitor = call.attrs.get(arg_name)
                if monitor is None or monitor in logged:
                    continue
                ok = False
                name = str(monitor)
                why = (
                    "validation_split is 0, so nothing is validated"
                    if name.startswith("val_") and name.removeprefix("val_") in ["loss", *labels]
                    else None
                )
                self.rep.error(
                    "E0601",
                    f"`{call.op.name}` monitors `{name}`, which training does not log",
                    self.file,
                    e.span,
                    why or "not a logged value",
                    help=(
                        f"set `validation_split` above 0, or monitor `{name[4:]}`" if why else None
                    )
                    or did_you_mean(name, logged)
                    or "logged values are " + ", ".join(f"`{x}`" for x in logged),
                )
            if (
                call.op.name == "reduce_lr_on_plateau"
                and optimizer is not None
                and optimizer.attrs.get("use_ema")
            ):
                ok = False
                self.rep.error(
                    "E0601",
                    "`reduce_lr_on_plateau` cannot be combined with `use_ema = true`",
                    self.file,
                    e.span,
                    "the moving average would see the unreduced steps",
                    help="drop one of the two",
                )
            if ok:
                out.append(call)
        return out

    def _class_weight(
        self, setting: ast.Setting | None, value: ArgValue, loss: OpCall | None, pred: object
    ) -> tuple[float, ...] | None:
        """One weight per class of a classification loss."""
        if setting is None or value is None or loss is None or pred is None:
            return None
        weights = value if isinstance(value, tuple) else (value,)
        if getattr(loss.op, "labels", "same") not in ("classes", "sparse", "onehot"):
            self.rep.error(
                "E0601",
                f"`class_weight` needs a classification loss; `{loss.op.name}` is not one",
                self.file,
                setting.value.span,
                "no classes to weigh",
            )
            return None
        from nndsl.shapes import TensorType

        assert isinstance(pred, TensorType)
        classes = pred.shape[-1].as_int() if pred.rank else None
        if classes is not None and len(weights) != classes:
            self.rep.error(
                "E0601",
                f"`class_weight` has {len(weights)} weights, but the model predicts "
                f"{classes} classes",
                self.file,
                setting.value.span,
                f"expected {classes} weights",
                notes=[f"the model's output is `{pred}`"],
            )
            return None
        return tuple(float(w) for w in weights)  # type: ignore[arg-type]

    def _scalar_setting(self, arg: Arg, s: ast.Setting | None) -> ArgValue:
        """A number or flag of the section, checked against its declaration like an argument."""
        if s is None:
            return arg.default  # type: ignore[return-value]
        value = self.elab.evaluate(self._frame(), s.value)
        if arg.name == "steps_per_execution" and isinstance(value, ScalarVal):
            if value.value == AUTO:
                return 0
        converted = convert(arg, value, self.file, s.value.span, "train", self.rep, "setting")
        if converted is INVALID or converted is None or isinstance(converted, Dim):
            return arg.default  # type: ignore[return-value]
        return converted  # type: ignore[return-value]


def instantiate_graph(elab: Elaborator, ref: DefRef) -> Graph | None:
    """Instantiate a model with bound parameters into a concrete graph (None on errors).

    A model instantiated twice with the same arguments in one analysis (its own check, then
    a `train` section) is built once: the second gets a copy of the first graph (the nodes
    are immutable and shared), provided the first reported nothing."""
    key = None
    if elab.keys is not None:
        definition = elab.keys.definition(ref)
        if definition is not None:
            key = instance_key(definition, ref.args, (), ())
    if key is not None and key in elab.graphs:
        graph, hover = elab.graphs[key]
        elab.hover.extend(hover)
        return replace(
            graph,
            args=dict(graph.args),
            inputs=list(graph.inputs),
            outputs=list(graph.outputs),
            nodes=list(graph.nodes),
            values=dict(graph.values),
        )
    reports, n_hover = elab.rep.begin(), len(elab.hover)
    built = _instantiate_graph(elab, ref)
    if key is not None and built is not None and reports.quiet:
        elab.graphs[key] = (built, elab.hover[n_hover:])
    return built


def _instantiate_graph(elab: Elaborator, ref: DefRef) -> Graph | None:
    """The model's graph: replayed around its block calls when its own text, the module's
    names and its arguments are those of a recorded instantiation (`memo.models`)."""
    before = sum(1 for d in elab.rep.diagnostics if d.is_error)
    args = {k: v.value for k, v in (ref.args or {}).items() if isinstance(v, ScalarVal)}
    name = ref.definition.name.name
    key = None
    memo = elab.instances
    if elab.keys is not None and memo is not None and elab.composite is None:
        own = elab.keys.own(ref)
        if own is not None:
            key = instance_key(own, ref.args, (), ())
    outs = None
    if key is not None:
        assert memo is not None
        rec = memo.used_composites.get(key) or memo.composites.get(key)
        if rec is not None:
            reports, n_hover = elab.rep.begin(), len(elab.hover)
            builder = GraphBuilder(name, args)  # type: ignore[arg-type]
            outs = elab.replay_composite(rec, ref, builder)
            if outs is None:  # take back what the attempt reported and noted
                reports.rollback()
                del elab.hover[n_hover:]
            # Kept either way: it records the model's own work, still valid for its text; a
            # block being edited (errors, other types) only makes this check elaborate afresh.
            memo.used_composites[key] = rec
    if outs is None:
        builder = GraphBuilder(name, args)  # type: ignore[arg-type]
        recorder = None
        if key is not None:
            assert elab.keys is not None
            recorder = elab.composite = CompositeRecorder(
                builder, elab.hover, elab.keys, ref.definition.span.start
            )
        reports = elab.rep.begin()
        try:
            outs = elab.instantiate(ref, builder, None, prefix="", scope=(name,), concrete=True)
        finally:
            elab.composite = None
        if recorder is not None and reports.quiet:
            recorded = recorder.finish(outs)
            if recorded is not None:
                assert memo is not None
                memo.used_composites[key] = recorded
    after = sum(1 for d in elab.rep.diagnostics if d.is_error)
    if outs is None or after > before:
        return None
    for name, val in outs:
        assert isinstance(val, TensorVal)
        builder.add_output(name, val.value)
    return builder.finish()


def _error_count(tc: TrainChecker) -> int:
    return sum(1 for d in tc.rep.diagnostics if d.is_error)


def _head(item: ast.TrainDef) -> Span:
    return Span(item.span.start, item.span.start + len("train"))


def _zero() -> Span:
    return Span(0, 0)


_NOUNS = {
    OpKind.LOSS: "loss",
    OpKind.METRIC: "metric",
    OpKind.OPTIMIZER: "optimizer",
    OpKind.DATA: "data source",
    OpKind.CALLBACK: "callback",
    OpKind.LAYER: "layer",
    OpKind.FUNCTION: "function",
    OpKind.OPERATOR: "operator",
}


def _example(setting: str) -> str:
    return {
        "loss": "loss = cross_entropy(from_logits = true)",
        "optimizer": "optimizer = adam(learning_rate = 1e-3)",
    }[setting]


def _example_name(kind: OpKind) -> str:
    return {
        OpKind.LOSS: "mse",
        OpKind.OPTIMIZER: "adam(learning_rate = 1e-3)",
        OpKind.METRIC: "accuracy",
        OpKind.DATA: 'npz("file.npz")',
        OpKind.CALLBACK: "early_stopping(patience = 3)",
    }.get(kind, "")


__all__ = ["TrainChecker", "instantiate_graph"]
