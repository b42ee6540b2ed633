"""Helpers shared by losses and metrics: label layout and per-example reduction."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def is_sparse(y_pred: jax.Array, y_true: jax.Array) -> bool:
    """Class-id labels `[B, ...]` against `[B, ..., C]` predictions (decided at trace time)."""
    return y_true.ndim == y_pred.ndim - 1


def like_pred(y_pred: jax.Array, y_true: jax.Array) -> jax.Array:
    """Labels reshaped to the prediction's shape (`[B]` vs `[B, 1]`) and dtype."""
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return y_true.astype(y_pred.dtype)


def per_example(values: jax.Array) -> jax.Array:
    """Mean over every axis but the batch axis: `[B, ...]` -> `[B]`."""
    if values.ndim <= 1:
        return values
    return jnp.mean(values.reshape(values.shape[0], -1), axis=1)
