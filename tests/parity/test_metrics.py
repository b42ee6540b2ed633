"""Keras 3 parity of metrics: a `keras.metrics.<Class>` object updated over several batches of
different sizes against nndsl's eval steps on the same batches (zero-padded to one batch size
with a 0/1 mask, as the runtime does), statistics summed as the runtime sums them.

The final `result()` must match within 1e-5; AUC and the `*_at_*` metrics use Keras's own
threshold approximation with the same `num_thresholds`, so they match as closely.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax.training import Metrics, Steps, add_metric_stats
from tests.parity.test_losses import (
    binary,
    ids,
    logits,
    normal,
    one_hot,
    padded,
    positive,
    probs,
    sigmoid,
    steps_for,
)

M = keras.metrics
SIZES = (8, 5, 3)  # batch sizes; every batch is padded to 8 rows
ROWS = 8
Batch = tuple[np.ndarray, np.ndarray]


def nn_metric(steps: Steps, batches: list[Batch]) -> float:
    totals: Metrics | None = None
    for pred, y in batches:
        mask = np.zeros(ROWS, np.float32)
        mask[: len(pred)] = 1.0
        _, stats, _ = steps.eval_step({}, {}, padded(pred, ROWS), padded(y, ROWS), mask)
        totals = add_metric_stats(totals, stats)
    assert totals is not None
    (value,) = steps.metric_values(totals)
    return value


def keras_metric(metric: Any, batches: list[Batch]) -> float:
    with warnings.catch_warnings():  # Keras's IoU asks JAX for int64 (truncated, harmless)
        warnings.simplefilter("ignore", UserWarning)
        for pred, y in batches:
            metric.update_state(y, pred)
        return float(metric.result())


@dataclass(frozen=True)
class Case:
    nn: str  # the metric as written in a train section's `metrics` list
    keras: Callable[[], Any]
    batch: Callable[[int], Batch]  # rows -> (y_pred, y_true)
    atol: float = 1e-5

    def __str__(self) -> str:
        return self.nn


def classes(n: int, c: int = 4, sparse: bool = True) -> Batch:
    y = ids((n,), c)
    return probs((n, c)), (y if sparse else one_hot(y, c))


def scores(n: int, k: int = 1) -> Batch:
    """Probabilities loosely correlated with 0/1 labels, `[n, k]`."""
    y = binary((n, k))
    return sigmoid(normal((n, k)) + 1.5 * (y - 0.5)), y


def multi_label(n: int) -> Batch:
    return scores(n, 3)


def regression(n: int, k: int = 3) -> Batch:
    y = normal((n, k))
    return (y + 0.5 * normal((n, k))).astype(np.float32), y


CASES = [
    # accuracies
    Case("accuracy", M.SparseCategoricalAccuracy, classes),
    Case("accuracy", M.CategoricalAccuracy, lambda n: classes(n, sparse=False)),
    Case("accuracy", M.BinaryAccuracy, scores),
    Case("binary_accuracy", M.BinaryAccuracy, multi_label),
    Case("binary_accuracy(threshold = 0.7)", lambda: M.BinaryAccuracy(threshold=0.7), scores),
    Case("categorical_accuracy", M.CategoricalAccuracy, lambda n: classes(n, sparse=False)),
    Case("sparse_categorical_accuracy", M.SparseCategoricalAccuracy, classes),
    Case(
        "top_k_categorical_accuracy(k = 2)",
        lambda: M.TopKCategoricalAccuracy(k=2),
        lambda n: classes(n, 5, sparse=False),
    ),
    Case(
        "sparse_top_k_categorical_accuracy(k = 2)",
        lambda: M.SparseTopKCategoricalAccuracy(k=2),
        lambda n: classes(n, 5),
    ),
    Case(
        "top_k_accuracy(k = 3)",
        lambda: M.SparseTopKCategoricalAccuracy(k=3),
        lambda n: classes(n, 5),
    ),
    # confusion-count metrics
    Case("auc", M.AUC, scores),
    Case('auc(curve = "PR")', lambda: M.AUC(curve="PR"), scores),
    Case(
        'auc(num_thresholds = 20, summation_method = "minoring")',
        lambda: M.AUC(num_thresholds=20, summation_method="minoring"),
        multi_label,
    ),
    Case(
        'auc(curve = "PR", summation_method = "majoring")',
        lambda: M.AUC(curve="PR", summation_method="majoring"),
        scores,
    ),
    Case(
        "auc(from_logits = true)",
        lambda: M.AUC(from_logits=True),
        lambda n: (lambda y: (logits((n, 1)) + 2 * y, y))(binary((n, 1))),
    ),
    Case("precision", M.Precision, multi_label),
    Case("precision(thresholds = 0.3)", lambda: M.Precision(thresholds=0.3), scores),
    Case("precision(class_id = 1)", lambda: M.Precision(class_id=1), multi_label),
    Case("precision(top_k = 2)", lambda: M.Precision(top_k=2), lambda n: scores(n, 4)),
    Case("recall", M.Recall, multi_label),
    Case(
        "recall(thresholds = 0.7, class_id = 2)",
        lambda: M.Recall(thresholds=0.7, class_id=2),
        multi_label,
    ),
    Case("recall(top_k = 1)", lambda: M.Recall(top_k=1), lambda n: scores(n, 4)),
    Case("precision_at_recall(0.6)", lambda: M.PrecisionAtRecall(0.6), scores),
    Case(
        "recall_at_precision(0.7, num_thresholds = 50)",
        lambda: M.RecallAtPrecision(0.7, num_thresholds=50),
        multi_label,
    ),
    Case("sensitivity_at_specificity(0.5)", lambda: M.SensitivityAtSpecificity(0.5), scores),
    Case(
        "specificity_at_sensitivity(0.8, class_id = 0)",
        lambda: M.SpecificityAtSensitivity(0.8, class_id=0),
        multi_label,
    ),
    Case(
        "precision_at_recall(0.5, num_thresholds = 1)",
        lambda: M.PrecisionAtRecall(0.5, num_thresholds=1),
        scores,
    ),
    # F-scores
    Case(
        'f1_score(average = "micro")',
        lambda: M.F1Score(average="micro"),
        lambda n: classes(n, sparse=False),
    ),
    Case("f1_score", lambda: M.F1Score(average="macro"), lambda n: classes(n, sparse=False)),
    Case(
        'f1_score(average = "weighted", threshold = 0.4)',
        lambda: M.F1Score(average="weighted", threshold=0.4),
        multi_label,
    ),
    Case(
        'fbeta_score(average = "macro", beta = 2.0)',
        lambda: M.FBetaScore(average="macro", beta=2.0),
        lambda n: classes(n, sparse=False),
    ),
    # IoU
    Case("mean_iou(num_classes = 4)", lambda: M.MeanIoU(4, sparse_y_pred=False), classes),
    Case(
        "mean_iou(num_classes = 4)", lambda: M.OneHotMeanIoU(4), lambda n: classes(n, sparse=False)
    ),
    Case(
        "mean_iou(num_classes = 3, ignore_class = 0)",
        lambda: M.MeanIoU(3, ignore_class=0, sparse_y_pred=False),
        lambda n: (probs((n, 2, 3)), ids((n, 2), 3)),
    ),
    Case(
        "iou(num_classes = 4, target_class_ids = [0, 2])",
        lambda: M.IoU(4, [0, 2], sparse_y_pred=False),
        classes,
    ),
    # R²
    Case("r2_score", M.R2Score, regression),
    Case(
        'r2_score(class_aggregation = "variance_weighted_average", num_regressors = 2)',
        lambda: M.R2Score(class_aggregation="variance_weighted_average", num_regressors=2),
        regression,
    ),
    # means, including losses listed as metrics
    Case("rmse", M.RootMeanSquaredError, regression),
    Case("root_mean_squared_error", M.RootMeanSquaredError, lambda n: regression(n, 1)),
    Case("mse", M.MeanSquaredError, regression),
    Case("mean_absolute_error", M.MeanAbsoluteError, regression),
    Case("mape", M.MeanAbsolutePercentageError, regression, atol=1e-3),
    Case("msle", M.MeanSquaredLogarithmicError, lambda n: (positive((n, 3)), positive((n, 3)))),
    Case("log_cosh", M.LogCoshError, regression),
    Case("cosine_similarity", M.CosineSimilarity, regression),
    Case("kl_divergence", M.KLDivergence, lambda n: (probs((n, 4)), probs((n, 4)))),
    Case("poisson", M.Poisson, lambda n: (positive((n, 3)), positive((n, 3)))),
    Case("hinge", M.Hinge, multi_label),
    Case("squared_hinge", M.SquaredHinge, multi_label),
    Case("categorical_hinge", M.CategoricalHinge, lambda n: classes(n, sparse=False)),
    Case("binary_crossentropy", M.BinaryCrossentropy, multi_label),
    Case(
        "binary_crossentropy(from_logits = true, label_smoothing = 0.1)",
        lambda: M.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        lambda n: (logits((n, 2)), binary((n, 2))),
    ),
    Case("categorical_crossentropy", M.CategoricalCrossentropy, lambda n: classes(n, sparse=False)),
    Case("sparse_categorical_crossentropy", M.SparseCategoricalCrossentropy, classes),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.nn}-{c.keras.__name__}")
def test_metric_matches_keras_over_batches(case: Case) -> None:
    batches = [case.batch(n) for n in SIZES]
    pred, y = batches[0]
    loss = "cross_entropy" if y.ndim == pred.ndim - 1 else "mse"  # one that takes such labels
    steps = steps_for(pred.shape[1:], loss, case.nn)
    expected = keras_metric(case.keras(), batches)
    with jax.default_matmul_precision("highest"):
        got = nn_metric(steps, batches)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=case.atol, err_msg=case.nn)


def test_padding_rows_do_not_count() -> None:
    """The same examples in one batch or split over padded ones give the same AUC and F1."""
    pred, y = scores(16)
    steps = steps_for((1,), "mse", "auc")
    whole = nn_metric(steps, [(pred[:8], y[:8]), (pred[8:], y[8:])])
    split = nn_metric(steps, [(pred[:3], y[:3]), (pred[3:8], y[3:8]), (pred[8:], y[8:])])
    np.testing.assert_allclose(whole, split, rtol=1e-6)


def test_epoch_value_is_not_the_mean_of_batch_values() -> None:
    """Precision over an epoch pools the counts; averaging per-batch precisions differs."""
    batches = [
        (
            np.array([[0.9], [0.9], [0.9], [0.9]], np.float32),
            np.array([[1], [1], [1], [0]], np.float32),
        ),
        (np.array([[0.9], [0.1]], np.float32), np.array([[0], [0]], np.float32)),
    ]
    steps = steps_for((1,), "mse", "precision")
    assert nn_metric(steps, batches) == pytest.approx(3 / 5)
