"""Max and average pooling over NHWC inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.attrs import to_ints
from nndsl.backend.jax.registry import ApplyCall, impl


def _window(call: ApplyCall) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    pool = to_ints(call.attrs.get("pool_size", 2), 2)
    strides_attr = call.attrs.get("strides")
    strides = pool if strides_attr is None else to_ints(strides_attr, 2)
    padding = str(call.attrs.get("padding", "valid")).upper()
    return (1, *pool, 1), (1, *strides, 1), padding


@impl("MaxPool2D")
def max_pool2d(call: ApplyCall) -> jax.Array:
    dims, strides, padding = _window(call)
    # A Python scalar init lets JAX recognise the max monoid, which autodiff needs.
    out: jax.Array = jax.lax.reduce_window(call.x, -jnp.inf, jax.lax.max, dims, strides, padding)
    return out


@impl("AvgPool2D")
def avg_pool2d(call: ApplyCall) -> jax.Array:
    """Padding is excluded from the mean, as in Keras: divide by the real window count."""
    dims, strides, padding = _window(call)
    total: jax.Array = jax.lax.reduce_window(call.x, 0.0, jax.lax.add, dims, strides, padding)
    if padding == "VALID":
        return total / (dims[1] * dims[2])
    ones = jnp.ones((1, *call.x.shape[1:3], 1), call.x.dtype)
    count: jax.Array = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, padding)
    return total / count


@impl("GlobalAvgPool2D")
def global_avg_pool2d(call: ApplyCall) -> jax.Array:
    return jnp.mean(call.x, axis=(1, 2), keepdims=bool(call.attrs.get("keepdims", False)))
