"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, UpSampling, ZeroPadding, Cropping.

None has weights; all keep the batch axis and move, repeat, pad or cut the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, Attrs, ShapeError, as_int, dim, require_rank
from nndsl.shapes import Dim, TensorType, format_shape

DATA_FORMATS = ("channels_last", "channels_first")


def _data_format(default: str = "channels_last") -> Arg:
    return Arg(
        "data_format",
        "str",
        default,
        '"channels_last" (`[B, ..., C]`) or "channels_first" (`[B, C, ...]`)',
        choices=DATA_FORMATS,
    )


def _product(dims: Sequence[Dim]) -> Dim:
    size = Dim.const(1)
    for d in dims:
        size = size * d
    return size


@register
class Flatten(Layer):
    """Flattens every axis after the batch axis into one (channels last first, as in Keras)."""

    name = "Flatten"
    family = "reshaping"
    float_inputs = False
    args = (_data_format(),)
    rule = "`[B, d1, d2, ...]` -> `[B, d1*d2*...]`"
    example = "h = x |> Flatten()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, at_least=1)
        return x.with_shape((x.shape[0], _product(x.shape[1:])))


@register
class Reshape(Layer):
    """Reshapes every axis after the batch axis to `target_shape`; one entry may be -1."""

    name = "Reshape"
    family = "reshaping"
    float_inputs = False
    args = (
        Arg(
            "target_shape",
            "ints",
            doc="the target shape without the batch axis; one entry may be -1 (inferred)",
            aliases=("shape",),
        ),
    )
    rule = "`[B, ...]` -> `[B, *target_shape]`, same number of elements"
    example = "h = x |> Reshape([4, -1])"

    def validate(self, attrs: Attrs) -> None:
        shape = attrs["target_shape"]
        assert isinstance(shape, tuple)
        if sum(1 for s in shape if as_int(s) == -1) > 1:
            raise ArgError("target_shape", "at most one entry of `target_shape` may be -1")
        for s in shape:
            n = as_int(s)
            if n is not None and (n == 0 or n < -1):
                raise ArgError("target_shape", f"sizes must be positive (or -1), found {n}")

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, at_least=1)
        shape = attrs["target_shape"]
        assert isinstance(shape, tuple)
        total = _product(x.shape[1:])
        known = _product([dim(s) for s in shape if as_int(s) != -1])
        dims: list[Dim] = []
        for s in shape:
            if as_int(s) == -1:
                inferred = total.floordiv(known)
                if inferred * known != total:
                    raise ShapeError(
                        f"cannot reshape `{format_shape(x.shape[1:])}` ({total} elements) "
                        f"into a multiple of {known}",
                        arg="target_shape",
                    )
                dims.append(inferred)
            else:
                dims.append(dim(s))
        if -1 not in [as_int(s) for s in shape] and known != total:
            raise ShapeError(
                f"cannot reshape `{format_shape(x.shape[1:])}` ({total} elements) into "
                f"`{format_shape(tuple(dims))}` ({known} elements)",
                arg="target_shape",
                help="the sizes' product must stay the same; use -1 for one inferred size",
            )
        return x.with_shape((x.shape[0], *dims))
