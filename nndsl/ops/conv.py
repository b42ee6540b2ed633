"""Convolutions (channels last, kernel `[kh, kw, in, filters]` as in Keras)."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import KERNEL_ARGS, Layer, kernel_and_bias
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgValue,
    Attrs,
    ShapeError,
    WeightSpec,
    as_int,
    dim,
    ints,
    require_rank,
)
from nndsl.shapes import Dim, TensorType

PADDINGS = ("valid", "same")


def window_out(
    size: Dim,
    window: ArgValue,
    stride: ArgValue,
    dilation: ArgValue,
    padding: str,
    axis_name: str,
    arg: str,
) -> Dim:
    """Output length of a sliding window: `(size - dilated)/stride + 1` or `ceil(size/stride)`."""
    w = dim(window)
    s = dim(stride)
    effective = (w - 1) * dim(dilation) + 1
    if padding == "same":
        return size.ceildiv(s)
    n, e = size.as_int(), effective.as_int()
    if n is not None and e is not None and e > n:
        raise ShapeError(
            f'the window ({e}) is larger than the input\'s {axis_name} ({n}) with padding "valid"',
            arg=arg,
            help='use padding = "same" or a smaller window',
        )
    return (size - effective).floordiv(s) + 1


@register
class Conv2D(Layer):
    """2-D convolution over `[B, H, W, C]` inputs."""

    name = "Conv2D"
    family = "conv"
    args = (
        Arg("filters", "int", doc="number of output channels", min=1),
        Arg("kernel_size", "ints", doc="window height and width", length=2, min=1),
        Arg("strides", "ints", 1, "step between windows", length=2, min=1),
        Arg("padding", "str", "valid", '"valid" (no padding) or "same"', choices=PADDINGS),
        Arg("dilation_rate", "ints", 1, "spacing inside the window", length=2, min=1),
        *KERNEL_ARGS,
    )
    rule = "`[B, H, W, C]` -> `[B, H', W', filters]`"
    example = 'h = image |> Conv2D(32, 3, padding = "same")'

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, 4, layout="[B, H, W, C]")
        k = ints(attrs["kernel_size"], 2)
        s = ints(attrs["strides"], 2)
        d = ints(attrs["dilation_rate"], 2)
        pad = str(attrs["padding"])
        if any(as_int(v) != 1 for v in s) and any(as_int(v) != 1 for v in d):
            raise ShapeError(
                "strides and dilation_rate cannot both differ from 1",
                arg="dilation_rate",
                code="E0404",
            )
        h = window_out(x.shape[1], k[0], s[0], d[0], pad, "height", "kernel_size")
        w = window_out(x.shape[2], k[1], s[1], d[1], pad, "width", "kernel_size")
        return x.with_shape((x.shape[0], h, w, dim(attrs["filters"])))

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        k = ints(attrs["kernel_size"], 2)
        filters = dim(attrs["filters"])
        return kernel_and_bias(
            attrs, (dim(k[0]), dim(k[1]), inputs[0].shape[3], filters), (filters,)
        )
