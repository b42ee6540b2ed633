"""Running initializer specs, with Keras 3's fan conventions and formulas.

Fans as Keras's `compute_fans`: rank 0 -> 1 and 1; rank 1 -> size and size; rank 2 `[in, out]`
-> in and out; rank >= 3 (conv kernels `[..., in, out]`) -> in and out times the receptive
field (the product of the leading axes). Truncated normals are cut at two standard deviations
of the unit normal and rescaled as Keras does, so the statistics match Keras's draws.
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
Distribution = Literal["uniform", "truncated_normal", "untruncated_normal", "normal"]

TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def compute_fans(
    shape: tuple[int, ...],
    input_axes: tuple[int, ...] | None = None,
    output_axes: tuple[int, ...] | None = None,
) -> tuple[int, int]:
    """`(fan_in, fan_out)` exactly as Keras computes them (given axes win when both are)."""
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def flat_draw(
    sample: Callable[..., jax.Array], key: jax.Array, shape: tuple[int, ...], *args: object
) -> jax.Array:
    """`sample(key, shape, *args)` drawn flat, then reshaped: the same values (threefry's
    counters are the elements' flat indices and the rest is elementwise), but XLA:CPU compiles
    a flat draw several times faster than some shapes (`[512, 10]`, conv kernels), whose
    compiles made weight initialisation most of a small model's start-up (bench/README.md).
    Sizes are rounded up to a few buckets and the draw cut (partitionable threefry only: there
    the first `n` values of a longer draw are the draw of `n`), so weights of different sizes
    share compiled draws."""
    n = math.prod(shape)
    partitionable = bool(getattr(jax.config, "jax_threefry_partitionable", False))
    size = _bucket(n) if partitionable else n
    flat = sample(key, (size,), *args)
    return (flat[:n] if size != n else flat).reshape(shape)


def _bucket(n: int) -> int:
    """4096, 65536, 2^20, 2^24, then `n` itself (drawing more would cost more than compiling)."""
    size = 4096
    while size < n and size < 2**24:
        size *= 16
    return size if size >= n else n


def truncated_normal(
    key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype, mean: float, stddev: float
) -> jax.Array:
    """Keras's `random.truncated_normal`: a unit normal cut to [-2, 2], times stddev, plus mean."""
    draws = flat_draw(
        lambda k, s, d: jax.random.truncated_normal(k, -2.0, 2.0, s, d), key, shape, dtype
    )
    return (draws * stddev + mean).astype(dtype)


def variance_scaling(
    scale: float,
    mode: Mode,
    distribution: Distribution,
    input_axes: tuple[int, ...] | None = None,
    output_axes: tuple[int, ...] | None = None,
) -> Init:
    def init(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype) -> jax.Array:
        fan_in, fan_out = compute_fans(shape, input_axes, output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, fan)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return flat_draw(jax.random.uniform, key, shape, dtype, -limit, limit)
        if distribution == "untruncated_normal":
            draws = flat_draw(jax.random.normal, key, shape, dtype)
            return (draws * math.sqrt(variance)).astype(dtype)
        # "truncated_normal", and "normal", which Keras reads as truncated
        return truncated_normal(key, shape, dtype, 0.0, math.sqrt(variance) / TRUNCATED_STD)

    return init


def orthogonal(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype, gain: float) -> jax.Array:
    """Keras's algorithm: QR of a `[max, min]` normal matrix, signs fixed by `diag(r)`,
    transposed when there are fewer rows than columns, reshaped to `shape`."""
    rows = math.prod(shape[:-1])
    cols = shape[-1]
    a = flat_draw(jax.random.normal, key, (max(rows, cols), min(rows, cols)), jnp.float32)
    q, r = jnp.linalg.qr(a)
    q = q * jnp.sign(jnp.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q.reshape(shape)).astype(dtype)


def initialize(
    init: ArgValue, key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype
) -> jax.Array:
    """Run the initializer spec `init` (a name or a `Configured` one) through the impl table."""
    resolved = configured(init, OpKind.INITIALIZER)
    if resolved is None:
        raise ValueError(f"unknown initializer {init!r}")
    fn: Callable[..., jax.Array] = implementation(resolved.name)
    return fn(resolved, key, shape, dtype)
