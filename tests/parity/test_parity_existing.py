"""Parity of the layers that predate the full catalogue (a smoke test of the harness, outputs
and gradients)."""

from __future__ import annotations

from typing import Any

import jax
import keras
import pytest

from tests.parity.harness import parity


def test_dense() -> None:
    parity('Dense(5, activation = "relu")', keras.layers.Dense(5, activation="relu"), [(3, 4)])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d(padding: str) -> None:
    parity(
        f'Conv2D(4, 3, strides = 2, padding = "{padding}")',
        keras.layers.Conv2D(4, 3, strides=2, padding=padding),
        [(2, 7, 6, 3)],
    )


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm(training: bool) -> None:
    layer = keras.layers.BatchNormalization()
    layer.build((4, 5))
    for v in layer.weights:  # non-trivial statistics, so inference mode is a real test
        v.assign(keras.random.uniform(v.shape, 0.5, 1.5, seed=len(v.path)))
    parity("BatchNorm()", layer, [(4, 5)], training=training)


def test_parity_catches_a_wrong_layer() -> None:
    with pytest.raises(AssertionError, match="output 0"):
        parity("Dense(5)", keras.layers.Dense(5, activation="relu"), [(3, 4)])


def test_parity_catches_a_wrong_backward_pass() -> None:
    """Equal outputs, different gradients (Keras's cut by `stop_gradient`): the backward pass
    pass `parity` runs (once per layer class, or when asked) must notice."""

    def no_gradient(layer: Any, xs: list[Any], training: bool) -> Any:
        return jax.lax.stop_gradient(layer(xs[0], training=training))

    with pytest.raises(AssertionError, match="d/d"):
        parity("Dense(5)", keras.layers.Dense(5), [(3, 4)], keras_call=no_gradient, grads=True)
