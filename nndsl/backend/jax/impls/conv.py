"""Convolutions with Keras 3's kernel layouts, as Keras's own JAX backend computes them.

`"same"` pads as TensorFlow/Keras do (the extra cell goes at the end); `"causal"` pads
`(kernel - 1) * dilation` cells in front (`nndsl.ops.padding`, shared with the ONNX backend).
Kernels are `[*window, in, out]`; transposed ones `[*window, filters, in]`, flipped and swapped
by `conv_transpose(transpose_kernel=True)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import to_int, to_ints
from nndsl.ops.padding import transpose_padding, window_padding


def dimension_numbers(n: int, data_format: str) -> jax.lax.ConvDimensionNumbers:
    """Input/output layout from `data_format`; kernel `[*window, in, out]` always."""
    if data_format == "channels_first":
        lhs = (0, 1, *range(2, n + 2))
    else:
        lhs = (0, n + 1, *range(1, n + 1))
    return jax.lax.ConvDimensionNumbers(lhs, (n + 1, n, *range(n)), lhs)


def _fmt(call: ApplyCall) -> str:
    return str(call.attrs["data_format"])


def _n(call: ApplyCall) -> int:
    return call.x.ndim - 2


def _channels(call: ApplyCall) -> int:
    return int(call.x.shape[1] if _fmt(call) == "channels_first" else call.x.shape[-1])


def _spatial_sizes(call: ApplyCall, x: jax.Array) -> tuple[int, ...]:
    return tuple(x.shape[2:] if _fmt(call) == "channels_first" else x.shape[1:-1])


def _padding(
    call: ApplyCall,
    x: jax.Array,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
) -> list[tuple[int, int]]:
    """Explicit (before, after) cells per spatial axis, from the shared padding rules."""
    padding = str(call.attrs["padding"])
    pads = []
    for size, k, s, d in zip(_spatial_sizes(call, x), kernel, strides, dilation, strict=True):
        pair = window_padding(padding, size, k, s, d)
        assert pair is not None  # sizes are known here
        pads.append(pair)
    return pads


def finish(call: ApplyCall, y: jax.Array) -> jax.Array:
    """Adds the bias on the channel axis, then the activation."""
    if "bias" in call.params:
        bias = call.params["bias"]
        if _fmt(call) == "channels_first":
            bias = bias.reshape((-1,) + (1,) * (y.ndim - 2))
        y = y + bias
    return activate(call.attrs["activation"], y)


def convolve(
    call: ApplyCall,
    x: jax.Array,
    kernel: jax.Array,
    strides: Sequence[int],
    dilation: Sequence[int],
    groups: int = 1,
) -> jax.Array:
    n = x.ndim - 2
    out: jax.Array = jax.lax.conv_general_dilated(
        x,
        kernel,
        window_strides=tuple(strides),
        padding=_padding(call, x, kernel.shape[:n], strides, dilation),
        rhs_dilation=tuple(dilation),
        dimension_numbers=dimension_numbers(n, _fmt(call)),
        feature_group_count=groups,
    )
    return out


def conv(call: ApplyCall) -> jax.Array:
    n = _n(call)
    y = convolve(
        call,
        call.x,
        call.params["kernel"],
        to_ints(call.attrs["strides"], n),
        to_ints(call.attrs["dilation_rate"], n),
        to_int(call.attrs["groups"]),
    )
    return finish(call, y)


def conv_transpose(call: ApplyCall) -> jax.Array:
    n = _n(call)
    kernel = call.params["kernel"]
    strides = to_ints(call.attrs["strides"], n)
    dilation = to_ints(call.attrs["dilation_rate"], n)
    op = call.attrs["output_padding"]
    output_padding = (None,) * n if op is None else to_ints(op, n)
    padding = str(call.attrs["padding"])
    pads = [
        transpose_padding(kernel.shape[i], strides[i], dilation[i], padding, output_padding[i])
        for i in range(n)
    ]
    y = jax.lax.conv_transpose(
        call.x,
        kernel,
        strides,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=dimension_numbers(n, _fmt(call)),
        transpose_kernel=True,
    )
    return finish(call, y)


def depthwise(call: ApplyCall, kernel: jax.Array) -> jax.Array:
    """Each channel convolved with its own `depth_multiplier` filters: a grouped convolution
    with one group per channel, kernel `[*window, in, m]` reshaped to `[*window, 1, in * m]`."""
    n = _n(call)
    channels = _channels(call)
    grouped = jnp.reshape(kernel, (*kernel.shape[:n], 1, channels * kernel.shape[-1]))
    return convolve(
        call,
        call.x,
        grouped,
        to_ints(call.attrs["strides"], n),
        to_ints(call.attrs["dilation_rate"], n),
        channels,
    )


def depthwise_conv(call: ApplyCall) -> jax.Array:
    return finish(call, depthwise(call, call.params["kernel"]))


def separable_conv(call: ApplyCall) -> jax.Array:
    n = _n(call)
    y = depthwise(call, call.params["depthwise_kernel"])
    y = jax.lax.conv_general_dilated(
        y,
        call.params["pointwise_kernel"],
        window_strides=(1,) * n,
        padding="VALID",
        dimension_numbers=dimension_numbers(n, _fmt(call)),
    )
    return finish(call, y)


for _name in ("Conv1D", "Conv2D", "Conv3D"):
    impl(_name)(conv)
for _name in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
    impl(_name)(conv_transpose)
for _name in ("DepthwiseConv1D", "DepthwiseConv2D"):
    impl(_name)(depthwise_conv)
for _name in ("SeparableConv1D", "SeparableConv2D"):
    impl(_name)(separable_conv)
