"""Metrics as per-example values `[B]` in [0, 1], averaged by the runtime."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.attrs import to_int
from nndsl.backend.jax.impls.labels import is_sparse, like_pred, per_example
from nndsl.backend.jax.registry import LabelCall, impl


def _class_ids(call: LabelCall) -> jax.Array:
    if is_sparse(call.y_pred, call.y_true):
        return call.y_true.astype(jnp.int32)
    return jnp.argmax(call.y_true, axis=-1).astype(jnp.int32)


@impl("accuracy")
def accuracy(call: LabelCall) -> jax.Array:
    """Arg-max for `[B, C]` with C > 1; otherwise a threshold of 0.5 (0 for logits)."""
    pred = call.y_pred
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        hit = jnp.argmax(pred, axis=-1).astype(jnp.int32) == _class_ids(call)
    else:
        threshold = 0.0 if call.from_logits else 0.5
        hit = (pred > threshold) == (like_pred(pred, call.y_true) > 0.5)
    return per_example(hit.astype(jnp.float32))


@impl("top_k_accuracy")
def top_k_accuracy(call: LabelCall) -> jax.Array:
    """A hit when fewer than `k` classes score strictly higher than the true one."""
    k = to_int(call.attrs.get("k", 5))
    ids = _class_ids(call)
    true_score = jnp.take_along_axis(call.y_pred, ids[..., None], axis=-1)
    higher = jnp.sum(call.y_pred > true_score, axis=-1)
    return per_example((higher < k).astype(jnp.float32))
