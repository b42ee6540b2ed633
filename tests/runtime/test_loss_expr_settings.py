"""A loss expression with the settings of built-in losses: integer class ids as labels,
`metrics`, `sample_weight`, `class_weight` (each step's objective against a hand computation),
and a diagnostic for each combination that has no meaning."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import steps_for
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime.data import load_data
from nndsl.shapes import DType

MODEL = """
model Cls() {
  input x: f32[B, 6]
  logits = x |> Dense(3)
  return logits
}
"""
ONE = 'data d = npz("d.npz", x = "x", y = "y"{extra})\n'
NONE = 'data d = npz("d.npz", x = "x", y = [])\n'
CE = "cross_entropy(y, logits, from_logits = true)"
PENALTY = "0.1 * mean(square(logits))"


def _train(loss: str, rest: str) -> str:
    return (
        f"train Cls on d {{\n  loss = {loss}\n  optimizer = sgd(learning_rate = 0.1)\n"
        f"  epochs = 1\n  batch = 16\n  validation_split = 0.0\n{rest}}}\n"
    )


def _text(loss: str, rest: str = "", data: str = ONE, extra: str = "") -> str:
    return MODEL + data.replace("{extra}", extra) + _train(loss, rest)


def _write(tmp_path: Path, text: str) -> Path:
    r = np.random.default_rng(0)
    x = r.normal(size=(32, 6)).astype(np.float32)
    y = r.integers(0, 3, size=32)  # class ids, int64 in the file
    w = r.uniform(0.5, 2.0, size=32).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y, w=w)
    path = tmp_path / "m.nn"
    path.write_text(text)
    return path


def _config(tmp_path: Path, text: str) -> TrainConfig:
    checked = check_source(text, str(_write(tmp_path, text)))
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def _errors(tmp_path: Path, text: str) -> list[str]:
    checked = check_source(text, str(_write(tmp_path, text)))
    return [
        f"{d.code} {d.message} @ {text[d.primary.span.start : d.primary.span.end]}"
        for d in checked.diagnostics
        if d.is_error
    ]


def _hand(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-example cross-entropy of logits against class ids, and the penalty term."""
    z = logits.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y], 0.1 * float(np.mean(z**2))


