"""ONNX lowerings of the `attention` family (see `nndsl.ops.attention`), as the JAX impls
compute them: EinsumDense projections as `MatMul` with kernels reshaped `[d, heads * dim]` at
export, `MatMul`/`Softmax` for `[B, T, D]` inputs (ONNX `Einsum` only for MultiHeadAttention's
`attention_axes` on higher ranks), masks with `Where`. Sequence lengths stay symbolic: causal
and sliding-window masks are built from the inputs' run-time shapes.
"""

from __future__ import annotations

import math

from nndsl.backend.onnx.registry import LowerCall, Result, lowering
from nndsl.ops.attention import attention_axes
from nndsl.ops.attrs import to_int

_LARGE_NEGATIVE = -1e9


def _project(call: LowerCall, name: str, x: str, rank: int) -> str:
    """Keras's EinsumDense `...d,dnh->...nh` (+ bias `[n, h]`): `[B, ..., n, h]`."""
    kernel = call.weights[f"{name}.kernel"]
    d, n, h = kernel.shape
    y = call.op("MatMul", x, call.weight(f"{name}.kernel", kernel.reshape(d, n * h)))
    if call.has(f"{name}.bias"):
        y = call.op("Add", y, call.weight(f"{name}.bias", call.weights[f"{name}.bias"].reshape(-1)))
    return call.op("Reshape", y, call.g.ints([0] * (rank - 1) + [n, h]))


def _length(call: LowerCall, x: str, axis: int) -> str:
    """The run-time size of `x`'s `axis` as a 0-d int64."""
    return call.op("Gather", call.op("Shape", x), call.g.const(axis, "int64"), axis=0)


def _position_mask(call: LowerCall, query: str, value: str, window: int | None) -> str | None:
    """The causal and sliding-window masks `[T, S]` the attributes ask for, or None."""
    causal = bool(call.attrs["use_causal_mask"])
    if not causal and window is None:
        return None
    zero, one = call.g.const(0, "int64"), call.g.const(1, "int64")
    t = call.op("Range", zero, _length(call, query, 1), one)
    s = call.op("Range", zero, _length(call, value, 1), one)
    rows = call.op("Unsqueeze", t, call.g.ints([1]))  # [T, 1]
    cols = call.op("Unsqueeze", s, call.g.ints([0]))  # [1, S]
    mask = call.op("GreaterOrEqual", rows, cols) if causal else None
    if window is not None:
        band = call.op("Less", call.op("Abs", call.op("Sub", rows, cols)), call.g.ints([window]))
        mask = band if mask is None else call.op("And", mask, band)
    return mask


