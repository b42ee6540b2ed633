"""Models with several inputs and outputs: data by name, per-output losses, weights, metrics
and logs, prediction of every output; each mistake a diagnostic or one line."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import steps_for
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import DataError, fit, load_data
from nndsl.runtime.data import input_list
from nndsl.runtime.predict import predict_outputs
from tests.cli import nnrun

MODEL = """
model Multi() {
  input seq: f32[B, 6]
  input static: f32[B, 3]
  h = (seq, static) |> Concatenate() |> Dense(16, activation = "relu")
  price = h |> Dense(1)
  label = h |> Dense(3)
  return price, label
}
"""

DATA = 'data d = npz("mt.npz", x = ["seq", "static"], y = ["price", "label"])\n'

TRAIN = """
train Multi on d {
  loss = per_output(price = mse, label = cross_entropy(from_logits = true))
  loss_weights = per_output(price = 0.5, label = 2.0)
  metrics = per_output(label = [accuracy])
  optimizer = adam(lr = 0.01)
  epochs = 2
  batch = 16
  seed = 3
}
"""


def _arrays(n: int = 120) -> dict[str, np.ndarray]:
    r = np.random.default_rng(0)
    seq = r.normal(size=(n, 6)).astype(np.float32)
    static = r.normal(size=(n, 3)).astype(np.float32)
    label = (seq[:, 0] > 0).astype(np.int64) + (static[:, 0] > 0)
    price = (seq.sum(1, keepdims=True) + static[:, :1]).astype(np.float32)
    return {"seq": seq, "static": static, "price": price, "label": label}


def _write(tmp_path: Path, text: str, **arrays: np.ndarray) -> Path:
    np.savez(tmp_path / "mt.npz", **(arrays or _arrays()))
    path = tmp_path / "mt.nn"
    path.write_text(text)
    return path


def _config(tmp_path: Path, text: str = MODEL + DATA + TRAIN) -> TrainConfig:
    path = _write(tmp_path, text)
    checked = check_source(text, str(path))
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    return [d.message for d in check_source(text, str(path)).diagnostics if d.is_error]


def test_trains_from_one_npz_with_per_output_logs(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert list(config.losses) == ["price", "label"]
    assert config.loss_weights == {"price": 0.5, "label": 2.0}
    result = fit(config, run_dir=tmp_path / "run")
    logs = result.history[-1]
    assert list(logs.train) == ["loss", "price_loss", "label_loss", "label_accuracy"]
    assert logs.validation is not None and list(logs.validation) == list(logs.train)
    train = logs.train
    # the epoch's mean of the weighted sum is the weighted sum of the per-output means
    assert train["loss"] == pytest.approx(
        0.5 * train["price_loss"] + 2.0 * train["label_loss"], rel=1e-4
    )
    assert result.test is not None and "label_accuracy" in result.test


def test_step_zero_loss_is_the_weighted_sum(tmp_path: Path) -> None:
    config = _config(tmp_path)
    splits = load_data(config)
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    x = {k: v[:16] for k, v in splits.train.x.items()}  # type: ignore[union-attr]
    y = {k: v[:16] for k, v in splits.train.y.items()}  # type: ignore[union-attr]
    pred = predict_outputs(config.graph, params, state, x, batch=16)
    mse = np.mean((pred["price"] - y["price"]) ** 2, axis=-1).mean()
    logits = pred["label"].astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -logp[np.arange(16), y["label"]].mean()
    out = steps.train_step(
        params,
        state,
        steps.init_opt_state(params),
        steps.init_aux(),
        x,
        y,
        jax.random.key(1),
        np.int32(0),
    )
    assert float(out[4]) == pytest.approx(0.5 * mse + 2.0 * ce, rel=1e-5)


def test_an_output_without_a_loss_is_not_trained(tmp_path: Path) -> None:
    text = (
        MODEL
        + 'data d = npz("mt.npz", x = ["seq", "static"], y = ["label"])\n'
        + TRAIN.replace("price = mse, ", "")
        .replace("price = 0.5, ", "")
        .replace("epochs = 2", "epochs = 1")
    )
    config = _config(tmp_path, text)
    assert list(config.losses) == ["label"]
    result = fit(config, run_dir=tmp_path / "run")
    assert list(result.history[-1].train) == ["loss", "label_loss", "label_accuracy"]


def test_one_output_model_logs_are_unchanged(tmp_path: Path) -> None:
    text = """
