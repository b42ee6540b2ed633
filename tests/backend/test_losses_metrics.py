"""Losses and metrics: per-example values against NumPy, sparse vs one-hot agreement, and the
streaming protocol (statistics that add up over batches)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax import LabelCall, implementation
from nndsl.backend.jax.impls.metrics import Streaming, add_stats
from tests.backend.graphs import spec, with_defaults

RNG = np.random.default_rng(1)
LOGITS = RNG.normal(size=(6, 4)).astype(np.float32)
IDS = np.array([0, 3, 1, 2, 3, 0], np.int32)
ONE_HOT = np.eye(4, dtype=np.float32)[IDS]


def run(
    name: str, pred: np.ndarray, y: np.ndarray, *, from_logits: bool = False, **attrs: object
) -> np.ndarray:
    """A loss's per-example values, or a metric's per-example hits (its `update` on each row)."""
    op = spec(name)
    if "from_logits" in {a.name for a in op.args}:
        attrs = {"from_logits": from_logits, **attrs}
    fn = implementation(op)
    a = with_defaults(op, attrs)  # type: ignore[arg-type]
    if isinstance(fn, Streaming):
        rows = [
            fn(LabelCall(a, jnp.asarray(pred[i : i + 1]), jnp.asarray(y[i : i + 1]), from_logits))
            for i in range(len(pred))
        ]
        return np.asarray(rows)
    return np.asarray(fn(LabelCall(a, jnp.asarray(pred), jnp.asarray(y), from_logits)))


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_cross_entropy_from_logits_sparse_equals_one_hot() -> None:
    expected = -log_softmax(LOGITS)[np.arange(6), IDS]
    sparse = run("cross_entropy", LOGITS, IDS, from_logits=True)
    dense = run("cross_entropy", LOGITS, ONE_HOT, from_logits=True)
    assert sparse.shape == (6,)
    np.testing.assert_allclose(sparse, expected, rtol=1e-5)
    np.testing.assert_allclose(dense, expected, rtol=1e-5)


def test_cross_entropy_from_probabilities_clips_and_renormalises() -> None:
    probs = np.exp(log_softmax(LOGITS)) * 2  # unnormalised on purpose
    probs[0, IDS[0]] = 0.0
    expected = -np.log(np.clip(probs / probs.sum(-1, keepdims=True), 1e-7, 1 - 1e-7))
    expected = expected[np.arange(6), IDS]
    np.testing.assert_allclose(run("cross_entropy", probs, IDS), expected, rtol=1e-5)
    np.testing.assert_allclose(run("cross_entropy", probs, ONE_HOT), expected, rtol=1e-5)


def test_cross_entropy_label_smoothing_matches_for_both_label_forms() -> None:
    smooth = ONE_HOT * 0.9 + 0.1 / 4
    expected = -(smooth * log_softmax(LOGITS)).sum(-1)
    for labels in (IDS, ONE_HOT):
        got = run("cross_entropy", LOGITS, labels, from_logits=True, label_smoothing=0.1)
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_binary_cross_entropy() -> None:
    z = RNG.normal(size=(5, 1)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1], np.float32)
    p = 1 / (1 + np.exp(-z[:, 0]))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(
        run("binary_cross_entropy", z, y[:, None], from_logits=True), expected, rtol=1e-5
    )
    np.testing.assert_allclose(run("binary_cross_entropy", p[:, None], y), expected, rtol=1e-4)
    ys = y * 0.8 + 0.1
    smoothed = -(ys * np.log(p) + (1 - ys) * np.log(1 - p))
    np.testing.assert_allclose(
        run("binary_cross_entropy", z, y[:, None], from_logits=True, label_smoothing=0.2),
        smoothed,
        rtol=1e-5,
    )


def test_regression_losses_average_per_example() -> None:
    pred = RNG.normal(size=(4, 3)).astype(np.float32)
    y = RNG.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(run("mse", pred, y), ((pred - y) ** 2).mean(1), rtol=1e-5)
    np.testing.assert_allclose(run("mae", pred, y), np.abs(pred - y).mean(1), rtol=1e-5)
    column = pred[:, :1]
    np.testing.assert_allclose(
        run("mse", column, y[:, 0]), (column[:, 0] - y[:, 0]) ** 2, rtol=1e-5
    )


def test_accuracy_argmax_and_threshold() -> None:
    hits = (LOGITS.argmax(-1) == IDS).astype(np.float32)
    np.testing.assert_array_equal(run("accuracy", LOGITS, IDS), hits)
    np.testing.assert_array_equal(run("accuracy", LOGITS, ONE_HOT), hits)
    probs = np.array([[0.2], [0.7], [0.51], [0.4]], np.float32)
    y = np.array([0, 1, 0, 1], np.float32)
    np.testing.assert_array_equal(run("accuracy", probs, y), [1, 1, 0, 0])
    logits = np.array([-1.0, 0.5, 2.0, -0.1], np.float32)
    np.testing.assert_array_equal(run("accuracy", logits, y, from_logits=True), [1, 1, 0, 0])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy(k: int) -> None:
    rank = (LOGITS > LOGITS[np.arange(6), IDS][:, None]).sum(-1)
    expected = (rank < k).astype(np.float32)
    np.testing.assert_array_equal(run("top_k_accuracy", LOGITS, IDS, k=k), expected)
    np.testing.assert_array_equal(run("top_k_accuracy", LOGITS, ONE_HOT, k=k), expected)
    if k == 1:
        np.testing.assert_array_equal(expected, run("accuracy", LOGITS, IDS))


def test_streaming_statistics_add_up_over_batches() -> None:
    """AUC of a whole set from the sums of its parts' statistics; masked rows do not count."""
    auc = implementation("auc")
    attrs = with_defaults(spec("auc"), {})
    p = RNG.uniform(size=(10, 1)).astype(np.float32)
    y = (RNG.uniform(size=(10, 1)) < p).astype(np.float32)
    whole = auc.update(LabelCall(attrs, jnp.asarray(p), jnp.asarray(y)))
    parts = [
        auc.update(LabelCall(attrs, jnp.asarray(p[:4]), jnp.asarray(y[:4]))),
        auc.update(
            LabelCall(
                attrs,
                jnp.asarray(np.concatenate([p[4:], p[:2]])),
                jnp.asarray(np.concatenate([y[4:], 1 - y[:2]])),
                mask=jnp.asarray([1.0] * 6 + [0.0] * 2),
            )
        ),
    ]
    summed = add_stats(*parts)
    for k in whole:
        np.testing.assert_allclose(summed[k], whole[k], rtol=1e-6)
    assert float(auc.finalize(summed, attrs)) == pytest.approx(
        float(auc(LabelCall(attrs, jnp.asarray(p), jnp.asarray(y))))
    )


