"""Keras's padding arithmetic for sliding windows, shared by the JAX and ONNX backends.

Every function returns one `(before, after)` pair of cells for one spatial axis. "same" puts
the odd cell at the end (TensorFlow's rule, which Keras follows); "causal" pads only in front;
transposed convolutions pad the stride-dilated input as Keras's JAX backend does.
"""

from __future__ import annotations

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
