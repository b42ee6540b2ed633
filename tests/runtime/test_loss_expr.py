"""`loss = <expression>` in `train`: written over the model's outputs, inputs and labels, with
the built-in losses as functions; checked to a float scalar, trained as the objective."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import steps_for
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import DataError, fit

AE = """
model Ae() {
  input x: f32[B, 8]
  z = x |> Dense(3, activation = "tanh")
  x_hat = z |> Dense(8, activation = "sigmoid")
  return x_hat
}
data d = npz("d.npz", x = "x")
"""

VAE = """
model Vae() {
  input x: f32[B, 8]
  h = x |> Dense(16, activation = "relu")
  z_mean = h |> Dense(2)
  log_var = h |> Dense(2)
  x_hat = z_mean |> Dense(8, activation = "sigmoid")
  return x_hat, z_mean, log_var
}
data d = npz("d.npz", x = "x")
"""

TWO = """
model Two() {
  input x: f32[B, 8]
  p = x |> Dense(3, activation = "sigmoid")
  return p
}
data d = npz("d.npz", x = "x", y = "y")
"""

MULTI = """
model Heads() {
  input x: f32[B, 8]
  h = x |> Dense(8, activation = "relu")
  price = h |> Dense(1)
  code = h |> Dense(4)
  return price, code
}
data d = npz("d.npz", x = "x", y = ["price"])
"""


def _train(loss: str, rest: str = "") -> str:
    return (
        f"train {{model}} on d {{\n  loss = {loss}\n  optimizer = adam(learning_rate = 0.02)\n"
        f"  epochs = 4\n  batch = 16\n  validation_split = 0.0\n{rest}}}\n"
    )


def _write(tmp_path: Path, text: str) -> Path:
    r = np.random.default_rng(0)
    x = r.uniform(size=(64, 8)).astype(np.float32)
    y = r.uniform(size=(64, 3)).astype(np.float32)
    price = x.sum(axis=1, keepdims=True)
    np.savez(tmp_path / "d.npz", x=x, y=y, price=price)
    path = tmp_path / "m.nn"
    path.write_text(text)
    return path


def _config(tmp_path: Path, model: str, name: str, loss: str, rest: str = "") -> TrainConfig:
    text = model + _train(loss, rest).replace("{model}", name)
    checked = check_source(text, str(_write(tmp_path, text)))
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def _errors(tmp_path: Path, model: str, name: str, loss: str, rest: str = "") -> list[str]:
    text = model + _train(loss, rest).replace("{model}", name)
    checked = check_source(text, str(_write(tmp_path, text)))
    out = []
    for d in checked.diagnostics:
        if d.is_error:
            span = d.primary.span
            out.append(f"{d.code} {d.message} @ {text[span.start : span.end]}")
    return out


def _losses(tmp_path: Path, config: TrainConfig) -> list[float]:
    return [e.train["loss"] for e in fit(config, run_dir=tmp_path / "run").history]


def test_autoencoder_reads_its_input_as_the_label_with_no_y_in_the_data(tmp_path: Path) -> None:
    config = _config(tmp_path, AE, "Ae", "mse(x, x_hat)")
    assert config.loss_expr is not None
    assert dict(config.loss_expr.sources) == {"x_hat": ("output", "x_hat"), "x": ("input", "x")}
    r = np.random.default_rng(1)
    np.savez(tmp_path / "d.npz", x=r.uniform(size=(64, 8)).astype(np.float32))  # no "y"
    losses = _losses(tmp_path, config)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_weighted_sum_of_built_in_losses_equals_the_hand_computation(tmp_path: Path) -> None:
    config = _config(tmp_path, TWO, "Two", "0.3 * mse(y, p) + 2 * binary_crossentropy(y, p)")
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    data = np.load(tmp_path / "d.npz")
    x, y = data["x"][:16], data["y"][:16]
    total, _, count = steps.eval_step(params, state, x, {"y": y}, np.ones(16, np.float32))
    (p,), _ = steps.model.apply(params, state, [x])
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    mse = np.mean((y - p) ** 2)
    bce = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert float(total) / float(count) == pytest.approx(0.3 * mse + 2 * bce, rel=1e-5)


def test_vae_kl_term_decreases(tmp_path: Path) -> None:
    kl = "mean(-0.5 * (1 + log_var - square(z_mean) - exp(log_var)))"
    config = _config(tmp_path, VAE, "Vae", f"binary_crossentropy(x, x_hat) * 8 + 0.1 * {kl}")
    assert config.loss_expr is not None and config.loss_expr.labels() == {}
    kl_only = _config(tmp_path, VAE, "Vae", kl)
    losses = _losses(tmp_path, kl_only)
    assert losses[-1] < losses[0]
    assert np.all(np.isfinite(_losses(tmp_path, config)))


def test_labels_of_a_named_output_are_y_and_its_name(tmp_path: Path) -> None:
    config = _config(tmp_path, MULTI, "Heads", "mse(y_price, price) + 0.01 * mean(square(code))")
    assert config.loss_expr is not None and config.loss_expr.labels() == {"y_price": "price"}
    assert config.losses == {}
    losses = _losses(tmp_path, config)
    assert losses[-1] < losses[0]


def test_missing_labels_are_one_line_before_training(tmp_path: Path) -> None:
    config = _config(tmp_path, TWO, "Two", "mse(y, p)")
    np.savez(tmp_path / "d.npz", x=np.zeros((8, 8), np.float32), y=np.zeros((8, 5), np.float32))
    with pytest.raises(
        DataError,
        match=r"the labels `y` \(labels of output `p` for mean_squared_error\): expected labels "
        r"shaped like the prediction \[B, 3\], found shape \[8, 5\]",
    ):
        fit(config, run_dir=tmp_path / "run")


def test_a_loss_that_is_not_a_scalar_is_a_diagnostic_with_its_span(tmp_path: Path) -> None:
    errors = _errors(tmp_path, VAE, "Vae", "mse(x, x_hat) + square(z_mean)")
    assert errors == [
        "E0601 a loss expression must be a float scalar `f32[]`, found `f32[B, 2]` "
        "@ mse(x, x_hat) + square(z_mean)"
    ]


def test_unknown_names_suggest_outputs_and_functions(tmp_path: Path) -> None:
    errors = _errors(tmp_path, VAE, "Vae", "mse(x, x_hat) + mean(z_maen)")
    assert errors == ["E0101 unknown name `z_maen` @ z_maen"]
    text = VAE + _train("mse(x, x_hat) + mean(z_maen)").replace("{model}", "Vae")
    checked = check_source(text, str(_write(tmp_path, text)))
    assert "did you mean `z_mean`" in (checked.diagnostics[0].help or "")


def test_labels_must_fit_the_loss_and_settings_that_need_a_built_in_loss(tmp_path: Path) -> None:
    errors = _errors(tmp_path, VAE, "Vae", "mse(x, z_mean)")
    assert len(errors) == 1 and errors[0].startswith("E0201 `mean_squared_error`: labels `[B, 8]`")
    ae = AE.replace('x = "x")', 'x = "x", y = [])')
    errors = _errors(tmp_path, ae, "Ae", "mse(x, x_hat)", "  metrics = [mae]\n")
    assert errors == [
        "E0601 `metrics` compare an output with its labels, but data `d` gives none @ metrics"
    ]


ADDED = """
block Enc(units: int) {
  input x: f32[B, 8]
  h = x |> Dense(units, activation = "relu")
  h = h |> add_loss(0.5 * mean(square(h)))
  return h
}
model Ae() {
  input x: f32[B, 8]
  x_hat = x |> Enc(4) |> Dense(8)
  return x_hat
}
data d = npz("d.npz", x = "x")
"""


def test_a_block_adds_its_own_loss_to_the_objective(tmp_path: Path) -> None:
    config = _config(tmp_path, ADDED, "Ae", "mse(x, x_hat)")
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    x = np.load(tmp_path / "d.npz")["x"][:16]
    (x_hat,), _, added = steps.model.apply_with_losses(params, state, [x], training=True)
    dense = params["enc/dense"]
    h = np.maximum(x @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"]), 0.0)
    assert float(added) == pytest.approx(0.5 * np.mean(h**2), rel=1e-5)
    opt = steps.init_opt_state(params)
    out = steps.train_step(
        params, state, opt, steps.init_aux(), x, {}, jax.random.key(1), np.int32(0)
    )
    expected = np.mean((x - np.asarray(x_hat)) ** 2) + 0.5 * np.mean(h**2)
    assert float(out[4]) == pytest.approx(expected, rel=1e-5)


def test_an_added_loss_that_is_not_a_scalar_is_a_diagnostic(tmp_path: Path) -> None:
    model = ADDED.replace("0.5 * mean(square(h))", "square(h)")
    errors = _errors(tmp_path, model, "Ae", "mse(x, x_hat)")
    assert errors == [
        "E0201 `add_loss`: the added loss must be a float scalar `f32[]`, found `f32[B, 4]` "
        "@ add_loss(square(h))"
    ]
