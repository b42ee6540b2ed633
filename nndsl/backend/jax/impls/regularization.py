"""JAX implementations of the regularization layers: random only while training (the runtime
passes `call.key` to stochastic specs then), identity otherwise."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import declared, to_float
from nndsl.ops.spec import as_int

# SELU's constants, as in Keras's AlphaDropout.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _active(call: ApplyCall, amount: float) -> bool:
    return call.training and call.key is not None and amount > 0.0


@impl("Dropout")
def dropout(call: ApplyCall) -> jax.Array:
    """Inverted dropout as in Keras: kept entries are scaled by `1 / (1 - rate)`."""
    rate = to_float(call.attrs["rate"])
    if not call.training or rate == 0.0:
        return call.x
    if call.key is None:
        raise ValueError("Dropout needs a PRNG key while training; pass `key=` to apply")
    shape = call.x.shape
    noise = call.attrs["noise_shape"]
    if isinstance(noise, tuple):  # 1: one draw shared along the axis (the checker vouched)
        shape = tuple(1 if as_int(n) == 1 else d for n, d in zip(noise, shape, strict=True))
    keep = jax.random.bernoulli(call.key, 1.0 - rate, shape)
    return jnp.where(keep, call.x / (1.0 - rate), jnp.zeros_like(call.x))


def _spatial_dropout(call: ApplyCall) -> jax.Array:
    """One keep/drop draw per example and channel, broadcast over the spatial axes; kept
    entries are scaled by `1 / (1 - rate)` (Keras's `backend.random.dropout`)."""
    x = call.x
    rate = to_float(call.attrs["rate"])
    if not _active(call, rate):
        return x
    assert call.key is not None
    noise = [1] * x.ndim
    noise[0] = x.shape[0]
    first = declared(call.attrs, "data_format", "channels_last") == "channels_first"
    channel = 1 if first else x.ndim - 1
    noise[channel] = x.shape[channel]
    keep = 1.0 - rate
    mask = jax.random.bernoulli(call.key, keep, tuple(noise))
    return jnp.where(mask, x / keep, jnp.zeros_like(x))


for _name in ("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"):
    impl(_name)(_spatial_dropout)


@impl("GaussianNoise")
def gaussian_noise(call: ApplyCall) -> jax.Array:
    x = call.x
    stddev = to_float(call.attrs["stddev"])
    if not _active(call, stddev):
        return x
    assert call.key is not None
    return x + stddev * jax.random.normal(call.key, x.shape, x.dtype)


@impl("GaussianDropout")
def gaussian_dropout(call: ApplyCall) -> jax.Array:
    x = call.x
    rate = to_float(call.attrs["rate"])
    if not _active(call, rate):
        return x
    assert call.key is not None
    stddev = math.sqrt(rate / (1.0 - rate))
    return x * (1.0 + stddev * jax.random.normal(call.key, x.shape, x.dtype))


@impl("AlphaDropout")
def alpha_dropout(call: ApplyCall) -> jax.Array:
    """Dropped entries are set to `-alpha * scale`, then `a * x + b` restores the mean and
    variance a SELU network expects."""
    x = call.x
    rate = to_float(call.attrs["rate"])
    if not _active(call, rate):
        return x
    assert call.key is not None
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    kept = (jax.random.uniform(call.key, x.shape) >= rate).astype(x.dtype)
    a: float = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    y: jax.Array = a * (x * kept + alpha_p * (1 - kept)) + b
    return y


@impl("ActivityRegularization")
def activity_regularization(call: ApplyCall) -> jax.Array:
    """Identity; adds Keras 3's `L1L2(l1, l2)(x) / batch_size` as a loss term."""
    x = call.x
    l1, l2 = to_float(call.attrs["l1"]), to_float(call.attrs["l2"])
    penalty = jnp.zeros((), x.dtype)
    if l1 != 0.0:
        penalty = penalty + l1 * jnp.sum(jnp.abs(x))
    if l2 != 0.0:
        penalty = penalty + l2 * jnp.sum(jnp.square(x))
    if x.ndim > 0:
        penalty = penalty / x.shape[0] if x.shape[0] else jnp.zeros_like(penalty)
    call.add_loss(penalty)
    return x
