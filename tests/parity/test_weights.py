"""Initializers' statistics, regularizer penalties and constraint projections against Keras."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.training import build_steps
from nndsl.ir import OpCall
from nndsl.ops import lookup
from nndsl.source import Span
from tests.parity.harness import nn_graph

W = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)


def _model(kernel_args: str) -> str:
    return (
        f"model Parity() {{\n    input x: f32[B, 6]\n    return x |> Dense(4, {kernel_args})\n}}\n"
    )


@pytest.mark.parametrize(
    ("nn", "reference"),
    [
        ("l1(0.3)", keras.regularizers.L1(0.3)),
        ("l2(0.2)", keras.regularizers.L2(0.2)),
        ("l1_l2(l1 = 0.1, l2 = 0.05)", keras.regularizers.L1L2(l1=0.1, l2=0.05)),
        ('"l2"', keras.regularizers.get("l2")),
    ],
)
def test_kernel_regularizer_penalty(nn: str, reference: object) -> None:
    model = compile_graph(nn_graph(_model(f"kernel_regularizer = {nn}")))
    params, _ = model.init(jax.random.key(0))
    params["dense"]["kernel"] = jnp.asarray(W)
    expected = float(reference(W))  # type: ignore[operator]
    np.testing.assert_allclose(float(model.penalty(params)), expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("nn", "reference"),
    [
        ("max_norm(1.5)", keras.constraints.MaxNorm(1.5)),
        ("non_neg", keras.constraints.NonNeg()),
        ("unit_norm", keras.constraints.UnitNorm()),
        ("min_max_norm(0.5, 2.0, rate = 0.5)", keras.constraints.MinMaxNorm(0.5, 2.0, 0.5)),
    ],
)
def test_kernel_constraint_projection(nn: str, reference: object) -> None:
    model = compile_graph(nn_graph(_model(f"kernel_constraint = {nn}")))
    params, _ = model.init(jax.random.key(0))
    params["dense"]["kernel"] = jnp.asarray(W)
    out = model.constrain(params)["dense"]["kernel"]
    np.testing.assert_allclose(np.asarray(out), np.asarray(reference(W)), atol=1e-6)  # type: ignore[operator]
    assert params["dense"]["kernel"] is not out  # the input tree is left alone


def test_activity_regularizer_adds_to_the_objective() -> None:
    model = compile_graph(nn_graph(_model("activity_regularizer = l2(0.5)")))
    params, state = model.init(jax.random.key(0))
    x = np.ones((3, 6), np.float32)
    outs, _, added = model.apply_with_losses(params, state, [x])
    expected = 0.5 * float(jnp.sum(outs[0] ** 2)) / x.shape[0]  # Keras 3 divides by the batch
    np.testing.assert_allclose(float(added), expected, rtol=1e-6)


def test_train_step_applies_penalty_and_constraint() -> None:
    graph = nn_graph(_model("kernel_regularizer = l2(0.1), kernel_constraint = non_neg"))

    def op(name: str, **attrs: object) -> OpCall:
        spec = lookup(name)
        assert spec is not None
        full = {a.name: attrs.get(a.name, a.default) for a in spec.args}
        return OpCall(spec, full, Span(0, 0))  # type: ignore[arg-type]

    steps = build_steps(graph, op("mse"), op("sgd", learning_rate=0.1))
    params, state = steps.model.init(jax.random.key(0))
    opt = steps.init_opt_state(params)
    x = np.random.default_rng(1).normal(size=(8, 6)).astype(np.float32)
    y = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    kernel = np.asarray(params["dense"]["kernel"])
    pred = x @ kernel + np.asarray(params["dense"]["bias"])
    expected_loss = np.mean((pred - y) ** 2) + 0.1 * np.sum(kernel**2)
    params, state, opt, _, loss, _, _ = steps.train_step(
        params, state, opt, steps.init_aux(), x, y, jax.random.key(3), jnp.asarray(0)
    )
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    assert float(jnp.min(params["dense"]["kernel"])) >= 0.0
    assert isinstance(steps.optimizer, optax.GradientTransformation)
