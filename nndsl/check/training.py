"""Checking `data` and `train` sections into a `TrainConfig`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nndsl.check.arguments import INVALID, CallArg, bind_op_args, convert
from nndsl.check.builder import GraphBuilder
from nndsl.check.distribute import SECTION as DISTRIBUTE, check_distribute
from nndsl.check.elaborate import Elaborator, Frame, article
from nndsl.check.finetune import SETTINGS as FINETUNE_SETTINGS, check_finetune
from nndsl.check.loss_expr import check_setting as loss_setting, is_expression, label_names
from nndsl.check.memo import CompositeRecorder, instance_key
from nndsl.check.paths import is_inside, outside_allowed, project_root, write_path_problem
from nndsl.check.report import did_you_mean
from nndsl.check.values import DefRef, ErrorVal, ModuleScope, ScalarVal, TensorVal, describe
from nndsl.diagnostics import Label
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.ir.distribute import Distribution
from nndsl.ops import Arg, ArgValue, Configured, OpKind, OpSpec, ShapeError, iter_specs, lookup
from nndsl.ops.callbacks import Callback, logged_names, metric_labels, monitor_spelling
from nndsl.ops.data import ZIP, DataSource, Element, check_element, lookup_source
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
SETTINGS = (
    "loss",
    "loss_weights",
    "optimizer",
    "metrics",
    "callbacks",
    *(a.name for a in SCALAR_SETTINGS),
    *FINETUNE_SETTINGS,
)
# `loss = per_output(price = mse, label = cross_entropy(from_logits = true))`: a value for each
# named output of a model with several outputs (Keras's `loss = {"price": ...}`).
PER_OUTPUT = "per_output"
LOSS_WEIGHT = Arg("loss_weights", "float", 1.0, "the weight of an output's loss", min=0.0)
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
        multi = graph is not None and len(graph.outputs) > 1
        pred = graph.outputs[0].type if graph is not None and not multi else None
        optimizer = self._op(values.get("optimizer"), OpKind.OPTIMIZER, None)
        metrics: list[OpCall] = []
        outputs = _PerOutput()
        loss_expr = None
        expr_settings = None
        if "loss" in values and is_expression(values["loss"].value):
            expr_settings = loss_setting(self, values, graph, data_call, item.data.name)
            loss, loss_expr = expr_settings.loss, expr_settings.expr
            metrics, outputs.metrics = expr_settings.metrics, expr_settings.output_metrics
            labels = expr_settings.log_labels()
            if graph is not None and loss is not None:  # y keys: outputs the expression reads
                outputs.losses = dict.fromkeys(label_names(graph, data_call).values(), loss)
            outputs.misnamed = loss is None  # its errors say why; "no loss" would echo them
            multi = True
        elif multi:
            assert graph is not None
            outputs = self._per_output(graph, values)
            loss = next(iter(outputs.losses.values()), None)
            labels = outputs.log_labels()
        else:
            keyed = [n for n in ("loss", "metrics") if n in values and self._is_keyed(values[n])]
            if graph is not None:  # else: the model's errors are the story
                for name in keyed:
                    self.rep.error(
                        "E0601",
                        f"`{name}` is keyed by output, but `{graph.name}` has one output",
                        self.file,
                        values[name].value.span,
                        "one output",
                        help=f"give the value alone: `{name} = "
                        + ("mse`" if name == "loss" else "[accuracy]`"),
                    )
            loss = self._op(values.get("loss"), OpKind.LOSS, pred) if "loss" not in keyed else None
            if "metrics" in values and "metrics" not in keyed:
                m = values["metrics"].value
                items = m.items if isinstance(m, ast.ListLit) else (m,)
                for e in items:
                    call = self._op_expr(e, OpKind.METRIC, pred)
                    if call is not None:
                        metrics.append(call)
            labels = metric_labels((m.op.name, m.attrs, m.op.args) for m in metrics)
            if "loss_weights" in values:
                self.rep.error(
                    "E0601",
                    "`loss_weights` weighs the losses of a model with several outputs",
                    self.file,
                    values["loss_weights"].name.span,
                    f"`{graph.name}` has one output" if graph is not None else "one output",
                    help="remove it, or scale the loss with the learning rate",
                )
        if graph is not None and data_call is not None:
            self._check_data_fits(item, data_call, graph)
            self._check_data_keys(item, data_call, graph, outputs, multi)
        scalars = {
            arg.name: self._scalar_setting(arg, values.get(arg.name)) for arg in SCALAR_SETTINGS
        }
        callbacks = self._callbacks(
            values.get("callbacks"),
            labels,
            float(scalars["validation_split"]),  # type: ignore[arg-type]
            optimizer,
        )
        if multi and "class_weight" in values:
            self.rep.error(
                "E0601",
                "`class_weight` needs a model with one output (as in Keras)",
                self.file,
                values["class_weight"].name.span,
                "several outputs",
                help="weigh the outputs' losses with `loss_weights` instead",
            )
        class_weight = self._class_weight(
            values.get("class_weight"), scalars["class_weight"], loss, pred
        )
        if expr_settings is not None:
            class_weight = expr_settings.class_weight
        distribution = self._sections(item, graph, values, scalars, optimizer)
        tuning = None  # `freeze`, `init`, `strict`
        if graph is not None:
            tuning = check_finetune(
                self.rep, self.file, graph, values, lambda e: self.elab.evaluate(self._frame(), e)
            )
            graph = tuning.graph if tuning is not None else graph
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
            losses=outputs.losses if loss_expr is None else {},
            loss_weights=outputs.weights,
            output_metrics=outputs.metrics,
            init=tuning.init if tuning is not None else None,
            loss_expr=loss_expr,
            distribute=distribution,
        )

    def _sections(
        self,
        item: ast.TrainDef,
        graph: Graph | None,
        values: dict[str, ast.Setting],
        scalars: dict[str, ArgValue],
        optimizer: OpCall | None,
    ) -> Distribution | None:
        """`distribute { ... }`, the one section a `train` takes (E0601 for others)."""
        distribution = None
        seen: ast.Section | None = None
        for section in item.sections:
            name = section.name.name
            if name != DISTRIBUTE:
                self.rep.error(
                    "E0601",
                    f"unknown section `{name}` in `train`",
                    self.file,
                    section.name.span,
                    "not a section",
                    help=f"the section is `{DISTRIBUTE} {{ ... }}`",
                )
            elif seen is not None:
                self.rep.error(
                    "E0601",
                    f"`{DISTRIBUTE}` is given twice",
                    self.file,
                    section.name.span,
                    "given again here",
                    secondary=[Label(seen.name.span, "first given here")],
                )
            else:
                seen = section
                batch = values.get("batch")
                distribution = check_distribute(
                    self.rep,
                    self.file,
                    section,
                    graph,
                    int(scalars["batch"]),  # type: ignore[arg-type]
                    batch.value.span if batch is not None else section.name.span,
                    optimizer,
                    lambda e: self.elab.evaluate(self._frame(), e),
                )
        return distribution

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
        if not isinstance(data.op, DataSource):
            return
        elements = data.op.elements(data.attrs)
        if elements:  # column groups by input name, of one source or of a zip's
            self._check_named_fits(item, data, graph, elements)
            return
        if len(graph.inputs) != 1:
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

    def _check_named_fits(
        self, item: ast.TrainDef, data: OpCall, graph: Graph, elements: dict[str, Element]
    ) -> None:
        """Each column group against the input of its name (unknown names are reported by
        `_check_data_keys`), with the group's key as the span."""
        assert isinstance(data.op, DataSource)
        key_spans = self._data_spans(item.data.name).get("x_keys", (data.span, []))[1]
        named = dict(zip(data.op.names(data.attrs, "x") or (), key_spans, strict=False))
        file = self._data_file(item.data.name)
        for graph_input in graph.inputs:
            el = elements.get(graph_input.name)
            if el is None:
                continue
            name = graph_input.name

            def fix(axis: int, want: int, name: str = name) -> str:
                return f"list {want} columns in group `{name}`"

            try:
                check_element(el, graph_input.type, fix)
            except ShapeError as err:
                self.rep.error(
                    err.code,
                    f"data `{item.data.name}` does not fit model `{graph.name}`: {err.message}",
                    file,
                    named.get(name, data.span),
                    f"feeds input `{name}: {graph_input.type}`",
                    help=err.help,
                )

    def check_data(self, data: ast.DataDef, file: SourceFile) -> OpCall | None:
        """A `data` declaration: a known source with valid arguments (E0602 otherwise)."""
        source = data.source
        if isinstance(source.func, ast.Name) and source.func.ident.name == ZIP:
            return self._zip(data, file)
        return self._op_expr(source, OpKind.DATA, None, file)

    def _zip(self, data: ast.DataDef, file: SourceFile) -> OpCall | None:
        """`zip(a, b, ...)`: each `a` a data source of this file that names what it feeds; the
        checked sources go into the call's attrs (`ops.data.zip_members`)."""
        call = data.source
        spec = lookup(ZIP)
        assert spec is not None
        members: list[Configured] = []
        names: list[str] = []
        spans: list[Span] = []
        ok = True
        positional = [a for a in call.args if a.name is None]
        for a in positional:
            if not isinstance(a.value, ast.Name):
                ok = self._zip_error(
                    file,
                    a.span,
                    "`zip` takes the names of data sources",
                    "not a data name",
                    help="declare the source with `data name = ...` and give its name",
                )
                continue
            name = a.value.ident.name
            decl = self.scope.data.get(name)
            if decl is None:
                ok = self._zip_error(
                    file,
                    a.span,
                    f"unknown data source `{name}`",
                    "no `data` with this name",
                    help=did_you_mean(name, self.scope.data),
                    code="E0101",
                )
                continue
            inner = decl.source.func
            if name == data.name.name or (isinstance(inner, ast.Name) and inner.ident.name == ZIP):
                ok = self._zip_error(
                    file,
                    a.span,
                    "a `zip` reads plain sources, not a `zip`",
                    "a zip",
                    help="list the sources of the inner `zip` here",
                )
                continue
            if name in names:
                ok = self._zip_error(
                    file,
                    a.span,
                    f"`{name}` is zipped twice",
                    "again here",
                    secondary=[Label(spans[names.index(name)], "first here")],
                )
                continue
            member_file = self.scope.data_files.get(name, self.file)
            if member_file.path != file.path:
                ok = self._zip_error(
                    file,
                    a.span,
                    f"`{name}` is declared in another file",
                    "imported",
                    help="declare the zipped sources next to the `zip`: paths are relative to it",
                )
                continue
            reports = self.rep.begin()
            member = self.check_data(decl, member_file)
            if member is None:  # reported at its own declaration
                reports.rollback()
                ok = False
                continue
            members.append(Configured(member.op.name, tuple(member.attrs.items())))
            names.append(name)
            spans.append(a.span)
        if len(positional) < 2:
            ok = self._zip_error(
                file,
                call.span,
                f"`zip` reads two sources or more, found {len(positional)}",
                "too few sources",
                help="e.g. `zip(images, features)`",
            )
        if ok:
            ok = self._zip_names(file, members, names, spans)
        args = [
            CallArg(a.name.name, a.name.span, self.elab.evaluate(self._frame(), a.value), a.span)
            for a in call.args
            if a.name is not None
        ]
        attrs = bind_op_args(spec, args, file, call.span, self.rep)
        if attrs is None or not ok:
            return None
        attrs["sources"] = tuple(members)
        attrs["names"] = tuple(names)
        return OpCall(spec, attrs, call.span)

    def _zip_names(
        self, file: SourceFile, members: list[Configured], names: list[str], spans: list[Span]
    ) -> bool:
        """Every zipped source names what it feeds, and no two feed the same input or output."""
        ok = True
        for role, noun in (("x", "input"), ("y", "output")):
            fed: dict[str, int] = {}
            for i, member in enumerate(members):
                given = lookup_source(member.name).names(member.options, role)
                if given is None:
                    how = {
                        "npz": f'`{role} = ["name", ...]`, each key the name of the {noun} it '
                        f"feeds{'' if role == 'x' else ', or `y = []` for none'}",
                        "csv": f'`{role} = {{name: "column", ...}}`, each group named after '
                        f"the {noun} it feeds",
                    }.get(member.name, "an `npz` with key lists or a `csv` with column groups")
                    ok = self._zip_error(
                        file,
                        spans[i],
                        f"`{names[i]}` gives one unnamed "
                        f"{'inputs' if role == 'x' else 'labels'} array; in a `zip` each source "
                        f"names the {noun}s it feeds",
                        f"unnamed {'inputs' if role == 'x' else 'labels'}",
                        help=f"write {how}",
                    )
                    continue
                for key in given:
                    if key in fed:
                        ok = self._zip_error(
                            file,
                            spans[i],
                            f"{noun} `{key}` is fed by both `{names[fed[key]]}` and `{names[i]}`",
                            f"also feeds `{key}`",
                            secondary=[Label(spans[fed[key]], f"feeds `{key}`")],
                        )
                        continue
                    fed[key] = i
        return ok

    def _zip_error(
        self,
        file: SourceFile,
        span: Span,
        message: str,
        label: str,
        *,
        help: str | None = None,
        code: str = "E0602",
        secondary: list[Label] | None = None,
    ) -> bool:
        self.rep.error(code, message, file, span, label, help=help, secondary=secondary or [])
        return False

    def _data_file(self, name: str) -> SourceFile:
        return self.scope.data_files.get(name, self.file)

    def _data_spans(self, name: str) -> dict[str, tuple[Span, list[Span]]]:
        """Where each argument of data `name` is written (`_arg_spans`); for a `zip`, the key
        spans of its sources' `x` and `y`, in the order of `Zip.names`."""
        decl = self.scope.data.get(name)
        if decl is None:
            return {}
        func = decl.source.func
        if not (isinstance(func, ast.Name) and func.ident.name == ZIP):
            return _arg_spans(decl.source)
        out: dict[str, tuple[Span, list[Span]]] = {}
        for a in decl.source.args:
            if a.name is not None or not isinstance(a.value, ast.Name):
                continue
            inner = self._data_spans(a.value.ident.name) if a.value.ident.name != name else {}
            for role in ("x", "y", "x_keys", "y_keys"):
                if role in inner:
                    where, items = out.get(role, (decl.source.span, []))
                    out[role] = (where, items + inner[role][1])
        return out

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
        elif isinstance(e, ast.StrLit) and kind in _BY_STRING:
            # Keras's string spellings: metrics = ["accuracy"], loss = "mse", optimizer = "adam"
            ident, args_ast = ast.Ident(e.value, e.span), ()
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

    def _per_output(self, graph: Graph, values: dict[str, ast.Setting]) -> _PerOutput:
        """`loss`, `loss_weights` and `metrics` of a model with several outputs, each keyed by
        output name with `per_output(name = ...)`. An output without a loss is not trained (and
        needs no labels); naming one that does not exist is an error."""
        names = [o.name for o in graph.outputs]
        types = {o.name: o.type for o in graph.outputs}
        out = _PerOutput()
        setting = values.get("loss")
        keyed: list[str] = []  # outputs given a loss, whether or not it checked
        if setting is not None:
            entries = self._entries(setting, "loss")
            if entries is None:
                self.rep.error(
                    "E0601",
                    f"`{graph.name}` has {len(names)} outputs ({_listed(names)}); give each "
                    "output that trains its own loss",
                    self.file,
                    setting.value.span,
                    "one loss for several outputs",
                    help="e.g. `loss = {"
                    + ", ".join(f"{n}: mse" for n in names[:2])
                    + "}`; an output without a loss is not trained",
                )
            else:
                found: dict[str, OpCall] = {}
                valid = self._keyed(entries, names, "loss", graph, setting)
                out.misnamed = len(valid) < len(entries)
                for ident, expr in valid:
                    keyed.append(ident.name)
                    call = self._op_expr(expr, OpKind.LOSS, types[ident.name])
                    if call is not None:
                        found[ident.name] = call
                out.losses = {n: found[n] for n in names if n in found}
                if not entries:
                    self.rep.error(
                        "E0601",
                        f"`{_spelled(setting.value)}` names no output, so nothing would train",
                        self.file,
                        setting.value.span,
                        "no loss",
                        help=f"name the outputs that train: `{{{names[0]}: mse}}`",
                    )
        weights = values.get("loss_weights")
        given: dict[str, float] = {}
        if weights is not None:
            entries = self._entries(weights, "loss_weights")
            if entries is None:
                self.rep.error(
                    "E0601",
                    "`loss_weights` needs a weight per output: `{name: weight, ...}`",
                    self.file,
                    weights.value.span,
                    "not keyed by output",
                    help=f"e.g. `loss_weights = {{{names[0]}: 0.5}}`",
                )
            for ident, expr in self._keyed(entries or [], names, "loss_weights", graph, weights):
                if not self._has_loss(ident, keyed, setting, "to weigh", out.misnamed):
                    continue
                value = self.elab.evaluate(self._frame(), expr)
                w = convert(LOSS_WEIGHT, value, self.file, expr.span, "train", self.rep, "setting")
                if isinstance(w, int | float) and not isinstance(w, bool):
                    given[ident.name] = float(w)
        out.weights = {n: given.get(n, 1.0) for n in out.losses}
        metrics = values.get("metrics")
        if metrics is not None:
            entries = self._entries(metrics, "metrics")
            if entries is None:  # one list for every trained output (as Keras 2)
                entries = [(ast.Ident(n, metrics.name.span), metrics.value) for n in out.losses]
            for ident, expr in self._keyed(entries, names, "metrics", graph, metrics):
                if not self._has_loss(
                    ident, keyed, setting, "to measure against labels", out.misnamed
                ):
                    continue
                items = expr.items if isinstance(expr, ast.ListLit) else (expr,)
                for e in items:
                    call = self._op_expr(e, OpKind.METRIC, types[ident.name])
                    if call is not None:
                        out.metrics.setdefault(ident.name, []).append(call)
        out.metrics = {n: out.metrics[n] for n in names if n in out.metrics}
        return out

    def _has_loss(
        self, ident: ast.Ident, keyed: list[str], loss: ast.Setting | None, why: str, quiet: bool
    ) -> bool:
        if ident.name in keyed:
            return True
        if loss is not None and not quiet:  # without a `loss` at all, that is the error reported
            self.rep.error(
                "E0601",
                f"output `{ident.name}` has no loss {why}",
                self.file,
                ident.span,
                "no loss for this output",
                secondary=[Label(loss.value.span, "the losses")],
                help=f"give `{ident.name}` a loss in `loss`, or remove it here",
            )
        return False

    @staticmethod
    def _is_keyed(setting: ast.Setting) -> bool:
        v = setting.value
        return isinstance(v, ast.DictLit) or (
            isinstance(v, ast.Call)
            and isinstance(v.func, ast.Name)
            and v.func.ident.name == PER_OUTPUT
        )

    def _entries(self, setting: ast.Setting, what: str) -> list[tuple[ast.Ident, ast.Expr]] | None:
        """The `name: value` pairs of a dict (`{price: mse}`, Keras's spelling) or the
        `name = value` pairs of `per_output(...)`, the same thing; None when it is neither.
        Keys are checked against the outputs by `_keyed` (a key given twice included)."""
        v = setting.value
        if isinstance(v, ast.DictLit):
            return [(d.key, d.value) for d in v.entries]
        if not (
            isinstance(v, ast.Call)
            and isinstance(v.func, ast.Name)
            and v.func.ident.name == PER_OUTPUT
        ):
            return None
        entries = []
        for a in v.args:
            if a.name is None:
                self.rep.error(
                    "E0601",
                    f"`{PER_OUTPUT}` in `{what}` takes `output = value` pairs",
                    self.file,
                    a.span,
                    "no output named",
                    help=f"write `{PER_OUTPUT}(output_name = ...)`",
                )
                continue
            entries.append((a.name, a.value))
        return entries

    def _keyed(
        self,
        entries: list[tuple[ast.Ident, ast.Expr]],
        names: list[str],
        what: str,
        graph: Graph,
        setting: ast.Setting,
    ) -> list[tuple[ast.Ident, ast.Expr]]:
        """The entries that name an output of `graph`, each once; the others are errors (a
        dict's key given twice is E0106, as anywhere else)."""
        twice = "E0106" if isinstance(setting.value, ast.DictLit) else "E0601"
        seen: dict[str, Span] = {}
        out = []
        for ident, expr in entries:
            if ident.name not in names:
                self.rep.error(
                    "E0601",
                    f"`{graph.name}` has no output `{ident.name}`",
                    self.file,
                    ident.span,
                    f"not an output (in `{what}`)",
                    help=did_you_mean(ident.name, names) or f"its outputs are {_listed(names)}",
                )
                continue
            if ident.name in seen:
                self.rep.error(
                    twice,
                    f"output `{ident.name}` is named twice in `{what}`",
                    self.file,
                    ident.span,
                    "named again here",
                    secondary=[Label(seen[ident.name], "first named here")],
                )
                continue
            seen[ident.name] = ident.span
            out.append((ident, expr))
        return out

    def _check_data_keys(
        self, item: ast.TrainDef, data: OpCall, graph: Graph, outputs: _PerOutput, multi: bool
    ) -> None:
        """Each array of the data matched by name to a model input or a trained output: the
        same names, no more, no fewer. Their shapes and dtypes need the files: the run checks
        them before the first step."""
        file = self._data_file(item.data.name)
        spans = self._data_spans(item.data.name)
        inputs = [i.name for i in graph.inputs]
        trained = list(outputs.losses) if multi else [graph.outputs[0].name]
        for role, names, noun in (("x", inputs, "input"), ("y", trained, "output")):
            given = data.op.names(data.attrs, role) if isinstance(data.op, DataSource) else None
            where, items = spans.get(role, (data.span, []))
            if given is not None:
                items = spans.get(f"{role}_keys", (where, items))[1] or items
                quiet = outputs.misnamed and role == "y"
                self._match_keys(
                    item, graph, role, given, names, noun, file, where, items, quiet, data.op.name
                )
                continue
            if len(names) <= 1:
                continue
            source = data.op.name
            self.rep.error(
                "E0601",
                f"`{graph.name}` has {len(names)} {noun}s to feed ({_listed(names)}), but data "
                f"`{item.data.name}` gives one array",
                file,
                where,
                "one array" if source == "npz" else f"`{source}` gives one array",
                help=f"name one column group per {noun}, each after its {noun}: `{role} = {{"
                + ", ".join(f'{n}: ["..."]' for n in names)
                + "}`"
                if source == "csv"
                else f"name one array per {noun}, each key the {noun}'s name: `{role} = [\""
                + '", "'.join(names)
                + '"]`'
                + ("" if source == "npz" else " in an `npz` file"),
            )

    def _match_keys(
        self,
        item: ast.TrainDef,
        graph: Graph,
        role: str,
        given: tuple[ArgValue, ...],
        names: list[str],
        noun: str,
        file: SourceFile,
        where: Span,
        items: list[Span],
        quiet: bool,
        source: str,
    ) -> None:
        keys = [str(k) for k in given]
        for i, key in enumerate(keys):
            if key in names:
                continue
            span = items[i] if i < len(items) else where
            other = [o.name for o in graph.outputs] if noun == "output" else []
            untrained = key in other
            if untrained and quiet:
                continue
            self.rep.error(
                "E0601",
                f"data `{item.data.name}` labels output `{key}`, which has no loss"
                if untrained
                else f"data `{item.data.name}` has array `{key}`, but `{graph.name}` has no "
                f"{noun} `{key}`",
                file,
                span,
                "no loss for this output" if untrained else f"not an {noun} of `{graph.name}`",
                help=f"give `{key}` a loss, or remove it from `{role}`"
                if untrained
                else did_you_mean(key, names)
                or f"each key is the name of the {noun} it feeds: {_listed(names)}",
            )
        missing = [n for n in names if n not in keys]
        if missing:
            self.rep.error(
                "E0601",
                f"data `{item.data.name}` has no array for {noun} "
                + ", ".join(f"`{n}`" for n in missing)
                + (" (it has a loss)" if noun == "output" else ""),
                file,
                where,
                f"missing {_listed(missing)}",
                help={
                    "csv": f"add a column group of that name to `{role}`",
                    "zip": f"name it in the `{role}` of one of the zipped sources",
                }.get(
                    source,
                    f"add the key{'s' if len(missing) > 1 else ''} to `{role}`, an array of "
                    "that name in the file",
                ),
            )

    def _callbacks(
        self,
        setting: ast.Setting | None,
        labels: list[str],
        validation_split: float,
        optimizer: OpCall | None,
    ) -> list[OpCall]:
        """The `callbacks` list; every monitor must name a value the loop logs (`labels`:
        what is logged besides `loss`)."""
        if setting is None:
            return []
        v = setting.value
        out: list[OpCall] = []
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
                meant = monitor_spelling(str(monitor), logged, _metric_aliases())
                if meant is not None:  # `val_acc` for `val_accuracy`: what the loop logs
                    call = OpCall(call.op, {**call.attrs, arg_name: meant}, call.span)
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

    def _class_weight_value(self, s: ast.Setting) -> tuple[float, ...] | None:
        """`class_weight`'s weights, checked as the setting is (None after an error)."""
        arg = next(a for a in SCALAR_SETTINGS if a.name == "class_weight")
        value = self._scalar_setting(arg, s)
        if value is None:
            return None
        return tuple(float(w) for w in (value if isinstance(value, tuple) else (value,)))  # type: ignore[arg-type]

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


