"""Keras 3 parity of the pooling layers: max/average in 1-3 D (valid and "same", where Keras
leaves padded cells out of averages), global poolings with `keepdims`, channels first, the
short Keras aliases, and GlobalAveragePooling1D's mask."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from tests.parity.harness import parity, random_inputs
from tests.parity.test_conv import CF, IMG, IMG_CF, SEQ, SEQ_CF, VOL, VOL_CF, Case, case

POOLS = [
    case("MaxPooling1D", shape=SEQ),
    case("MaxPooling1D", 3, strides=2, padding="same", shape=SEQ),
    case("MaxPool1D", 2, strides=1, shape=SEQ_CF, **CF),
    case("AveragePooling1D", 3, shape=SEQ),
    case("AveragePooling1D", 4, strides=3, padding="same", shape=SEQ),
    case("AvgPool1D", 3, strides=1, padding="same", shape=SEQ_CF, **CF),
    case("MaxPooling2D", shape=IMG),
    case("MaxPooling2D", (3, 2), strides=(2, 1), padding="same", shape=IMG),
    case("MaxPool2D", 3, strides=2, shape=IMG_CF, **CF),
    case("AveragePooling2D", 2, shape=IMG),
    case("AveragePooling2D", 3, strides=2, padding="same", shape=IMG),
    case("AvgPool2D", (3, 3), strides=1, padding="same", shape=IMG_CF, **CF),
    case("MaxPooling3D", shape=VOL),
    case("MaxPool3D", 3, strides=2, padding="same", shape=VOL_CF, **CF),
    case("AveragePooling3D", 2, strides=(1, 2, 2), shape=VOL),
    case("AvgPool3D", 3, strides=2, padding="same", shape=VOL),
    case("AveragePooling3D", 2, padding="same", shape=VOL_CF, **CF),
]

GLOBALS = [
    case(f"Global{kind}{n}D", shape=s, **kw)
    for kind in ("MaxPooling", "AveragePooling")
    for n, s, s_cf in ((1, SEQ, SEQ_CF), (2, IMG, IMG_CF), (3, VOL, VOL_CF))
    for s, kw in ((s, {}), (s, {"keepdims": True}), (s_cf, CF), (s_cf, {**CF, "keepdims": True}))
] + [
    case("GlobalMaxPool2D", shape=IMG),
    case("GlobalAvgPool1D", keepdims=True, shape=SEQ),
    case("GlobalAvgPool3D", shape=VOL),
]


@pytest.mark.parametrize("c", POOLS + GLOBALS, ids=str)
def test_parity(c: Case) -> None:
    parity(c.stage(), c.keras(), [c.shape])


def test_same_average_excludes_padding() -> None:
    """A corner window of a 3x3 "same" average over ones holds 4 real cells: still 1, not 4/9."""
    x = np.ones((1, 4, 4, 1), np.float32)
    result = parity(
        'AveragePooling2D(3, strides = 1, padding = "same")',
        keras.layers.AveragePooling2D(3, strides=1, padding="same"),
        inputs=[x],
    )
    np.testing.assert_allclose(result.nn_outputs[0], 1.0)


def _masked(layer: Any, xs: list[np.ndarray], training: bool) -> Any:
    return layer(xs[0], mask=xs[1], training=training)


@pytest.mark.parametrize(
    ("kwargs", "x_shape"), [({}, SEQ), ({"keepdims": True}, SEQ), (CF, SEQ_CF)]
)
def test_global_average_1d_mask(kwargs: dict[str, Any], x_shape: tuple[int, ...]) -> None:
    (x,) = random_inputs([x_shape])
    mask = np.ones((x_shape[0], 9), bool)
    mask[0, 5:] = False
    mask[1, :2] = False
    result = parity(
        case("GlobalAveragePooling1D", shape=x_shape, **kwargs).stage(),
        keras.layers.GlobalAveragePooling1D(**kwargs),
        inputs=[x, mask],
        keras_call=_masked,
    )
    unmasked = x.mean(axis=2 if kwargs.get("data_format") else 1)
    assert not np.allclose(result.nn_outputs[0].reshape(unmasked.shape), unmasked)
