"""Arithmetic operators and scalar constants."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_dtype


@impl("add")
def add(call: ApplyCall) -> jax.Array:
    return jnp.add(call.inputs[0], call.inputs[1])


@impl("sub")
def sub(call: ApplyCall) -> jax.Array:
    return jnp.subtract(call.inputs[0], call.inputs[1])


@impl("mul")
def mul(call: ApplyCall) -> jax.Array:
    return jnp.multiply(call.inputs[0], call.inputs[1])


@impl("div")
def div(call: ApplyCall) -> jax.Array:
    return jnp.divide(call.inputs[0], call.inputs[1])


@impl("neg")
def neg(call: ApplyCall) -> jax.Array:
    return jnp.negative(call.x)


@impl("matmul")
def matmul(call: ApplyCall) -> jax.Array:
    return jnp.matmul(call.inputs[0], call.inputs[1])


@impl("constant")
def constant(call: ApplyCall) -> jax.Array:
    value = call.attrs["value"]
    assert isinstance(value, int | float)
    return jnp.asarray(value, dtype=to_dtype(call.attrs["dtype"]))


def _binary(name: str, fn: Callable[[jax.Array, jax.Array], jax.Array]) -> None:
    def run(call: ApplyCall) -> jax.Array:
        return fn(call.inputs[0], call.inputs[1])

    impl(name)(run)


for _name, _fn in (
    ("equal", jnp.equal),
    ("not_equal", jnp.not_equal),
    ("less", jnp.less),
    ("less_equal", jnp.less_equal),
    ("greater", jnp.greater),
    ("greater_equal", jnp.greater_equal),
    ("logical_and", jnp.logical_and),
    ("logical_or", jnp.logical_or),
):
    _binary(_name, _fn)


@impl("logical_not")
def logical_not(call: ApplyCall) -> jax.Array:
    return jnp.logical_not(call.x)


@impl("cast")
def cast(call: ApplyCall) -> jax.Array:
    return call.x.astype(to_dtype(call.attrs["dtype"]))
