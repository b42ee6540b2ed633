"""Optimizers and learning-rate schedules against Keras 3 (JAX backend), or NumPy where the
algorithms differ (see `nndsl/backend/jax/impls/optimizers.py`).

Each optimizer is written as nndsl source, goes through the real checker (defaults filled in
there), is built from optax, and takes a few steps on a small quadratic next to Keras's
optimizer of the same name and options, fed the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

from nndsl.backend.jax import implementation
from nndsl.backend.jax.impls.optimizers import final_weights
from nndsl.backend.jax.impls.schedules import learning_rate
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ir import OpCall

K = keras.optimizers
S = keras.optimizers.schedules
STEPS = 8
# Gradients of sum(c * w^2) - sum(w) stay well away from zero on these weights, so the
# libraries' different epsilon placements stay below 1e-6.
W_VECTOR = np.array([0.9, -1.3, 2.0, -0.4], np.float32)
W_MATRIX = np.array([[0.9, -1.3, 2.0], [-0.4, 1.1, -0.7]], np.float32)


def optimizer_call(text: str) -> OpCall:
    """`text` as the `optimizer` of a train section, through the checker."""
    source = (
        "model M() {\n  input x: f32[B, 4]\n  return x |> Dense(1)\n}\n"
        'data d = npz("d.npz")\n'
        f"train M on d {{\n  loss = mse\n  optimizer = {text}\n}}\n"
    )
    checked = check_source(source, "opt.nn")
    assert not checked.has_errors, render_plain(checked.diagnostics)
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train.optimizer


def build(text: str) -> optax.GradientTransformation:
    call = optimizer_call(text)
    tx: optax.GradientTransformation = implementation(call.op)(call.attrs)
    return tx


def grad(w: np.ndarray) -> np.ndarray:
    c = np.arange(1, w.size + 1, dtype=np.float32).reshape(w.shape)
    return (2.0 * c * w - 1.0).astype(np.float32)


def run_nndsl(text: str, w0: np.ndarray, steps: int = STEPS) -> tuple[np.ndarray, Any]:
    """The weights after each step, and the final optimizer state."""
    tx = build(text)
    params = {"w": jnp.asarray(w0)}
    state = tx.init(params)
    out = []
    for _ in range(steps):
        g = {"w": jnp.asarray(grad(np.asarray(params["w"])))}
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params["w"]))
    return np.array(out), state


def run_keras(opt: Any, w0: np.ndarray, steps: int = STEPS) -> tuple[np.ndarray, Any]:
    var = keras.Variable(w0)
    out = []
    for _ in range(steps):
        opt.apply_gradients([(jnp.asarray(grad(np.asarray(var.value))), var)])
        out.append(np.asarray(var.value))
    return np.array(out), var


# nndsl source, Keras optimizer; every optimizer, then the common options.
KERAS_CASES: list[tuple[str, Callable[[], Any]]] = [
    ("sgd(lr = 0.05)", lambda: K.SGD(0.05)),
    ("sgd(0.05, momentum = 0.9)", lambda: K.SGD(0.05, momentum=0.9)),
    (
        "sgd(lr = 0.05, momentum = 0.9, nesterov = true)",
        lambda: K.SGD(0.05, momentum=0.9, nesterov=True),
    ),
    ("rmsprop(lr = 0.01)", lambda: K.RMSprop(0.01)),
    (
        "rmsprop(lr = 0.01, rho = 0.8, momentum = 0.5, centered = true)",
        lambda: K.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    ),
    ("adam(lr = 0.01)", lambda: K.Adam(0.01)),
    ("adam(lr = 0.01, beta_1 = 0.8, beta_2 = 0.99)", lambda: K.Adam(0.01, 0.8, 0.99)),
    ("adamw(lr = 0.01)", lambda: K.AdamW(0.01)),
    ("adamw(lr = 0.01, weight_decay = 0.1)", lambda: K.AdamW(0.01, weight_decay=0.1)),
    ("adamax(lr = 0.01)", lambda: K.Adamax(0.01)),
    ("adagrad(lr = 0.1)", lambda: K.Adagrad(0.1)),
    ("adagrad(lr = 0.1, initial_accumulator_value = 0.5)", lambda: K.Adagrad(0.1, 0.5)),
    ("adadelta(lr = 1.0)", lambda: K.Adadelta(1.0)),
    ("adadelta(lr = 1.0, rho = 0.9)", lambda: K.Adadelta(1.0, rho=0.9)),
    ("adafactor(lr = 0.1)", lambda: K.Adafactor(0.1)),
    ("adafactor(lr = 0.1, clip_threshold = 0.5)", lambda: K.Adafactor(0.1, clip_threshold=0.5)),
    ("lion(lr = 0.01)", lambda: K.Lion(0.01)),
    ("lamb(lr = 0.01)", lambda: K.Lamb(0.01)),
    # common options
    ("sgd(lr = 0.05, clipnorm = 0.5)", lambda: K.SGD(0.05, clipnorm=0.5)),
    ("sgd(lr = 0.05, global_clipnorm = 0.5)", lambda: K.SGD(0.05, global_clipnorm=0.5)),
    ("sgd(lr = 0.05, clipvalue = 0.5)", lambda: K.SGD(0.05, clipvalue=0.5)),
    ("adam(lr = 0.05, clipnorm = 1.0)", lambda: K.Adam(0.05, clipnorm=1.0)),
    (
        "sgd(lr = 0.05, momentum = 0.9, weight_decay = 0.3)",
        lambda: K.SGD(0.05, momentum=0.9, weight_decay=0.3),
    ),
    ("rmsprop(lr = 0.01, weight_decay = 0.2)", lambda: K.RMSprop(0.01, weight_decay=0.2)),
    ("lion(lr = 0.01, weight_decay = 0.5)", lambda: K.Lion(0.01, weight_decay=0.5)),
    (
        "sgd(lr = 0.05, gradient_accumulation_steps = 3)",
        lambda: K.SGD(0.05, gradient_accumulation_steps=3),
    ),
    (
        "sgd(lr = 0.05, momentum = 0.5, gradient_accumulation_steps = 2, clipnorm = 0.5)",
        lambda: K.SGD(0.05, momentum=0.5, gradient_accumulation_steps=2, clipnorm=0.5),
    ),
    ("adam(lr = 0.05, use_ema = true)", lambda: K.Adam(0.05, use_ema=True)),
    (
        "adam(lr = 0.05, gradient_accumulation_steps = 3)",
        lambda: K.Adam(0.05, gradient_accumulation_steps=3),
    ),
    (
        "sgd(lr = 0.05, use_ema = true, ema_momentum = 0.7, gradient_accumulation_steps = 2)",
        lambda: K.SGD(0.05, use_ema=True, ema_momentum=0.7, gradient_accumulation_steps=2),
    ),
    (
        "sgd(lr = exponential_decay(0.1, 3, 0.5))",
        lambda: K.SGD(S.ExponentialDecay(0.1, 3, 0.5)),
    ),
    (
        "adam(lr = piecewise_constant_decay([2, 5], [0.05, 0.02, 0.01]))",
        lambda: K.Adam(S.PiecewiseConstantDecay([2, 5], [0.05, 0.02, 0.01])),
    ),
    (
        "rmsprop(lr = cosine_decay(0.0, 5, warmup_target = 0.02, warmup_steps = 3))",
        lambda: K.RMSprop(S.CosineDecay(0.0, 5, warmup_target=0.02, warmup_steps=3)),
    ),
]


@pytest.mark.parametrize(("text", "make"), KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_optimizer_matches_keras(text: str, make: Callable[[], Any]) -> None:
    for w0 in (W_VECTOR, W_MATRIX):
        ours, state = run_nndsl(text, w0)
        theirs, _ = run_keras(make(), w0)
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5, err_msg=text)
        if "use_ema" in text:
            # Keras's `fit` ends with `finalize_variable_values`: the weights become the EMA.
            keras_opt = make()
            var2 = keras.Variable(w0)
            for _ in range(STEPS):
                keras_opt.apply_gradients([(jnp.asarray(grad(np.asarray(var2.value))), var2)])
            keras_opt.finalize_variable_values([var2])
            ema = final_weights({"w": ours[-1]}, state)["w"]
            np.testing.assert_allclose(ema, np.asarray(var2.value), atol=1e-5, rtol=1e-5)
            assert not np.allclose(ema, ours[-1])


def test_without_ema_the_final_weights_are_the_trained_ones() -> None:
    ours, state = run_nndsl("adam(lr = 0.05)", W_VECTOR)
    params = {"w": ours[-1]}
    assert final_weights(params, state) is params


# -- where optax and Keras differ: hand-written NumPy references of optax's rules -----------
def numpy_nadam(w0: np.ndarray, lr: float, b1: float, b2: float, eps: float) -> np.ndarray:
    """optax's Nadam (Dozat's Nesterov Adam without Keras's momentum-decay schedule)."""
    w, m, v, out = w0.astype(np.float64), 0.0, 0.0, []
    for t in range(1, STEPS + 1):
        g = grad(w.astype(np.float32)).astype(np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w.copy())
    return np.array(out)


