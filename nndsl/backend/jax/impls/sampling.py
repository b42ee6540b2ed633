"""Random draws inside a model (`nndsl.ops.sampling`): from `call.key` while training, the
distribution's mean (or mode) at inference unless `inference = "sample"` (a key from `seed`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_float, to_int


def _key(call: ApplyCall) -> jax.Array | None:
    """The key to draw with; None: give the deterministic value."""
    if call.training:
        if call.key is None:
            raise ValueError("sampling needs a PRNG key while training; pass `key=` to apply")
        return call.key
    if call.attrs["inference"] == "sample":
        return call.key if call.key is not None else jax.random.key(to_int(call.attrs["seed"]))
    return None


def _float_dtype(x: jax.Array) -> jnp.dtype:
    return x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.dtype(jnp.float32)


@impl("sample_normal")
def sample_normal(call: ApplyCall) -> jax.Array:
    dtype = _float_dtype(call.x)
    mean, stddev = to_float(call.attrs["mean"]), to_float(call.attrs["stddev"])
    key = _key(call)
    if key is None:
        return jnp.full(call.x.shape, mean, dtype)
    return (mean + stddev * jax.random.normal(key, call.x.shape, jnp.float32)).astype(dtype)


@impl("sample_uniform")
def sample_uniform(call: ApplyCall) -> jax.Array:
    dtype = _float_dtype(call.x)
    lo, hi = to_float(call.attrs["minval"]), to_float(call.attrs["maxval"])
    key = _key(call)
    if key is None:
        return jnp.full(call.x.shape, (lo + hi) / 2, dtype)
    return jax.random.uniform(key, call.x.shape, jnp.float32, lo, hi).astype(dtype)


@impl("random_categorical")
def random_categorical(call: ApplyCall) -> jax.Array:
    logits = call.x
    n = to_int(call.attrs["num_samples"])
    key = _key(call)
    if key is None:
        mode = jnp.argmax(logits, axis=-1).astype(jnp.int32)[..., None]
        return jnp.broadcast_to(mode, (*logits.shape[:-1], n))
    draws = jax.random.categorical(key, logits, axis=-1, shape=(n, *logits.shape[:-1]))
    return jnp.moveaxis(draws, 0, -1).astype(jnp.int32)
