"""Keras's padding arithmetic for sliding windows: the checker's output lengths (the conv
specs) and the backends' pads (JAX, ONNX) come from here, so they cannot drift apart.

The pad functions return one `(before, after)` pair of cells for one spatial axis. "same" puts
the odd cell at the end (TensorFlow's rule, which Keras follows); "causal" pads only in front;
transposed convolutions pad the stride-dilated input as Keras's JAX backend does.
"""

from __future__ import annotations

from nndsl.shapes import Dim

Pair = tuple[int, int]


def effective_window(window: int, dilation: int = 1) -> int:
    """The span of a dilated window: `(window - 1) * dilation + 1` cells."""
    return (window - 1) * dilation + 1


def same_padding(size: int | None, window: int, stride: int, dilation: int = 1) -> Pair | None:
    """Padding that gives `ceil(size / stride)` windows, the extra cell at the end.

    With stride 1 (or a window of one cell) the split does not depend on `size`, which may
    then be None (unknown until run time); otherwise an unknown size has no constant answer:
    None.
    """
    effective = effective_window(window, dilation)
    if stride == 1 or effective == 1:
        total = effective - 1
    elif size is None:
        return None
    else:
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def causal_padding(window: int, dilation: int = 1) -> Pair:
    """Only past cells: the whole dilated window but one goes in front."""
    return effective_window(window, dilation) - 1, 0


def window_padding(
    padding: str, size: int | None, window: int, stride: int, dilation: int = 1
) -> Pair | None:
    """The pair for `padding` ("valid", "same" or "causal"); None as for `same_padding`."""
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return causal_padding(window, dilation)
    if padding == "same":
        return same_padding(size, window, stride, dilation)
    raise ValueError(f"unknown padding {padding!r}")


def window_out(size: Dim, effective: Dim, stride: Dim, padding: str) -> Dim:
    """Windows along one axis: `ceil(size / stride)` with "same" or "causal" (both pad
    `effective - 1` cells in all), else `(size - effective) // stride + 1`."""
    if padding in ("same", "causal"):
        return size.ceildiv(stride)
    return (size - effective).floordiv(stride) + 1


def transpose_out(
    size: Dim, kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> Dim:
    """Keras's transposed-convolution length: `size * stride` ("same", no output_padding),
    else `(size - 1) * stride + window + output_padding` ("valid"; "same" keeps `window % 2`).
    `transpose_padding` pads so that a backend's convolution produces exactly this length."""
    effective = effective_window(kernel, dilation)
    if padding == "valid":
        extra = max(stride - effective, 0) if output_padding is None else output_padding
        return (size - 1) * stride + effective + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + effective % 2 + output_padding


def transpose_padding(
    kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> Pair:
    """Keras's (lo, hi) padding of the stride-dilated input of a transposed convolution (a
    convolution with the flipped kernel), so lengths agree with the spec's `transpose_out`."""
    effective = effective_window(kernel, dilation)
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return effective - 1, effective - 1 + extra
    if output_padding is None:
        total = stride + effective - 2
    else:
        total = effective + effective % 2 - 2 + output_padding
    lo = min(total // 2 + total % 2, effective - 1)
    return lo, total - lo
