"""Pooling in 1, 2 and 3 dimensions (windowed and global), Keras 3's catalogue and names.

Channels last by default (`[B, *spatial, C]`), or `data_format = "channels_first"`. Keras's
short names (`MaxPool2D`, `AvgPool2D`, `GlobalAvgPool2D`, ...) are aliases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.conv import (
    DATA_FORMAT,
    PADDINGS,
    SPATIAL,
    WINDOW_TEXT,
    join_channels,
    split_channels,
    windows_out,
)
from nndsl.ops.core import Layer
from nndsl.ops.flops import numel, prod
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, ShapeError, dim, ints
from nndsl.shapes import Dim, DType, TensorType


def _pool_args(n: int, *, size_required: bool = False) -> tuple[Arg, ...]:
    """Keras's MaxPooling* default `pool_size` to 2; its AveragePooling* require it."""
    size = (
        Arg("pool_size", "ints", doc=WINDOW_TEXT[n], length=n, min=1)
        if size_required
        else Arg("pool_size", "ints", 2, WINDOW_TEXT[n], length=n, min=1)
    )
    return (
        size,
        Arg(
            "strides",
            "ints",
            None,
            "step between windows (none: pool_size)",
            length=n,
            min=1,
            nullable=True,
        ),
        Arg("padding", "str", "valid", '"valid" (no padding) or "same"', choices=PADDINGS),
        DATA_FORMAT,
    )


