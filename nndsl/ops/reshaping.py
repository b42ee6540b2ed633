"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, UpSampling, ZeroPadding, Cropping.

None has weights; all keep the batch axis and move, repeat, pad or cut the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.attrs import declared
from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    ShapeError,
    as_int,
    dim,
    format_value,
    ints,
    require_rank,
)
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
    flops_per_element = 0
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
    flops_per_element = 0
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


def _spatial_axes(attrs: Attrs, n: int) -> range:
    """The `n` spatial axes of a `[B, *spatial, C]` (or channels-first) input."""
    first = 2 if declared(attrs, "data_format", "channels_last") == "channels_first" else 1
    return range(first, first + n)


def _layout(attrs: Attrs, n: int) -> str:
    spatial = {1: "T", 2: "H, W", 3: "D, H, W"}[n]
    if declared(attrs, "data_format", "channels_last") == "channels_first":
        return f"[B, C, {spatial}]"
    return f"[B, {spatial}, C]"


@register
class Permute(Layer):
    """Reorders the axes after the batch axis; `dims` numbers them from 1, as in Keras."""

    name = "Permute"
    flops_per_element = 0
    float_inputs = False
    args = (
        Arg("dims", "ints", doc="a permutation of 1..rank-1: where each output axis comes from"),
    )
    rule = "`[B, d1, d2]` with dims [2, 1] -> `[B, d2, d1]`"
    example = "input t: f32[B, 10, 8]\nh = t |> Permute([2, 1])"

    def validate(self, attrs: Attrs) -> None:
        dims = attrs["dims"]
        assert isinstance(dims, tuple)
        if sorted(as_int(d) or 0 for d in dims) != list(range(1, len(dims) + 1)):
            raise ArgError(
                "dims",
                f"`dims` must be a permutation of 1..{len(dims)}, found "
                f"[{', '.join(str(d) for d in dims)}]",
                help="number the axes after the batch axis from 1; the batch axis stays first",
            )

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        dims = attrs["dims"]
        assert isinstance(dims, tuple)
        require_rank(x, len(dims) + 1, layout="one axis per entry of `dims`, plus the batch")
        return x.with_shape((x.shape[0], *(x.shape[as_int(d) or 0] for d in dims)))


@register
class RepeatVector(Layer):
    """Repeats a `[B, F]` input `n` times along a new time axis (e.g. to feed a decoder RNN)."""

    name = "RepeatVector"
    flops_per_element = 0
    float_inputs = False
    args = (Arg("n", "int", doc="number of repetitions", min=1),)
    rule = "`[B, F]` -> `[B, n, F]`"
    example = "h = x |> RepeatVector(3)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, 2, layout="[B, F]")
        return x.with_shape((x.shape[0], dim(attrs["n"]), x.shape[1]))


class _UpSampling(Layer):
    """Shared rule: each spatial axis is multiplied by its `size`."""

    float_inputs = False
    spatial: int = 1
    flops_per_element = 0  # copies (UpSampling2D's interpolations compute)

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        n = self.spatial
        require_rank(x, n + 2, layout=_layout(attrs, n))
        size = ints(attrs["size"], n)
        shape = list(x.shape)
        for i, axis in enumerate(_spatial_axes(attrs, n)):
            shape[axis] = shape[axis] * dim(size[i])
        return x.with_shape(tuple(shape))


@register
class UpSampling1D(_UpSampling):
    """Repeats each time step `size` times."""

    name = "UpSampling1D"
    args = (Arg("size", "int", 2, "repetitions of each step", min=1),)
    rule = "`[B, T, C]` -> `[B, T*size, C]`"
    example = "input t: f32[B, 10, 8]\nh = t |> UpSampling1D(2)"


@register
class UpSampling2D(_UpSampling):
    """Enlarges an image by whole factors: repeated rows and columns, or bilinear resizing."""

    name = "UpSampling2D"
    spatial = 2
    args = (
        Arg("size", "ints", (2, 2), "factors for height and width", length=2, min=1),
        _data_format(),
        Arg(
            "interpolation",
            "str",
            "nearest",
            "how new pixels are filled",
            choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"),
        ),
    )
    rule = "`[B, H, W, C]` -> `[B, H*size[0], W*size[1], C]`"
    example = 'h = image |> UpSampling2D(2, interpolation = "bilinear")'
    # input pixels weighed into each output pixel; nearest copies one
    TAPS: ClassVar[dict[str, int]] = {
        "nearest": 0,
        "bilinear": 4,
        "bicubic": 16,
        "lanczos3": 36,
        "lanczos5": 100,
    }

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """A multiply-add per tap per output element: 0 for "nearest", 8 for "bilinear"."""
        return outputs[0].numel() * (2 * self.TAPS[str(attrs["interpolation"])])


@register
class UpSampling3D(_UpSampling):
    """Repeats each voxel `size` times along depth, height and width."""

    name = "UpSampling3D"
    spatial = 3
    args = (
        Arg("size", "ints", (2, 2, 2), "factors for depth, height and width", length=3, min=1),
        _data_format(),
    )
    rule = "`[B, D, H, W, C]` -> `[B, D*s0, H*s1, W*s2, C]`"
    example = "input v: f32[B, 4, 4, 4, 2]\nh = v |> UpSampling3D(2)"


