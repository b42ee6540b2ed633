"""Normalization layers with Keras 3's arithmetic: biased variance, epsilon inside the root,
statistics in at least float32, and `x * inv + (beta - mean * inv)` with `inv = gamma *
rsqrt(var + eps)` in the same order Keras evaluates it, so outputs agree to float rounding."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops import ArgValue
from nndsl.ops.attrs import to_float, to_int


def _raw_axes(value: ArgValue) -> list[int]:
    """`axis` as Keras sorts it (raw values, negatives kept), which fixes the weight layout."""
    raw = value if isinstance(value, tuple) else (value,)
    return sorted(to_int(a) for a in raw)


def _along(v: jax.Array, shape: list[int]) -> jax.Array:
    """A weight over the normalized axes, reshaped to broadcast against the input."""
    return v.reshape(shape)


def _compute(x: jax.Array) -> jax.Array:
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _normalize(
    x: jax.Array,
    mean: jax.Array,
    var: jax.Array,
    eps: float,
    gamma: jax.Array | None,
    beta: jax.Array | None,
) -> jax.Array:
    inv = jax.lax.rsqrt(var + eps)
    if gamma is not None:
        inv = inv * gamma
    res = -mean * inv
    if beta is not None:
        res = res + beta
    return x * inv + res


def _masked_moments(
    x: jax.Array, mask: jax.Array, reduce: tuple[int, ...]
) -> tuple[jax.Array, jax.Array]:
    """Mean and variance over the entries whose mask (`[B, ...]`, the input's shape without
    its last axis) is true, with Keras's `+ 1e-7` in the divisors."""
    keep = jnp.broadcast_to(jnp.expand_dims(mask.astype(bool), -1), x.shape)
    count = jnp.sum(keep.astype(x.dtype), axis=reduce, keepdims=True) + 1e-7
    mean = jnp.sum(jnp.where(keep, x, 0), axis=reduce, keepdims=True) / count
    var = jnp.sum(jnp.square(jnp.where(keep, x - mean, 0)), axis=reduce, keepdims=True) / count
    return mean.reshape(-1), var.reshape(-1)


@impl("BatchNormalization")
def batch_normalization(call: ApplyCall) -> jax.Array:
    """Training: batch statistics (over the unmasked entries when a mask is given), and
    `moving = moving * momentum + batch * (1 - momentum)`. Inference: the moving statistics."""
    x = call.x
    axis = to_int(call.attrs["axis"]) % x.ndim
    eps = to_float(call.attrs["epsilon"])
    xf = _compute(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    if call.training:
        reduce = tuple(i for i in range(x.ndim) if i != axis)
        if len(call.inputs) > 1:
            mean, var = _masked_moments(xf, call.inputs[1], reduce)
        else:
            mean = jnp.mean(xf, axis=reduce)
            var = jnp.var(xf, axis=reduce)
        m = to_float(call.attrs["momentum"])
        mm, mv = call.state["moving_mean"], call.state["moving_variance"]
        call.new_state["moving_mean"] = (mm * m + mean * (1.0 - m)).astype(mm.dtype)
        call.new_state["moving_variance"] = (mv * m + var * (1.0 - m)).astype(mv.dtype)
    else:
        mean = call.state["moving_mean"].astype(xf.dtype)
        var = call.state["moving_variance"].astype(xf.dtype)
    gamma, beta = call.params.get("gamma"), call.params.get("beta")
    y = _normalize(
        xf,
        mean.reshape(shape),
        var.reshape(shape),
        eps,
        None if gamma is None else _along(gamma.astype(xf.dtype), shape),
        None if beta is None else _along(beta.astype(xf.dtype), shape),
    )
    return y.astype(x.dtype)


@impl("LayerNormalization")
def layer_normalization(call: ApplyCall) -> jax.Array:
    x = call.x
    axes = _raw_axes(call.attrs["axis"])
    eps = to_float(call.attrs["epsilon"])
    xf = _compute(x)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    gamma, beta = call.params.get("gamma"), call.params.get("beta")
    g = None if gamma is None else _along(gamma.astype(xf.dtype), shape)
    b = None if beta is None else _along(beta.astype(xf.dtype), shape)
    var = jnp.var(xf, axis=tuple(axes), keepdims=True)
    if call.attrs["rms_scaling"]:
        y = xf * jax.lax.rsqrt(var + eps)
        if g is not None:
            y = y * g
    else:
        mean = jnp.mean(xf, axis=tuple(axes), keepdims=True)
        y = _normalize(xf, mean, var, eps, g, b)
    return y.astype(x.dtype)


@impl("GroupNormalization")
def group_normalization(call: ApplyCall) -> jax.Array:
    """Channels `C` at `axis` become `[groups, C / groups]`; statistics per example and group."""
    x = call.x
    axis = to_int(call.attrs["axis"]) % x.ndim
    eps = to_float(call.attrs["epsilon"])
    c = x.shape[axis]
    groups = to_int(call.attrs["groups"])
    groups = c if groups == -1 else groups
    grouped = (*x.shape[:axis], groups, c // groups, *x.shape[axis + 1 :])
    xf = _compute(x).reshape(grouped)
    reduce = tuple(i for i in range(1, xf.ndim) if i != axis)
    mean = jnp.mean(xf, axis=reduce, keepdims=True)
    var = jnp.var(xf, axis=reduce, keepdims=True)
    shape = [1] * xf.ndim
    shape[axis], shape[axis + 1] = groups, c // groups
    gamma, beta = call.params.get("gamma"), call.params.get("beta")
    y = _normalize(
        xf,
        mean,
        var,
        eps,
        None if gamma is None else _along(gamma.astype(xf.dtype), shape),
        None if beta is None else _along(beta.astype(xf.dtype), shape),
    )
    return y.reshape(x.shape).astype(x.dtype)


@impl("UnitNormalization")
def unit_normalization(call: ApplyCall) -> jax.Array:
    """`x * min(rsqrt(sum(x^2)), 1e12)`, Keras's L2 normalization with epsilon 1e-12."""
    x = call.x
    axes = tuple(_raw_axes(call.attrs["axis"]))
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / 1e-12).astype(x.dtype)


@impl("RMSNormalization")
def rms_normalization(call: ApplyCall) -> jax.Array:
    x = call.x
    axes = _raw_axes(call.attrs["axis"])
    eps = to_float(call.attrs["epsilon"])
    xf = _compute(x)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    rrms = jax.lax.rsqrt(jnp.mean(jnp.square(xf), axis=tuple(axes), keepdims=True) + eps)
    y = xf * rrms * _along(call.params["scale"].astype(xf.dtype), shape)
    return y.astype(x.dtype)