model One() {
  input seq: f32[B, 6]
  return seq |> Dense(3)
}
data d = npz("mt.npz", x = ["seq"], y = ["label"])
train One on d {
  loss = cross_entropy(from_logits = true)
  metrics = [accuracy]
  optimizer = adam(lr = 0.01)
  epochs = 1
}
"""
    text = text.replace('y = ["label"]', 'y = "label"')
    config = _config(tmp_path, text)
    assert config.losses == {}
    result = fit(config, run_dir=tmp_path / "run")
    assert list(result.history[-1].train) == ["loss", "accuracy"]


@pytest.mark.slow
def test_predict_writes_every_output(tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = nnrun("train", "mt.nn", "--out", "run", "--no-cache", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    arrays = _arrays()
    np.save(tmp_path / "seq.npy", arrays["seq"][:7])
    np.save(tmp_path / "static.npy", arrays["static"][:7])
    base = ["predict", "mt.nn", "--weights", "run/model.safetensors", "--no-cache"]
    inputs = ["--input", "seq=seq.npy", "--input", "static=static.npy"]
    done = nnrun(*base, *inputs, "--output", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "out" / "price.npy").shape == (7, 1)
    assert np.load(tmp_path / "out" / "label.npy").shape == (7, 3)
    printed = nnrun(*base, *inputs, cwd=tmp_path)
    assert printed.returncode == 0 and "price:" in printed.stdout and "label:" in printed.stdout
    assert config.graph.outputs[1].name == "label"
    # missing, unknown and unnamed inputs, a file for several outputs: one line each
    for bad, expected in (
        (inputs[:2], "needs --input for `static`"),
        ([*inputs[:2], "--input", "statc=static.npy"], "did you mean `static`"),
        (["--input", "seq.npy"], "give each as --input NAME=FILE"),
        ([*inputs, "--output", "o.npy"], "give --output a folder"),
    ):
        done = nnrun(*base, *bad, cwd=tmp_path)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("price = mse", "prise = mse"), "`Multi` has no output `prise`"),
        (('y = ["price", "label"]', 'y = ["price", "labl"]'), "has no output `labl`"),
        (('y = ["price", "label"]', 'y = ["price"]'), "has no array for output `label`"),
        (('x = ["seq", "static"]', 'x = "seq"'), "has 2 inputs to feed"),
        (('x = ["seq", "static"]', 'x = ["seq", "sttic"]'), "has no input `sttic`"),
        (("label = [accuracy]", "price = [accuracy], lable = [accuracy]"), "no output `lable`"),
        (
            (
                "loss = per_output(price = mse, label = cross_entropy(from_logits = true))",
                "loss = mse",
            ),
            "give each output that trains its own loss",
        ),
        (
            ("loss_weights = per_output(price = 0.5, ", "loss_weights = per_output(price = -1, "),
            "must be >= 0",
        ),
    ],
)
def test_wrong_keys_are_diagnostics(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    text = MODEL + DATA + TRAIN
    assert edit[0] in text
    errors = _errors(tmp_path, text.replace(*edit))
    assert any(expected in e for e in errors), errors


def test_labels_for_an_untrained_output_are_a_diagnostic(tmp_path: Path) -> None:
    text = MODEL + DATA + TRAIN.replace("price = mse, ", "").replace("price = 0.5, ", "")
    errors = _errors(tmp_path, text)
    assert any("labels output `price`, which has no loss" in e for e in errors), errors
    text = MODEL + DATA.replace('"price", ', "") + TRAIN.replace("price = mse, ", "")
    errors = _errors(tmp_path, text)
    assert any("output `price` has no loss to weigh" in e for e in errors), errors


def test_array_shapes_are_checked_by_name_before_training(tmp_path: Path) -> None:
    config = _config(tmp_path)
    arrays = _arrays()
    arrays["static"] = arrays["static"][:, :2]
    np.savez(tmp_path / "mt.npz", **arrays)
    with pytest.raises(DataError, match=r"array 'static' has shape \[120, 2\], but input `static`"):
        load_data(config)
    arrays = _arrays()
    arrays["label"] = arrays["label"] + 5
    np.savez(tmp_path / "mt.npz", **arrays)
    with pytest.raises(DataError, match="labels of output `label`"):
        load_data(config)
    arrays = _arrays()
    del arrays["price"]
    np.savez(tmp_path / "mt.npz", **arrays)
    with pytest.raises(DataError, match="no array 'price' for the labels of output 'price'"):
        load_data(config)


def test_input_order_follows_the_model(tmp_path: Path) -> None:
    config = _config(tmp_path)
    splits = load_data(config)
    ordered = input_list(config.graph, splits.train.x)
    assert [a.shape[1] for a in ordered] == [6, 3]
