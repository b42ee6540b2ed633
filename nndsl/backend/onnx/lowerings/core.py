"""Dense, Identity, Embedding, PositionEmbedding, EinsumDense, Dropout as ONNX nodes."""

from __future__ import annotations

import string

import numpy as np

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.lowerings.activation import activate
from nndsl.backend.onnx.registry import LowerCall, lowering
from nndsl.ops.core import Einsum
from nndsl.shapes import DType


@lowering("Dense")
def dense(call: LowerCall) -> str:
    """`MatMul` (+ `Add`): Dense applies to the last axis of any rank, as in Keras."""
    y = call.op("MatMul", call.x, call.weight("kernel"))
    if call.has("bias"):
        y = call.op("Add", y, call.weight("bias"))
    return activate(call, call.attrs["activation"], y)


@lowering("Identity")
def identity(call: LowerCall) -> str:
    """The input, unchanged."""
    return call.x


@lowering("Embedding")
def embedding(call: LowerCall) -> str:
    """`Gather` of the table's rows. Ids must lie in the table: ONNX Runtime fails on one
    outside it, where JAX's `take` gives NaN rows."""
    ids = call.x
    if call.dtype not in (DType.I32, DType.I64):  # Gather's indices are int32 or int64
        ids = call.op("Cast", ids, to=onnx_dtype(DType.I64))
    return call.op("Gather", call.weight("embeddings"), ids, axis=0)


@lowering("PositionEmbedding")
def position_embedding(call: LowerCall) -> str:
    """The first T rows of the table (T read at run time when symbolic), broadcast to the
    input's `[B, T, D]` shape; the table is stored in the input's dtype, as JAX casts it."""
    table = np.asarray(call.weights["embeddings"]).astype(call.dtype.numpy_name)
    length = call.type.shape[1].as_int()
    end = call.g.ints([length]) if length is not None else call.op("Shape", call.x, start=1, end=2)
    rows = call.op(
        "Slice", call.weight("embeddings", table), call.g.ints([0]), end, call.g.ints([0])
    )
    return call.op("Expand", rows, call.op("Shape", call.x))


def _explicit(equation: str, rank: int) -> str:
    """The equation with its `...` spelled out as unused labels: the input's rank is known, and
    every runtime's Einsum then takes it (some handle `...` partially)."""
    eq = Einsum.parse(equation)
    if not eq.ellipsis:
        return equation
    used = set(eq.x + eq.kernel + eq.out)
    free = "".join(c for c in string.ascii_letters if c not in used)[: rank - len(eq.x)]
    if eq.ellipsis == "left":
        return f"{free}{eq.x},{eq.kernel}->{free}{eq.out}"
    return f"{eq.x}{free},{eq.kernel}->{eq.out}{free}"


@lowering("EinsumDense")
def einsum_dense(call: LowerCall) -> str:
    """`Einsum` with the kernel in Keras's layout, the bias (shaped to broadcast from the
    right over the output) added, then the activation."""
    equation = _explicit(str(call.attrs["equation"]), call.rank)
    y = call.op("Einsum", call.x, call.weight("kernel"), equation=equation)
    if call.has("bias"):
        y = call.op("Add", y, call.weight("bias"))
    return activate(call, call.attrs["activation"], y)
