"""Reductions and element-wise math as ONNX nodes (opset 21: every `Reduce*` takes its axes as
an input; `stop_gradient` is the identity, there being no gradient in an exported graph)."""

from __future__ import annotations

from nndsl.backend.onnx.lowerings.operators import require_kernel
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering
from nndsl.ops.attrs import to_float
from nndsl.ops.numeric import axes_for
from nndsl.shapes import DType

_REDUCE = {
    "sum": "ReduceSum",
    "mean": "ReduceMean",
    "max": "ReduceMax",
    "min": "ReduceMin",
    "prod": "ReduceProd",
    "logsumexp": "ReduceLogSumExp",
}
# The dtypes ONNX Runtime's CPU `Reduce*` kernels all take.
_REDUCE_DTYPES = (DType.F32, DType.F64, DType.I32, DType.I64)


def _reduction(name: str, op_type: str) -> None:
    def lower(call: LowerCall) -> str:
        if call.dtype not in _REDUCE_DTYPES:
            raise Unsupported(f"`{name}` of {call.dtype.value} tensors: no ONNX Runtime kernel")
        axes = axes_for(call.attrs["axis"], call.rank)
        keep = 1 if call.attrs["keepdims"] else 0
        if not axes:  # a scalar: nothing to reduce
            return call.op("Identity", call.x)
        return call.op(op_type, call.x, call.g.ints(axes), keepdims=keep)

    lowering(name)(lower)


for _name, _op in _REDUCE.items():
    _reduction(_name, _op)


_UNARY = {
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "abs": "Abs",
    "stop_gradient": "Identity",
}


def _unary(name: str, op_type: str) -> None:
    def lower(call: LowerCall) -> str:
        if op_type != "Identity" and not call.dtype.is_float and op_type != "Abs":
            raise Unsupported(f"`{name}` of {call.dtype.value} tensors")
        return call.op(op_type, call.x)

    lowering(name)(lower)


for _name, _op in _UNARY.items():
    _unary(_name, _op)


@lowering("square")
def square(call: LowerCall) -> str:
    require_kernel("Mul", call.dtype, "square")
    return call.op("Mul", call.x, call.x)


@lowering("clip")
def clip(call: LowerCall) -> str:
    if not call.dtype.is_float:
        raise Unsupported(f"`clip` of {call.dtype.value} tensors")
    lo = call.g.scalar(to_float(call.attrs["min"]), call.dtype)
    hi = call.g.scalar(to_float(call.attrs["max"]), call.dtype)
    # Min(Max(x, lo), hi), as `jnp.clip` computes it
    return call.op("Min", call.op("Max", call.x, lo), hi)


@lowering("power")
def power(call: LowerCall) -> str:
    if not call.dtype.is_float:
        raise Unsupported(f"`power` of {call.dtype.value} tensors")
    return call.op("Pow", call.inputs[0], call.inputs[1])


@lowering("maximum")
def maximum(call: LowerCall) -> str:
    require_kernel("Max", call.dtype, "maximum")
    return call.op("Max", call.inputs[0], call.inputs[1])


@lowering("minimum")
def minimum(call: LowerCall) -> str:
    require_kernel("Min", call.dtype, "minimum")
    return call.op("Min", call.inputs[0], call.inputs[1])


@lowering("where")
def where(call: LowerCall) -> str:
    return call.op("Where", *call.inputs)