def _equations(rank: int, axes: tuple[int, ...]) -> tuple[str, str]:
    """The JAX impl's einsum equations (scores, combination) over projected tensors."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    target = letters[: rank + 1]
    source = "".join(
        letters[rank + 1 + axes.index(i)] if i in axes else target[i] for i in range(rank + 1)
    )
    batch = [i for i in range(rank) if i not in axes]
    product = (
        "".join(target[i] for i in batch)
        + "".join(target[i] for i in axes)
        + "".join(source[i] for i in axes)
    )
    return f"{target},{source}->{product}", f"{product},{source}->{target}"


def _heads_attention(call: LowerCall, head_dim: int, repeats: int, axes: tuple[int, ...]) -> Result:
    """MultiHeadAttention and GroupedQueryAttention (`repeats` query heads per key/value head)."""
    query, value = call.inputs[0], call.inputs[1]
    key = call.inputs[2] if len(call.inputs) > 2 else value
    rank = call.rank
    n_lead = rank - 1 - len(axes)
    score_rank = n_lead + 1 + 2 * len(axes)
    mask = None
    if len(call.inputs) > 3:
        given, m = call.inputs[3], len(call.types[3].shape)
        if score_rank - 1 - m > 0:
            given = call.op("Unsqueeze", given, call.g.ints(list(range(score_rank - 1 - m))))
        mask = call.op("Unsqueeze", given, call.g.ints([n_lead]))
    if rank == 3:
        window = call.attrs["sliding_window"]
        position = _position_mask(call, query, value, None if window is None else to_int(window))
        if position is not None:
            mask = position if mask is None else call.op("And", mask, position)
    gate = None
    if call.has("gate.kernel"):
        gate = call.op("Sigmoid", _project(call, "gate", query, rank))
    scale = call.g.scalar(1.0 / math.sqrt(float(head_dim)), call.dtype)
    q = call.op("Mul", _project(call, "query", query, rank), scale)
    k = _project(call, "key", key, rank)
    v = _project(call, "value", value, rank)
    if repeats > 1:  # jnp.repeat over the heads axis: each key/value head `repeats` times
        kv_heads = call.weights["key.kernel"].shape[1]
        at = call.g.ints([rank])  # a new axis after the heads
        reps = call.g.ints([1] * rank + [repeats, 1])
        shape = call.g.ints([0] * (rank - 1) + [kv_heads * repeats, -1])
        k, v = (
            call.op("Reshape", call.op("Expand", call.op("Unsqueeze", t, at), reps), shape)
            for t in (k, v)
        )
    norm_axes = list(range(score_rank - len(axes), score_rank))
    if rank == 3:  # [B, T, n, h] -> [B, n, T, h]; scores [B, n, T, S]
        q = call.op("Transpose", q, perm=[0, 2, 1, 3])
        kt = call.op("Transpose", k, perm=[0, 2, 3, 1])
        v = call.op("Transpose", v, perm=[0, 2, 1, 3])
        scores = call.op("MatMul", q, kt)
    else:
        dot, combine = _equations(rank, axes)
        scores = call.op("Einsum", q, k, equation=dot)
    if mask is not None:
        scores = call.op("Where", mask, scores, call.g.scalar(_LARGE_NEGATIVE, call.dtype))
    if len(axes) == 1:
        weights = call.op("Softmax", scores, axis=-1)
    else:  # as Keras's Softmax over several axes
        lse = call.op("ReduceLogSumExp", scores, call.g.ints(norm_axes), keepdims=1)
        weights = call.op("Exp", call.op("Sub", scores, lse))
    if mask is not None:
        weights = call.op("Where", mask, weights, call.g.scalar(0.0, call.dtype))
    if rank == 3:
        heads = call.op("Transpose", call.op("MatMul", weights, v), perm=[0, 2, 1, 3])
    else:
        heads = call.op("Einsum", weights, v, equation=combine)
    if gate is not None:
        heads = call.op("Mul", heads, gate)
    kernel = call.weights["attention_output.kernel"]  # [n, h, *out]
    n, hv, out = kernel.shape[0], kernel.shape[1], kernel.shape[2:]
    flat = call.op("Reshape", heads, call.g.ints([0] * (rank - 1) + [n * hv]))
    w = call.weight("attention_output.kernel", kernel.reshape(n * hv, -1))
    y = call.op("MatMul", flat, w)
    if len(out) != 1:
        y = call.op("Reshape", y, call.g.ints([0] * (rank - 1) + list(out)))
    if call.has("attention_output.bias"):
        y = call.op("Add", y, call.weight("attention_output.bias"))
    if call.attrs["return_attention_scores"]:
        return y, weights
    return y


@lowering("MultiHeadAttention")
def multi_head_attention(call: LowerCall) -> Result:
    axes = attention_axes(call.attrs["attention_axes"], call.rank)
    return _heads_attention(call, to_int(call.attrs["key_dim"]), 1, axes)


@lowering("GroupedQueryAttention")
def grouped_query_attention(call: LowerCall) -> Result:
    repeats = to_int(call.attrs["num_query_heads"]) // to_int(call.attrs["num_key_value_heads"])
    return _heads_attention(call, to_int(call.attrs["head_dim"]), repeats, (1,))


def _luong(call: LowerCall, scores: str) -> Result:
    """Masks (scores minus 1e9 where masked), softmax and the weighted sum of the values,
    shared by Attention and AdditiveAttention."""
    query, value = call.inputs[0], call.inputs[1]
    mask = _position_mask(call, query, value, None)  # [T, S]
    if len(call.inputs) > 3:
        v_mask = call.op("Unsqueeze", call.inputs[3], call.g.ints([-2]))  # [B, 1, S]
        mask = v_mask if mask is None else call.op("And", v_mask, mask)
    if mask is not None:
        lowered = call.op("Sub", scores, call.g.scalar(1e9, call.dtype))
        scores = call.op("Where", mask, scores, lowered)
    weights = call.op("Softmax", scores, axis=-1)
    out = call.op("MatMul", weights, value)
    if len(call.inputs) > 4:
        q_mask = call.op("Unsqueeze", call.inputs[4], call.g.ints([-1]))
        out = call.op("Where", q_mask, out, call.g.scalar(0.0, call.dtype))
    if call.attrs["return_attention_scores"]:
        return out, weights
    return out


def _pairs(call: LowerCall, query: str, key: str) -> str:
    """`query[:, :, None, :] + key[:, None, :, :]`: `[B, T, S, D]`."""
    q = call.op("Unsqueeze", query, call.g.ints([2]))
    k = call.op("Unsqueeze", key, call.g.ints([1]))
    return call.op("Add", q, k)


@lowering("Attention")
def attention(call: LowerCall) -> Result:
    query = call.inputs[0]
    key = call.inputs[2] if len(call.inputs) > 2 else call.inputs[1]
    scale = call.weight("scale") if call.has("scale") else None
    if call.attrs["score_mode"] == "concat":
        summed = _pairs(call, query, key)
        if scale is not None:
            summed = call.op("Mul", scale, summed)
        total = call.op("ReduceSum", call.op("Tanh", summed), call.g.ints([-1]), keepdims=0)
        scores = call.op("Mul", call.weight("concat_score_weight"), total)
    else:
        scores = call.op("MatMul", query, call.op("Transpose", key, perm=[0, 2, 1]))
        if scale is not None:
            scores = call.op("Mul", scores, scale)
    return _luong(call, scores)


@lowering("AdditiveAttention")
def additive_attention(call: LowerCall) -> Result:
    query = call.inputs[0]
    key = call.inputs[2] if len(call.inputs) > 2 else call.inputs[1]
    summed = call.op("Tanh", _pairs(call, query, key))
    if call.has("scale"):
        summed = call.op("Mul", call.weight("scale"), summed)
    return _luong(call, call.op("ReduceSum", summed, call.g.ints([-1]), keepdims=0))
