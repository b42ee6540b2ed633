"""Dense, Identity, Embedding, EinsumDense."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.registry import ApplyCall, impl


@impl("Dense")
def dense(call: ApplyCall) -> jax.Array:
    y = call.x @ call.params["kernel"]
    if "bias" in call.params:
        y = y + call.params["bias"]
    return activate(call.attrs["activation"], y)


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
    return activate(call.attrs["activation"], y)
