"""Dense, Identity, Embedding, PositionEmbedding, EinsumDense, Dropout as ONNX nodes."""

from __future__ import annotations

from nndsl.backend.onnx.lowerings.activation import activate
from nndsl.backend.onnx.registry import LowerCall, lowering


@lowering("Dense")
def dense(call: LowerCall) -> str:
    """`MatMul` (+ `Add`): Dense applies to the last axis of any rank, as in Keras."""
    y = call.op("MatMul", call.x, call.weight("kernel"))
    if call.has("bias"):
        y = call.op("Add", y, call.weight("bias"))
    return activate(call, call.attrs.get("activation", "linear"), y)


@lowering("Identity", "Dropout")
def identity(call: LowerCall) -> str:
    """Identity; Dropout is the identity at inference."""
    return call.x