def pairs(value: ArgValue, n: int) -> tuple[tuple[ArgValue, ArgValue], ...]:
    """Keras's padding/cropping forms -> one `(before, after)` per spatial axis.

    One axis: `p` or `[before, after]`. Several: `p`, one `p` per axis, or one pair per axis
    (an entry may be a single int too). Raises ValueError for any other shape of value.
    """
    if not isinstance(value, tuple):
        return ((value, value),) * n
    if n == 1:
        if len(value) == 2 and not any(isinstance(v, tuple) for v in value):
            return ((value[0], value[1]),)
        raise ValueError
    if len(value) != n:
        raise ValueError
    out: list[tuple[ArgValue, ArgValue]] = []
    for v in value:
        if not isinstance(v, tuple):
            out.append((v, v))
        elif len(v) == 2:
            out.append((v[0], v[1]))
        else:
            raise ValueError
    return tuple(out)


_AXES = {1: "time", 2: "height, width", 3: "depth, height, width"}


def _pairs_forms(arg: str, n: int) -> str:
    if n == 1:
        return f"`{arg}` must be one integer or a pair [before, after]"
    one = ", ".join(["p"] * n)
    two = ", ".join(["[before, after]"] * n)
    return f"`{arg}` must be one integer, [{one}] ({_AXES[n]}) or [{two}]"


class _PadOrCrop(Layer):
    """Shared by ZeroPadding and Cropping: a `(before, after)` amount per spatial axis."""

    float_inputs = False
    flops_per_element = 0
    spatial: int = 1
    amount: str = "padding"

    def validate(self, attrs: Attrs) -> None:
        try:
            pairs(attrs[self.amount], self.spatial)
        except ValueError:
            raise ArgError(
                self.amount,
                f"{_pairs_forms(self.amount, self.spatial)}, "
                f"found {format_value(attrs[self.amount])}",
            ) from None

    def resize(self, size: Dim, before: Dim, after: Dim, axis: str) -> Dim:
        raise NotImplementedError

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        n = self.spatial
        require_rank(x, n + 2, layout=_layout(attrs, n))
        shape = list(x.shape)
        names = _AXES[n].split(", ")
        for (before, after), axis, axis_name in zip(
            pairs(attrs[self.amount], n), _spatial_axes(attrs, n), names, strict=True
        ):
            shape[axis] = self.resize(shape[axis], dim(before), dim(after), axis_name)
        return x.with_shape(tuple(shape))


class _ZeroPadding(_PadOrCrop):
    amount = "padding"

    def resize(self, size: Dim, before: Dim, after: Dim, axis: str) -> Dim:
        return size + before + after


class _Cropping(_PadOrCrop):
    amount = "cropping"

    def resize(self, size: Dim, before: Dim, after: Dim, axis: str) -> Dim:
        out = size - before - after
        n, cut = size.as_int(), (before + after).as_int()
        if n is not None and cut is not None and cut >= n:
            raise ShapeError(
                f"cropping {cut} from the {axis} ({n}) leaves nothing; it must be less than {n}",
                arg="cropping",
                help="crop less, or check the input's layout",
            )
        return out


def _pads_arg(name: str, default: ArgValue, what: str) -> Arg:
    return Arg(name, "pads", default, what, min=0)


@register
class ZeroPadding1D(_ZeroPadding):
    """Adds zeros at the start and end of the time axis."""

    name = "ZeroPadding1D"
    args = (_pads_arg("padding", 1, "zeros added: one int, or [before, after]"), _data_format())
    rule = "`[B, T, C]` -> `[B, T + before + after, C]`"
    example = "input t: f32[B, 10, 8]\nh = t |> ZeroPadding1D([1, 2])"


@register
class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around an image."""

    name = "ZeroPadding2D"
    spatial = 2
    args = (
        _pads_arg(
            "padding",
            (1, 1),
            "zeros added: p, [p_height, p_width] or [[top, bottom], [left, right]]",
        ),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, H + top + bottom, W + left + right, C]`"
    example = "h = image |> ZeroPadding2D([[1, 0], [2, 2]])"


@register
class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around a volume along depth, height and width."""

    name = "ZeroPadding3D"
    spatial = 3
    args = (
        _pads_arg(
            "padding",
            ((1, 1), (1, 1), (1, 1)),
            "zeros added: p, one p per axis or one [before, after] per axis",
        ),
        _data_format(),
    )
    rule = "`[B, D, H, W, C]` -> each of D, H, W grows by its before + after"
    example = "input v: f32[B, 4, 4, 4, 2]\nh = v |> ZeroPadding3D(1)"


@register
class Cropping1D(_Cropping):
    """Cuts steps from the start and end of the time axis."""

    name = "Cropping1D"
    args = (_pads_arg("cropping", (1, 1), "steps cut: one int, or [before, after]"),)
    rule = "`[B, T, C]` -> `[B, T - before - after, C]`"
    example = "input t: f32[B, 10, 8]\nh = t |> Cropping1D([1, 2])"


@register
class Cropping2D(_Cropping):
    """Cuts rows and columns from the borders of an image."""

    name = "Cropping2D"
    spatial = 2
    args = (
        _pads_arg(
            "cropping",
            ((0, 0), (0, 0)),
            "cut: c, [c_height, c_width] or [[top, bottom], [left, right]]",
        ),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, H - top - bottom, W - left - right, C]`"
    example = "h = image |> Cropping2D([[1, 1], [2, 0]])"


@register
class Cropping3D(_Cropping):
    """Cuts from the borders of a volume along depth, height and width."""

    name = "Cropping3D"
    spatial = 3
    args = (
        _pads_arg(
            "cropping",
            ((1, 1), (1, 1), (1, 1)),
            "cut: c, one c per axis or one [before, after] per axis",
        ),
        _data_format(),
    )
    rule = "`[B, D, H, W, C]` -> each of D, H, W shrinks by its before + after"
    example = "input v: f32[B, 6, 6, 6, 2]\nh = v |> Cropping3D(1)"
