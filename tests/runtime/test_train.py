"""fit(): loss falls, runs are bit-for-bit reproducible, events, early stop, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.runtime import (
    EpochEnd,
    EpochStart,
    FitEnd,
    FitStart,
    StepEnd,
    TestEnd,
    TrainingError,
    evaluate,
    fit,
    predict,
)
from nndsl.runtime.data import Dataset
from tests.backend.graphs import GraphMaker, call, mlp, tensor
from tests.runtime.helpers import blobs, config_for, write_npz


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    return tmp_path


def test_loss_falls_and_events_tell_the_story(data_dir: Path) -> None:
    events: list[object] = []
    cfg = config_for(
        data_dir, epochs=4, batch=32, metrics=[call("accuracy"), call("top_k_accuracy", k=2)]
    )
    result = fit(cfg, on_event=events.append)
    losses = [e.train["loss"] for e in result.history]
    assert losses[-1] < losses[0] * 0.6
    assert result.test is not None and result.test["accuracy"] > 0.8
    assert set(result.history[-1].train) == {"loss", "accuracy", "top_k_accuracy"}
    kinds = [type(e) for e in events]
    assert kinds[0] is FitStart and kinds[-2:] == [TestEnd, FitEnd]
    start = events[0]
    assert isinstance(start, FitStart)
    assert (start.train_size, start.validation_size, start.test_size) == (173, 19, 48)
    assert kinds.count(EpochStart) == kinds.count(EpochEnd) == 4
    assert kinds.count(StepEnd) == 4 * start.steps_per_epoch == 4 * 6
    assert result.global_steps == 24 and not result.stopped


def weights(result: object) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves((result.params, result.state))]  # type: ignore[attr-defined]


def test_same_seed_gives_bit_identical_weights(data_dir: Path) -> None:
    graph = mlp(dropout=0.3, batch_norm=True)
    runs = [fit(config_for(data_dir, graph=graph, epochs=2, seed=11)) for _ in range(2)]
    for a, b in zip(weights(runs[0]), weights(runs[1]), strict=True):
        assert a.tobytes() == b.tobytes()
    assert runs[0].history == [] or runs[0].test == runs[1].test
    other = fit(config_for(data_dir, graph=graph, epochs=2, seed=12))
    assert any(
        a.tobytes() != b.tobytes() for a, b in zip(weights(runs[0]), weights(other), strict=True)
    )


def test_stop_request_ends_at_a_step_boundary(data_dir: Path) -> None:
    steps = 0

    def stop() -> bool:
        nonlocal steps
        steps += 1
        return steps > 3

    events: list[object] = []
    result = fit(config_for(data_dir, epochs=5), on_event=events.append, stop=stop)
    assert result.stopped and result.global_steps == 3 and result.test is None
    assert len(result.history) == 1
    end = events[-1]
    assert isinstance(end, FitEnd) and end.stopped


def test_diverging_loss_is_a_training_error(data_dir: Path) -> None:
    x, _ = blobs()
    write_npz(data_dir, x=x, y=np.full((len(x), 3), 1e6))
    cfg = config_for(
        data_dir, loss=call("mse"), optimizer=call("sgd", learning_rate=1e6), metrics=[], epochs=3
    )
    with pytest.raises(TrainingError, match=r"the loss became (nan|inf) at epoch \d, step \d"):
        fit(cfg)


def test_evaluate_is_exact_regardless_of_batch_size(data_dir: Path) -> None:
    result = fit(config_for(data_dir, epochs=1))
    x, y = blobs(n=50, seed=5)
    data = Dataset(x.astype(np.float32), y.astype(np.int32))
    a = evaluate(result.steps, result.params, result.state, data, 7)
    b = evaluate(result.steps, result.params, result.state, data, 64)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-5)
    pred = predict(result.steps.model, result.params, result.state, data.x, batch=16)
    assert pred.shape == (50, 3)
    assert a["accuracy"] == pytest.approx(float(np.mean(pred.argmax(-1) == data.y)))


def test_cnn_with_one_hot_labels_trains(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    x = rng.normal(size=(64, 6, 6, 1)) * 0.3
    x[y == 1, :3] += 1.0
    write_npz(tmp_path, x=x, y=np.eye(2)[y])
    g = GraphMaker("Tiny")
    h = g.op(
        "Conv2D",
        g.input("x", tensor("B", 6, 6, 1)),
        filters=4,
        kernel_size=3,
        padding="same",
        activation="relu",
    )
    h = g.op("Dense", g.op("GlobalAvgPool2D", g.op("MaxPool2D", h)), units=2, activation="softmax")
    graph = g.output("probs", h)
    result = fit(
        config_for(
            tmp_path,
            graph=graph,
            loss=call("cross_entropy"),
            epochs=3,
            batch=16,
            optimizer=call("adam", learning_rate=0.05),
        )
    )
    assert result.history[-1].train["loss"] < result.history[0].train["loss"]