class _PerOutput:
    """What `per_output` settings give: losses, weights and metrics by output name."""

    def __init__(self) -> None:
        self.losses: dict[str, OpCall] = {}
        self.weights: dict[str, float] = {}
        self.metrics: dict[str, list[OpCall]] = {}
        self.misnamed = False  # a loss named no output: "no loss" errors would be its echo

    def log_labels(self) -> list[str]:
        """What the loop logs besides `loss`: `<output>_loss`, `<output>_<metric>` (Keras)."""
        labels = [f"{n}_loss" for n in self.losses]
        for n, calls in self.metrics.items():
            labels += [
                f"{n}_{label}"
                for label in metric_labels((m.op.name, m.attrs, m.op.args) for m in calls)
            ]
        return labels


def _metric_aliases() -> dict[str, str]:
    """`acc` -> `accuracy`: other spellings of the metrics (and losses listed as metrics)."""
    return {
        alias: spec.name
        for kind in (OpKind.METRIC, OpKind.LOSS)
        for spec in iter_specs(kind)
        for alias in spec.aliases
    }


# The kinds a string may name, as Keras's `compile(loss="mse", metrics=["acc"])`.
_BY_STRING = (OpKind.LOSS, OpKind.METRIC, OpKind.OPTIMIZER)


def _spelled(e: ast.Expr) -> str:
    """How an empty keyed value was written, for messages: `{}` or `per_output()`."""
    return "{}" if isinstance(e, ast.DictLit) else f"{PER_OUTPUT}()"


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _arg_spans(call: ast.Expr | None) -> dict[str, tuple[Span, list[Span]]]:
    """Each keyword argument's span in a data source call, and its list items' spans."""
    if not isinstance(call, ast.Call):
        return {}
    out: dict[str, tuple[Span, list[Span]]] = {}
    for a in call.args:
        if a.name is not None:
            items = [e.span for e in a.value.items] if isinstance(a.value, ast.ListLit) else []
            if isinstance(a.value, ast.DictLit):  # column groups: each group's key
                out[f"{a.name.name}_keys"] = (a.value.span, [e.key.span for e in a.value.entries])
            out[a.name.name] = (a.value.span, items)
    return out


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
