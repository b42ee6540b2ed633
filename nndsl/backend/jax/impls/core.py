"""Dense, Identity, Embedding, EinsumDense, Dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_float


@impl("Dense")
def dense(call: ApplyCall) -> jax.Array:
    y = call.x @ call.params["kernel"]
    if "bias" in call.params:
        y = y + call.params["bias"]
    return activate(call.attrs.get("activation", "linear"), y)


@impl("Identity")
def identity(call: ApplyCall) -> jax.Array:
    return call.x


@impl("Embedding")
def embedding(call: ApplyCall) -> jax.Array:
    """`take` along the table's rows, as Keras (an id outside the table gives NaN there too;
    the checker cannot see ids, only their type)."""
    return jnp.take(call.params["embeddings"], call.x, axis=0)


@impl("PositionEmbedding")
def position_embedding(call: ApplyCall) -> jax.Array:
    """The first T rows of the table, broadcast over the batch (T may vary per call)."""
    length = call.x.shape[1]
    table = call.params["embeddings"][:length].astype(call.x.dtype)
    return jnp.broadcast_to(table, call.x.shape)


@impl("EinsumDense")
def einsum_dense(call: ApplyCall) -> jax.Array:
    y = jnp.einsum(str(call.attrs["equation"]), call.x, call.params["kernel"])
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
