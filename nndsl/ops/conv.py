"""Convolutions in 1, 2 and 3 dimensions: Keras 3's catalogue, argument names and layouts.

Inputs are channels last (`[B, *spatial, C]`) unless `data_format = "channels_first"`
(`[B, C, *spatial]`); kernels are `[*window, in, out]` either way (transposed convolutions:
`[*window, filters, in]`), exactly as Keras stores them, so Keras weights copy over unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops import padding as padding_rules
from nndsl.ops.activation import ACTIVATION_NAMES
from nndsl.ops.core import ACTIVITY_REGULARIZER, KERNEL_ARGS, Layer, kernel_and_bias
from nndsl.ops.flops import kernel_layer, numel, prod
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    ShapeError,
    WeightSpec,
    as_int,
    dim,
    ints,
    require_rank,
)
from nndsl.ops.weights import weight, weight_args
from nndsl.shapes import Dim, TensorType

PADDINGS = ("valid", "same")
CAUSAL_PADDINGS = ("valid", "same", "causal")
DATA_FORMATS = ("channels_last", "channels_first")

AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
SPATIAL = {1: "T", 2: "H, W", 3: "D, H, W"}
_OUT_SPATIAL = {1: "T'", 2: "H', W'", 3: "D', H', W'"}
WINDOW_TEXT = {
    1: "window length",
    2: "window height and width",
    3: "window depth, height and width",
}

DATA_FORMAT = Arg(
    "data_format",
    "str",
    "channels_last",
    '"channels_last" (`[B, ..., C]`) or "channels_first" (`[B, C, ...]`)',
    choices=DATA_FORMATS,
)


def layout(n: int, data_format: ArgValue = "channels_last") -> str:
    """`[B, H, W, C]`, or `[B, C, H, W]` for channels first: the expected input, in words."""
    if data_format == "channels_first":
        return f"[B, C, {SPATIAL[n]}]"
    return f"[B, {SPATIAL[n]}, C]"


def split_channels(x: TensorType, n: int, data_format: ArgValue) -> tuple[tuple[Dim, ...], Dim]:
    """The spatial sizes and the channel size of an `n`-d input, after checking its rank."""
    require_rank(x, n + 2, layout=layout(n, data_format))
    if data_format == "channels_first":
        return x.shape[2:], x.shape[1]
    return x.shape[1:-1], x.shape[-1]


def join_channels(
    x: TensorType, spatial: Sequence[Dim], channels: Dim, data_format: ArgValue
) -> TensorType:
    """`x`'s type with new spatial and channel sizes, in `data_format`'s order."""
    if data_format == "channels_first":
        return x.with_shape((x.shape[0], channels, *spatial))
    return x.with_shape((x.shape[0], *spatial, channels))


def window_out(
    size: Dim,
    window: ArgValue,
    stride: ArgValue,
    dilation: ArgValue,
    padding: str,
    axis_name: str,
    arg: str,
) -> Dim:
    """Output length of a sliding window (`nndsl.ops.padding.window_out`); a "valid" window
    larger than the input is a shape error blaming `arg`."""
    effective = (dim(window) - 1) * dim(dilation) + 1
    n, e = size.as_int(), effective.as_int()
    if padding == "valid" and n is not None and e is not None and e > n:
        raise ShapeError(
            f'the window ({e}) is larger than the input\'s {axis_name} ({n}) with padding "valid"',
            arg=arg,
            help='use padding = "same" or a smaller window',
        )
    return padding_rules.window_out(size, effective, dim(stride), padding)


def windows_out(
    spatial: Sequence[Dim], attrs: Attrs, window_arg: str, dilation: ArgValue = 1
) -> tuple[Dim, ...]:
    """Every spatial output length for the window `attrs[window_arg]` and `attrs["strides"]`."""
    n = len(spatial)
    k = ints(attrs[window_arg], n)
    s = ints(attrs["strides"], n)
    d = ints(dilation, n)
    pad = str(attrs["padding"])
    names = AXIS_NAMES[n]
    return tuple(
        window_out(spatial[i], k[i], s[i], d[i], pad, names[i], window_arg) for i in range(n)
    )


def _pixels(t: TensorType, n: int, data_format: ArgValue) -> Dim:
    """Batch times the spatial sizes: the positions a convolution computes (or reads)."""
    spatial, _ = split_channels(t, n, data_format)
    return t.shape[0] * prod(spatial)


def _static(value: ArgValue, arg: str) -> int:
    n = as_int(value)
    if n is None:
        raise ShapeError(f"`{arg}` must be known when the file is checked, found `{value}`")
    return n


def _window_dims(attrs: Attrs, n: int) -> tuple[Dim, ...]:
    return tuple(dim(k) for k in ints(attrs["kernel_size"], n))


def _no_strided_dilation(attrs: Attrs, n: int) -> None:
    """Keras rejects strides > 1 together with dilation_rate > 1 (for plain and transposed)."""
    strided = any((as_int(v) or 1) > 1 for v in ints(attrs["strides"], n))
    dilated = any((as_int(v) or 1) > 1 for v in ints(attrs["dilation_rate"], n))
    if strided and dilated:
        raise ArgError(
            "dilation_rate",
            "strides and dilation_rate cannot both differ from 1",
            help="use strides = 1 with a dilation, or dilation_rate = 1 with strides",
        )


def _ints_arg(name: str, default: ArgValue, doc: str, n: int) -> Arg:
    return Arg(name, "ints", default, doc, length=n, min=1)


def _kernel_size_arg(n: int) -> Arg:
    return Arg("kernel_size", "ints", doc=WINDOW_TEXT[n], length=n, min=1)


def _padding_arg(choices: tuple[str, ...]) -> Arg:
    doc = '"valid" (no padding) or "same"'
    if "causal" in choices:
        doc = '"valid" (no padding), "same" or "causal" (only past steps)'
    return Arg("padding", "str", "valid", doc, choices=choices)


# -- Conv1D / Conv2D / Conv3D ------------------------------------------------------------------
def _conv_args(n: int) -> tuple[Arg, ...]:
    return (
        Arg("filters", "int", doc="number of output channels", min=1),
        _kernel_size_arg(n),
        _ints_arg("strides", 1, "step between windows", n),
        _padding_arg(CAUSAL_PADDINGS if n == 1 else PADDINGS),
        DATA_FORMAT,
        _ints_arg("dilation_rate", 1, "spacing inside the window", n),
        Arg(
            "groups",
            "int",
            1,
            "channel groups convolved separately; divides the input channels and filters",
            min=1,
        ),
        *KERNEL_ARGS,
    )


class Conv(Layer):
    """Base of Conv1D/2D/3D: `n` spatial axes, kernel `[*kernel_size, in / groups, filters]`."""

    n: ClassVar[int]

    def validate(self, attrs: Attrs) -> None:
        _no_strided_dilation(attrs, self.n)
        filters, groups = as_int(attrs["filters"]), as_int(attrs["groups"])
        if filters is not None and groups is not None and filters % groups:
            raise ArgError(
                "groups",
                f"`filters` ({filters}) must be divisible by `groups` ({groups})",
                help="choose groups that divide both filters and the input channels",
            )

    def _split(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[tuple[Dim, ...], Dim]:
        """Spatial sizes and channels, after checking the channels split into `groups`."""
        spatial, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        c, g = channels.as_int(), as_int(attrs["groups"])
        if c is not None and g is not None and c % g:
            raise ShapeError(
                f"the input's {c} channels are not divisible by `groups` ({g})",
                arg="groups",
                help="choose groups that divide both filters and the input channels",
            )
        return spatial, channels

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        spatial, _ = self._split(attrs, inputs)
        out = windows_out(spatial, attrs, "kernel_size", attrs["dilation_rate"])
        return join_channels(inputs[0], out, dim(attrs["filters"]), attrs["data_format"])

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        _, channels = self._split(attrs, inputs)
        filters = dim(attrs["filters"])
        kernel = (*_window_dims(attrs, self.n), channels.floordiv(dim(attrs["groups"])), filters)
        return kernel_and_bias(attrs, kernel, (filters,))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 * window * in / groups` per output element (padding cells included, as the
        usual convention counts them), plus the bias and the activation."""
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        per = prod(_window_dims(attrs, self.n)) * channels.floordiv(dim(attrs["groups"]))
        return kernel_layer(attrs, outputs[0], numel(outputs[0]) * per)


