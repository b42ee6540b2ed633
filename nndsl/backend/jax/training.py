"""Jitted train/eval/predict steps built from a `TrainConfig`'s loss, optimizer and metrics.

Losses return per-example values; a step averages them under a 0/1 `mask`, so a ragged final
eval batch can be zero-padded to the fixed batch size without recompiling. Metrics return
per-batch statistics (sums, see `impls/metrics.py`): the runtime adds them up over an epoch
and `Steps.metric_values` turns the totals into the reported values, as Keras's `result()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndsl.backend.jax.compile import CompiledModel, Tree, compile_graph
from nndsl.backend.jax.impls.metrics import Stats, Streaming, loss_metric
from nndsl.backend.jax.impls.optimizers import final_weights
from nndsl.backend.jax.registry import LabelCall, implementation
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.ops import OpKind

Metrics = tuple[Stats, ...]  # one dict of summed statistics per metric
TrainStep = Callable[..., tuple[Tree, Tree, Any, jax.Array, Metrics]]


@dataclass(frozen=True, eq=False)
class Steps:
    """Everything a training loop calls. `metric_names` orders the metric tuples."""

    model: CompiledModel
    optimizer: optax.GradientTransformation
    metric_names: tuple[str, ...]
    # (params, state, opt_state, x, y, key) -> (params, state, opt_state, loss, metric stats)
    train_step: TrainStep
    # (params, state, x, y, mask) -> (loss sum, metric stats, count)
    eval_step: Callable[..., tuple[jax.Array, Metrics, jax.Array]]
    # (params, state, x) -> first output, inference mode
    predict: Callable[..., jax.Array]
    # summed metric stats -> one value per metric
    finalize: Callable[[Metrics], tuple[jax.Array, ...]]

    def init_opt_state(self, params: Tree) -> Any:
        return self.optimizer.init(params)

    def final_params(self, params: Tree, opt_state: Any) -> Tree:
        """The weights training ends with: the optimizer's EMA under `use_ema` (as Keras's
        `fit` ends with `finalize_variable_values`), else `params`."""
        return final_weights(params, opt_state)

    def metric_values(self, totals: Metrics) -> list[float]:
        """The reported values from statistics summed over batches (`add_metric_stats`)."""
        if not totals:
            return []
        return [float(v) for v in self.finalize(totals)]


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
    """`accuracy`, or `top_k_accuracy(k=3)` when arguments differ from the defaults."""
    changed = [
        f"{a.name}={call.attrs[a.name]}"
        for a in call.op.args
        if a.name in call.attrs and call.attrs[a.name] != a.default
    ]
    return f"{call.op.name}({', '.join(changed)})" if changed else call.op.name


def build_steps(
    graph: Graph, loss: OpCall, optimizer: OpCall, metrics: Sequence[OpCall] = ()
) -> Steps:
    """The model must have one input and trains on its first output."""
    if len(graph.inputs) != 1:
        raise ValueError(
            f"training needs a model with one input; {graph.name} has {len(graph.inputs)}"
        )
    model = compile_graph(graph)
    loss_fn = implementation(loss.op)
    metric_fns = [(metric_streaming(m), m.attrs) for m in metrics]
    tx: optax.GradientTransformation = implementation(optimizer.op)(optimizer.attrs)
    from_logits = bool(loss.attrs.get("from_logits", False))

    def loss_values(pred: jax.Array, y: jax.Array, mask: jax.Array | None) -> jax.Array:
        """Per-example values `[B]`, or one value for the batch (`dice` and such)."""
        values: jax.Array = loss_fn(LabelCall(loss.attrs, pred, y, from_logits, mask))
        return values.astype(jnp.float32)

    def metric_stats(pred: jax.Array, y: jax.Array, mask: jax.Array | None) -> Metrics:
        return tuple(
            fn.update(LabelCall(attrs, pred, y, from_logits, mask)) for fn, attrs in metric_fns
        )

    def finalize(totals: Metrics) -> tuple[jax.Array, ...]:
        return tuple(
            fn.finalize(t, attrs) for (fn, attrs), t in zip(metric_fns, totals, strict=True)
        )

    def train_step(
        params: Tree, state: Tree, opt_state: Any, x: jax.Array, y: jax.Array, key: jax.Array
    ) -> tuple[Tree, Tree, Any, jax.Array, Metrics]:
        def objective(p: Tree) -> tuple[jax.Array, tuple[Tree, jax.Array]]:
            outs, new_state, added = model.apply_with_losses(p, state, [x], training=True, key=key)
            value = jnp.mean(loss_values(outs[0], y, None)) + added + model.penalty(p)
            return value, (new_state, outs[0])

        (value, (new_state, pred)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = model.constrain(optax.apply_updates(params, updates))
        pred = jax.lax.stop_gradient(pred)
        return (
            params,
            new_state,
            opt_state,
            value,
            metric_stats(pred, y, None),
        )

    def eval_step(
        params: Tree, state: Tree, x: jax.Array, y: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, Metrics, jax.Array]:
        outs, _ = model.apply(params, state, [x], training=False)
        m = mask.astype(jnp.float32)
        values = loss_values(outs[0], y, m)
        # `where`, not a product: padded rows may give NaN (0/0 on all-zero rows)
        loss_sum = jnp.sum(jnp.where(m > 0, values, 0.0)) if values.ndim else values * jnp.sum(m)
        return loss_sum, metric_stats(outs[0], y, m), jnp.sum(m)

    def predict(params: Tree, state: Tree, x: jax.Array) -> jax.Array:
        return model.apply(params, state, [x], training=False)[0][0]

    return Steps(
        model=model,
        optimizer=tx,
        metric_names=tuple(metric_label(m) for m in metrics),
        train_step=jax.jit(train_step, donate_argnums=(0, 1, 2)),
        eval_step=jax.jit(eval_step),
        predict=jax.jit(predict),
        finalize=jax.jit(finalize),
    )


def steps_for(config: TrainConfig) -> Steps:
    return build_steps(config.graph, config.loss, config.optimizer, config.metrics)
