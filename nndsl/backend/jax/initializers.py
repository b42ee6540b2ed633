"""Running initializer specs, and variance scaling with Keras's fan conventions.

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

from nndsl.backend.jax.registry import implementation
from nndsl.ops import ArgValue, OpKind, configured

Init = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]

Mode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["uniform", "truncated_normal", "normal"]

_TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def variance_scaling(
    scale: float, mode: Mode, distribution: Distribution
) -> Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]:
    def init(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype) -> jax.Array:
        if len(shape) >= 2:
            fn = jax.nn.initializers.variance_scaling(
                scale, mode, distribution, in_axis=-2, out_axis=-1
            )
            return fn(key, shape, dtype)
        fan = float(max(1, math.prod(shape)))  # Keras: fan_in = fan_out = size for rank < 2
        variance = scale / fan
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return jax.random.uniform(key, shape, dtype, -limit, limit)
        std = math.sqrt(variance) / _TRUNCATED_STD
        return (jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * std).astype(dtype)

    return init


def initialize(
    init: ArgValue, key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype
) -> jax.Array:
    """Run the initializer spec `init` (a name or a `Configured` one) through the impl table."""
    resolved = configured(init, OpKind.INITIALIZER)
    if resolved is None:
        raise ValueError(f"unknown initializer {init!r}")
    fn: Callable[..., jax.Array] = implementation(resolved.name)
    return fn(resolved, key, shape, dtype)
