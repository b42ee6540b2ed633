"""The merging layers as ONNX nodes, with Keras 3's broadcasting (missing axes inserted after the
batch axis) and `batch_dot` (an `Einsum` over the batch axis)."""

from __future__ import annotations

import string

from nndsl.backend.onnx.lowerings.operators import require_kernel
from nndsl.backend.onnx.registry import LowerCall, lowering
from nndsl.ops.attrs import to_int
from nndsl.ops.merging import dot_axes


def _aligned(call: LowerCall) -> list[str]:
    """Lower-rank inputs get size-1 axes after the batch axis, as Keras's Merge does (ONNX's
    own broadcasting would align them from the right, batch axis included)."""
    rank = max(len(t.shape) for t in call.types)
    out = []
    for x, t in zip(call.inputs, call.types, strict=True):
        missing = rank - len(t.shape)
        out.append(call.op("Unsqueeze", x, call.g.ints(range(1, 1 + missing))) if missing else x)
    return out


def _fold(call: LowerCall, op_type: str, what: str) -> str:
    """`op(op(x0, x1), x2) ...`, left to right as the JAX fold (the float sums agree bit for
    bit rather than by the order a variadic `Sum` would pick)."""
    require_kernel(op_type, call.dtype, what)
    xs = _aligned(call)
    out = xs[0]
    for x in xs[1:]:
        out = call.op(op_type, out, x)
    return out


@lowering("Add")
def add(call: LowerCall) -> str:
    return _fold(call, "Add", "Add")


@lowering("Subtract")
def subtract(call: LowerCall) -> str:
    return _fold(call, "Sub", "Subtract")


@lowering("Multiply")
def multiply(call: LowerCall) -> str:
    return _fold(call, "Mul", "Multiply")


@lowering("Average")
def average(call: LowerCall) -> str:
    total = _fold(call, "Add", "Average")
    return call.op("Div", total, call.g.scalar(len(call.inputs), call.dtype))


@lowering("Maximum")
def maximum(call: LowerCall) -> str:
    return _fold(call, "Max", "Maximum")


@lowering("Minimum")
def minimum(call: LowerCall) -> str:
    return _fold(call, "Min", "Minimum")


@lowering("Concatenate")
def concatenate(call: LowerCall) -> str:
    return call.op("Concat", *call.inputs, axis=to_int(call.attrs["axis"]) % call.rank)


def _l2_normalize(call: LowerCall, x: str, axis: int) -> str:
    """Keras's `normalize`: `x * min(rsqrt(sum(x^2)), 1/epsilon)`, epsilon 1e-7."""
    squares = call.op("ReduceSumSquare", x, call.g.ints([axis]), keepdims=1)
    inv = call.op("Reciprocal", call.op("Sqrt", squares))
    return call.op("Mul", x, call.op("Min", inv, call.g.scalar(1e7, call.dtype)))


@lowering("Dot")
def dot(call: LowerCall) -> str:
    """`batch_dot` as one Einsum: batch axis 0 shared, axis `ax` of `a` summed against `bx` of
    `b`; the result keeps `a`'s free axes, then `b`'s (`[B, 1]` when none is left)."""
    require_kernel("Einsum", call.dtype, "Dot")
    a, b = call.inputs
    ra, rb = len(call.types[0].shape), len(call.types[1].shape)
    ax, bx = dot_axes(call.attrs, (ra, rb))
    if call.attrs["normalize"]:
        a, b = _l2_normalize(call, a, ax), _l2_normalize(call, b, bx)
    letters = iter(string.ascii_lowercase[2:])
    a_labels = ["a" if i == 0 else "b" if i == ax else next(letters) for i in range(ra)]
    b_labels = ["a" if i == 0 else "b" if i == bx else next(letters) for i in range(rb)]
    out = ["a"] + [c for c in a_labels + b_labels if c not in "ab"]
    equation = f"{''.join(a_labels)},{''.join(b_labels)}->{''.join(out)}"
    y = call.op("Einsum", a, b, equation=equation)
    return call.op("Unsqueeze", y, call.g.ints([1])) if len(out) == 1 else y
