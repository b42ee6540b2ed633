"""JAX implementations of the reshaping layers (channels last unless `data_format` says so)."""

from __future__ import annotations

import jax

from nndsl.backend.jax.impls.attrs import to_int
from nndsl.backend.jax.registry import ApplyCall, impl


def _channels_first(call: ApplyCall) -> bool:
    return call.attrs.get("data_format", "channels_last") == "channels_first"


@impl("Flatten")
def flatten(call: ApplyCall) -> jax.Array:
    """channels_first inputs are moved to channels last first, so the order matches Keras."""
    x = call.x
    if _channels_first(call) and x.ndim > 2:
        x = x.transpose(0, *range(2, x.ndim), 1)
    return x.reshape(x.shape[0], -1)


@impl("Reshape")
def reshape(call: ApplyCall) -> jax.Array:
    shape = call.attrs["target_shape"]
    dims = tuple(to_int(s) for s in shape) if isinstance(shape, tuple) else (to_int(shape),)
    return call.x.reshape(call.x.shape[0], *dims)
