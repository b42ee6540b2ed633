"""A small builder over `onnx.helper`: fresh value names, nodes, initializers, int64 constants.

Lowerings speak to an `OnnxGraph` only; it owns name uniqueness and constant sharing, so a
lowering never has to invent a name that could clash with another layer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ml_dtypes  # noqa: F401  (registers numpy's bfloat16 for `np.dtype("bfloat16")`)
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nndsl.shapes import DType, TensorType

# The opset we emit (see docs/deploy.md, "Why opset 21"): the first with GroupNormalization's
# per-channel scale and bias, Gelu (20), reductions whose axes are inputs (18),
# LayerNormalization (17); ONNX Runtime has run it since 1.20, onnxruntime-web and Mobile too.
OPSET = 21
# ONNX's IR version 10 goes with opset 21; newer IR versions are refused by older runtimes.
IR_VERSION = 10

_ONNX_DTYPES: dict[DType, int] = {
    DType.F16: TensorProto.FLOAT16,
    DType.BF16: TensorProto.BFLOAT16,
    DType.F32: TensorProto.FLOAT,
    DType.F64: TensorProto.DOUBLE,
    DType.I8: TensorProto.INT8,
    DType.I16: TensorProto.INT16,
    DType.I32: TensorProto.INT32,
    DType.I64: TensorProto.INT64,
    DType.U8: TensorProto.UINT8,
    DType.BOOL: TensorProto.BOOL,
}


def onnx_dtype(dtype: DType) -> int:
    return _ONNX_DTYPES[dtype]


def value_info(name: str, type: TensorType) -> onnx.ValueInfoProto:
    """A typed graph input/output; symbolic dims (`B`, `T`) become named dynamic dims, derived
    ones (`T - 2`) are left unnamed, constant ones fixed."""
    dims: list[int | str | None] = []
    for d in type.shape:
        n = d.as_int()
        dims.append(n if n is not None else d.as_symbol())
    return helper.make_tensor_value_info(name, onnx_dtype(type.dtype), dims)


class OnnxGraph:
    """The graph under construction: nodes, initializers and the names already taken."""

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run  # lower to find what cannot be exported, store no weight
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._taken: set[str] = set()
        self._consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def subgraph(self) -> OnnxGraph:
        """A builder for a control-flow body (`Scan`, `Loop`): its own nodes, but this graph's
        names, shared constants and initializers (a body reads outer values by name)."""
        body = OnnxGraph(dry_run=self.dry_run)
        body.initializers = self.initializers
        body._taken = self._taken
        body._consts = self._consts
        return body

    def fresh(self, hint: str) -> str:
        """A value name not used yet, derived from `hint` (a node path, then a role)."""
        name = hint
        n = 1
        while name in self._taken:
            name = f"{hint}_{n}"
            n += 1
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim a name given from outside (graph inputs), so fresh names avoid it."""
        if name in self._taken:
            raise ValueError(f"ONNX value name {name!r} used twice")
        self._taken.add(name)

    def op(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str,
        *,
        outputs: int = 1,
        **attrs: Any,
    ) -> str:
        """Add a node with one output; returns the output's name."""
        return self.op_multi(op_type, inputs, hint, outputs=outputs, **attrs)[0]

    def op_multi(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str,
        *,
        outputs: int,
        **attrs: Any,
    ) -> list[str]:
        """Add a node with `outputs` results (unused optional inputs are passed as "")."""
        names = [self.fresh(f"{hint}/{op_type}" + (f":{i}" if i else "")) for i in range(outputs)]
        given = {k: v for k, v in attrs.items() if v is not None}
        node = helper.make_node(op_type, list(inputs), names, name=names[0], **given)
        self.nodes.append(node)
        return names

    def initializer(self, array: np.ndarray, hint: str) -> str:
        """A named tensor stored in the model (weights, tables); never shared."""
        name = self.fresh(hint)
        if self.dry_run:  # checking only: the placeholders are never copied into a model
            return name
        # `ascontiguousarray` makes a 0-d array 1-d: keep the shape (scalars stay scalars).
        data = np.ascontiguousarray(array).reshape(np.shape(array))
        self.initializers.append(numpy_helper.from_array(data, name))
        return name

    def const(self, value: Any, dtype: str | np.dtype[Any] = "float32") -> str:
        """A small constant tensor, shared between every use of the same value."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.tobytes(), array.shape)
        if key not in self._consts:
            self._consts[key] = self.initializer(array, f"const/{array.dtype.name}")
        return self._consts[key]

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant (axes, shapes, pads, slice bounds)."""
        return self.const(list(values), "int64")

    def scalar(self, value: float | int | bool, dtype: DType) -> str:
        """A 0-d constant of the tensor's dtype, for arithmetic with it."""
        return self.const(value, np.dtype(dtype.numpy_name))


def static_dims(type: TensorType) -> list[int | None]:
    """The constant dims of `type`; None where the dim is symbolic."""
    return [d.as_int() for d in type.shape]
