"""The ONNX lowering table and the call record each lowering receives.

A lowering is `fn(call: LowerCall) -> str | tuple[str, ...]`: it adds ONNX nodes for one IR
node to `call.g` and returns the name(s) of its result(s), in the IR node's output order.
Lowerings are attached to op specs by name, exactly as the JAX implementations are
(`nndsl/backend/onnx/lowerings/` mirrors `nndsl/backend/jax/impls/` family by family).

What ONNX cannot express for given arguments (a symbolic size where ONNX needs a constant, a
dtype) is reported by raising `Unsupported`; the exporter turns it into a diagnostic with the
layer's span. The same lowerings run once on zero-cost placeholder weights to check a model
before any weight is read (`check_exportable`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nndsl.backend.onnx.builder import OnnxGraph
from nndsl.backend.table import ImplTable
from nndsl.ops import ArgValue, OpKind, OpSpec
from nndsl.ops.attrs import to_int
from nndsl.ops.registry import FAMILIES, ImportOnce
from nndsl.shapes import Dim, DType, TensorType

Attrs = Mapping[str, ArgValue]
Result = str | tuple[str, ...]
Lowering = Callable[["LowerCall"], Result]

GRAPH_KINDS = (OpKind.LAYER, OpKind.FUNCTION, OpKind.OPERATOR)
TABLE: ImplTable[Lowering] = ImplTable("onnx", GRAPH_KINDS)

# The op families that appear in model graphs; one lowering module each.
_TRAINING_FAMILIES = (
    "weights",
    "losses",
    "metrics",
    "optimizers",
    "schedules",
    "callbacks",
    "data",
)
GRAPH_FAMILIES = tuple(f for f in FAMILIES if f not in _TRAINING_FAMILIES)


class Unsupported(Exception):
    """This op, with these arguments or types, has no ONNX form; the message says why."""


@dataclass
class LowerCall:
    """One IR node being lowered: its attrs, the ONNX names and nndsl types of its inputs,
    its output types and its weights as arrays in nndsl's (Keras's) layout."""

    g: OnnxGraph
    attrs: Attrs
    inputs: list[str]
    types: list[TensorType]
    outputs: list[TensorType]
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)
    path: str = "op"  # the IR node's path: the prefix of every name this call creates

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def type(self) -> TensorType:
        """The first input's type."""
        return self.types[0]

    @property
    def out(self) -> TensorType:
        """The first output's type."""
        return self.outputs[0]

    @property
    def rank(self) -> int:
        return len(self.types[0].shape)

    @property
    def dtype(self) -> DType:
        return self.types[0].dtype

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        """One ONNX node named after this IR node; returns its output."""
        return self.g.op(op_type, list(inputs), self.path, **attrs)

    def weight(self, name: str, array: np.ndarray | None = None) -> str:
        """The weight `name` as an initializer, converted to ONNX's layout by the caller when
        `array` is given (e.g. a kernel transposed HWIO -> OIHW)."""
        value = self.weights[name] if array is None else array
        return self.g.initializer(value, f"{self.path}/{name}")

    def has(self, name: str) -> bool:
        return name in self.weights

    def static(self, value: ArgValue, what: str) -> int:
        """An integer argument that ONNX needs as a constant."""
        if isinstance(value, Dim) and value.as_int() is None:
            raise Unsupported(f"{what} is `{value}`, a size known only at run time")
        return to_int(value)

    def dim(self, axis: int, which: int = 0) -> int:
        """A constant size of an input's axis; `Unsupported` when it is symbolic."""
        d = self.types[which].shape[axis]
        n = d.as_int()
        if n is None:
            raise Unsupported(f"axis {axis} has the symbolic size `{d}`; ONNX needs it constant")
        return n


def lowering(*names: str) -> Callable[[Lowering], Lowering]:
    """Register `fn` as the ONNX lowering of each spec in `names`."""

    def deco(fn: Lowering) -> Lowering:
        for name in names:
            TABLE.register(name)(fn)
        return fn

    return deco


_load = ImportOnce(lambda: (f"nndsl.backend.onnx.lowerings.{f}" for f in GRAPH_FAMILIES))


def lowering_of(spec: OpSpec | str) -> Lowering | None:
    _load()
    name = spec if isinstance(spec, str) else spec.name
    return TABLE.get(name) if name in TABLE else None


def missing_lowerings() -> list[str]:
    """Graph specs with no ONNX lowering, sorted (a test lists them)."""
    _load()
    return TABLE.missing()
