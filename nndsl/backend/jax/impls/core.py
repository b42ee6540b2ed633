"""Dense, Dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.impls.attrs import to_float
from nndsl.backend.jax.registry import ApplyCall, impl


@impl("Dense")
def dense(call: ApplyCall) -> jax.Array:
    y = call.x @ call.params["kernel"]
    if "bias" in call.params:
        y = y + call.params["bias"]
    return activate(call.attrs.get("activation", "linear"), y)


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