@register
class Conv1D(Conv):
    """1-D convolution over sequences `[B, T, C]`; `padding = "causal"` sees only past steps."""

    name = "Conv1D"
    aliases = ("Convolution1D",)
    n = 1
    args = _conv_args(1)
    rule = "`[B, T, C]` -> `[B, T', filters]`"
    example = 'input t: f32[B, 10, 8]\nh = t |> Conv1D(4, 3, padding = "causal")'


@register
class Conv2D(Conv):
    """2-D convolution over images `[B, H, W, C]`."""

    name = "Conv2D"
    aliases = ("Convolution2D",)
    n = 2
    args = _conv_args(2)
    rule = "`[B, H, W, C]` -> `[B, H', W', filters]`"
    example = 'h = image |> Conv2D(32, 3, padding = "same")'


@register
class Conv3D(Conv):
    """3-D convolution over volumes `[B, D, H, W, C]` (video, scans)."""

    name = "Conv3D"
    aliases = ("Convolution3D",)
    n = 3
    args = _conv_args(3)
    rule = "`[B, D, H, W, C]` -> `[B, D', H', W', filters]`"
    example = "input v: f32[B, 6, 6, 6, 2]\nh = v |> Conv3D(4, 3)"


# -- Conv1DTranspose / Conv2DTranspose / Conv3DTranspose -------------------------------------
def _transpose_args(n: int) -> tuple[Arg, ...]:
    return (
        Arg("filters", "int", doc="number of output channels", min=1),
        _kernel_size_arg(n),
        _ints_arg("strides", 1, "upsampling factor (step between windows)", n),
        _padding_arg(PADDINGS),
        Arg(
            "output_padding",
            "ints",
            None,
            "extra cells at the end of each output axis (less than strides); none: inferred",
            length=n,
            min=0,
            nullable=True,
        ),
        DATA_FORMAT,
        _ints_arg("dilation_rate", 1, "spacing inside the window", n),
        *KERNEL_ARGS,
    )


