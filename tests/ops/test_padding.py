"""The checker's output lengths and the backends' pads come from `nndsl.ops.padding`; these
check that they agree: a convolution over the padded input yields the length the checker
promised, for every small window, stride, dilation and padding mode."""

from __future__ import annotations

import itertools

import pytest

from nndsl.ops.padding import (
    effective_window,
    transpose_out,
    transpose_padding,
    window_out,
    window_padding,
)
from nndsl.shapes import Dim


def _conv_length(size: int, effective: int, stride: int, pair: tuple[int, int]) -> int:
    return (size + pair[0] + pair[1] - effective) // stride + 1


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_window_pads_give_the_checked_length(padding: str) -> None:
    for size, window, stride, dilation in itertools.product(
        range(1, 12), range(1, 5), range(1, 4), range(1, 3)
    ):
        effective = effective_window(window, dilation)
        if padding == "valid" and effective > size:
            continue  # a shape error in the checker
        pair = window_padding(padding, size, window, stride, dilation)
        assert pair is not None and min(pair) >= 0
        expected = window_out(Dim.const(size), Dim.const(effective), Dim.const(stride), padding)
        assert _conv_length(size, effective, stride, pair) == expected.as_int(), (
            size,
            window,
            stride,
            dilation,
        )


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_transpose_pads_give_the_checked_length(padding: str) -> None:
    for size, kernel, stride, dilation in itertools.product(
        range(1, 7), range(1, 5), range(1, 4), range(1, 3)
    ):
        if stride > 1 and dilation > 1:
            continue  # rejected by the spec, as in Keras
        for output_padding in (None, *range(stride)):
            expected = transpose_out(
                Dim.const(size), kernel, stride, dilation, padding, output_padding
            ).as_int()
            assert expected is not None
            if expected < 1:
                continue  # a shape error in the checker
            lo, hi = transpose_padding(kernel, stride, dilation, padding, output_padding)
            dilated = (size - 1) * stride + 1
            effective = effective_window(kernel, dilation)
            assert _conv_length(dilated, effective, 1, (lo, hi)) == expected, (
                size,
                kernel,
                stride,
                dilation,
                output_padding,
            )


def test_same_padding_with_unknown_size() -> None:
    assert window_padding("same", None, 3, 1) == (1, 1)
    assert window_padding("same", None, 3, 2) is None
