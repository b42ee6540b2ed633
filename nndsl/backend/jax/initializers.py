"""Weight initializers by name, with Keras's fan conventions.

For kernels of rank >= 2 (`[in, units]`, HWIO `[kh, kw, in, out]`) Keras and
`jax.nn.initializers` agree: fan_in = in * receptive field, fan_out = out * receptive field.
For rank < 2 (a bias given a variance-scaling initializer) Keras uses fan_in = fan_out = size,
which `jax.nn.initializers` cannot express, so that case uses the same formula by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

Init = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]

Mode = Literal["fan_in", "fan_avg"]
Distribution = Literal["uniform", "truncated_normal"]

# name -> (scale, mode, distribution) of variance scaling
_SCALING: dict[str, tuple[float, Mode, Distribution]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
_TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]

NAMES: tuple[str, ...] = (*_SCALING, "zeros", "ones")


def initialize(name: str, key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype) -> jax.Array:
    if name == "zeros":
        return jax.nn.initializers.zeros(key, shape, dtype)
    if name == "ones":
        return jax.nn.initializers.ones(key, shape, dtype)
    if name not in _SCALING:
        raise ValueError(f"unknown initializer {name!r}")
    scale, mode, distribution = _SCALING[name]
    if len(shape) >= 2:
        init = jax.nn.initializers.variance_scaling(
            scale, mode, distribution, in_axis=-2, out_axis=-1
        )
        return init(key, shape, dtype)
    fan = float(max(1, math.prod(shape)))  # Keras: fan_in = fan_out = size for rank < 2
    variance = scale / fan
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    std = math.sqrt(variance) / _TRUNCATED_STD
    return (jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * std).astype(dtype)
