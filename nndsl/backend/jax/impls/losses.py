"""Losses as per-example values `[B]`, matching Keras 3's formulas (clipping at 1e-7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.attrs import to_float
from nndsl.backend.jax.impls.labels import is_sparse, like_pred, per_example
from nndsl.backend.jax.registry import LabelCall, impl

EPSILON = 1e-7  # keras.config.epsilon()


def _log_probs(call: LabelCall) -> jax.Array:
    if call.from_logits:
        return jax.nn.log_softmax(call.y_pred, axis=-1)
    p = call.y_pred / jnp.sum(call.y_pred, axis=-1, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


@impl("cross_entropy")
def cross_entropy(call: LabelCall) -> jax.Array:
    """Integer labels `[B]` use the sparse form; one-hot `[B, C]` the categorical one."""
    logp = _log_probs(call)
    smoothing = to_float(call.attrs.get("label_smoothing", 0.0))
    classes = call.y_pred.shape[-1]
    if is_sparse(call.y_pred, call.y_true):
        ids = call.y_true.astype(jnp.int32)
        if smoothing == 0.0:
            picked = jnp.take_along_axis(logp, ids[..., None], axis=-1)[..., 0]
            return per_example(-picked)
        onehot = jax.nn.one_hot(ids, classes, dtype=logp.dtype)
    else:
        onehot = call.y_true.astype(logp.dtype)
    if smoothing:
        onehot = onehot * (1.0 - smoothing) + smoothing / classes
    return per_example(-jnp.sum(onehot * logp, axis=-1))


@impl("binary_cross_entropy")
def binary_cross_entropy(call: LabelCall) -> jax.Array:
    y = like_pred(call.y_pred, call.y_true)
    smoothing = to_float(call.attrs.get("label_smoothing", 0.0))
    if smoothing:
        y = y * (1.0 - smoothing) + 0.5 * smoothing
    x = call.y_pred
    if call.from_logits:
        loss = jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x)))
    else:
        p = jnp.clip(x, EPSILON, 1.0 - EPSILON)
        loss = -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))
    return per_example(loss)


@impl("mse")
def mse(call: LabelCall) -> jax.Array:
    return per_example(jnp.square(call.y_pred - like_pred(call.y_pred, call.y_true)))


@impl("mae")
def mae(call: LabelCall) -> jax.Array:
    return per_example(jnp.abs(call.y_pred - like_pred(call.y_pred, call.y_true)))