def numpy_amsgrad(w0: np.ndarray, lr: float, b1: float, b2: float, eps: float) -> np.ndarray:
    """optax's AMSGrad: the running maximum of the bias-corrected second moment."""
    w, m, v, v_max, out = w0.astype(np.float64), 0.0, 0.0, 0.0, []
    for t in range(1, STEPS + 1):
        g = grad(w.astype(np.float32)).astype(np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v / (1 - b2**t))
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v_max) + eps)
        out.append(w.copy())
    return np.array(out)


@pytest.mark.parametrize("w0", [W_VECTOR, W_MATRIX], ids=["vector", "matrix"])
def test_nadam_follows_optax_rule(w0: np.ndarray) -> None:
    ours, _ = run_nndsl("nadam(lr = 0.01, beta_1 = 0.8)", w0)
    np.testing.assert_allclose(ours, numpy_nadam(w0, 0.01, 0.8, 0.999, 1e-7), atol=1e-5)
    theirs, _ = run_keras(K.Nadam(0.01, beta_1=0.8), w0)
    assert np.abs(ours - theirs).max() > 1e-4  # the documented difference is real


def test_amsgrad_follows_optax_rule() -> None:
    ours, _ = run_nndsl("adam(lr = 0.05, beta_2 = 0.9, amsgrad = true)", W_VECTOR)
    np.testing.assert_allclose(ours, numpy_amsgrad(W_VECTOR, 0.05, 0.9, 0.9, 1e-7), atol=1e-5)