def _batch(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.load(tmp_path / "d.npz")
    return data["x"][:16], data["y"][:16], data["w"][:16]


def test_integer_class_ids_with_cross_entropy_and_metrics(tmp_path: Path) -> None:
    config = _config(tmp_path, _text(f"{CE} + {PENALTY}", "  metrics = [accuracy]\n"))
    assert config.loss_expr is not None
    assert config.loss_expr.label_losses["y"].op.name == "cross_entropy"
    splits = load_data(config)
    assert splits.train.y["y"].dtype == np.int32  # read as ids, not reshaped to [N, 3]
    steps = steps_for(config)
    assert steps.metric_names == ("accuracy",)
    params, state = steps.model.init(jax.random.key(0))
    x, y, _ = _batch(tmp_path)
    total, stats, count = steps.eval_step(
        params, state, x, {"y": y.astype(np.int32)}, np.ones(16, np.float32)
    )
    (logits,), _ = steps.model.apply(params, state, [x])
    ce, penalty = _hand(np.asarray(logits), y)
    assert float(total) / float(count) == pytest.approx(ce.mean() + penalty, rel=1e-5)
    [acc] = steps.metric_values(stats)
    assert acc == pytest.approx(np.mean(np.argmax(logits, -1) == y))


def test_sparse_loss_types_its_labels_as_ids(tmp_path: Path) -> None:
    loss = f"sparse_categorical_crossentropy(y, logits, from_logits = true) + {PENALTY}"
    config = _config(tmp_path, _text(loss))
    assert config.loss_expr is not None
    [label] = [i for i in config.loss_expr.graph.inputs if i.name == "y"]
    assert label.type.dtype is DType.I32 and label.type.rank == 1


def test_sample_weight_weighs_the_built_in_losses_only(tmp_path: Path) -> None:
    config = _config(tmp_path, _text(f"{CE} + {PENALTY}", extra=', sample_weight = "w"'))
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    x, y, w = _batch(tmp_path)
    labels = ({"y": y.astype(np.int32)}, w)
    total, _, count = steps.eval_step(params, state, x, labels, np.ones(16, np.float32))
    (logits,), _ = steps.model.apply(params, state, [x])
    ce, penalty = _hand(np.asarray(logits), y)
    assert float(total) / float(count) == pytest.approx(np.mean(w * ce) + penalty, rel=1e-5)
    assert load_data(config).train.w is not None


def test_class_weight_weighs_each_example_by_its_class_in_training(tmp_path: Path) -> None:
    config = _config(tmp_path, _text(f"{CE} + {PENALTY}", "  class_weight = [1.0, 2.0, 0.5]\n"))
    assert config.class_weight == (1.0, 2.0, 0.5)
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    x, y, _ = _batch(tmp_path)
    (logits,), _ = steps.model.apply(params, state, [x])
    out = steps.train_step(
        params,
        state,
        steps.init_opt_state(params),
        steps.init_aux(),
        x,
        {"y": y.astype(np.int32)},
        jax.random.key(0),
        np.int32(0),
    )
    ce, penalty = _hand(np.asarray(logits), y)
    cw = np.array([1.0, 2.0, 0.5])[y]
    assert float(out[4]) == pytest.approx(np.mean(cw * ce) + penalty, rel=1e-5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _text(f"{CE}", "  loss_weights = 0.5\n"),
            "E0601 `loss_weights` has no meaning with a loss expression @ loss_weights",
        ),
        (
            _text(f"{CE}", "  class_weight = [1.0, 2.0]\n"),
            "E0601 `class_weight` has 2 weights, but output `logits` has 3 classes @ [1.0, 2.0]",
        ),
        (
            _text("mse(y, softmax(logits))", "  class_weight = [1.0, 2.0, 3.0]\n"),
            "E0601 `class_weight` needs the labels `y` read as classes: the loss expression "
            "reads `y` only as the labels of a classification loss @ class_weight",
        ),
        (
            _text(f"{PENALTY}", "  class_weight = [1.0, 2.0, 3.0]\n", NONE),
            "E0601 `class_weight` weighs each example by the class in its labels `y`, but data "
            "`d` gives no labels @ class_weight",
        ),
        (
            _text(f"{PENALTY}", "  metrics = [accuracy]\n", NONE),
            "E0601 `metrics` compare an output with its labels, but data `d` gives none @ metrics",
        ),
        (
            _text(f"{CE}", "  metrics = per_output(logit = [accuracy])\n"),
            "E0601 `Cls` has no output `logit` @ logit",
        ),
    ],
)
def test_combinations_without_meaning_are_diagnostics(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert _errors(tmp_path, text) == [expected]


HEADS = """
model Heads() {
  input x: f32[B, 6]
  price = x |> Dense(1)
  code = x |> Dense(3)
  return price, code
}
data d = npz("d.npz", x = "x", y = ["price", "code"])
train Heads on d {
  loss = mse(y_price, price) + cross_entropy(y_code, code, from_logits = true)
  metrics = per_output(code = [accuracy])
  optimizer = sgd(learning_rate = 0.1)
  callbacks = [early_stopping(monitor = "code_accuracy", patience = 2)]
}
"""


def test_metrics_per_labelled_output_are_logged_by_output(tmp_path: Path) -> None:
    config = _config(tmp_path, HEADS)
    assert [m.op.name for m in config.output_metrics["code"]] == ["accuracy"]
    steps = steps_for(config)
    assert steps.metric_names == ("code_accuracy",)
    keras = _config(tmp_path, HEADS.replace("per_output(code = [accuracy])", "{code: [accuracy]}"))
    assert [m.op.name for m in keras.output_metrics["code"]] == ["accuracy"]
    errors = _errors(tmp_path, HEADS.replace('"code_accuracy"', '"accuracy"'))
    assert len(errors) == 1 and "monitors `accuracy`, which training does not log" in errors[0]
