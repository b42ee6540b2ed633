"""Pooling over `[B, H, W, C]` inputs."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.conv import PADDINGS, window_out
from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, ints, require_rank
from nndsl.shapes import TensorType


class Pool2D(Layer):
    family = "pooling"
    args = (
        Arg("pool_size", "ints", 2, "window height and width", length=2, min=1),
        Arg(
            "strides",
            "ints",
            None,
            "step between windows (default: pool_size)",
            length=2,
            min=1,
            nullable=True,
        ),
        Arg("padding", "str", "valid", '"valid" or "same"', choices=PADDINGS),
    )
    rule = "`[B, H, W, C]` -> `[B, H', W', C]`"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, 4, layout="[B, H, W, C]")
        p = ints(attrs["pool_size"], 2)
        s = ints(attrs["strides"] if attrs["strides"] is not None else attrs["pool_size"], 2)
        pad = str(attrs["padding"])
        h = window_out(x.shape[1], p[0], s[0], 1, pad, "height", "pool_size")
        w = window_out(x.shape[2], p[1], s[1], 1, pad, "width", "pool_size")
        return x.with_shape((x.shape[0], h, w, x.shape[3]))


@register
class MaxPool2D(Pool2D):
    """Maximum over each window."""

    name = "MaxPool2D"
    example = "h = x |> MaxPool2D(2)"


@register
class AvgPool2D(Pool2D):
    """Mean over each window (padding excluded from the mean, as in Keras)."""

    name = "AvgPool2D"
    example = "h = x |> AvgPool2D(2)"


@register
class GlobalAvgPool2D(Layer):
    """Mean over the height and width axes."""

    name = "GlobalAvgPool2D"
    family = "pooling"
    args = (Arg("keepdims", "bool", False, "keep the pooled axes with size 1"),)
    rule = "`[B, H, W, C]` -> `[B, C]`"
    example = "h = x |> GlobalAvgPool2D()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, 4, layout="[B, H, W, C]")
        if attrs["keepdims"]:
            from nndsl.shapes import Dim

            return x.with_shape((x.shape[0], Dim.const(1), Dim.const(1), x.shape[3]))
        return x.with_shape((x.shape[0], x.shape[3]))
