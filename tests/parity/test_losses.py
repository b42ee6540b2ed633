"""Keras 3 parity of losses: `keras.losses.<Class>(**options)(y_true, y_pred)` (Keras's default
`sum_over_batch_size` reduction) against nndsl's jitted eval step, on random data.

Each case goes through the real front end and backend: a `train` section naming the loss is
checked against an identity model whose output is the prediction, and the eval step (with a
0/1 row mask, some rows padded) gives the loss sum and the count of real rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax.training import Steps, build_steps
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig

RNG = np.random.default_rng(0)
Data = tuple[np.ndarray, np.ndarray]


def train_config(shape: tuple[int, ...], loss: str, metrics: str = "") -> TrainConfig:
    """A `train` section with `loss` and `metrics` on a model returning its `[B, *shape]`
    input unchanged, so the input is the prediction."""
    dims = ", ".join(["B", *map(str, shape)])
    src = (
        f"model M() {{\n    input x: f32[{dims}]\n    return x\n}}\n"
        'data d = npz("d.npz")\n'
        f"train M on d {{\n    loss = {loss}\n    optimizer = sgd\n"
        f"    metrics = [{metrics}]\n}}\n"
    )
    result = check_source(src, "parity.nn")
    assert not result.has_errors, "\n".join(str(d) for d in result.diagnostics) + "\n" + src
    assert result.program is not None and result.program.train is not None
    return result.program.train


def steps_for(shape: tuple[int, ...], loss: str, metrics: str = "") -> Steps:
    config = train_config(shape, loss, metrics)
    return build_steps(config.graph, config.loss, config.optimizer, config.metrics)


def padded(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out


def nn_loss(steps: Steps, y_pred: np.ndarray, y_true: np.ndarray, pad: int = 3) -> float:
    """The loss through the eval step, the batch zero-padded by `pad` masked rows."""
    rows = len(y_pred) + pad
    mask = np.zeros(rows, np.float32)
    mask[: len(y_pred)] = 1.0
    loss_sum, _, count = steps.eval_step({}, {}, padded(y_pred, rows), padded(y_true, rows), mask)
    assert float(count) == len(y_pred)
    return float(loss_sum) / float(count)


def probs(shape: tuple[int, ...]) -> np.ndarray:
    z = RNG.normal(size=shape).astype(np.float32)
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def logits(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32) * 2


def ids(shape: tuple[int, ...], classes: int) -> np.ndarray:
    return RNG.integers(0, classes, size=shape).astype(np.int32)


def one_hot(y: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[y]


def binary(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.integers(0, 2, size=shape).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def positive(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(0.1, 3.0, size=shape).astype(np.float32)


def normal(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


@dataclass(frozen=True)
class Case:
    nn: str  # the loss as written in a train section
    keras: Callable[[], Any]  # builds the Keras loss object
    data: Callable[[], Data]  # (y_pred, y_true)

    def __str__(self) -> str:
        return self.nn


def _cls(shape: tuple[int, ...], classes: int, sparse: bool, from_logits: bool) -> Data:
    pred = logits((*shape, classes)) if from_logits else probs((*shape, classes))
    y = ids(shape, classes)
    return pred, (y if sparse else one_hot(y, classes))


def _bin(shape: tuple[int, ...], from_logits: bool) -> Data:
    x = logits(shape)
    return (x if from_logits else sigmoid(x)), binary(shape)


L = keras.losses
CASES = [
    # cross-entropies
    Case(
        "cross_entropy(from_logits = true)",
        lambda: L.SparseCategoricalCrossentropy(True),
        lambda: _cls((6,), 4, True, True),
    ),
    Case(
        "cross_entropy(from_logits = true, label_smoothing = 0.1)",
        lambda: L.CategoricalCrossentropy(True, 0.1),
        lambda: _cls((6,), 4, False, True),
    ),
    Case(
        "categorical_crossentropy",
        lambda: L.CategoricalCrossentropy(),
        lambda: _cls((6,), 5, False, False),
    ),
    Case(
        "categorical_crossentropy(from_logits = true, label_smoothing = 0.2)",
        lambda: L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
        lambda: _cls((6, 3), 4, False, True),
    ),
    Case(
        "categorical_crossentropy(from_logits = true, axis = 1)",
        lambda: L.CategoricalCrossentropy(from_logits=True, axis=1),
        lambda: (logits((5, 4, 3)), one_hot(ids((5, 3), 4), 4).transpose(0, 2, 1).copy()),
    ),
    Case(
        "sparse_categorical_crossentropy",
        lambda: L.SparseCategoricalCrossentropy(),
        lambda: _cls((7,), 3, True, False),
    ),
    Case(
        "sparse_categorical_crossentropy(from_logits = true)",
        lambda: L.SparseCategoricalCrossentropy(from_logits=True),
        lambda: _cls((4, 5), 6, True, True),
    ),
    Case("binary_crossentropy", lambda: L.BinaryCrossentropy(), lambda: _bin((8, 1), False)),
    Case(
        "binary_crossentropy(from_logits = true, label_smoothing = 0.1)",
        lambda: L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        lambda: _bin((6, 3), True),
    ),
    Case(
        "binary_cross_entropy(from_logits = true)",
        lambda: L.BinaryCrossentropy(from_logits=True),
        lambda: _bin((6,), True),
    ),
    Case(
        "binary_focal_crossentropy",
        lambda: L.BinaryFocalCrossentropy(),
        lambda: _bin((6, 2), False),
    ),
    Case(
        "binary_focal_crossentropy(apply_class_balancing = true, alpha = 0.3, gamma = 1.5, "
        "from_logits = true, label_smoothing = 0.1)",
        lambda: L.BinaryFocalCrossentropy(
            apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=True, label_smoothing=0.1
        ),
        lambda: _bin((6, 3), True),
    ),
    Case(
        "categorical_focal_crossentropy",
        lambda: L.CategoricalFocalCrossentropy(),
        lambda: _cls((6,), 4, False, False),
    ),
    Case(
        "categorical_focal_crossentropy(alpha = 0.5, gamma = 1.0, from_logits = true, "
        "label_smoothing = 0.1)",
        lambda: L.CategoricalFocalCrossentropy(
            alpha=0.5, gamma=1.0, from_logits=True, label_smoothing=0.1
        ),
        lambda: _cls((6,), 4, False, True),
    ),
    Case(
        "categorical_generalized_cross_entropy(q = 0.7)",
        lambda: L.CategoricalGeneralizedCrossEntropy(q=0.7),
        lambda: _cls((6,), 4, True, False),
    ),
    # regression
    Case("mse", lambda: L.MeanSquaredError(), lambda: (normal((6, 3)), normal((6, 3)))),
    Case(
        "mean_squared_error", lambda: L.MeanSquaredError(), lambda: (normal((6, 1)), normal((6,)))
    ),
    Case("mae", lambda: L.MeanAbsoluteError(), lambda: (normal((5, 2, 3)), normal((5, 2, 3)))),
    Case("mape", lambda: L.MeanAbsolutePercentageError(), lambda: (normal((6, 3)), normal((6, 3)))),
    Case(
        "msle",
        lambda: L.MeanSquaredLogarithmicError(),
        lambda: (positive((6, 3)), positive((6, 3))),
    ),
    Case("huber", lambda: L.Huber(), lambda: (normal((6, 3)) * 2, normal((6, 3)))),
    Case(
        "huber(delta = 0.5)",
        lambda: L.Huber(delta=0.5),
        lambda: (normal((6, 3)) * 2, normal((6, 3))),
    ),
    Case("log_cosh", lambda: L.LogCosh(), lambda: (normal((6, 3)) * 3, normal((6, 3)))),
    Case("kl_divergence", lambda: L.KLDivergence(), lambda: (probs((6, 4)), probs((6, 4)))),
    Case("poisson", lambda: L.Poisson(), lambda: (positive((6, 3)), positive((6, 3)))),
    Case(
        "cosine_similarity", lambda: L.CosineSimilarity(), lambda: (normal((6, 4)), normal((6, 4)))
    ),
    Case(
        "cosine_similarity(axis = 1)",
        lambda: L.CosineSimilarity(axis=1),
        lambda: (normal((5, 4, 2)), normal((5, 4, 2))),
    ),
    Case("hinge", lambda: L.Hinge(), lambda: (normal((6, 3)), binary((6, 3)))),
    Case("hinge", lambda: L.Hinge(), lambda: (normal((6, 3)), 2 * binary((6, 3)) - 1)),
    Case("squared_hinge", lambda: L.SquaredHinge(), lambda: (normal((6, 3)), binary((6, 3)))),
    Case(
        "categorical_hinge",
        lambda: L.CategoricalHinge(),
        lambda: (normal((6, 4)), one_hot(ids((6,), 4), 4)),
    ),
    # overlap
    Case("dice", lambda: L.Dice(), lambda: (sigmoid(normal((4, 3, 3, 1))), binary((4, 3, 3, 1)))),
    Case(
        "dice(axis = [1, 2, 3])",
        lambda: L.Dice(axis=(1, 2, 3)),
        lambda: (sigmoid(normal((4, 3, 3, 1))), binary((4, 3, 3, 1))),
    ),
    Case(
        "tversky(alpha = 0.3, beta = 0.7)",
        lambda: L.Tversky(alpha=0.3, beta=0.7),
        lambda: (sigmoid(normal((4, 5))), binary((4, 5))),
    ),
    Case(
        "tversky(axis = [1])",
        lambda: L.Tversky(axis=(1,)),
        lambda: (sigmoid(normal((4, 5))), binary((4, 5))),
    ),
]


def _ctc_data() -> Data:
    labels = RNG.integers(1, 5, size=(4, 3)).astype(np.int32)
    labels[1, 2] = 0  # a shorter sequence, padded with the blank
    labels[3, 1:] = 0
    return logits((4, 8, 5)), labels


CASES.append(Case("ctc", lambda: L.CTC(), _ctc_data))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_loss_matches_keras(case: Case) -> None:
    pred, y = case.data()
    expected = float(case.keras()(y, pred))
    steps = steps_for(pred.shape[1:], case.nn)
    with jax.default_matmul_precision("highest"):
        got = nn_loss(steps, pred, y)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=case.nn)


def test_train_step_loss_is_the_batch_mean() -> None:
    """The training objective (no padding, no penalties here) equals Keras's loss too."""
    pred, y = _cls((6,), 4, False, True)
    steps = steps_for((4,), "categorical_crossentropy(from_logits = true)")
    _, _, _, _, loss, _, _ = steps.train_step(
        {}, {}, steps.init_opt_state({}), steps.init_aux(), pred, y, jax.random.key(0), 0
    )
    expected = float(L.CategoricalCrossentropy(from_logits=True)(y, pred))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_dice_without_axis_masks_padded_rows() -> None:
    """A batch-level loss: padded rows must not enter its sums (they would change it)."""
    pred, y = sigmoid(normal((5, 4))), binary((5, 4))
    steps = steps_for((4,), "dice")
    np.testing.assert_allclose(
        nn_loss(steps, pred, y, pad=0), nn_loss(steps, pred, y, pad=4), rtol=1e-6
    )
