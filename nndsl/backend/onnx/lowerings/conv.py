"""Convolutions as ONNX `Conv` / `ConvTranspose`, matching `nndsl/backend/jax/impls/conv.py`.

Keras kernels `[*window, in / groups, out]` become ONNX's `[out, in / groups, *window]` at
export time; a transposed kernel `[*window, filters, in]` becomes `[in, filters, *window]` by
the same permutation (ONNX's ConvTranspose scatters with the unflipped kernel, which is what
JAX's flipped-kernel convolution of the dilated input computes). Depthwise kernels are grouped
convolutions with one group per input channel. Padding is always explicit (`nndsl.ops.padding`,
the JAX backend's rules) except "same" with a stride over an axis of run-time size, where
ONNX's `SAME_UPPER` (the extra cell at the end, as Keras) is the only form: right when the
window spans at least the stride, `Unsupported` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nndsl.backend.onnx.layout import to_channels_first, to_channels_last
from nndsl.backend.onnx.lowerings.activation import activate
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering
from nndsl.ops.attrs import to_int, to_ints
from nndsl.ops.padding import Pair, transpose_padding, window_padding
from nndsl.shapes import DType

# ONNX's Conv, ConvTranspose and the pools are defined for these element types only.
WINDOW_DTYPES = (DType.F16, DType.F32, DType.F64)


def channels_first(call: LowerCall) -> bool:
    return call.attrs["data_format"] == "channels_first"


def spatial_sizes(call: LowerCall) -> list[int | None]:
    """The input's spatial sizes (None where symbolic)."""
    shape = call.type.shape
    dims = shape[2:] if channels_first(call) else shape[1:-1]
    return [d.as_int() for d in dims]


def require_window_dtype(call: LowerCall, what: str) -> None:
    if call.dtype not in WINDOW_DTYPES:
        raise Unsupported(f"ONNX's {what} takes float16, float32 or float64, not {call.dtype}")


def onnx_pads(
    call: LowerCall, window: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> dict[str, object]:
    """`pads` (all begins, then all ends) for `call.attrs["padding"]`, or `auto_pad` where the
    "same" split depends on a size known only at run time."""
    padding = str(call.attrs["padding"])
    pairs: list[Pair] = []
    for size, k, s, d in zip(spatial_sizes(call), window, strides, dilation, strict=True):
        pair = window_padding(padding, size, k, s, d)
        if pair is None:
            if (k - 1) * d + 1 < s:
                # SAME_UPPER's pad total `(out - 1) * s + window - size` may then be negative,
                # which ONNX Runtime rejects (pools) or crops by (Conv), where Keras pads 0.
                raise Unsupported(
                    f'padding "same" with strides {s} over a window of {k} cells needs the '
                    "input's spatial sizes, known only at run time here"
                )
            return {"auto_pad": "SAME_UPPER"}
        pairs.append(pair)
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}


def onnx_kernel(kernel: np.ndarray) -> np.ndarray:
    """`[*window, a, b]` -> `[b, a, *window]` (Conv's OIHW from HWIO; ConvTranspose's
    `[in, filters, *window]` from Keras's `[*window, filters, in]`)."""
    n = kernel.ndim - 2
    return np.transpose(kernel, (n + 1, n, *range(n)))


def enter(call: LowerCall) -> str:
    """The input, channels first."""
    return call.x if channels_first(call) else to_channels_first(call, call.x, call.rank)


def leave(call: LowerCall, y: str) -> str:
    """A channels-first result back in the layer's layout, then the activation (softmax's
    axis is the layout's last one, as in Keras)."""
    if not channels_first(call):
        y = to_channels_last(call, y, call.rank)
    return activate(call, call.attrs["activation"], y)


def _bias(call: LowerCall) -> list[str]:
    return [call.weight("bias")] if call.has("bias") else []


def _geometry(call: LowerCall) -> tuple[int, list[int], list[int]]:
    n = call.rank - 2
    return n, list(to_ints(call.attrs["strides"], n)), list(to_ints(call.attrs["dilation_rate"], n))


