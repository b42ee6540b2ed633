"""Jitted train/eval/predict steps built from a `TrainConfig`'s loss, optimizer and metrics.

Losses and metrics return per-example values; a step averages them under a 0/1 `mask`, so a
ragged final eval batch can be zero-padded to the fixed batch size without recompiling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from nndsl.backend.jax.compile import CompiledModel, Tree, compile_graph
from nndsl.backend.jax.registry import LabelCall, implementation
from nndsl.ir import Graph, OpCall, TrainConfig

Metrics = tuple[jax.Array, ...]
TrainStep = Callable[..., tuple[Tree, Tree, Any, jax.Array, Metrics]]


@dataclass(frozen=True, eq=False)
class Steps:
    """Everything a training loop calls. `metric_names` orders the metric tuples."""

    model: CompiledModel
    optimizer: optax.GradientTransformation
    metric_names: tuple[str, ...]
    # (params, state, opt_state, x, y, key) -> (params, state, opt_state, loss, metrics)
    train_step: TrainStep
    # (params, state, x, y, mask) -> (loss sum, metric sums, count)
    eval_step: Callable[..., tuple[jax.Array, Metrics, jax.Array]]
    # (params, state, x) -> first output, inference mode
    predict: Callable[..., jax.Array]

    def init_opt_state(self, params: Tree) -> Any:
        return self.optimizer.init(params)


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
    metric_fns = [(implementation(m.op), m.attrs) for m in metrics]
    tx: optax.GradientTransformation = implementation(optimizer.op)(optimizer.attrs)
    from_logits = bool(loss.attrs.get("from_logits", False))

    def per_example_loss(pred: jax.Array, y: jax.Array) -> jax.Array:
        values: jax.Array = loss_fn(LabelCall(loss.attrs, pred, y, from_logits))
        return values.astype(jnp.float32)

    def per_example_metrics(pred: jax.Array, y: jax.Array) -> list[jax.Array]:
        return [
            fn(LabelCall(attrs, pred, y, from_logits)).astype(jnp.float32)
            for fn, attrs in metric_fns
        ]

    def train_step(
        params: Tree, state: Tree, opt_state: Any, x: jax.Array, y: jax.Array, key: jax.Array
    ) -> tuple[Tree, Tree, Any, jax.Array, Metrics]:
        def objective(p: Tree) -> tuple[jax.Array, tuple[Tree, jax.Array]]:
            outs, new_state, added = model.apply_with_losses(p, state, [x], training=True, key=key)
            value = jnp.mean(per_example_loss(outs[0], y)) + added + model.penalty(p)
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
            tuple(jnp.mean(m) for m in per_example_metrics(pred, y)),
        )

    def eval_step(
        params: Tree, state: Tree, x: jax.Array, y: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, Metrics, jax.Array]:
        outs, _ = model.apply(params, state, [x], training=False)
        m = mask.astype(jnp.float32)
        loss_sum = jnp.sum(per_example_loss(outs[0], y) * m)
        return loss_sum, tuple(jnp.sum(v * m) for v in per_example_metrics(outs[0], y)), jnp.sum(m)

    def predict(params: Tree, state: Tree, x: jax.Array) -> jax.Array:
        return model.apply(params, state, [x], training=False)[0][0]

    return Steps(
        model=model,
        optimizer=tx,
        metric_names=tuple(metric_label(m) for m in metrics),
        train_step=jax.jit(train_step, donate_argnums=(0, 1, 2)),
        eval_step=jax.jit(eval_step),
        predict=jax.jit(predict),
    )


def steps_for(config: TrainConfig) -> Steps:
    return build_steps(config.graph, config.loss, config.optimizer, config.metrics)
