"""JAX implementations of the attention specs, computed as Keras 3 computes them.

Masked softmax as Keras's `Softmax(mask=...)`: masked scores become -1e9 and masked weights
are zeroed afterwards, so a fully masked query row attends to nothing (its output is the
bias of the output projection). Attention/AdditiveAttention subtract 1e9 from masked scores
without zeroing, as Keras's `_apply_scores` does.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attention import attention_axes
from nndsl.ops.attrs import declared, to_float, to_int

_LARGE_NEGATIVE = -1e9


def _dropout(call: ApplyCall, weights: jax.Array) -> jax.Array:
    """Inverted dropout on the attention weights, while training only (as Keras's Dropout)."""
    rate = to_float(call.attrs["dropout"])
    if not call.training or rate == 0.0:
        return weights
    if call.key is None:
        raise ValueError("attention dropout needs a PRNG key while training; pass `key=`")
    keep = jax.random.bernoulli(call.key, 1.0 - rate, weights.shape)
    return jnp.where(keep, weights / (1.0 - rate), jnp.zeros_like(weights))


def _position_mask(call: ApplyCall, t: int, s: int) -> jax.Array | None:
    """The causal and sliding-window masks `[T, S]` the attributes ask for, or None."""
    rows = jnp.arange(t)[:, None]
    cols = jnp.arange(s)[None, :]
    mask = None
    if call.attrs["use_causal_mask"]:
        mask = rows >= cols
    window = declared(call.attrs, "sliding_window", None)
    if window is not None:
        band = jnp.abs(rows - cols) < to_int(window)
        mask = band if mask is None else mask & band
    return mask


def _project(call: ApplyCall, name: str, x: jax.Array) -> jax.Array:
    """Keras's EinsumDense `...d,dnh->...nh` (+ bias `[n, h]`)."""
    y = jnp.einsum("...d,dnh->...nh", x, call.params[f"{name}.kernel"])
    if f"{name}.bias" in call.params:
        y = y + call.params[f"{name}.bias"]
    return y


def _equations(rank: int, axes: tuple[int, ...]) -> tuple[str, str]:
    """Einsum equations (scores, combination) for projected `[B, ..., heads, dim]` tensors of
    rank `rank + 1`, attending over the query's `axes` (Keras's `_build_attention_equation`).

    Scores are `[B, <other axes>, heads, <query axes>, <key axes>]`."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    target = letters[: rank + 1]
    source = "".join(
        letters[rank + 1 + axes.index(i)] if i in axes else target[i] for i in range(rank + 1)
    )
    batch = [i for i in range(rank) if i not in axes]  # includes the heads axis, `rank - 1`
    product = (
        "".join(target[i] for i in batch)
        + "".join(target[i] for i in axes)
        + "".join(source[i] for i in axes)
    )
    return f"{target},{source}->{product}", f"{product},{source}->{target}"


def _heads_attention(
    call: ApplyCall, head_dim: int, repeats: int, axes: tuple[int, ...]
) -> jax.Array | tuple[jax.Array, ...]:
    """Shared body of MultiHeadAttention and GroupedQueryAttention (`repeats` query heads per
    key/value head; `axes` the query's attended axes)."""
    query, value = call.inputs[0], call.inputs[1]
    key = call.inputs[2] if len(call.inputs) > 2 else value
    rank = query.ndim
    n_lead = rank - 1 - len(axes)  # batch and unattended axes, before the heads in the scores
    score_rank = n_lead + 1 + 2 * len(axes)
    mask = None
    if len(call.inputs) > 3:
        given = call.inputs[3]
        given = given.reshape((1,) * (score_rank - 1 - given.ndim) + given.shape)
        mask = jnp.expand_dims(given, n_lead)  # the heads axis
    if rank == 3:
        position = _position_mask(call, query.shape[1], value.shape[1])
        if position is not None:
            mask = position if mask is None else mask & position
    gate = None
    if "gate.kernel" in call.params:
        gate = jax.nn.sigmoid(_project(call, "gate", query))
    q = _project(call, "query", query) * (1.0 / math.sqrt(float(head_dim)))
    k = _project(call, "key", key)
    v = _project(call, "value", value)
    if repeats > 1:
        k = jnp.repeat(k, repeats, axis=-2)
        v = jnp.repeat(v, repeats, axis=-2)
    dot, combine = _equations(rank, axes)
    scores = jnp.einsum(dot, q, k)
    if mask is not None:
        scores = jnp.where(mask, scores, _LARGE_NEGATIVE)
    norm_axes = tuple(range(score_rank - len(axes), score_rank))
    if len(axes) == 1:
        weights = jax.nn.softmax(scores, axis=-1)
    else:  # as Keras's Softmax over several axes
        weights = jnp.exp(scores - jax.nn.logsumexp(scores, axis=norm_axes, keepdims=True))
    if mask is not None:
        weights = jnp.where(mask, weights, 0.0)
    heads = jnp.einsum(combine, _dropout(call, weights), v)
    if gate is not None:
        heads = heads * gate
    kernel = call.params["attention_output.kernel"]  # [n, h, *out]
    out = jnp.tensordot(heads, kernel, axes=([rank - 1, rank], [0, 1]))
    if "attention_output.bias" in call.params:
        out = out + call.params["attention_output.bias"]
    if call.attrs["return_attention_scores"]:
        return out, weights
    return out


@impl("MultiHeadAttention")
def multi_head_attention(call: ApplyCall) -> jax.Array | tuple[jax.Array, ...]:
    axes = attention_axes(call.attrs["attention_axes"], call.x.ndim)
    return _heads_attention(call, to_int(call.attrs["key_dim"]), 1, axes)


@impl("GroupedQueryAttention")
def grouped_query_attention(call: ApplyCall) -> jax.Array | tuple[jax.Array, ...]:
    repeats = to_int(call.attrs["num_query_heads"]) // to_int(call.attrs["num_key_value_heads"])
    return _heads_attention(call, to_int(call.attrs["head_dim"]), repeats, (1,))


def _luong(call: ApplyCall, scores: jax.Array) -> jax.Array | tuple[jax.Array, ...]:
    """Masks, softmax, dropout and the weighted sum shared by Attention and AdditiveAttention."""
    query, value = call.inputs[0], call.inputs[1]
    t, s = query.shape[1], value.shape[1]
    mask = _position_mask(call, t, s)  # [T, S]
    if len(call.inputs) > 3:
        v_mask = call.inputs[3][..., None, :]  # [B, 1, S]
        mask = v_mask if mask is None else v_mask & mask
    if mask is not None:
        scores = jnp.where(mask, scores, scores - 1e9)
    weights = _dropout(call, jax.nn.softmax(scores, axis=-1))
    out = jnp.einsum("bts,bsd->btd", weights, value)
    if len(call.inputs) > 4:
        out = jnp.where(call.inputs[4][..., None], out, 0.0)
    if call.attrs["return_attention_scores"]:
        return out, weights
    return out


@impl("Attention")
def attention(call: ApplyCall) -> jax.Array | tuple[jax.Array, ...]:
    query = call.inputs[0]
    key = call.inputs[2] if len(call.inputs) > 2 else call.inputs[1]
    scale = call.params.get("scale")
    if call.attrs["score_mode"] == "concat":
        summed = query[:, :, None, :] + key[:, None, :, :]
        if scale is not None:
            summed = scale * summed
        scores = call.params["concat_score_weight"] * jnp.sum(jnp.tanh(summed), axis=-1)
    else:
        scores = jnp.einsum("btd,bsd->bts", query, key)
        if scale is not None:
            scores = scores * scale
    return _luong(call, scores)


@impl("AdditiveAttention")
def additive_attention(call: ApplyCall) -> jax.Array | tuple[jax.Array, ...]:
    query = call.inputs[0]
    key = call.inputs[2] if len(call.inputs) > 2 else call.inputs[1]
    summed = jnp.tanh(query[:, :, None, :] + key[:, None, :, :])
    scale = call.params.get("scale")
    if scale is not None:
        summed = scale * summed
    return _luong(call, jnp.sum(summed, axis=-1))
