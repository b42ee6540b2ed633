"""Keras 3 parity of the normalization layers (weights copied over, outputs within 1e-5)."""

from __future__ import annotations

from typing import Any

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from tests.parity.harness import model_source, nn_graph, parity, random_inputs


def _randomize(layer: Any, shape: tuple[int, ...]) -> Any:
    """Build `layer` and give every weight non-trivial values, so that gamma, beta and the
    moving statistics all matter (the defaults 1 and 0 would hide a mix-up)."""
    layer.build(shape)
    for i, v in enumerate(layer.weights):
        v.assign(keras.random.uniform(v.shape, 0.5, 1.5, seed=i + 1))
    return layer


BATCH_NORM_CASES = [
    ("BatchNormalization()", {}, (4, 5)),
    ("BatchNorm()", {}, (4, 5)),  # the alias
    ("BatchNormalization(axis = 1)", {"axis": 1}, (3, 4, 2)),
    (
        "BatchNormalization(momentum = 0.9, epsilon = 0.01, center = false)",
        {"momentum": 0.9, "epsilon": 0.01, "center": False},
        (4, 3, 3, 2),
    ),
    ("BatchNormalization(scale = false)", {"scale": False}, (5, 3)),
]


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(("stage", "kwargs", "shape"), BATCH_NORM_CASES)
def test_batch_normalization(
    stage: str, kwargs: dict[str, Any], shape: tuple[int, ...], training: bool
) -> None:
    layer = _randomize(keras.layers.BatchNormalization(**kwargs), shape)
    result = parity(stage, layer, [shape], training=training)
    if training:  # the harness compared the moving statistics; make sure there were some
        assert {"moving_mean", "moving_variance"} <= set(result.state)


def test_batch_normalization_initializers() -> None:
    """The moving statistics start from the given initializers (non-trainable weights)."""
    layer = keras.layers.BatchNormalization(
        moving_mean_initializer="ones", moving_variance_initializer="zeros"
    )
    layer.build((3, 4))
    stage = (
        'BatchNormalization(moving_mean_initializer = "ones", moving_variance_initializer = zeros)'
    )
    graph = nn_graph(model_source(stage, random_inputs([(3, 4)])))
    _, state = compile_graph(graph).init(jax.random.key(0))
    (path,) = state
    np.testing.assert_array_equal(state[path]["moving_mean"], np.asarray(layer.moving_mean))
    np.testing.assert_array_equal(state[path]["moving_variance"], np.asarray(layer.moving_variance))


LAYER_NORM_CASES = [
    ("LayerNormalization()", {}, (3, 6)),
    ("LayerNorm()", {}, (3, 6)),  # the alias
    ("LayerNormalization(axis = 1)", {"axis": 1}, (2, 3, 4)),
    ("LayerNormalization(axis = [1, 2])", {"axis": [1, 2]}, (2, 3, 4)),
    ("LayerNormalization(axis = [-2, -1])", {"axis": [-2, -1]}, (2, 3, 4)),
    (
        "LayerNormalization(epsilon = 1e-5, center = false)",
        {"epsilon": 1e-5, "center": False},
        (2, 3, 4),
    ),
    ("LayerNormalization(scale = false)", {"scale": False}, (3, 5)),
    ("LayerNormalization(rms_scaling = true)", {"rms_scaling": True}, (3, 5)),
]


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize(("stage", "kwargs", "shape"), LAYER_NORM_CASES)
def test_layer_normalization(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, _randomize(keras.layers.LayerNormalization(**kwargs), shape), [shape])


GROUP_NORM_CASES = [
    ("GroupNormalization(groups = 2)", {"groups": 2}, (2, 3, 4)),
    ("GroupNormalization(groups = 1)", {"groups": 1}, (2, 5, 6)),
    ("GroupNormalization(groups = -1)", {"groups": -1}, (2, 3, 4)),
    ("GroupNormalization(groups = 3, axis = 1)", {"groups": 3, "axis": 1}, (2, 6, 2, 2)),
    (
        "GroupNormalization(groups = 2, epsilon = 0.1, center = false, scale = false)",
        {"groups": 2, "epsilon": 0.1, "center": False, "scale": False},
        (3, 2, 2, 4),
    ),
    ("GroupNormalization(groups = 4, axis = -2)", {"groups": 4, "axis": -2}, (2, 3, 8, 2)),
]


