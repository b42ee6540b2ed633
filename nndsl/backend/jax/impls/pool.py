"""Max and average pooling (windowed and global) in 1-3 dimensions, channels last or first."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_ints


def _first(call: ApplyCall) -> bool:
    return call.attrs.get("data_format", "channels_last") == "channels_first"


def _spatial_axes(call: ApplyCall) -> tuple[int, ...]:
    n = call.x.ndim - 2
    return tuple(range(2, n + 2)) if _first(call) else tuple(range(1, n + 1))


def _window(call: ApplyCall) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Window and strides over every axis (1 on batch and channels), and the padding."""
    n = call.x.ndim - 2
    pool = to_ints(call.attrs.get("pool_size", 2), n)
    strides_attr = call.attrs.get("strides")
    strides = pool if strides_attr is None else to_ints(strides_attr, n)
    padding = str(call.attrs.get("padding", "valid")).upper()
    if _first(call):
        return (1, 1, *pool), (1, 1, *strides), padding
    return (1, *pool, 1), (1, *strides, 1), padding


def max_pool(call: ApplyCall) -> jax.Array:
    dims, strides, padding = _window(call)
    # A Python scalar init lets JAX recognise the max monoid, which autodiff needs.
    out: jax.Array = jax.lax.reduce_window(call.x, -jnp.inf, jax.lax.max, dims, strides, padding)
    return out


def avg_pool(call: ApplyCall) -> jax.Array:
    """Padding is excluded from the mean, as in Keras: divide by the real window count."""
    dims, strides, padding = _window(call)
    total: jax.Array = jax.lax.reduce_window(call.x, 0.0, jax.lax.add, dims, strides, padding)
    if padding == "VALID":
        return total / math.prod(dims)
    spatial = set(_spatial_axes(call))
    ones = jnp.ones(
        tuple(d if i in spatial else 1 for i, d in enumerate(call.x.shape)), call.x.dtype
    )
    count: jax.Array = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, padding)
    return total / count


def global_max_pool(call: ApplyCall) -> jax.Array:
    return jnp.max(call.x, axis=_spatial_axes(call), keepdims=bool(call.attrs.get("keepdims")))


def global_avg_pool(call: ApplyCall) -> jax.Array:
    """With a mask `[B, T]` (1-D only), masked steps count neither in the sum nor the divisor."""
    keepdims = bool(call.attrs.get("keepdims"))
    axes = _spatial_axes(call)
    if len(call.inputs) < 2:
        return jnp.mean(call.x, axis=axes, keepdims=keepdims)
    mask = jnp.expand_dims(call.inputs[1].astype(bool), 1 if _first(call) else 2)
    total = jnp.sum(jnp.where(mask, call.x, 0), axis=axes, keepdims=keepdims)
    return total / jnp.sum(mask.astype(call.x.dtype), axis=axes, keepdims=keepdims)


for _n in (1, 2, 3):
    impl(f"MaxPooling{_n}D")(max_pool)
    impl(f"AveragePooling{_n}D")(avg_pool)
    impl(f"GlobalMaxPooling{_n}D")(global_max_pool)
    impl(f"GlobalAveragePooling{_n}D")(global_avg_pool)
