"""Keras 3 parity of the regularization layers (and core `Dropout`).

Random draws cannot match Keras's, so: exact identity at inference, exact identity while
training at rate 0, and the training statistics Keras's definitions imply (drop fraction,
rescaling, shared masks, noise moments). ActivityRegularization is deterministic: its added
loss must equal Keras's `layer.losses`.
"""

from __future__ import annotations

from typing import Any

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from tests.parity.harness import model_source, nn_graph, parity

SHAPES: dict[str, tuple[int, ...]] = {
    "Dropout": (4, 6),
    "SpatialDropout1D": (3, 5, 4),
    "SpatialDropout2D": (2, 3, 3, 4),
    "SpatialDropout3D": (2, 2, 2, 2, 3),
    "GaussianNoise": (4, 6),
    "GaussianDropout": (4, 6),
    "AlphaDropout": (4, 6),
}
RANDOM = list(SHAPES)


def _keras(name: str, amount: float, **kwargs: Any) -> Any:
    return getattr(keras.layers, name)(amount, **kwargs)


def _train(stage: str, x: np.ndarray, seed: int = 1) -> np.ndarray:
    """The nndsl layer's output in training mode, drawn from `seed`."""
    model = compile_graph(nn_graph(model_source(stage, [x])))
    params, state = model.init(jax.random.key(0))
    (out,), _ = model.apply(params, state, [x], training=True, key=jax.random.key(seed))
    return np.asarray(out)


@pytest.mark.parametrize("name", RANDOM)
def test_identity_at_inference(name: str) -> None:
    result = parity(f"{name}(0.5)", _keras(name, 0.5), [SHAPES[name]])
    np.testing.assert_array_equal(result.nn_outputs[0], result.keras_outputs[0])


@pytest.mark.parametrize("name", RANDOM)
def test_identity_while_training_at_zero(name: str) -> None:
    result = parity(f"{name}(0.0)", _keras(name, 0.0), [SHAPES[name]], training=True)
    np.testing.assert_array_equal(result.nn_outputs[0], result.keras_outputs[0])


@pytest.mark.parametrize("name", RANDOM)
def test_training_draws_noise(name: str) -> None:
    """Training at a non-zero rate changes the input, differently for different keys."""
    x = np.random.default_rng(0).normal(size=SHAPES[name]).astype(np.float32)
    a, b = _train(f"{name}(0.5)", x, 1), _train(f"{name}(0.5)", x, 2)
    assert not np.array_equal(a, x)
    assert not np.array_equal(a, b)


BIG = (64, 200)


def _ones(shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape, np.float32)


@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_dropout_statistics(rate: float) -> None:
    y = _train(f"Dropout({rate})", _ones(BIG))
    dropped = y == 0
    assert abs(dropped.mean() - rate) < 0.02
    np.testing.assert_allclose(y[~dropped], 1.0 / (1.0 - rate), rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "shape", "channel"),
    [
        ("SpatialDropout1D", (400, 5, 8), 2),
        ("SpatialDropout2D", (200, 3, 3, 8), 3),
        ("SpatialDropout3D", (100, 2, 2, 2, 8), 4),
    ],
)
def test_spatial_dropout_statistics(name: str, shape: tuple[int, ...], channel: int) -> None:
    """One draw per example and channel, shared by every spatial position."""
    rate = 0.4
    y = _train(f"{name}({rate})", _ones(shape))
    spatial = tuple(range(1, channel))
    per_channel = y.min(axis=spatial)
    np.testing.assert_array_equal(per_channel, y.max(axis=spatial))  # constant over space
    dropped = per_channel == 0
    assert abs(dropped.mean() - rate) < 0.05
    np.testing.assert_allclose(per_channel[~dropped], 1.0 / (1.0 - rate), rtol=1e-6)


