"""Arithmetic, comparisons, logic, casts and constants as ONNX nodes.

The checker gives both operands one dtype (a literal becomes a `constant` of its partner's
dtype), so no promotion is needed. ONNX Runtime's CPU kernels cover only some dtypes per op
(bf16: none, only `Cast` and data movement); `require_kernel` turns a missing kernel into
`Unsupported` instead of a model that fails when loaded.
"""

from __future__ import annotations

import numpy as np

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering
from nndsl.ops.attrs import to_float
from nndsl.shapes import DType

_F = (DType.F16, DType.F32, DType.F64)
_INTS = (DType.I8, DType.I16, DType.I32, DType.I64, DType.U8)

# The dtypes ONNX Runtime (1.20+) has CPU kernels for, per ONNX op, as probed.
ORT_CPU_KERNELS: dict[str, tuple[DType, ...]] = {
    "Add": (*_F, *_INTS),
    "Sub": (*_F, *_INTS),
    "Mul": (*_F, *_INTS),
    "Div": (*_F, *_INTS),
    "Neg": (*_F, DType.I8, DType.I16, DType.I32, DType.I64),
    "MatMul": (*_F, DType.I32, DType.I64),
    "Einsum": (*_F, DType.I32, DType.I64),
    "Equal": (*_F, *_INTS, DType.BOOL),
    "Less": (*_F, *_INTS),
    "Max": (*_F, DType.I8, DType.I32, DType.I64, DType.U8),
    "Min": (*_F, DType.I8, DType.I32, DType.I64, DType.U8),
}


def require_kernel(op_type: str, dtype: DType, what: str) -> None:
    """`Unsupported` when ONNX Runtime cannot run `op_type` on `dtype`."""
    if dtype not in ORT_CPU_KERNELS[op_type]:
        raise Unsupported(f"`{what}` on {dtype.value} tensors: ONNX Runtime has no kernel for it")


def _binary(name: str, op_type: str) -> None:
    def lower(call: LowerCall) -> str:
        require_kernel(op_type, call.dtype, name)
        return call.op(op_type, call.inputs[0], call.inputs[1])

    lowering(name)(lower)


for _name, _op in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("matmul", "MatMul")):
    _binary(_name, _op)


@lowering("div")
def div(call: LowerCall) -> str:
    """Float division. JAX's `divide` of integers is a true (float) division, while the spec
    keeps the integer dtype and ONNX's `Div` truncates: no form agrees with both."""
    if not call.dtype.is_float:
        raise Unsupported(f"`/` of {call.dtype.value} tensors (integer division)")
    require_kernel("Div", call.dtype, "/")
    return call.op("Div", call.inputs[0], call.inputs[1])


@lowering("neg")
def neg(call: LowerCall) -> str:
    require_kernel("Neg", call.dtype, "neg")
    return call.op("Neg", call.x)


@lowering("constant")
def constant(call: LowerCall) -> str:
    """A 0-d initializer of the constant's dtype (its `dtype` attr, the output's type), shared
    between equal constants."""
    return call.g.const(to_float(call.attrs["value"]), np.dtype(call.out.dtype.numpy_name))


def _ordered(call: LowerCall, what: str) -> tuple[str, str]:
    """The operands of an ordering comparison: `bool` ones as u8 (False < True, as in JAX)."""
    a, b = call.inputs[0], call.inputs[1]
    if call.dtype is DType.BOOL:
        u8 = onnx_dtype(DType.U8)
        return call.op("Cast", a, to=u8), call.op("Cast", b, to=u8)
    require_kernel("Less", call.dtype, what)
    return a, b


def _comparison(name: str, op_type: str) -> None:
    def lower(call: LowerCall) -> str:
        return call.op(op_type, *_ordered(call, name))

    lowering(name)(lower)


for _name, _op in (
    ("less", "Less"),
    ("less_equal", "LessOrEqual"),
    ("greater", "Greater"),
    ("greater_equal", "GreaterOrEqual"),
):
    _comparison(_name, _op)


@lowering("equal")
def equal(call: LowerCall) -> str:
    require_kernel("Equal", call.dtype, "==")
    return call.op("Equal", call.inputs[0], call.inputs[1])


@lowering("not_equal")
def not_equal(call: LowerCall) -> str:
    require_kernel("Equal", call.dtype, "!=")
    return call.op("Not", call.op("Equal", call.inputs[0], call.inputs[1]))


@lowering("logical_and")
def logical_and(call: LowerCall) -> str:
    return call.op("And", call.inputs[0], call.inputs[1])


@lowering("logical_or")
def logical_or(call: LowerCall) -> str:
    return call.op("Or", call.inputs[0], call.inputs[1])


@lowering("logical_not")
def logical_not(call: LowerCall) -> str:
    return call.op("Not", call.x)


@lowering("cast")
def cast(call: LowerCall) -> str:
    """ONNX's Cast to the output's dtype (the `dtype` attr): floats to integers truncate toward
    zero and nonzero is `true`, as in JAX's `astype`; ONNX Runtime casts between every pair of
    nndsl's dtypes, bf16 included."""
    return call.op("Cast", call.x, to=onnx_dtype(call.out.dtype))
