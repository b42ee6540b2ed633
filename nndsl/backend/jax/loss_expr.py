"""A `loss = <expression>` (`ir.LossExpr`) evaluated on one batch, inside the train step.

The expression's graph runs node by node like a model's, its inputs fed by name from the
model's outputs, its inputs and the labels. A built-in loss in it (`ops.loss_functions`) is the
mean of its per-example values over the batch's real rows (under the eval mask); the rest of
the expression sees every row of a padded evaluation batch, as it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, LabelCall, implementation
from nndsl.ir import Graph, LossExpr
from nndsl.ops.attrs import declared
from nndsl.ops.loss_functions import LossFunction


class CompiledLoss:
    """`expr` over the batches of `model`; every op's implementation is looked up now."""

    def __init__(self, expr: LossExpr, model: Graph) -> None:
        self.expr = expr
        self.outputs = {o.name: i for i, o in enumerate(model.outputs)}
        self.inputs = [i.name for i in model.inputs]
        self.fns = [
            implementation(n.op.loss if isinstance(n.op, LossFunction) else n.op)
            for n in expr.graph.nodes
        ]

    def from_logits(self, label: str, output: str) -> bool:
        """Whether the built-in loss comparing `output` with the labels `label` in the
        expression reads logits (what a metric on that output then assumes too)."""
        names = {i.value: i.name for i in self.expr.graph.inputs}
        for node in self.expr.graph.nodes:
            if isinstance(node.op, LossFunction) and len(node.inputs) == 2:
                truth, pred = (names.get(v) for v in node.inputs)
                if truth == label and self.expr.sources.get(pred or "") == ("output", output):
                    return bool(declared(node.attrs, "from_logits", False))
        return False

    def __call__(
        self,
        preds: Sequence[jax.Array],
        x: Any,
        y: Mapping[str, jax.Array],
        mask: Any = None,
        weights: jax.Array | None = None,
    ) -> jax.Array:
        """The objective for this batch: `preds` in output order, `x` the one input's array or
        arrays by input name, `y` the labels by graph input name (`LossExpr.labels`).
        `weights` (`sample_weight`, `class_weight`): per-example weights `[B]` multiplying each
        built-in loss's per-example values before its batch mean, as Keras weighs its compiled
        losses; the rest of the expression is not weighted (as Keras's `add_loss` terms)."""
        xs = x if isinstance(x, dict) else {self.inputs[0]: x}
        env: dict[int, jax.Array] = {}
        for i in self.expr.graph.inputs:
            kind, name = self.expr.sources[i.name]
            if kind == "output":
                env[i.value] = preds[self.outputs[name]]
            elif kind == "input":
                env[i.value] = jnp.asarray(xs[name])
            else:
                env[i.value] = jnp.asarray(y[i.name])
        for node, fn in zip(self.expr.graph.nodes, self.fns, strict=True):
            args = [env[v] for v in node.inputs]
            if isinstance(node.op, LossFunction):
                from_logits = bool(declared(node.attrs, "from_logits", False))
                values = fn(LabelCall(node.attrs, args[1], args[0], from_logits, mask))
                values = values.astype(jnp.float32)
                if weights is not None and values.ndim:
                    values = values * weights.reshape((-1,) + (1,) * (values.ndim - 1))
                env[node.output] = _batch_mean(values, mask)
            else:
                env[node.output] = fn(ApplyCall(attrs=node.attrs, inputs=args))
        out = self.expr.graph.outputs[0].value
        return env[out].astype(jnp.float32)


def _batch_mean(values: jax.Array, mask: Any) -> jax.Array:
    """Per-example values `[B]` averaged over the real rows; a batch-level value as it is."""
    if not values.ndim:
        return values
    if mask is None:
        return jnp.mean(values)
    m = mask.astype(jnp.float32)
    return jnp.sum(jnp.where(m > 0, values, 0.0)) / jnp.maximum(jnp.sum(m), 1.0)
