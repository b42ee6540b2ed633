"""Math as functions: reductions (`sum`, `mean`, `max`, `min`, `prod`, `logsumexp`) and
element-wise math (`exp`, `log`, `sqrt`, `square`, `abs`, `clip`, `where`, `power`, ...).

These are what losses and sampling written in the language are made of (a VAE's KL term is
`mean(-0.5 * (1 + log_var - z_mean ** 2 - exp(log_var)))`). Names and defaults follow
`keras.ops` / NumPy; the common other spellings (`reduce_sum`, `amax`, `absolute`, `pow`,
`clamp`) are aliases, so a ported line reads as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.operators import Elementwise
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, ArgValue, Attrs, OpKind, OpSpec, ShapeError, as_int
from nndsl.shapes import Dim, DType, TensorType, broadcast_shapes, format_shape
from nndsl.shapes.types import Shape


class MathFn(OpSpec):
    kind = OpKind.FUNCTION


# -- reductions --------------------------------------------------------------------------------
_AXIS = Arg(
    "axis",
    "ints",
    None,
    "the axis or axes reduced; none: every axis (the result is a scalar `[]`)",
    nullable=True,
)
_KEEPDIMS = Arg("keepdims", "bool", False, "keep each reduced axis with size 1")


def reduced_axes(attrs: Attrs, x: TensorType) -> tuple[int, ...]:
    """The reduced axes, normalized to `0 <= a < rank`, sorted; `ShapeError` naming `axis`."""
    return axes_for(attrs["axis"], x.rank, str(x))


def axes_for(value: ArgValue, rank: int, what: str = "the input") -> tuple[int, ...]:
    """`axis` (none, one int or several) as sorted axes `0 <= a < rank`; what both backends
    reduce over, so they agree with the shape rule."""
    if value is None:
        return tuple(range(rank))
    out: list[int] = []
    for item in value if isinstance(value, tuple) else (value,):
        a = as_int(item)
        if a is None:
            raise ShapeError(f"axis `{item}` must be a known integer", arg="axis")
        if not -rank <= a < rank:
            raise ShapeError(
                f"`axis` {a} is out of range for `{what}` of rank {rank}",
                arg="axis",
                help=f"axes of a rank-{rank} tensor are {-rank} .. {rank - 1}"
                if rank
                else "a scalar has no axis to reduce",
            )
        if a % rank in out:
            raise ShapeError(f"`axis` {a} is given twice (counting from the end too)", arg="axis")
        out.append(a % rank)
    return tuple(sorted(out))


class Reduction(MathFn):
    args = (_AXIS, _KEEPDIMS)
    per_input: ClassVar[int] = 1  # FLOPs per input element: an add, a compare, a product

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        return inputs[0].numel() * self.per_input

    float_inputs = False
    rule = "`[...]` -> the input's shape without the reduced axes (size 1 with `keepdims`)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.dtype is DType.BOOL:
            raise ShapeError(f"`{self.name}` reduces numbers, found `{x}`", code="E0301")
        axes = reduced_axes(attrs, x)
        if attrs["keepdims"]:
            one = Dim.const(1)
            return TensorType(
                x.dtype, tuple(one if i in axes else d for i, d in enumerate(x.shape))
            )
        return TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def _reduction(
    name: str,
    doc: str,
    example: str,
    aliases: tuple[str, ...],
    floats: bool = False,
    per_input: int = 1,
) -> None:
    cls = type(
        name.title(),
        (Reduction,),
        {
            "__doc__": doc,
            "name": name,
            "example": example,
            "aliases": aliases,
            "float_inputs": floats,
            "per_input": per_input,
        },
    )
    register(cls)


_reduction(
    "sum",
    "Sum over `axis` (every axis by default), as `keras.ops.sum` / `np.sum`.",
    "s = sum(x, axis = -1)",
    ("reduce_sum",),
)
_reduction(
    "mean",
    "Arithmetic mean over `axis` (every axis by default), as `keras.ops.mean`.",
    "m = mean(x)",
    ("reduce_mean",),
    floats=True,
)
_reduction(
    "max",
    "Largest entry over `axis` (every axis by default), as `keras.ops.max` / `np.max`. With "
    "only numbers as arguments, `max(a, b, ...)` is the static maximum instead.",
    "m = x |> max(axis = 1, keepdims = true)",
    ("reduce_max", "amax"),
)
_reduction(
    "min",
    "Smallest entry over `axis` (every axis by default), as `keras.ops.min` / `np.min`. With "
    "only numbers as arguments, `min(a, b, ...)` is the static minimum instead.",
    "m = min(x, axis = -1)",
    ("reduce_min", "amin"),
)
_reduction(
    "prod",
    "Product over `axis` (every axis by default), as `keras.ops.prod`.",
    "p = prod(x, axis = -1)",
    ("reduce_prod", "product"),
)
_reduction(
    "logsumexp",
    "`log(sum(exp(x)))` over `axis`, computed stably, as `keras.ops.logsumexp`.",
    "l = logsumexp(x, axis = -1)",
    ("reduce_logsumexp",),
    floats=True,
    per_input=4,  # max, subtract, exp, sum
)


# -- element-wise ------------------------------------------------------------------------------
class Unary(MathFn):
    rule = "keeps the input's shape and dtype"
    flops_per_element = 1

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.dtype is DType.BOOL:
            raise ShapeError(f"`{self.name}` applies to numbers, found `{x}`", code="E0301")
        return x


def _unary(
    name: str,
    doc: str,
    aliases: tuple[str, ...] = (),
    floats: bool = True,
    example: str = "",
    flops: int = 1,
) -> None:
    cls = type(
        "".join(p.title() for p in name.split("_")),
        (Unary,),
        {
            "__doc__": doc,
            "name": name,
            "aliases": aliases,
            "float_inputs": floats,
            "example": example or f"y = {name}(x)",
            "flops_per_element": flops,
        },
    )
    register(cls)


_unary("exp", "`e ** x`, element-wise.", example="v = exp(x)")
_unary("log", "Natural logarithm, element-wise (`-inf` at 0, `nan` below).")
_unary("sqrt", "Square root, element-wise (`nan` below 0).")
_unary("square", "`x * x`, element-wise.", floats=False, example="y = x |> square")
_unary("abs", "Absolute value, element-wise.", ("absolute",), floats=False)
_unary(
    "stop_gradient",
    "The input unchanged, but no gradient flows back through it (a target held fixed).",
    example="t = stop_gradient(x)",
    flops=0,
)


@register
class Clip(MathFn):
    """`x` limited to `[min, max]` element-wise, as `keras.ops.clip(x, x_min, x_max)`."""

    name = "clip"
    aliases = ("clamp",)
    args = (
        Arg("min", "float", doc="the lower bound", aliases=("x_min", "a_min")),
        Arg("max", "float", doc="the upper bound", aliases=("x_max", "a_max")),
    )
    rule = "keeps the input's shape and dtype"
    example = "p = clip(x, 1e-7, 1.0)"
    flops_per_element = 2  # a max and a min

    def validate(self, attrs: Attrs) -> None:
        lo, hi = attrs["min"], attrs["max"]
        if isinstance(lo, float) and isinstance(hi, float) and lo > hi:
            raise ArgError("max", f"`max` {hi} is below `min` {lo}")

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class Power(Elementwise):
    """Element-wise `a ** b`, broadcasting as NumPy does (`keras.ops.power`)."""

    name = "power"
    kind = OpKind.FUNCTION
    aliases = ("pow",)
    symbol = "**"
    float_inputs = True
    example = "y = power(x, x)"


@register
class Maximum(Elementwise):
    """Element-wise larger of `a` and `b`, broadcasting (`np.maximum`, `keras.ops.maximum`)."""

    name = "maximum"
    kind = OpKind.FUNCTION
    symbol = "maximum"
    example = "y = maximum(a, b)"


@register
class Minimum(Elementwise):
    """Element-wise smaller of `a` and `b`, broadcasting (`np.minimum`, `keras.ops.minimum`)."""

    name = "minimum"
    kind = OpKind.FUNCTION
    symbol = "minimum"
    example = "y = minimum(a, b)"


@register
class Where(MathFn):
    """`x` where `condition` holds, `y` elsewhere; the three broadcast as NumPy does."""

    name = "where"
    flops_per_element = 1
    inputs = ("condition", "x", "y")
    float_inputs = False
    mixed_dtypes = True
    rule = "`condition` (bool), `x`, `y` -> their broadcast shape, `x`'s dtype"
    example = "y = where(x > 0, x, -x)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        cond, x, y = inputs
        if cond.dtype is not DType.BOOL:
            raise ShapeError(
                f"`where`'s condition must be a `bool` tensor, found `{cond}`",
                input_index=0,
                code="E0301",
                help="compare to get one: `where(x > 0, x, y)`",
            )
        if x.dtype is not y.dtype:
            raise ShapeError(
                f"`where` chooses between tensors of one dtype, found `{x}` and `{y}`",
                input_index=2,
                code="E0301",
            )
        shape: Shape = x.shape
        for t in (cond, y):
            result = broadcast_shapes(shape, t.shape)
            if isinstance(result, int):
                raise ShapeError(
                    f"`where`'s shapes `{format_shape(cond.shape)}`, `{format_shape(x.shape)}` "
                    f"and `{format_shape(y.shape)}` do not broadcast",
                    code="E0202",
                )
            shape = result
        return TensorType(x.dtype, shape)