# -- schedules ----------------------------------------------------------------------------
SCHEDULE_STEPS = [0, 1, 2, 7, 99, 100, 101, 250, 999, 1000, 1001, 2500, 10_000]
SCHEDULE_CASES: list[tuple[str, Callable[[], Any]]] = [
    ("exponential_decay(0.1, 100, 0.5)", lambda: S.ExponentialDecay(0.1, 100, 0.5)),
    (
        "exponential_decay(0.1, 100, 0.5, staircase = true)",
        lambda: S.ExponentialDecay(0.1, 100, 0.5, staircase=True),
    ),
    ("inverse_time_decay(0.1, 100, 0.5)", lambda: S.InverseTimeDecay(0.1, 100, 0.5)),
    (
        "inverse_time_decay(0.1, 100, 0.5, staircase = true)",
        lambda: S.InverseTimeDecay(0.1, 100, 0.5, staircase=True),
    ),
    (
        "piecewise_constant_decay([100, 1000], [0.1, 0.01, 0.001])",
        lambda: S.PiecewiseConstantDecay([100, 1000], [0.1, 0.01, 0.001]),
    ),
    ("piecewise_constant([250], [1.0, 0.5])", lambda: S.PiecewiseConstantDecay([250], [1.0, 0.5])),
    ("polynomial_decay(0.1, 1000)", lambda: S.PolynomialDecay(0.1, 1000)),
    (
        "polynomial_decay(0.1, 1000, end_learning_rate = 0.001, power = 2.0)",
        lambda: S.PolynomialDecay(0.1, 1000, end_learning_rate=0.001, power=2.0),
    ),
    (
        "polynomial_decay(0.1, 1000, power = 0.5, cycle = true)",
        lambda: S.PolynomialDecay(0.1, 1000, power=0.5, cycle=True),
    ),
    ("cosine_decay(0.1, 1000)", lambda: S.CosineDecay(0.1, 1000)),
    ("cosine_decay(0.1, 1000, alpha = 0.1)", lambda: S.CosineDecay(0.1, 1000, alpha=0.1)),
    (
        "cosine_decay(0.0, 1000, warmup_target = 0.1, warmup_steps = 100)",
        lambda: S.CosineDecay(0.0, 1000, warmup_target=0.1, warmup_steps=100),
    ),
    (
        "cosine_decay(0.01, 900, alpha = 0.05, warmup_target = 0.2, warmup_steps = 250)",
        lambda: S.CosineDecay(0.01, 900, alpha=0.05, warmup_target=0.2, warmup_steps=250),
    ),
]


def schedule(text: str) -> Callable[[Any], Any]:
    """The schedule as the optimizer receives it, through the checker."""
    value = optimizer_call(f"sgd(learning_rate = {text})").attrs["learning_rate"]
    made = learning_rate(value)
    assert callable(made), f"{text} did not make a schedule"
    return made


@pytest.mark.parametrize(("text", "make"), SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_matches_keras(text: str, make: Callable[[], Any]) -> None:
    ours, theirs = schedule(text), make()
    got = [float(ours(jnp.asarray(s, jnp.int32))) for s in SCHEDULE_STEPS]
    want = [float(theirs(s)) for s in SCHEDULE_STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8, err_msg=text)


def test_constant_schedule_and_number() -> None:
    assert float(schedule("constant_schedule(0.25)")(jnp.asarray(123))) == 0.25
    assert learning_rate(optimizer_call("adam(lr = 0.25)").attrs["learning_rate"]) == 0.25


def numpy_one_cycle(
    step: int, total: int, peak: float, pct: float, div: float, final: float, cos: bool
) -> float:
    """Smith's one cycle: rise to `peak` over `pct` of the steps, then fall to the end rate."""
    start, end, rise = peak / div, peak / div / final, int(pct * total)

    def interp(a: float, b: float, frac: float) -> float:
        frac = min(max(frac, 0.0), 1.0)
        if cos:
            return b + (a - b) * (1 + np.cos(np.pi * frac)) / 2
        return a + (b - a) * frac

    if step < rise:
        return interp(start, peak, step / rise)
    return interp(peak, end, (step - rise) / (total - rise))


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_against_numpy(anneal: str) -> None:
    ours = schedule(
        f'one_cycle(1000, 0.1, pct_start = 0.25, div_factor = 10.0, anneal = "{anneal}")'
    )
    for s in [0, 1, 100, 249, 250, 251, 600, 999, 1000, 1500]:
        want = numpy_one_cycle(s, 1000, 0.1, 0.25, 10.0, 1e4, anneal == "cos")
        assert float(ours(jnp.asarray(s))) == pytest.approx(want, rel=1e-4, abs=1e-8), s
