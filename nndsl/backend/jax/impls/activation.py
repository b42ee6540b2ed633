"""Activation functions; `ACTIVATIONS` also serves the `activation = "..."` layer argument."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.attrs import to_float, to_int
from nndsl.backend.jax.registry import ApplyCall, impl


def _gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    return jax.nn.gelu(x, approximate=approximate)


def _leaky_relu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
    return jax.nn.leaky_relu(x, negative_slope)


def _softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    return jax.nn.softmax(x, axis=axis)


# Defaults match the specs' defaults, which match Keras's string activations.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda x: x,
    "relu": jax.nn.relu,
    "gelu": _gelu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "leaky_relu": _leaky_relu,
    "softmax": _softmax,
}


def activate(name: object, x: jax.Array) -> jax.Array:
    return ACTIVATIONS[str(name)](x)


@impl("relu")
def relu(call: ApplyCall) -> jax.Array:
    return jax.nn.relu(call.x)


@impl("gelu")
def gelu(call: ApplyCall) -> jax.Array:
    return _gelu(call.x, bool(call.attrs.get("approximate", False)))


@impl("sigmoid")
def sigmoid(call: ApplyCall) -> jax.Array:
    return jax.nn.sigmoid(call.x)


@impl("tanh")
def tanh(call: ApplyCall) -> jax.Array:
    return jnp.tanh(call.x)


@impl("silu")
def silu(call: ApplyCall) -> jax.Array:
    return jax.nn.silu(call.x)


@impl("leaky_relu")
def leaky_relu(call: ApplyCall) -> jax.Array:
    return _leaky_relu(call.x, to_float(call.attrs.get("negative_slope", 0.2)))


@impl("softmax")
def softmax(call: ApplyCall) -> jax.Array:
    return _softmax(call.x, to_int(call.attrs.get("axis", -1)))
