"""Max and average pooling (windowed and global) in 1-3 dimensions, channels last or first.

"same" pads by `nndsl.ops.padding` (the rule the ONNX backend uses too); padded cells never
win a max nor count in a mean.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_ints
from nndsl.ops.padding import same_padding

Pads = list[tuple[int, int]]


def _first(call: ApplyCall) -> bool:
    return call.attrs["data_format"] == "channels_first"


def _spatial_axes(call: ApplyCall) -> tuple[int, ...]:
    n = call.x.ndim - 2
    return tuple(range(2, n + 2)) if _first(call) else tuple(range(1, n + 1))


def _window(call: ApplyCall) -> tuple[tuple[int, ...], tuple[int, ...], Pads | None]:
    """Window and strides over every axis (1 on batch and channels), and the explicit padding
    of every axis ("same"), or None ("valid")."""
    n = call.x.ndim - 2
    pool = to_ints(call.attrs["pool_size"], n)
    strides_attr = call.attrs["strides"]
    strides = pool if strides_attr is None else to_ints(strides_attr, n)
    pads: Pads | None = None
    if str(call.attrs["padding"]) == "same":
        pads = [(0, 0)] * call.x.ndim
        for axis, k, s in zip(_spatial_axes(call), pool, strides, strict=True):
            pair = same_padding(int(call.x.shape[axis]), k, s)
            assert pair is not None  # sizes are known here
            pads[axis] = pair
    if _first(call):
        return (1, 1, *pool), (1, 1, *strides), pads
    return (1, *pool, 1), (1, *strides, 1), pads


def max_pool(call: ApplyCall) -> jax.Array:
    dims, strides, pads = _window(call)
    padding = "VALID" if pads is None else pads
    # A Python scalar init lets JAX recognise the max monoid, which autodiff needs.
    out: jax.Array = jax.lax.reduce_window(call.x, -jnp.inf, jax.lax.max, dims, strides, padding)
    return out


def avg_pool(call: ApplyCall) -> jax.Array:
    """Padding is excluded from the mean, as in Keras: divide by the real window count."""
    dims, strides, pads = _window(call)
    padding = "VALID" if pads is None else pads
    total: jax.Array = jax.lax.reduce_window(call.x, 0.0, jax.lax.add, dims, strides, padding)
    if pads is None:
        return total / math.prod(dims)
    spatial = set(_spatial_axes(call))
    ones = jnp.ones(
        tuple(d if i in spatial else 1 for i, d in enumerate(call.x.shape)), call.x.dtype
    )
    count: jax.Array = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, padding)
    return total / count


def global_max_pool(call: ApplyCall) -> jax.Array:
    return jnp.max(call.x, axis=_spatial_axes(call), keepdims=bool(call.attrs["keepdims"]))


def global_avg_pool(call: ApplyCall) -> jax.Array:
    """With a mask `[B, T]` (1-D only), masked steps count neither in the sum nor the divisor."""
    keepdims = bool(call.attrs["keepdims"])
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
