"""Reductions and element-wise math (`nndsl.ops.numeric`), as `jax.numpy` has them."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp as _logsumexp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_float
from nndsl.ops.numeric import axes_for

_REDUCTIONS: dict[str, Callable[..., jax.Array]] = {
    "sum": jnp.sum,
    "mean": jnp.mean,
    "max": jnp.max,
    "min": jnp.min,
    "prod": jnp.prod,
    "logsumexp": _logsumexp,
}


def _reduction(name: str, fn: Callable[..., jax.Array]) -> None:
    def run(call: ApplyCall) -> jax.Array:
        axes = axes_for(call.attrs["axis"], call.x.ndim)
        out: jax.Array = fn(call.x, axis=axes, keepdims=bool(call.attrs["keepdims"]))
        return out.astype(call.x.dtype)  # `sum` of int8 stays int8, as the spec types it

    run.__name__ = name
    impl(name)(run)


for _name, _fn in _REDUCTIONS.items():
    _reduction(_name, _fn)


_UNARY: dict[str, Callable[[jax.Array], jax.Array]] = {
    "exp": jnp.exp,
    "log": jnp.log,
    "sqrt": jnp.sqrt,
    "square": jnp.square,
    "abs": jnp.abs,
    "stop_gradient": jax.lax.stop_gradient,
}


def _unary(name: str, fn: Callable[[jax.Array], jax.Array]) -> None:
    def run(call: ApplyCall) -> jax.Array:
        return fn(call.x)

    run.__name__ = name
    impl(name)(run)


for _name, _fn1 in _UNARY.items():
    _unary(_name, _fn1)


@impl("clip")
def clip(call: ApplyCall) -> jax.Array:
    lo, hi = to_float(call.attrs["min"]), to_float(call.attrs["max"])
    return jnp.clip(call.x, lo, hi).astype(call.x.dtype)


@impl("power")
def power(call: ApplyCall) -> jax.Array:
    return jnp.power(call.inputs[0], call.inputs[1])


@impl("maximum")
def maximum(call: ApplyCall) -> jax.Array:
    return jnp.maximum(call.inputs[0], call.inputs[1])


@impl("minimum")
def minimum(call: ApplyCall) -> jax.Array:
    return jnp.minimum(call.inputs[0], call.inputs[1])


@impl("where")
def where(call: ApplyCall) -> jax.Array:
    cond, x, y = call.inputs
    return jnp.where(cond, x, y)
