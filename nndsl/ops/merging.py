"""Merging layers: combine several tensors, `Add()(a, b)`, or `x |> TwoOutputs() |> Add()`.

The element-wise ones follow Keras 3: the batch axes must agree; the other axes broadcast,
aligned from the right (Keras inserts the missing axes after the batch axis).
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.flops import UNIT_NORM, numel
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, Attrs, ShapeError, as_int, ints, normalize_axis
from nndsl.shapes import Dim, TensorType, broadcast_shapes, format_shape


def _same_dtype(inputs: Sequence[TensorType]) -> None:
    first = inputs[0]
    for i, t in enumerate(inputs[1:], start=1):
        if t.dtype != first.dtype:
            raise ShapeError(
                f"inputs must have one dtype, found `{first}` and `{t}`",
                input_index=i,
                help=f"convert one of them, e.g. `x |> cast({first.dtype.value})`",
                code="E0301",
            )


def _same_batch(inputs: Sequence[TensorType], at_least: int = 1) -> Dim:
    for i, t in enumerate(inputs):
        if t.rank < at_least:
            raise ShapeError(
                f"inputs must have rank >= {at_least}, found `{t}` (input {i + 1})",
                input_index=i,
            )
    batch = inputs[0].shape[0]
    for i, t in enumerate(inputs[1:], start=1):
        if t.shape[0] != batch:
            raise ShapeError(
                f"inputs must share the batch axis: `{inputs[0]}` and `{t}` "
                f"differ on the batch axis ({batch} against {t.shape[0]})",
                input_index=i,
            )
    return batch


class _Merge(Layer):
    """Element-wise merge of two or more tensors of one dtype."""

    inputs = ("a", "b")
    variadic = True
    float_inputs = False
    rule = "`[B, ...]` each -> `[B, ...]`, the other axes broadcast from the right"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        _same_dtype(inputs)
        batch = _same_batch(inputs)
        shape = inputs[0].shape[1:]
        for i, t in enumerate(inputs[1:], start=1):
            result = broadcast_shapes(shape, t.shape[1:])
            if isinstance(result, int):
                axis = max(len(shape), t.rank - 1) + result + 1
                raise ShapeError(
                    f"input {i + 1} `{t}` does not broadcast with "
                    f"`{format_shape((batch, *shape))}`: "
                    f"{_at(shape, result)} against {_at(t.shape[1:], result)} on axis {axis}",
                    input_index=i,
                    help="after the batch axis, sizes must be equal or 1 (aligned from the right)",
                    code="E0202",
                )
            shape = result
        return TensorType(inputs[0].dtype, (batch, *shape))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """One operation per output element for each input after the first (`Average`: and
        the divide)."""
        return numel(outputs[0]) * (len(inputs) - (0 if self.name == "Average" else 1))


def _at(shape: tuple[Dim, ...], negative: int) -> str:
    return str(shape[negative]) if -negative <= len(shape) else "1"


@register
class Add(_Merge):
    """Sum of the inputs, as a layer (`a + b` is the operator form)."""

    name = "Add"
    example = "h = Add()(a, b)"


@register
class Subtract(_Merge):
    """Difference of exactly two inputs, `a - b`."""

    name = "Subtract"
    variadic = False
    rule = "`[B, ...]`, `[B, ...]` -> `[B, ...]`, the other axes broadcast from the right"
    example = "h = Subtract()(a, b)"


@register
class Multiply(_Merge):
    """Element-wise product of the inputs."""

    name = "Multiply"
    example = "h = Multiply()(a, b, x)"


@register
class Average(_Merge):
    """Element-wise mean of the inputs."""

    name = "Average"
    float_inputs = True
    example = "h = Average()(a, b)"


@register
class Maximum(_Merge):
    """Element-wise maximum of the inputs."""

    name = "Maximum"
    example = "h = Maximum()(a, b)"


@register
class Minimum(_Merge):
    """Element-wise minimum of the inputs."""

    name = "Minimum"
    example = "h = Minimum()(a, b)"


@register
class Concatenate(Layer):
    """Joins the inputs along `axis`; every other axis must agree."""

    name = "Concatenate"
    inputs = ("a", "b")
    variadic = True
    float_inputs = False
    flops_per_element = 0
    args = (Arg("axis", "int", -1, "the axis to join along"),)
    rule = "`[B, ..., n1]`, `[B, ..., n2]` -> `[B, ..., n1 + n2]` (axis -1)"
    example = "h = Concatenate()(a, b)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        _same_dtype(inputs)
        first = inputs[0]
        for i, t in enumerate(inputs[1:], start=1):
            if t.rank != first.rank:
                raise ShapeError(
                    f"inputs must have one rank, found `{first}` (rank "
                    f"{first.rank}) and `{t}` (rank {t.rank})",
                    input_index=i,
                )
        axis = normalize_axis(as_int(attrs["axis"]) or 0, first.rank)
        total = first.shape[axis]
        for i, t in enumerate(inputs[1:], start=1):
            for k, (d, e) in enumerate(zip(first.shape, t.shape, strict=True)):
                if k != axis and d != e:
                    raise ShapeError(
                        f"joining along axis {axis}, but `{first}` and `{t}` differ on "
                        f"axis {k} ({d} against {e})",
                        input_index=i,
                        help="every axis but the joined one must have the same size",
                    )
            total = total + t.shape[axis]
        shape = list(first.shape)
        shape[axis] = total
        return first.with_shape(tuple(shape))


_BATCH_AXIS = "`axes` cannot name the batch axis (0): the dot product is taken per example"


def dot_axes(attrs: Attrs, ranks: tuple[int, int]) -> tuple[int, int]:
    """`axes` (one int for both, or a pair) as non-negative axes of the two inputs."""
    given = ints(attrs["axes"], 2)
    out = []
    for a, rank in zip(given, ranks, strict=True):
        n = as_int(a)
        assert n is not None
        if not -rank <= n < rank:
            raise ArgError("axes", f"axis {n} is out of range for an input of rank {rank}")
        if n % rank == 0:
            raise ArgError("axes", _BATCH_AXIS, help="use axes >= 1, or < 0 from the end")
        out.append(n % rank)
    return out[0], out[1]


@register
class Dot(Layer):
    """Dot product of two tensors over one axis each, per example (Keras's `batch_dot`).

    With `normalize`, both are L2-normalised along those axes first: the cosine similarity.
    """

    name = "Dot"
    inputs = ("a", "b")
    args = (
        Arg("axes", "ints", doc="the summed axis: one for both inputs, or one each", length=2),
        Arg("normalize", "bool", False, "L2-normalise both inputs along the axes first"),
    )
    rule = "`[B, ..., n]`, `[B, ..., n]` -> `[B, ...a, ...b]` (`[B, 1]` when nothing is left)"
    example = "h = Dot(axes = 1, normalize = true)(a, b)"

    def validate(self, attrs: Attrs) -> None:
        if any(as_int(a) == 0 for a in ints(attrs["axes"], 2)):
            raise ArgError("axes", _BATCH_AXIS, help="use axes >= 1, or < 0 from the end")

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        a, b = inputs
        _same_dtype(inputs)
        batch = _same_batch(inputs, at_least=2)
        ax, bx = dot_axes(attrs, (a.rank, b.rank))
        if a.shape[ax] != b.shape[bx]:
            raise ShapeError(
                f"summing axis {ax} of `{a}` against axis {bx} of `{b}`, but their sizes "
                f"differ ({a.shape[ax]} against {b.shape[bx]})",
                arg="axes",
                input_index=1,
            )
        rest = [d for i, d in enumerate(a.shape) if i not in (0, ax)]
        rest += [d for i, d in enumerate(b.shape) if i not in (0, bx)]
        return a.with_shape((batch, *(rest or [Dim.const(1)])))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 * n` per output element for the summed axis of size `n`; `normalize` adds an
        L2 normalisation of both inputs."""
        a, b = inputs
        ax, _ = dot_axes(attrs, (a.rank, b.rank))
        total = numel(outputs[0]) * a.shape[ax] * 2
        if attrs["normalize"]:
            total = total + (numel(a) + numel(b)) * UNIT_NORM
        return total