@lowering("Conv1D", "Conv2D", "Conv3D")
def conv(call: LowerCall) -> str:
    require_window_dtype(call, "Conv")
    n, strides, dilation = _geometry(call)
    kernel = call.weights["kernel"]
    y = call.op(
        "Conv",
        enter(call),
        call.weight("kernel", onnx_kernel(kernel)),
        *_bias(call),
        kernel_shape=list(kernel.shape[:n]),
        strides=strides,
        dilations=dilation,
        group=to_int(call.attrs["groups"]),
        **onnx_pads(call, kernel.shape[:n], strides, dilation),
    )
    return leave(call, y)


@lowering("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def conv_transpose(call: LowerCall) -> str:
    """JAX pads the stride-dilated input by (lo, hi) and convolves with the flipped kernel;
    ONNX's ConvTranspose crops `effective - 1 - lo` cells in front and `effective - 1 - hi`
    at the end, and a negative end crop is ONNX's `output_padding` (always < stride)."""
    require_window_dtype(call, "ConvTranspose")
    n, strides, dilation = _geometry(call)
    kernel = call.weights["kernel"]
    op = call.attrs["output_padding"]
    output_padding = [None] * n if op is None else to_ints(op, n)
    padding = str(call.attrs["padding"])
    begins, ends, extra = [], [], []
    for i in range(n):
        k, s, d = int(kernel.shape[i]), strides[i], dilation[i]
        lo, hi = transpose_padding(k, s, d, padding, output_padding[i])
        effective = (k - 1) * d + 1
        begins.append(effective - 1 - lo)
        ends.append(max(effective - 1 - hi, 0))
        extra.append(max(hi - (effective - 1), 0))
        if extra[-1] >= s:
            raise Unsupported(
                f"output_padding {output_padding[i]} is not smaller than the stride {s}: ONNX's "
                "ConvTranspose requires it (as Keras does)"
            )
    y = call.op(
        "ConvTranspose",
        enter(call),
        call.weight("kernel", onnx_kernel(kernel)),
        *_bias(call),
        kernel_shape=list(kernel.shape[:n]),
        strides=strides,
        dilations=dilation,
        pads=begins + ends,
        output_padding=extra if any(extra) else None,
    )
    return leave(call, y)


def _depthwise(call: LowerCall, kernel: np.ndarray, bias: list[str]) -> str:
    """`[*window, in, m]` -> `[in * m, 1, *window]`, one group per input channel (output
    channel `c * m + j` is channel c's j-th filter, as in JAX's reshape)."""
    n, strides, dilation = _geometry(call)
    channels, multiplier = int(kernel.shape[n]), int(kernel.shape[n + 1])
    grouped = np.reshape(kernel, (*kernel.shape[:n], 1, channels * multiplier))
    return call.op(
        "Conv",
        enter(call),
        call.weight("kernel" if call.has("kernel") else "depthwise_kernel", onnx_kernel(grouped)),
        *bias,
        kernel_shape=list(kernel.shape[:n]),
        strides=strides,
        dilations=dilation,
        group=channels,
        **onnx_pads(call, kernel.shape[:n], strides, dilation),
    )


@lowering("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(call: LowerCall) -> str:
    require_window_dtype(call, "Conv")
    return leave(call, _depthwise(call, call.weights["kernel"], _bias(call)))


@lowering("SeparableConv1D", "SeparableConv2D")
def separable_conv(call: LowerCall) -> str:
    """The depthwise convolution, then a 1x1 one (which carries the bias)."""
    require_window_dtype(call, "Conv")
    y = _depthwise(call, call.weights["depthwise_kernel"], [])
    pointwise = call.weights["pointwise_kernel"]
    y = call.op(
        "Conv",
        y,
        call.weight("pointwise_kernel", onnx_kernel(pointwise)),
        *_bias(call),
        kernel_shape=list(pointwise.shape[: call.rank - 2]),
    )
    return leave(call, y)
