"""Optimizer options on their own (clipping, accumulation, EMA) and inside real training runs
from checked source: a schedule with clipping, accumulation and EMA through the jitted step."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndsl.backend.jax import implementation
from nndsl.backend.jax.impls.optimizers import EmaState, final_weights
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import fit, predict
from tests.runtime.helpers import blobs, write_npz


def _config(optimizer: str, path: Path, epochs: int = 3) -> TrainConfig:
    source = f"""
model Blobs() {{
  input x: f32[B, 4]
  return x |> Dense(16, activation = "relu") |> Dense(3)
}}

data blobs = npz("blobs.npz")

train Blobs on blobs {{
  loss = cross_entropy(from_logits = true)
  optimizer = {optimizer}
  metrics = [accuracy]
  epochs = {epochs}
  batch = 16
  seed = 3
}}
"""
    x, y = blobs()
    write_npz(path, "blobs.npz", x=x, y=y)
    checked = check_source(source, str(path / "blobs.nn"))
    assert not checked.has_errors, render_plain(checked.diagnostics)
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


def _tx(text: str, tmp_path: Path) -> optax.GradientTransformation:
    call = _config(text, tmp_path).optimizer
    tx: optax.GradientTransformation = implementation(call.op)(call.attrs)
    return tx


def _step(tx: optax.GradientTransformation, state: object, g: np.ndarray) -> tuple:
    params = {"w": jnp.zeros(g.shape)}
    updates, state = tx.update({"w": jnp.asarray(g)}, state, params)
    return np.asarray(updates["w"]), state


G = np.array([30.0, -40.0, 0.5], np.float32)
G_NORM = float(np.linalg.norm(G))  # about 50


@pytest.mark.parametrize(
    ("options", "want"),
    [
        ("clipvalue = 1.0", np.clip(G, -1.0, 1.0)),
        ("clipnorm = 5.0", G * 5.0 / G_NORM),
        ("global_clipnorm = 5.0", G * 5.0 / G_NORM),
        ("clipnorm = 100.0", G),
    ],
)
def test_clipping_bounds_the_step(options: str, want: np.ndarray, tmp_path: Path) -> None:
    tx = _tx(f"sgd(lr = 0.1, {options})", tmp_path)
    update, _ = _step(tx, tx.init({"w": jnp.zeros(3)}), G)
    np.testing.assert_allclose(update, -0.1 * want, rtol=1e-6)


def test_clipnorm_is_per_tensor_and_global_clipnorm_is_not(tmp_path: Path) -> None:
    grads = {"a": jnp.asarray([3.0, 4.0]), "b": jnp.asarray([0.3, 0.4])}
    params = {k: jnp.zeros(2) for k in grads}
    each = _tx("sgd(lr = 1.0, clipnorm = 1.0)", tmp_path)
    whole = _tx("sgd(lr = 1.0, global_clipnorm = 1.0)", tmp_path)
    u_each, _ = each.update(grads, each.init(params), params)
    u_whole, _ = whole.update(grads, whole.init(params), params)
    np.testing.assert_allclose(u_each["a"], [-0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(u_each["b"], [-0.3, -0.4], rtol=1e-6)  # under the limit
    scale = 1.0 / np.sqrt(25.0 + 0.25)
    np.testing.assert_allclose(u_whole["b"], [-0.3 * scale, -0.4 * scale], rtol=1e-5)


def test_accumulation_updates_every_k_batches_with_the_mean(tmp_path: Path) -> None:
    tx = _tx("sgd(lr = 1.0, gradient_accumulation_steps = 3)", tmp_path)
    state = tx.init({"w": jnp.zeros(3)})
    batches = [G, 2 * G, 3 * G, G]
    updates = []
    for g in batches:
        update, state = _step(tx, state, g)
        updates.append(update)
    np.testing.assert_array_equal(updates[0], 0.0)
    np.testing.assert_array_equal(updates[1], 0.0)
    np.testing.assert_allclose(updates[2], -2.0 * G, rtol=1e-6)  # mean of G, 2G, 3G
    np.testing.assert_array_equal(updates[3], 0.0)


def test_weight_decay_shrinks_weights_without_gradient(tmp_path: Path) -> None:
    tx = _tx("adam(lr = 0.1, weight_decay = 0.5)", tmp_path)
    params = {"w": jnp.asarray([2.0, -4.0])}
    updates, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.1, 0.2], rtol=1e-6)  # -lr * wd * w


def test_schedule_with_clipping_trains(tmp_path: Path) -> None:
    optimizer = (
        "adam(lr = cosine_decay(0.0, 30, warmup_target = 0.05, warmup_steps = 5), "
        "global_clipnorm = 1.0)"
    )
    result = fit(_config(optimizer, tmp_path))
    losses = [e.train["loss"] for e in result.history]
    assert losses[-1] < losses[0]
    assert result.test is not None and result.test["accuracy"] > 0.8


def test_accumulation_and_ema_in_the_jitted_step(tmp_path: Path) -> None:
    optimizer = (
        "sgd(lr = piecewise_constant_decay([20], [0.2, 0.05]), momentum = 0.9, "
        "gradient_accumulation_steps = 2, use_ema = true, ema_momentum = 0.9)"
    )
    config = _config(optimizer, tmp_path, epochs=4)
    result = fit(config)
    assert result.test is not None and result.test["accuracy"] > 0.8
    assert isinstance(result.opt_state[-1], EmaState)
    # `fit` ends with the EMA as the weights (Keras's finalize_variable_values)
    ema = result.opt_state[-1].ema
    for layer, weights in result.params.items():
        for name, value in weights.items():
            np.testing.assert_array_equal(value, ema[layer][name])
    assert final_weights(result.params, result.opt_state) is ema
    wrapped = optax.inject_hyperparams(lambda scale: optax.scale(scale))(scale=1.0)
    nested = (wrapped.init(result.params), result.opt_state)
    assert final_weights(result.params, nested) is ema  # found inside a wrapped state
    x, _ = blobs()
    assert predict(config.graph, result.params, result.state, x[:5]).shape == (5, 3)
