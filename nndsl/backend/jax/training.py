"""Jitted train/eval/predict steps built from a `TrainConfig`'s loss, optimizer and metrics.

Losses return per-example values; a step averages them under a 0/1 `mask`, so a ragged final
eval batch can be zero-padded to the fixed batch size without recompiling. Metrics return
per-batch statistics (sums, see `impls/metrics.py`): the runtime adds them up over an epoch
and `Steps.metric_values` turns the totals into the reported values, as Keras's `result()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndsl.backend.jax.compile import CompiledModel, Tree, _concrete_attrs, compile_graph
from nndsl.backend.jax.impls.metrics import Stats, Streaming, loss_metric
from nndsl.backend.jax.impls.optimizers import final_weights
from nndsl.backend.jax.loss_expr import CompiledLoss
from nndsl.backend.jax.registry import ApplyCall, LabelCall, implementation
from nndsl.backend.jax.stacking import weight_index
from nndsl.check.loss_expr import LABEL
from nndsl.ir import Graph, LossExpr, OpCall, TrainConfig
from nndsl.ops import OpKind, callbacks as callback_specs
from nndsl.ops.attrs import declared

Metrics = tuple[Stats, ...]  # one dict of summed statistics per metric
Aux = dict[str, jax.Array]  # loop state besides weights: the float16 loss scale
TrainStep = Callable[..., tuple[Tree, Tree, Any, Aux, jax.Array, Metrics, jax.Array]]

# Step status, returned by every step: APPLIED, NONFINITE (loss or gradients not finite; the
# update was dropped), OVERFLOW (float16 gradients overflowed under the loss scale: dropped,
# the scale halves; routine, not an error), NOT_RUN (after a NONFINITE in a multi-step call
# under `on_nonfinite = "stop"`: the weights stay as they were before the bad step).
APPLIED, NONFINITE, OVERFLOW, NOT_RUN = 0, 1, 2, 3

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
# Dynamic loss scaling for float16 (as Keras's LossScaleOptimizer and `jmp`): start at 2^15,
# halve on overflow, double after this many applied steps in a row.
LOSS_SCALE_START, LOSS_SCALE_PERIOD = 2.0**15, 2000


@dataclass(frozen=True, eq=False)
class Steps:
    """Everything a training loop calls. `metric_names` orders the metric tuples."""

    model: CompiledModel
    optimizer: optax.GradientTransformation
    metric_names: tuple[str, ...]
    # (params, state, opt_state, aux, x, y, step_root, step[, after]) ->
    #     (params, state, opt_state, aux, loss, metric stats, status)
    # `y`: the labels, or `(labels, per-example loss weights)` (`sample_weight`); `step_root`
    # and `step` only matter to models with stochastic layers (the step's key)
    # `after`: the status (or statuses) of the call before; after NONFINITE or NOT_RUN the step
    # is NOT_RUN, a no-op, so a loop that reads statuses back late under `on_nonfinite =
    # "stop"` still ends with the weights the bad step started from (pass APPLIED otherwise)
    train_step: TrainStep
    # the same over stacked batches xs [N, B, ...], ys [N, B, ...] from `step`: N steps in one
    # call (`lax.scan`); losses and statuses [N], metric stats summed over applied steps
    train_steps: TrainStep
    # (params, state, x, y, mask) -> (loss sum, metric stats, count)
    eval_step: Callable[..., tuple[jax.Array, Metrics, jax.Array]]
    # (params, state, x) -> first output, inference mode
    predict: Callable[..., jax.Array]
    # summed metric stats -> one value per metric
    finalize: Callable[[Metrics], tuple[jax.Array, ...]]
    precision: str = "float32"
    scaled_lr: bool = False  # the optimizer state carries a learning-rate factor

    def init_opt_state(self, params: Tree) -> Any:
        return self.optimizer.init(params)

    def final_params(self, params: Tree, opt_state: Any) -> Tree:
        """The weights training ends with: the optimizer's EMA under `use_ema` (as Keras's
        `fit` ends with `finalize_variable_values`), else `params`."""
        final: Tree = final_weights(params, opt_state)
        if final is params:
            return final
        # The EMA covers the updated weights only: frozen ones are masked out (`MaskedNode`).
        return {
            path: {
                k: params[path][k] if isinstance(v, optax.MaskedNode) else v for k, v in ws.items()
            }
            for path, ws in final.items()
        }

    def init_aux(self) -> Aux:
        if self.precision != "float16":
            return {}
        return {
            "loss_scale": jnp.asarray(LOSS_SCALE_START, jnp.float32),
            "good_steps": jnp.zeros((), jnp.int32),
        }

    def metric_values(self, totals: Metrics) -> list[float]:
        """The reported values from statistics summed over batches (`add_metric_stats`)."""
        if not totals:
            return []
        return [float(v) for v in self.finalize(totals)]


def lr_factor(opt_state: Any) -> float:
    """The learning-rate factor set by `reduce_lr_on_plateau` (1.0 when there is none)."""
    if "lr_scale" in getattr(opt_state, "hyperparams", {}):
        return float(opt_state.hyperparams["lr_scale"])
    return 1.0


def with_lr_factor(opt_state: Any, factor: float) -> Any:
    """`opt_state` with the learning-rate factor replaced (an `inject_hyperparams` value)."""
    if "lr_scale" not in getattr(opt_state, "hyperparams", {}):
        raise ValueError("this optimizer state has no learning-rate factor")
    hyper = dict(opt_state.hyperparams)
    hyper["lr_scale"] = jnp.asarray(factor, hyper["lr_scale"].dtype)
    return opt_state._replace(hyperparams=hyper)


def _cast_floats(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


def _all_finite(tree: Any) -> jax.Array:
    """Whether every element of the (floating-point) leaves is finite, as the largest `|a|`
    with NaN mapped to infinity (XLA:CPU's max may skip NaN). A float max-reduction is one
    vectorised read of the gradients; `all(isfinite(a))` first wrote a boolean array as large
    as them, which cost twice as much (bench/README.md)."""
    peaks = [
        jnp.max(jnp.where(jnp.isnan(a), jnp.inf, jnp.abs(a))).astype(jnp.float32)
        for a in jax.tree.leaves(tree)
        if a.size
    ]
    return jnp.isfinite(jnp.max(jnp.stack(peaks))) if peaks else jnp.asarray(True)


def _select(ok: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)


def _healthy(after: Any) -> jax.Array:
    """Whether a step may run after a call that ended with status(es) `after`."""
    after = jnp.asarray(after)
    return jnp.all((after != NONFINITE) & (after != NOT_RUN))


def add_metric_stats(a: Metrics | None, b: Metrics) -> Metrics:
    """Running totals of metric statistics, on the host in float64 (exact over an epoch)."""
    host = tuple({k: np.asarray(v, np.float64) for k, v in m.items()} for m in b)
    if a is None:
        return host  # type: ignore[return-value]
    return tuple({k: x[k] + y[k] for k in x} for x, y in zip(a, host, strict=True))


def metric_streaming(call: OpCall) -> Streaming:
    """A metric's implementation; a loss listed as a metric reports its mean."""
    if call.op.kind is OpKind.LOSS:
        return loss_metric(implementation(call.op), float(getattr(call.op, "metric_sign", 1.0)))
    metric = implementation(call.op)
    assert isinstance(metric, Streaming), f"{call.op.name} is not a streaming metric"
    return metric


def metric_label(call: OpCall) -> str:
    """`accuracy`, `auc`: how a metric is logged when no other of its name is listed."""
    return callback_specs.metric_label(call.op.name, call.attrs, call.op.args)


def metric_labels(calls: Sequence[OpCall]) -> list[str]:
    """`accuracy`, `auc`: how each metric is logged (`ops.callbacks.metric_labels`)."""
    return callback_specs.metric_labels((c.op.name, c.attrs, c.op.args) for c in calls)


@dataclass(frozen=True)
class _Head:
    """One trained output: its index among the outputs, name (None: the model's only trained
    output, whose labels are a plain array), loss and the loss's weight."""

    index: int
    name: str | None
    loss: OpCall
    weight: float = 1.0

    @property
    def from_logits(self) -> bool:
        return bool(declared(self.loss.attrs, "from_logits", False))


def _with_logits(call: OpCall) -> OpCall:
    """`call` read as taking logits (for a metric of an output its loss reads as logits)."""
    return OpCall(call.op, {**call.attrs, "from_logits": True}, call.span)


def build_steps(
    graph: Graph,
    loss: OpCall,
    optimizer: OpCall,
    metrics: Sequence[OpCall] = (),
    *,
    class_weight: Sequence[float] | None = None,
    precision: str = "float32",
    scaled_lr: bool = False,
    losses: Mapping[str, OpCall] | None = None,
    loss_weights: Mapping[str, float] | None = None,
    output_metrics: Mapping[str, Sequence[OpCall]] | None = None,
    loss_expr: LossExpr | None = None,
    constrain: Callable[[Any], Any] | None = None,
) -> Steps:
    """The model trains on its first output with `loss` and `metrics`; or, given `losses` (by
    output name), on each output named there, the loss the sum of theirs times `loss_weights`,
    with `output_metrics` by output name. Then `y` is a dict of labels by output name, and the
    metrics are each output's loss (`<output>_loss`) then its metrics (`<output>_<metric>`), as
    Keras logs them. With several inputs, `x` is a dict of arrays by input name.

    `precision` is the compute dtype: trainable weights and float inputs are cast to it at the
    model's boundary (so every op computes in it, whatever the `f32` annotations say), the
    prediction is cast back to float32 for the loss and the metrics, and the weights, their
    gradients, the optimizer state and non-trainable state stay float32. `scaled_lr` wraps
    the optimizer so a callback can scale its learning rate (`optax.inject_hyperparams`).

    `loss_expr` (`loss = <expression>`) replaces `loss`: the objective is its value on the
    batch, `y` a dict of the labels it reads (`backend.jax.loss_expr`).

    `constrain` (a `distribute` layout's, `nndsl.runtime.distribute`) keeps each step's new
    weights, state and optimizer state on the shardings their inputs had."""
    model = compile_graph(graph)
    input_names = [i.name for i in graph.inputs]
    index = {o.name: i for i, o in enumerate(graph.outputs)}
    weights_by_name = loss_weights or {}
    heads = (
        [_Head(index[n], n, c, float(weights_by_name.get(n, 1.0))) for n, c in losses.items()]
        if losses
        else [_Head(0, None, loss)]
    )
    loss_fns = [implementation(h.loss.op) for h in heads]
    # (streaming metric, attrs, head): the head gives the prediction, labels and from_logits
    metric_fns: list[tuple[Streaming, Any, _Head]] = []
    names: list[str] = []
    expression = CompiledLoss(loss_expr, graph) if loss_expr is not None else None
    if expression is not None:
        # Metrics of a loss expression: each output against the labels the data gives it
        # (`y` for the first output, else `y_<output>`), from_logits as its built-in loss.
        label_of = {out: name for name, out in expression.expr.labels().items()}
        keyed = [(graph.outputs[0].name, m, metric_label(m)) for m in metrics] + [
            (out, m, f"{out}_{metric_label(m)}")
            for out, calls in (output_metrics or {}).items()
            for m in calls
        ]
        for out, m, label in keyed:
            head = _Head(index[out], label_of[out], loss)
            if expression.from_logits(label_of[out], out):
                head = _Head(index[out], label_of[out], _with_logits(loss))
            metric_fns.append((metric_streaming(m), m.attrs, head))
            names.append(label)
    elif losses:
        for h, fn in zip(heads, loss_fns, strict=True):
            metric_fns.append((loss_metric(fn), h.loss.attrs, h))
            names.append(f"{h.name}_loss")
        by_name = {h.name: h for h in heads}
        for out, calls in (output_metrics or {}).items():
            for m in calls:
                metric_fns.append((metric_streaming(m), m.attrs, by_name[out]))
            names += [f"{out}_{label}" for label in metric_labels(calls)]
    else:
        metric_fns = [(metric_streaming(m), m.attrs, heads[0]) for m in metrics]
        names = metric_labels(metrics)
    inner: optax.GradientTransformation = implementation(optimizer.op)(optimizer.attrs)
    inner = frozen_masked(graph, inner)
    tx = inner
    if scaled_lr:
        tx = optax.inject_hyperparams(lambda lr_scale: optax.chain(inner, optax.scale(lr_scale)))(
            lr_scale=1.0
        )
    compute = COMPUTE_DTYPES[precision]
    weights = None if class_weight is None else jnp.asarray(class_weight, jnp.float32)
    scaling = precision == "float16"
    # No per-step key unless a layer draws from it: deriving one costs a threefry per step,
    # and leaving `step_root`/`step` unused lets jit drop them from the call.
    stochastic = graph.stochastic

    def step_key(step_root: jax.Array, step: jax.Array) -> jax.Array | None:
        return jax.random.fold_in(step_root, step) if stochastic else None

    def pick(tree: Any, head: _Head) -> jax.Array:
        """The head's prediction or labels: by name from several trained outputs."""
        picked: jax.Array = tree if head.name is None else tree[head.name]
        return picked

    def loss_values(
        preds: list[jax.Array], y: Any, mask: jax.Array | None, x: Any = None
    ) -> jax.Array:
        """Per-example values `[B]`, or one value for the batch (`dice` and such); with several
        trained outputs, the weighted sum of theirs."""
        total: jax.Array | None = None
        for h, fn in zip(heads, loss_fns, strict=True):
            call = LabelCall(h.loss.attrs, preds[h.index], pick(y, h), h.from_logits, mask)
            values: jax.Array = fn(call).astype(jnp.float32)
            if h.name is not None:
                values = values * h.weight
            total = values if total is None else total + values
        assert total is not None
        return total

    def example_weights(y: jax.Array) -> jax.Array:
        """`class_weight` of each example's class (ids or one-hot), averaged over extra axes."""
        assert weights is not None
        if jnp.issubdtype(y.dtype, jnp.integer):
            w = weights[y]
        else:
            w = jnp.sum(y.astype(jnp.float32) * weights, axis=-1)
        return w.reshape(w.shape[0], -1).mean(axis=1) if w.ndim > 1 else w

    def split_labels(y: Any) -> tuple[jax.Array, jax.Array | None]:
        """`y` is the labels, or `(labels, per-example weights)` under `sample_weight`."""
        return (y[0], y[1]) if isinstance(y, tuple) else (y, None)

    def weighted(values: jax.Array, y: jax.Array, w: jax.Array | None, training: bool) -> jax.Array:
        """Per-example losses times the sample weights (as Keras's `sample_weight`: the batch
        mean stays over all examples) and, in training only, `class_weight` (as Keras's `fit`;
        its evaluation ignores them); a loss of the whole batch (`dice`) is left as it is."""
        if not values.ndim:
            return values
        if weights is not None and training:
            values = values * example_weights(y)
        if w is not None:
            values = values * w.astype(jnp.float32)
        return values

    def objective_values(
        preds: list[jax.Array],
        y: Any,
        w: jax.Array | None,
        mask: jax.Array | None,
        x: Any,
        training: bool,
    ) -> jax.Array:
        """The weighted per-example losses (see `weighted`), or a loss expression's value with
        the example weights (`sample_weight`, and `class_weight` of the labels `y` in training)
        applied to its built-in losses."""
        if expression is None:
            return weighted(loss_values(preds, y, mask, x), y, w, training)
        if weights is not None and training:
            by_class = example_weights(y[LABEL])
            w = by_class if w is None else w.astype(jnp.float32) * by_class
        return expression(preds, x, y, mask, None if w is None else w.astype(jnp.float32))

    def metric_stats(preds: list[jax.Array], y: Any, mask: jax.Array | None) -> Metrics:
        return tuple(
            fn.update(LabelCall(attrs, preds[h.index], pick(y, h), h.from_logits, mask))
            for fn, attrs, h in metric_fns
        )

    def finalize(totals: Metrics) -> tuple[jax.Array, ...]:
        return tuple(
            fn.finalize(t, attrs) for (fn, attrs, _), t in zip(metric_fns, totals, strict=True)
        )

    def forward(
        p: Tree, state: Tree, x: Any, training: bool, key: jax.Array | None
    ) -> tuple[list[jax.Array], Tree, jax.Array]:
        """The model in the compute dtype; predictions and added losses back in float32. `x`:
        the one input's array, or a dict of arrays by input name."""
        xs = [x[n] for n in input_names] if isinstance(x, dict) else [x]
        if compute is not jnp.float32:
            p = _cast_floats(p, compute)
            xs = [a.astype(compute) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in xs]
        outs, new_state, added = model.apply_with_losses(p, state, xs, training=training, key=key)
        if compute is not jnp.float32:  # state keeps its own dtype (float32 statistics)
            new_state = jax.tree.map(lambda n, o: n.astype(o.dtype), new_state, state)
        return [o.astype(jnp.float32) for o in outs], new_state, added.astype(jnp.float32)

    def one_step(
        params: Tree,
        state: Tree,
        opt_state: Any,
        aux: Aux,
        x: Any,
        y: Any,
        key: jax.Array | None,
        active: jax.Array,
    ) -> tuple[Tree, Tree, Any, Aux, jax.Array, Metrics, jax.Array]:
        scale = aux["loss_scale"] if scaling else jnp.asarray(1.0, jnp.float32)

        labels, sample_w = split_labels(y)

        def objective(p: Tree) -> tuple[jax.Array, tuple[jax.Array, Tree, list[jax.Array]]]:
            pred, new_state, added = forward(p, state, x, True, key)
            values = objective_values(pred, labels, sample_w, None, x, True)
            value = jnp.mean(values) + added + model.penalty(p)
            return value * scale, (value, new_state, pred)

        (_, (value, new_state, pred)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        grads_ok = _all_finite(grads)
        loss_ok = jnp.isfinite(value)
        status = jnp.where(
            loss_ok & (grads_ok | scaling),
            jnp.where(grads_ok, APPLIED, OVERFLOW),
            NONFINITE,
        )
        status = jnp.where(active, status, NOT_RUN).astype(jnp.int32)
        apply = status == APPLIED

        def update(_: None) -> tuple[Tree, Tree, Any]:
            g = jax.tree.map(lambda t: t / scale, grads) if scaling else grads
            updates, new_opt = tx.update(g, opt_state, params)
            return model.constrain(optax.apply_updates(params, updates)), new_state, new_opt

        def keep(_: None) -> tuple[Tree, Tree, Any]:
            return params, state, opt_state

        # `cond`, not a select: a normal step costs no extra pass over the weights, and a
        # dropped one leaves them exactly as the step found them (for the diagnosis).
        new_params, new_state_out, new_opt = jax.lax.cond(apply, update, keep, None)
        if constrain is not None:
            new_params, new_state_out, new_opt = constrain((new_params, new_state_out, new_opt))
        new_aux = aux
        if scaling:
            good = jnp.where(apply, aux["good_steps"] + 1, 0)
            grow = good >= LOSS_SCALE_PERIOD
            new_scale = jnp.where(
                status == OVERFLOW,
                jnp.maximum(scale / 2, 1.0),
                jnp.where(grow, scale * 2, scale),
            )
            new_aux = {"loss_scale": new_scale, "good_steps": jnp.where(grow, 0, good)}
        return (
            new_params,
            new_state_out,
            new_opt,
            new_aux,
            value,
            metric_stats(jax.lax.stop_gradient(pred), labels, None),
            status,
        )

    def train_step(
        params: Tree,
        state: Tree,
        opt_state: Any,
        aux: Aux,
        x: Any,
        y: Any,
        step_root: jax.Array,
        step: jax.Array,
        after: Any = APPLIED,
    ) -> tuple[Tree, Tree, Any, Aux, jax.Array, Metrics, jax.Array]:
        key = step_key(step_root, step)
        return one_step(params, state, opt_state, aux, x, y, key, _healthy(after))

    def train_steps(
        params: Tree,
        state: Tree,
        opt_state: Any,
        aux: Aux,
        xs: Any,
        ys: Any,
        step_root: jax.Array,
        step: jax.Array,
        stop_on_nonfinite: bool,
        after: Any = APPLIED,
    ) -> tuple[Tree, Tree, Any, Aux, jax.Array, Metrics, jax.Array]:
        """`xs.shape[0]` steps in one call; the compiled program holds one step body, so
        compile time does not grow with the number of steps."""

        def body(carry: Any, inp: Any) -> tuple[Any, Any]:
            p, s, o, a, healthy, i = carry
            x, y = inp
            key = step_key(step_root, step + i)
            p, s, o, a, value, stats, status = one_step(p, s, o, a, x, y, key, healthy)
            if stop_on_nonfinite:
                healthy = healthy & (status != NONFINITE)
            return (p, s, o, a, healthy, i + 1), (value, stats, status)

        init = (params, state, opt_state, aux, _healthy(after), jnp.zeros((), step.dtype))
        (params, state, opt_state, aux, _, _), (values, stats, statuses) = jax.lax.scan(
            body, init, (xs, ys)
        )
        applied = (statuses == APPLIED).astype(jnp.float32)
        summed = jax.tree.map(lambda a: jnp.tensordot(applied.astype(a.dtype), a, axes=1), stats)
        return params, state, opt_state, aux, values, summed, statuses

    def eval_step(
        params: Tree, state: Tree, x: Any, y: Any, mask: jax.Array
    ) -> tuple[jax.Array, Metrics, jax.Array]:
        pred, _, _ = forward(params, state, x, False, None)
        labels, sample_w = split_labels(y)
        m = mask.astype(jnp.float32)
        values = objective_values(pred, labels, sample_w, m, x, False)
        # `where`, not a product: padded rows may give NaN (0/0 on all-zero rows)
        loss_sum = jnp.sum(jnp.where(m > 0, values, 0.0)) if values.ndim else values * jnp.sum(m)
        return loss_sum, metric_stats(pred, labels, m), jnp.sum(m)

    def predict(params: Tree, state: Tree, x: Any) -> jax.Array:
        return forward(params, state, x, False, None)[0][0]

    return Steps(
        model=model,
        optimizer=tx,
        metric_names=tuple(names),
        train_step=jax.jit(train_step, donate_argnums=(0, 1, 2, 3)),
        train_steps=jax.jit(train_steps, donate_argnums=(0, 1, 2, 3), static_argnums=(8,)),
        eval_step=jax.jit(eval_step),
        predict=jax.jit(predict),
        finalize=jax.jit(finalize),
        precision=precision,
        scaled_lr=scaled_lr,
    )


def frozen_masked(graph: Graph, tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """`tx` on the weights training updates; frozen ones (`trainable = false`, `freeze`) get
    a zero update and no optimizer state (`optax.multi_transform`'s masking). The labels are
    read off the params tree given, per copy or packed (`backend.jax.stacking`): the copies
    of a packed repeat are frozen alike (a `freeze` pattern that tells them apart has the
    checker unroll the repeat), so a stacked weight takes its body weight's label."""
    if not any(w.trainable and w.frozen for _, w in _distinct_weights(graph)):
        return tx
    index = weight_index(graph)

    def labels(params: Tree) -> dict[str, dict[str, str]]:
        return {
            path: {name: "frozen" if index[(path, name)][0].frozen else "train" for name in ws}
            for path, ws in params.items()
        }

    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


def _distinct_weights(graph: Graph) -> list[tuple[Any, Any]]:
    """Each weight once: a repeat's body weights once, not per copy."""
    out: list[tuple[Any, Any]] = []
    for node in graph.nodes:
        if node.repeat is None:
            out.extend((node, w) for w in node.weights)
        else:
            out.extend(node.repeat.body.weights())
    return out


def first_nonfinite(steps: Steps, params: Tree, state: Tree, x: Any, key: jax.Array) -> str | None:
    """Re-run the forward pass node by node, un-jitted, in training mode: the scope name
    (`Model/block/dense[h]@L12`) of the first layer whose output is not finite, or None."""
    model = steps.model
    compute = COMPUTE_DTYPES[steps.precision]
    p = _cast_floats(params, compute) if compute is not jnp.float32 else params
    env = model._bind_inputs(x if isinstance(x, dict) else [x])
    if compute is not jnp.float32:
        env = {k: _cast_floats(v, compute) for k, v in env.items()}
    sizes = model._symbol_sizes(env)
    for node in model.graph.nodes:
        node_key = None
        if node.op.stochastic:
            node_key = jax.random.fold_in(key, node.id)
        call = ApplyCall(
            attrs=_concrete_attrs(node.attrs, sizes) if sizes else node.attrs,
            inputs=[env[v] for v in node.inputs],
            params=p.get(node.path, {}),
            state=state.get(node.path, {}),
            training=not node.frozen,
            key=node_key,
        )
        result = implementation(node.op)(call)
        results = tuple(result) if node.extra_outputs else (result,)
        for vid, value in zip(node.output_ids, results, strict=True):
            env[vid] = value
            if jnp.issubdtype(value.dtype, jnp.inexact) and not bool(jnp.all(jnp.isfinite(value))):
                return node.scope_name
    return None


def steps_for(config: TrainConfig, constrain: Callable[[Any], Any] | None = None) -> Steps:
    return build_steps(
        config.graph,
        config.loss,
        config.optimizer,
        config.metrics,
        class_weight=config.class_weight,
        precision=config.precision,
        scaled_lr=any(c.op.name == "reduce_lr_on_plateau" for c in config.callbacks),
        losses=config.losses or None,
        loss_weights=config.loss_weights,
        output_metrics=config.output_metrics,
        loss_expr=config.loss_expr,
        constrain=constrain,
    )
