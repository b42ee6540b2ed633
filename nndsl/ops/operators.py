"""Tensor arithmetic behind `+ - * / @`, unary `-`, comparisons, logic, casts, constants."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, OpKind, OpSpec, ShapeError
from nndsl.shapes import Dim, DType, TensorType, broadcast_shapes, format_shape


class Operator(OpSpec):
    kind = OpKind.OPERATOR
    float_inputs = False


class Elementwise(Operator):
    inputs = ("a", "b")
    flops_per_element = 1
    rule = "`a`, `b` -> their broadcast shape (NumPy rules)"
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
    flops_per_element = 1
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

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 * k` per output element, `k` the contracted size."""
        return outputs[0].numel() * inputs[0].shape[-1] * 2


@register
class Constant(Operator):
    """A scalar written in the source, such as the `2` in `x * 2`; takes its partner's dtype."""

    name = "constant"
    flops_per_element = 0
    inputs = ()
    args = (Arg("value", "float"), Arg("dtype", "dtype", DType.F32))
    rule = "a scalar `[]`"
    example = "y = x * 0.5"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        dtype = attrs["dtype"]
        assert isinstance(dtype, DType)
        return TensorType(dtype, ())


class Comparison(Elementwise):
    """Comparisons give `bool` tensors: masks such as `tokens != 0` for padding."""

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return super().output(attrs, inputs).with_dtype(DType.BOOL)


def _comparison(name: str, symbol: str, words: str) -> None:
    doc = f"Element-wise `a {symbol} b` ({words}), a `bool` tensor; broadcasts as NumPy does."
    example = "mask = x != 0" if symbol == "!=" else f"m = a {symbol} b"
    cls = type(
        name.title().replace("_", ""),
        (Comparison,),
        {"__doc__": doc, "name": name, "symbol": symbol, "example": example},
    )
    register(cls)


for _name, _symbol, _words in (
    ("equal", "==", "equal"),
    ("not_equal", "!=", "not equal"),
    ("less", "<", "less than"),
    ("less_equal", "<=", "at most"),
    ("greater", ">", "greater than"),
    ("greater_equal", ">=", "at least"),
):
    _comparison(_name, _symbol, _words)


class Logical(Elementwise):
    """`and` / `or` between `bool` tensors (masks)."""

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        for t in inputs:
            if t.dtype is not DType.BOOL:
                raise ShapeError(
                    f"`{self.symbol}` combines `bool` tensors, found `{t}`", code="E0301"
                )
        return super().output(attrs, inputs)


@register
class LogicalAnd(Logical):
    """Element-wise `a and b` of two masks."""

    name = "logical_and"
    symbol = "and"
    example = "m = (a > 0) and (b > 0)"


@register
class LogicalOr(Logical):
    """Element-wise `a or b` of two masks."""

    name = "logical_or"
    symbol = "or"
    example = "m = (a > 0) or (b > 0)"


@register
class LogicalNot(Operator):
    """Element-wise `not m` of a mask."""

    name = "logical_not"
    flops_per_element = 1
    rule = "keeps the input's shape"
    example = "m = not (a > 0)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        if inputs[0].dtype is not DType.BOOL:
            raise ShapeError(f"`not` applies to a `bool` tensor, found `{inputs[0]}`", code="E0301")
        return inputs[0]


@register
class Cast(OpSpec):
    """Converts to another dtype: `mask |> cast(f32)`, `pixels |> cast(f32)`."""

    name = "cast"
    flops_per_element = 0  # a conversion, not arithmetic
    kind = OpKind.FUNCTION
    float_inputs = False
    args = (Arg("dtype", "dtype", doc="the dtype of the result"),)
    rule = "keeps the input's shape, changes its dtype"
    example = "h = x |> cast(bf16)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        dtype = attrs["dtype"]
        assert isinstance(dtype, DType)
        return inputs[0].with_dtype(dtype)