def test_spatial_dropout_channels_first() -> None:
    y = _train('SpatialDropout2D(0.5, data_format = "channels_first")', _ones((50, 8, 3, 3)))
    np.testing.assert_array_equal(y.min(axis=(2, 3)), y.max(axis=(2, 3)))
    assert 0 < (y == 0).mean() < 1
    inference = parity(
        'SpatialDropout2D(0.5, data_format = "channels_first")',
        keras.layers.SpatialDropout2D(0.5, data_format="channels_first"),
        [(2, 3, 2, 2)],
    )
    np.testing.assert_array_equal(inference.nn_outputs[0], inference.keras_outputs[0])


def test_gaussian_noise_statistics() -> None:
    x = np.random.default_rng(0).normal(size=BIG).astype(np.float32)
    noise = _train("GaussianNoise(0.3)", x) - x
    assert abs(noise.mean()) < 0.01
    assert abs(noise.std() - 0.3) < 0.01
    keras_noise = np.asarray(keras.layers.GaussianNoise(0.3, seed=3)(x, training=True)) - x
    assert abs(noise.std() - keras_noise.std()) < 0.01


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_statistics(rate: float) -> None:
    factor = _train(f"GaussianDropout({rate})", _ones(BIG))
    assert abs(factor.mean() - 1.0) < 0.02
    assert abs(factor.std() - np.sqrt(rate / (1 - rate))) < 0.02
    keras_factor = np.asarray(keras.layers.GaussianDropout(rate, seed=3)(_ones(BIG), training=True))
    assert abs(factor.std() - keras_factor.std()) < 0.03


@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_alpha_dropout_statistics(rate: float) -> None:
    """Dropped entries take one value; kept ones are `a * x + b`; mean and variance of a
    standard normal input are kept, and the drop fraction is `rate`, as in Keras."""
    x = np.random.default_rng(0).normal(size=BIG).astype(np.float32)
    y = _train(f"AlphaDropout({rate})", x)
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    kept = np.isclose(y, a * x + b, atol=1e-5)
    np.testing.assert_allclose(y[~kept], a * alpha_p + b, rtol=1e-5)
    assert abs((~kept).mean() - rate) < 0.02
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1.0) < 0.05
    keras_y = np.asarray(keras.layers.AlphaDropout(rate, seed=3)(x, training=True))
    assert abs(y.std() - keras_y.std()) < 0.05


@pytest.mark.parametrize(
    ("stage", "l1", "l2"),
    [
        ("ActivityRegularization()", 0.0, 0.0),
        ("ActivityRegularization(l1 = 0.01)", 0.01, 0.0),
        ("ActivityRegularization(l2 = 0.1)", 0.0, 0.1),
        ("ActivityRegularization(0.02, 0.3)", 0.02, 0.3),
    ],
)
def test_activity_regularization(stage: str, l1: float, l2: float) -> None:
    layer = keras.layers.ActivityRegularization(l1=l1, l2=l2)
    result = parity(stage, layer, [(3, 5)])
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    layer(x)  # Keras records the penalty in `layer.losses` at each call
    expected = float(sum(np.asarray(v) for v in layer.losses))
    model = compile_graph(result.graph)
    params, state = model.init(jax.random.key(0))
    for training in (False, True):
        out, _, added = model.apply_with_losses(
            params, state, [x], training=training, key=jax.random.key(1)
        )
        np.testing.assert_array_equal(np.asarray(out[0]), x)
        np.testing.assert_allclose(float(added), expected, rtol=1e-6)
    if l1 or l2:
        assert expected > 0


def test_activity_regularizer_argument_matches_keras() -> None:
    """A layer's `activity_regularizer` adds Keras 3's value: the penalty over the batch size."""
    layer = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L1L2(0.05, 0.1))
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    result = parity("Dense(3, activity_regularizer = l1_l2(0.05, 0.1))", layer, inputs=[x])
    layer(x)
    expected = sum(float(v) for v in layer.losses)
    model = compile_graph(result.graph)
    path = next(n.path for n in result.graph.nodes if n.weights)
    params = {path: {k: jax.numpy.asarray(v) for k, v in result.params.items()}}
    _, _, added = model.apply_with_losses(params, {}, [x])
    np.testing.assert_allclose(float(added), expected, rtol=1e-6)