class ConvTranspose(Layer):
    """Base of the transposed convolutions: kernel `[*kernel_size, filters, in]`, as in Keras."""

    n: ClassVar[int]

    def validate(self, attrs: Attrs) -> None:
        _no_strided_dilation(attrs, self.n)
        if attrs["output_padding"] is None:
            return
        strides = ints(attrs["strides"], self.n)
        for i, (p, s) in enumerate(
            zip(ints(attrs["output_padding"], self.n), strides, strict=True)
        ):
            pi, si = as_int(p), as_int(s)
            if pi is not None and si is not None and pi >= si:
                raise ArgError(
                    "output_padding",
                    f"`output_padding` ({pi}) must be less than `strides` ({si}) on axis {i}",
                    help="each output_padding entry must be >= 0 and < the stride on its axis",
                )

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        spatial, _ = split_channels(inputs[0], self.n, attrs["data_format"])
        k = ints(attrs["kernel_size"], self.n)
        s = ints(attrs["strides"], self.n)
        d = ints(attrs["dilation_rate"], self.n)
        op = attrs["output_padding"]
        pads = (None,) * self.n if op is None else ints(op, self.n)
        out = []
        for i, size in enumerate(spatial):
            p = pads[i]
            length = padding_rules.transpose_out(
                size,
                _static(k[i], "kernel_size"),
                _static(s[i], "strides"),
                _static(d[i], "dilation_rate"),
                str(attrs["padding"]),
                None if p is None else _static(p, "output_padding"),
            )
            known = length.as_int()
            if known is not None and known < 1:
                raise ShapeError(
                    f"the output's {AXIS_NAMES[self.n][i]} would be {known}",
                    arg="output_padding",
                    help="use a larger output_padding or an odd kernel_size",
                )
            out.append(length)
        return join_channels(inputs[0], out, dim(attrs["filters"]), attrs["data_format"])

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        filters = dim(attrs["filters"])
        return kernel_and_bias(attrs, (*_window_dims(attrs, self.n), filters, channels), (filters,))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Each input element spreads over `window * filters` outputs: `2 * in elements *
        window * filters` (the stride's zeros are not multiplied), plus bias and activation."""
        per = prod(_window_dims(attrs, self.n)) * dim(attrs["filters"])
        return kernel_layer(attrs, outputs[0], numel(inputs[0]) * per)


@register
class Conv1DTranspose(ConvTranspose):
    """Transposed 1-D convolution: upsamples sequences by `strides` (a learned inverse of
    Conv1D's downsampling)."""

    name = "Conv1DTranspose"
    aliases = ("Convolution1DTranspose",)
    n = 1
    args = _transpose_args(1)
    rule = "`[B, T, C]` -> `[B, T', filters]`, `T' = T * strides` with \"same\""
    example = "input t: f32[B, 10, 8]\nh = t |> Conv1DTranspose(4, 3, strides = 2)"


@register
class Conv2DTranspose(ConvTranspose):
    """Transposed 2-D convolution: upsamples images by `strides` (decoders, segmentation)."""

    name = "Conv2DTranspose"
    aliases = ("Convolution2DTranspose",)
    n = 2
    args = _transpose_args(2)
    rule = "`[B, H, W, C]` -> `[B, H', W', filters]`, `H' = H * strides` with \"same\""
    example = 'h = image |> Conv2DTranspose(8, 3, strides = 2, padding = "same")'


@register
class Conv3DTranspose(ConvTranspose):
    """Transposed 3-D convolution: upsamples volumes by `strides`."""

    name = "Conv3DTranspose"
    aliases = ("Convolution3DTranspose",)
    n = 3
    args = _transpose_args(3)
    rule = "`[B, D, H, W, C]` -> `[B, D', H', W', filters]`, `D' = D * strides` with \"same\""
    example = "input v: f32[B, 4, 4, 4, 2]\nh = v |> Conv3DTranspose(3, 2, strides = 2)"


# -- DepthwiseConv1D / DepthwiseConv2D -------------------------------------------------------
def _depthwise_args(n: int) -> tuple[Arg, ...]:
    return (
        _kernel_size_arg(n),
        _ints_arg("strides", 1, "step between windows", n),
        _padding_arg(PADDINGS),
        Arg("depth_multiplier", "int", 1, "output channels per input channel", min=1),
        DATA_FORMAT,
        _ints_arg("dilation_rate", 1, "spacing inside the window", n),
        Arg("activation", "str", "linear", "applied to the result", choices=ACTIVATION_NAMES),
        Arg("use_bias", "bool", True, "add a learned bias"),
        *weight_args("depthwise", "glorot_uniform"),
        *weight_args("bias", "zeros"),
        ACTIVITY_REGULARIZER,
    )


class DepthwiseConv(Layer):
    """Base of the depthwise convolutions: each channel has its own `depth_multiplier` filters;
    kernel `[*kernel_size, in, depth_multiplier]`, bias `[in * depth_multiplier]`."""

    n: ClassVar[int]

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        spatial, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        out = windows_out(spatial, attrs, "kernel_size", attrs["dilation_rate"])
        return join_channels(
            inputs[0], out, channels * dim(attrs["depth_multiplier"]), attrs["data_format"]
        )

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        multiplier = dim(attrs["depth_multiplier"])
        out = {
            "kernel": weight(
                attrs, "kernel", (*_window_dims(attrs, self.n), channels, multiplier), "depthwise"
            )
        }
        if attrs["use_bias"]:
            out["bias"] = weight(attrs, "bias", (channels * multiplier,))
        return out

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 * window` per output element (each reads one input channel), plus the bias and
        the activation."""
        return kernel_layer(
            attrs, outputs[0], numel(outputs[0]) * prod(_window_dims(attrs, self.n))
        )


@register
class DepthwiseConv1D(DepthwiseConv):
    """1-D depthwise convolution: filters each channel of `[B, T, C]` on its own (no mixing
    across channels)."""

    name = "DepthwiseConv1D"
    n = 1
    args = _depthwise_args(1)
    rule = "`[B, T, C]` -> `[B, T', C * depth_multiplier]`"
    example = "input t: f32[B, 10, 8]\nh = t |> DepthwiseConv1D(3, depth_multiplier = 2)"


@register
class DepthwiseConv2D(DepthwiseConv):
    """2-D depthwise convolution: filters each channel of `[B, H, W, C]` on its own (the first
    half of a separable convolution, as in MobileNet)."""

    name = "DepthwiseConv2D"
    n = 2
    args = _depthwise_args(2)
    rule = "`[B, H, W, C]` -> `[B, H', W', C * depth_multiplier]`"
    example = 'h = image |> DepthwiseConv2D(3, padding = "same")'


# -- SeparableConv1D / SeparableConv2D -------------------------------------------------------
def _separable_args(n: int) -> tuple[Arg, ...]:
    return (
        Arg("filters", "int", doc="number of output channels", min=1),
        _kernel_size_arg(n),
        _ints_arg("strides", 1, "step between windows", n),
        _padding_arg(PADDINGS),
        DATA_FORMAT,
        _ints_arg("dilation_rate", 1, "spacing inside the window", n),
        Arg("depth_multiplier", "int", 1, "depthwise output channels per input channel", min=1),
        Arg("activation", "str", "linear", "applied to the result", choices=ACTIVATION_NAMES),
        Arg("use_bias", "bool", True, "add a learned bias"),
        *weight_args("depthwise", "glorot_uniform"),
        *weight_args("pointwise", "glorot_uniform"),
        *weight_args("bias", "zeros"),
        ACTIVITY_REGULARIZER,
    )


class SeparableConv(Layer):
    """Base of the separable convolutions: a depthwise convolution, then a 1x1 one mixing the
    channels (`depthwise_kernel`, `pointwise_kernel`, `bias`, as Keras names them)."""

    n: ClassVar[int]

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        spatial, _ = split_channels(inputs[0], self.n, attrs["data_format"])
        out = windows_out(spatial, attrs, "kernel_size", attrs["dilation_rate"])
        return join_channels(inputs[0], out, dim(attrs["filters"]), attrs["data_format"])

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        multiplier = dim(attrs["depth_multiplier"])
        filters = dim(attrs["filters"])
        ones = (Dim.const(1),) * self.n
        out = {
            "depthwise_kernel": weight(
                attrs,
                "depthwise_kernel",
                (*_window_dims(attrs, self.n), channels, multiplier),
                "depthwise",
            ),
            "pointwise_kernel": weight(
                attrs, "pointwise_kernel", (*ones, channels * multiplier, filters), "pointwise"
            ),
        }
        if attrs["use_bias"]:
            out["bias"] = weight(attrs, "bias", (filters,))
        return out

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """The depthwise step (`2 * window` per intermediate element, `in * depth_multiplier`
        channels) and the pointwise one (`2 * in * depth_multiplier` per output element), plus
        the bias and the activation."""
        _, channels = split_channels(inputs[0], self.n, attrs["data_format"])
        middle = channels * dim(attrs["depth_multiplier"])
        pixels = _pixels(outputs[0], self.n, attrs["data_format"])
        depthwise = pixels * middle * prod(_window_dims(attrs, self.n))
        return kernel_layer(attrs, outputs[0], depthwise + numel(outputs[0]) * middle)


@register
class SeparableConv1D(SeparableConv):
    """1-D separable convolution: per-channel filtering, then a pointwise channel mix; far fewer
    weights than Conv1D for the same window."""

    name = "SeparableConv1D"
    aliases = ("SeparableConvolution1D",)
    n = 1
    args = _separable_args(1)
    rule = "`[B, T, C]` -> `[B, T', filters]`"
    example = "input t: f32[B, 10, 8]\nh = t |> SeparableConv1D(4, 3)"


@register
class SeparableConv2D(SeparableConv):
    """2-D separable convolution: per-channel filtering, then a pointwise channel mix
    (Xception); far fewer weights than Conv2D for the same window."""

    name = "SeparableConv2D"
    aliases = ("SeparableConvolution2D",)
    n = 2
    args = _separable_args(2)
    rule = "`[B, H, W, C]` -> `[B, H', W', filters]`"
    example = 'h = image |> SeparableConv2D(8, 3, padding = "same")'
