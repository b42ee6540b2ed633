"""Helpers shared by losses and metrics: label layout, masks and per-example reduction."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import LabelCall

EPSILON = 1e-7  # keras.config.epsilon()


def is_sparse(y_pred: jax.Array, y_true: jax.Array) -> bool:
    """Class-id labels `[B, ...]` against `[B, ..., C]` predictions (decided at trace time)."""
    return y_true.ndim == y_pred.ndim - 1


def like_pred(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Labels reshaped to the prediction's shape (`[B]` vs `[B, 1]`) and dtype."""
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return y_true.astype(y_pred.dtype)


def class_ids(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Integer labels `[B, ...]` from class ids or one-hot labels (arg-max)."""
    if is_sparse(y_pred, y_true):
        return y_true.astype(jnp.int32)
    if y_true.shape == (*y_pred.shape[:-1], 1) and y_pred.shape[-1] != 1:
        return y_true[..., 0].astype(jnp.int32)  # ids with a trailing 1 axis
    return jnp.argmax(y_true, axis=-1).astype(jnp.int32)


def one_hot_labels(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """One-hot labels of the prediction's shape from class ids or one-hot labels."""
    if is_sparse(y_pred, y_true):
        return jax.nn.one_hot(y_true.astype(jnp.int32), y_pred.shape[-1], dtype=y_pred.dtype)
    return like_pred(y_pred, y_true)


def per_example(values: jax.Array) -> jax.Array:
    """Mean over every axis but the batch axis: `[B, ...]` -> `[B]`."""
    if values.ndim <= 1:
        return values
    return jnp.mean(values.reshape(values.shape[0], -1), axis=1)


def row_mask(call: LabelCall, like: jax.Array) -> jax.Array:
    """The `[B]` mask broadcast against `like` (`[B, ...]`), ones when the call has none."""
    if call.mask is None:
        return jnp.ones(like.shape, like.dtype)
    m = call.mask.astype(like.dtype)
    return jnp.broadcast_to(m.reshape(m.shape + (1,) * (like.ndim - 1)), like.shape)