def test_f1_accepts_class_ids_like_one_hot() -> None:
    f1 = implementation("f1_score")
    attrs = with_defaults(spec("f1_score"), {})
    probs = np.exp(log_softmax(LOGITS))
    by_ids = f1(LabelCall(attrs, jnp.asarray(probs), jnp.asarray(IDS)))
    by_onehot = f1(LabelCall(attrs, jnp.asarray(probs), jnp.asarray(ONE_HOT)))
    assert float(by_ids) == pytest.approx(float(by_onehot))


def test_dice_is_one_value_per_batch_without_axis() -> None:
    p = RNG.uniform(size=(4, 3)).astype(np.float32)
    y = (RNG.uniform(size=(4, 3)) < 0.5).astype(np.float32)
    value = run("dice", p, y)
    assert value.shape == ()
    np.testing.assert_allclose(value, 1 - 2 * (p * y).sum() / (p.sum() + y.sum() + 1e-7), rtol=1e-5)
    per_row = run("dice", p, y, axis=(1,))
    expected = 1 - 2 * (p * y).sum(1) / (p.sum(1) + y.sum(1) + 1e-7)
    np.testing.assert_allclose(per_row, expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_take_a_step_downhill(name: str) -> None:
    op = spec(name)
    extra = {"momentum": 0.9, "nesterov": True} if name == "sgd" else {}
    tx = implementation(op)(with_defaults(op, {"learning_rate": 0.1, **extra}))
    params = {"w": jnp.array([1.0, -2.0])}
    state = tx.init(params)
    grads = {"w": 2 * params["w"]}
    updates, _ = tx.update(grads, state, params)
    assert float(jnp.sum((params["w"] + updates["w"]) ** 2)) < float(jnp.sum(params["w"] ** 2))


def test_labels_are_checked_against_the_losss_label_kind() -> None:
    """The runtime checks the data against the loss's declared label kind before training."""
    from nndsl.backend import DataError
    from nndsl.runtime.data import check_labels
    from tests.backend.graphs import call, mlp

    graph = mlp(classes=3)  # [B, 3] output

    def check(loss: str, y: np.ndarray) -> np.ndarray:
        return check_labels(graph, call(loss), y, len(y), "d.npz", "y")

    assert check("sparse_categorical_crossentropy", np.array([0, 2, 1])).dtype == np.int32
    assert check("sparse_categorical_crossentropy", np.array([[0], [2]])).shape == (2,)
    with pytest.raises(DataError, match="class ids"):
        check("sparse_categorical_crossentropy", np.eye(3)[[0, 1]])
    with pytest.raises(DataError, match="outside"):
        check("sparse_categorical_crossentropy", np.array([0, 3]))
    assert check("categorical_crossentropy", np.eye(3)[[0, 1]]).shape == (2, 3)
    with pytest.raises(DataError, match="one-hot"):
        check("categorical_crossentropy", np.array([0, 1]))
    with pytest.raises(DataError, match="0/1"):
        check("binary_crossentropy", np.full((2, 3), 2.0))
