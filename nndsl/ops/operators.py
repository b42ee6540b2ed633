"""Tensor arithmetic behind `+ - * / @`, unary `-`, and scalar constants."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, OpKind, OpSpec, ShapeError
from nndsl.shapes import DType, TensorType, broadcast_shapes, format_shape


class Operator(OpSpec):
    kind = OpKind.OPERATOR
    family = "operators"
    float_inputs = False


class Elementwise(Operator):
    inputs = ("a", "b")
    rule = "broadcasts `a` and `b` as NumPy does"
    symbol = "?"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        a, b = inputs
        result = broadcast_shapes(a.shape, b.shape)
        if isinstance(result, int):
            axis_a = a.rank + result
            axis_b = b.rank + result
            da = a.shape[axis_a] if axis_a >= 0 else None
            db = b.shape[axis_b] if axis_b >= 0 else None
            raise ShapeError(
                f"shapes `{format_shape(a.shape)}` and `{format_shape(b.shape)}` do not "
                f"broadcast: {da} against {db} on the last-but-{-result - 1} axis"
                if result != -1
                else f"shapes `{format_shape(a.shape)}` and `{format_shape(b.shape)}` do not "
                f"broadcast: {da} against {db} on the last axis",
                code="E0202",
            )
        return TensorType(a.dtype, result)


@register
class Add(Elementwise):
    """Element-wise sum, `a + b`."""

    name = "add"
    symbol = "+"
    example = "y = a + b"


@register
class Sub(Elementwise):
    """Element-wise difference, `a - b`."""

    name = "sub"
    symbol = "-"
    example = "y = a - b"


@register
class Mul(Elementwise):
    """Element-wise product, `a * b`."""

    name = "mul"
    symbol = "*"
    example = "y = a * b"


@register
class Div(Elementwise):
    """Element-wise quotient, `a / b`."""

    name = "div"
    symbol = "/"
    example = "y = a / b"


@register
class Neg(Operator):
    """Negation, `-x`."""

    name = "neg"
    rule = "keeps the input's shape"
    example = "y = -x"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class MatMul(Operator):
    """Matrix product `a @ b` over the last two axes, batching over the rest."""

    name = "matmul"
    inputs = ("a", "b")
    rule = "`[..., m, k] @ [..., k, n]` -> `[..., m, n]`"
    example = "y = a @ w"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        a, b = inputs
        if a.rank < 1 or b.rank < 1:
            raise ShapeError("`@` needs tensors of rank >= 1")
        a_shape = a.shape
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.rank >= 2 else b.shape[-1]
        if k_a != k_b:
            raise ShapeError(
                f"`@` contracts {k_a} (last axis of `{format_shape(a.shape)}`) with {k_b} "
                f"(axis -2 of `{format_shape(b.shape)}`)",
                code="E0201",
            )
        if b.rank == 1:
            return TensorType(a.dtype, a_shape[:-1])
        if a.rank == 1:
            return TensorType(a.dtype, (*b.shape[:-2], b.shape[-1]))
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        if isinstance(batch, int):
            raise ShapeError(
                f"batch axes of `{format_shape(a.shape)}` and `{format_shape(b.shape)}` do not "
                "broadcast",
                code="E0202",
            )
        return TensorType(a.dtype, (*batch, a.shape[-2], b.shape[-1]))


@register
class Constant(Operator):
    """A scalar written in the source, such as the `2` in `x * 2`; takes its partner's dtype."""

    name = "constant"
    inputs = ()
    args = (Arg("value", "float"), Arg("dtype", "dtype", DType.F32))
    rule = "a scalar `[]`"
    example = "y = x * 0.5"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        dtype = attrs["dtype"]
        assert isinstance(dtype, DType)
        return TensorType(dtype, ())
