"""Initializers, regularizers and constraints (specs in `nndsl.ops.weights`).

Signatures: initializer `fn(cfg, key, shape, dtype) -> array`; regularizer `fn(cfg, w) ->
scalar penalty`; constraint `fn(cfg, w) -> projected w`. `cfg` is the spec's `Configured`
value with every argument bound.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.initializers import (
    flat_draw,
    orthogonal as orthogonal_matrix,
    truncated_normal as truncated,
    variance_scaling,
)
from nndsl.backend.jax.registry import impl
from nndsl.ops import ArgValue, Configured
from nndsl.ops.attrs import to_float, to_int

Shape = tuple[int, ...]


def _axes(value: ArgValue) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(to_int(v) for v in value) if isinstance(value, tuple) else (to_int(value),)


def _scaling_impl(name: str, scale: float, mode: str, distribution: str) -> None:
    def run(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
        axes = _axes(cfg.get("input_axes")), _axes(cfg.get("output_axes"))
        init = variance_scaling(scale, mode, distribution, *axes)  # type: ignore[arg-type]
        return init(key, shape, dtype)

    impl(name)(run)


_scaling_impl("glorot_uniform", 1.0, "fan_avg", "uniform")
_scaling_impl("glorot_normal", 1.0, "fan_avg", "truncated_normal")
_scaling_impl("he_uniform", 2.0, "fan_in", "uniform")
_scaling_impl("he_normal", 2.0, "fan_in", "truncated_normal")
_scaling_impl("lecun_uniform", 1.0, "fan_in", "uniform")
_scaling_impl("lecun_normal", 1.0, "fan_in", "truncated_normal")


@impl("zeros")
def zeros(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return jnp.zeros(shape, dtype)


@impl("ones")
def ones(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return jnp.ones(shape, dtype)


@impl("random_normal")
def random_normal(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    draws = flat_draw(jax.random.normal, key, shape, dtype)
    return (draws * to_float(cfg["stddev"]) + to_float(cfg["mean"])).astype(dtype)


@impl("random_uniform")
def random_uniform(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    low, high = to_float(cfg["minval"]), to_float(cfg["maxval"])
    return flat_draw(jax.random.uniform, key, shape, dtype, low, high)


@impl("truncated_normal")
def truncated_normal(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return truncated(key, shape, dtype, to_float(cfg["mean"]), to_float(cfg["stddev"]))


@impl("Constant")
def constant(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return jnp.full(shape, to_float(cfg["value"]), dtype)


@impl("identity")
def identity(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return (to_float(cfg["gain"]) * jnp.eye(shape[0], shape[1], dtype=dtype)).astype(dtype)


@impl("orthogonal")
def orthogonal(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    return orthogonal_matrix(key, shape, dtype, to_float(cfg["gain"]))


@impl("variance_scaling")
def variance_scaling_(cfg: Configured, key: jax.Array, shape: Shape, dtype: jnp.dtype) -> jax.Array:
    init = variance_scaling(
        to_float(cfg["scale"]),
        str(cfg["mode"]),  # type: ignore[arg-type]
        str(cfg["distribution"]),  # type: ignore[arg-type]
        _axes(cfg["input_axes"]),
        _axes(cfg["output_axes"]),
    )
    return init(key, shape, dtype)


# -- regularizers ----------------------------------------------------------------------------
@impl("l1")
def l1(cfg: Configured, w: jax.Array) -> jax.Array:
    return to_float(cfg["l1"]) * jnp.sum(jnp.abs(w))


@impl("l2")
def l2(cfg: Configured, w: jax.Array) -> jax.Array:
    return to_float(cfg["l2"]) * jnp.sum(jnp.square(w))


@impl("l1_l2")
def l1_l2(cfg: Configured, w: jax.Array) -> jax.Array:
    return to_float(cfg["l1"]) * jnp.sum(jnp.abs(w)) + to_float(cfg["l2"]) * jnp.sum(jnp.square(w))


# -- constraints (Keras's formulas, epsilon included) ----------------------------------------
_EPSILON = 1e-7


def _norms(cfg: Configured, w: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=to_int(cfg["axis"]), keepdims=True))


@impl("max_norm")
def max_norm(cfg: Configured, w: jax.Array) -> jax.Array:
    norms = _norms(cfg, w)
    desired = jnp.clip(norms, 0, to_float(cfg["max_value"]))
    return w * (desired / (_EPSILON + norms))


@impl("non_neg")
def non_neg(cfg: Configured, w: jax.Array) -> jax.Array:
    return w * (w >= 0.0).astype(w.dtype)


@impl("unit_norm")
def unit_norm(cfg: Configured, w: jax.Array) -> jax.Array:
    return w / (_EPSILON + _norms(cfg, w))


@impl("min_max_norm")
def min_max_norm(cfg: Configured, w: jax.Array) -> jax.Array:
    norms = _norms(cfg, w)
    rate = to_float(cfg["rate"])
    clipped = jnp.clip(norms, to_float(cfg["min_value"]), to_float(cfg["max_value"]))
    desired = rate * clipped + (1 - rate) * norms
    return w * (desired / (_EPSILON + norms))