@pytest.mark.parametrize(("stage", "kwargs", "shape"), GROUP_NORM_CASES)
def test_group_normalization(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, _randomize(keras.layers.GroupNormalization(**kwargs), shape), [shape])


@pytest.mark.parametrize(
    ("stage", "kwargs", "shape"),
    [
        ("UnitNormalization()", {}, (3, 5)),
        ("UnitNormalization(axis = 1)", {"axis": 1}, (2, 3, 4)),
        ("UnitNormalization(axis = [1, 2])", {"axis": [1, 2]}, (2, 3, 4)),
    ],
)
def test_unit_normalization(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, keras.layers.UnitNormalization(**kwargs), [shape])


def test_unit_normalization_of_zeros_is_zero() -> None:
    x = np.zeros((2, 3), np.float32)
    result = parity("UnitNormalization()", keras.layers.UnitNormalization(), inputs=[x])
    assert not np.isnan(result.nn_outputs[0]).any()


@pytest.mark.parametrize(
    ("stage", "kwargs", "shape"),
    [
        ("RMSNormalization()", {}, (3, 5)),
        ("RMSNormalization(epsilon = 0.1)", {"epsilon": 0.1}, (2, 3, 4)),
        ("RMSNormalization(axis = [1, 2])", {"axis": [1, 2]}, (2, 3, 4)),
        ("RMSNormalization(axis = [-2, -1])", {"axis": [-2, -1]}, (2, 3, 4)),
    ],
)
def test_rms_normalization(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, _randomize(keras.layers.RMSNormalization(**kwargs), shape), [shape])


@pytest.mark.parametrize(
    ("stage", "cls", "shape"),
    [
        ("LayerNormalization", keras.layers.LayerNormalization, (3, 4)),
        ("BatchNormalization", keras.layers.BatchNormalization, (3, 4)),
        ("GroupNormalization", lambda **kw: keras.layers.GroupNormalization(2, **kw), (3, 4)),
    ],
)
def test_gamma_beta_regularizers_and_constraints(
    stage: str, cls: Any, shape: tuple[int, ...]
) -> None:
    """`gamma_regularizer`/`beta_regularizer` add Keras's penalties (its `layer.losses`), and
    `gamma_constraint` projects as Keras's constraint does."""
    layer = cls(
        gamma_regularizer=keras.regularizers.L2(0.1),
        beta_regularizer=keras.regularizers.L1(0.2),
        gamma_constraint=keras.constraints.NonNeg(),
    )
    layer.build(shape)
    for i, v in enumerate(layer.weights):  # negative entries, so the constraint acts
        v.assign(keras.random.uniform(v.shape, -1.5, 1.5, seed=i + 1))
    args = "gamma_regularizer = l2(0.1), beta_regularizer = l1(0.2), gamma_constraint = non_neg"
    if stage == "GroupNormalization":
        args = "2, " + args
    result = parity(f"{stage}({args})", layer, [shape])
    model = compile_graph(result.graph)
    path = next(n.path for n in result.graph.nodes if n.weights)
    params = {path: {k: jax.numpy.asarray(v) for k, v in result.params.items()}}
    expected = sum(float(v) for v in layer.losses)
    assert expected > 0
    np.testing.assert_allclose(float(model.penalty(params)), expected, rtol=1e-6)
    gamma = np.asarray(model.constrain(params)[path]["gamma"])
    np.testing.assert_allclose(gamma, np.asarray(layer.gamma_constraint(layer.gamma)))
    assert (np.asarray(layer.gamma) < 0).any()


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(
    ("stage", "axis"), [("BatchNormalization()", -1), ("BatchNorm(axis = 1)", 1)]
)
def test_batch_normalization_mask(stage: str, axis: int, training: bool) -> None:
    """With Keras's `mask` (the input's shape without its last axis), masked entries stay out
    of the batch statistics and so out of the moving averages."""
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
    layer = _randomize(keras.layers.BatchNormalization(axis=axis), x.shape)
    result = parity(
        stage,
        layer,
        inputs=[x, mask],
        training=training,
        keras_call=lambda lay, xs, tr: lay(xs[0], mask=xs[1], training=tr),
    )
    if training:  # the mask mattered: unmasked statistics give another output
        plain = parity(
            stage,
            _randomize(keras.layers.BatchNormalization(axis=axis), x.shape),
            inputs=[x],
            training=True,
        )
        assert not np.allclose(plain.nn_outputs[0], result.nn_outputs[0])
