"""JAX implementations of the merging layers, with Keras 3's broadcasting and batch_dot."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_int
from nndsl.ops.merging import dot_axes


def _aligned(inputs: list[jax.Array]) -> list[jax.Array]:
    """Lower-rank inputs get size-1 axes after the batch axis, as Keras's Merge does."""
    rank = max(x.ndim for x in inputs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]


def _fold(call: ApplyCall, op: Callable[[jax.Array, jax.Array], jax.Array]) -> jax.Array:
    xs = _aligned(call.inputs)
    out = xs[0]
    for x in xs[1:]:
        out = op(out, x)
    return out


@impl("Add")
def add(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.add)


@impl("Subtract")
def subtract(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.subtract)


@impl("Multiply")
def multiply(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.multiply)


@impl("Average")
def average(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.add) / len(call.inputs)


@impl("Maximum")
def maximum(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.maximum)


@impl("Minimum")
def minimum(call: ApplyCall) -> jax.Array:
    return _fold(call, jnp.minimum)


@impl("Concatenate")
def concatenate(call: ApplyCall) -> jax.Array:
    return jnp.concatenate(call.inputs, axis=to_int(call.attrs["axis"]))


def _l2_normalize(x: jax.Array, axis: int) -> jax.Array:
    """Keras's `normalize`: `x * min(rsqrt(sum(x^2)), 1/epsilon)`, epsilon 1e-7."""
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1e7)


@impl("Dot")
def dot(call: ApplyCall) -> jax.Array:
    """`batch_dot`: batch axis 0 shared; the result keeps `a`'s free axes, then `b`'s."""
    a, b = call.inputs
    ax, bx = dot_axes(call.attrs, (a.ndim, b.ndim))
    if call.attrs["normalize"]:
        a, b = _l2_normalize(a, ax), _l2_normalize(b, bx)
    out = jax.lax.dot_general(a, b, (((ax,), (bx,)), ((0,), (0,))))
    return out[:, None] if out.ndim == 1 else out