class Pool(Layer):
    """Base of MaxPooling*/AveragePooling*: a window slid over the `n` spatial axes."""

    n: ClassVar[int]

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        spatial, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        strides = attrs["strides"] if attrs["strides"] is not None else attrs["pool_size"]
        out = windows_out(spatial, {**attrs, "strides": strides}, "pool_size")
        return join_channels(inputs[0], out, channels, attrs["data_format"])

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Per output element, `window - 1` compares (max) or adds and a divide (average)."""
        window = prod(dim(k) for k in ints(attrs["pool_size"], self.n))
        return numel(outputs[0]) * (window - (1 if self.name.startswith("Max") else 0))


def _pool_rule(n: int) -> str:
    primed = ", ".join(f"{a}'" for a in SPATIAL[n].split(", "))
    return f"`[B, {SPATIAL[n]}, C]` -> `[B, {primed}, C]`"


@register
class MaxPooling1D(Pool):
    """Maximum over each window of a sequence `[B, T, C]`."""

    name = "MaxPooling1D"
    aliases = ("MaxPool1D",)
    n = 1
    args = _pool_args(1)
    rule = _pool_rule(1)
    example = "input t: f32[B, 10, 8]\nh = t |> MaxPooling1D(2)"


@register
class MaxPooling2D(Pool):
    """Maximum over each window of an image `[B, H, W, C]`."""

    name = "MaxPooling2D"
    aliases = ("MaxPool2D",)
    n = 2
    args = _pool_args(2)
    rule = _pool_rule(2)
    example = "h = x |> MaxPooling2D(2)"


@register
class MaxPooling3D(Pool):
    """Maximum over each window of a volume `[B, D, H, W, C]`."""

    name = "MaxPooling3D"
    aliases = ("MaxPool3D",)
    n = 3
    args = _pool_args(3)
    rule = _pool_rule(3)
    example = "input v: f32[B, 4, 6, 6, 2]\nh = v |> MaxPooling3D(2)"


@register
class AveragePooling1D(Pool):
    """Mean over each window of a sequence; with "same", padded cells are left out of the mean
    (as in Keras)."""

    name = "AveragePooling1D"
    aliases = ("AvgPool1D",)
    n = 1
    args = _pool_args(1, size_required=True)
    rule = _pool_rule(1)
    example = 'input t: f32[B, 10, 8]\nh = t |> AveragePooling1D(3, padding = "same")'


@register
class AveragePooling2D(Pool):
    """Mean over each window of an image; with "same", padded cells are left out of the mean
    (as in Keras)."""

    name = "AveragePooling2D"
    aliases = ("AvgPool2D",)
    n = 2
    args = _pool_args(2, size_required=True)
    rule = _pool_rule(2)
    example = "h = x |> AveragePooling2D(2)"


@register
class AveragePooling3D(Pool):
    """Mean over each window of a volume; with "same", padded cells are left out of the mean
    (as in Keras)."""

    name = "AveragePooling3D"
    aliases = ("AvgPool3D",)
    n = 3
    args = _pool_args(3, size_required=True)
    rule = _pool_rule(3)
    example = "input v: f32[B, 4, 6, 6, 2]\nh = v |> AveragePooling3D(2)"


# -- global pooling --------------------------------------------------------------------------
GLOBAL_ARGS = (
    DATA_FORMAT,
    Arg("keepdims", "bool", False, "keep the pooled axes, with size 1"),
)


class GlobalPool(Layer):
    """Base of the global poolings: one value per channel over all `n` spatial axes."""

    n: ClassVar[int]
    args = GLOBAL_ARGS

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        if attrs["keepdims"]:
            ones = (Dim.const(1),) * self.n
            return join_channels(inputs[0], ones, channels, attrs["data_format"])
        x = inputs[0]
        return x.with_shape((x.shape[0], channels))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """One compare or add per input element (the divides of an average are negligible
        and not counted)."""
        return numel(inputs[0])


def _global_rule(n: int) -> str:
    return f"`[B, {SPATIAL[n]}, C]` -> `[B, C]` (`keepdims`: `[B, {', '.join(['1'] * n)}, C]`)"


@register
class GlobalMaxPooling1D(GlobalPool):
    """Maximum over the steps of a sequence `[B, T, C]`."""

    name = "GlobalMaxPooling1D"
    aliases = ("GlobalMaxPool1D",)
    n = 1
    rule = _global_rule(1)
    example = "input t: f32[B, 10, 8]\nh = t |> GlobalMaxPooling1D()"


@register
class GlobalMaxPooling2D(GlobalPool):
    """Maximum over the height and width of an image `[B, H, W, C]`."""

    name = "GlobalMaxPooling2D"
    aliases = ("GlobalMaxPool2D",)
    n = 2
    rule = _global_rule(2)
    example = "h = x |> GlobalMaxPooling2D()"


@register
class GlobalMaxPooling3D(GlobalPool):
    """Maximum over the depth, height and width of a volume `[B, D, H, W, C]`."""

    name = "GlobalMaxPooling3D"
    aliases = ("GlobalMaxPool3D",)
    n = 3
    rule = _global_rule(3)
    example = "input v: f32[B, 4, 6, 6, 2]\nh = v |> GlobalMaxPooling3D()"


@register
class GlobalAveragePooling1D(GlobalPool):
    """Mean over the steps of a sequence `[B, T, C]`; an optional mask `[B, T]` (true = keep)
    leaves padded steps out of the mean, as Keras's `mask` does."""

    name = "GlobalAveragePooling1D"
    aliases = ("GlobalAvgPool1D",)
    n = 1
    optional_inputs = ("mask",)
    rule = _global_rule(1) + "; mask `[B, T]`"
    example = "input t: f32[B, 10, 8]\nh = t |> GlobalAveragePooling1D()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        out = super().output(attrs, inputs[:1])
        if len(inputs) > 1:
            x, mask = inputs[0], inputs[1]
            spatial, _ = split_channels(x, 1, attrs["data_format"])
            if mask.dtype is not DType.BOOL:
                raise ShapeError(
                    f"the mask must be `bool`, found `{mask}`", input_index=1, code="E0301"
                )
            if mask.shape != (x.shape[0], spatial[0]):
                raise ShapeError(
                    f"the mask must be `[{x.shape[0]}, {spatial[0]}]` (one flag per step), "
                    f"found `{mask}`",
                    input_index=1,
                )
        return out


@register
class GlobalAveragePooling2D(GlobalPool):
    """Mean over the height and width of an image `[B, H, W, C]`."""

    name = "GlobalAveragePooling2D"
    aliases = ("GlobalAvgPool2D",)
    n = 2
    rule = _global_rule(2)
    example = "h = x |> GlobalAveragePooling2D()"


@register
class GlobalAveragePooling3D(GlobalPool):
    """Mean over the depth, height and width of a volume `[B, D, H, W, C]`."""

    name = "GlobalAveragePooling3D"
    aliases = ("GlobalAvgPool3D",)
    n = 3
    rule = _global_rule(3)
    example = "input v: f32[B, 4, 6, 6, 2]\nh = v |> GlobalAveragePooling3D()"
