"""Dense, Flatten, Reshape, Dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.impls.attrs import to_float, to_int
from nndsl.backend.jax.registry import ApplyCall, impl


@impl("Dense")
def dense(call: ApplyCall) -> jax.Array:
    y = call.x @ call.params["kernel"]
    if "bias" in call.params:
        y = y + call.params["bias"]
    return activate(call.attrs.get("activation", "linear"), y)


@impl("Flatten")
def flatten(call: ApplyCall) -> jax.Array:
    x = call.x
    return x.reshape(x.shape[0], -1)


@impl("Reshape")
def reshape(call: ApplyCall) -> jax.Array:
    shape = call.attrs["shape"]
    dims = tuple(to_int(s) for s in shape) if isinstance(shape, tuple) else (to_int(shape),)
    return call.x.reshape(call.x.shape[0], *dims)


@impl("Dropout")
def dropout(call: ApplyCall) -> jax.Array:
    """Inverted dropout as in Keras: kept entries are scaled by `1 / (1 - rate)`."""
    rate = to_float(call.attrs["rate"])
    if not call.training or rate == 0.0:
        return call.x
    if call.key is None:
        raise ValueError("Dropout needs a PRNG key while training; pass `key=` to apply")
    keep = jax.random.bernoulli(call.key, 1.0 - rate, call.x.shape)
    return jnp.where(keep, call.x / (1.0 - rate), jnp.zeros_like(call.x))
