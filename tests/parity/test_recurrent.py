"""Keras 3 parity of the recurrent layers: SimpleRNN, LSTM, GRU and Bidirectional.

Keras's weights (biases included) are set to random values first, so every block of the
gate layouts is exercised; masks hide steps at the start, in the middle and at the end.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.training import build_steps
from nndsl.ir.summary import summarize
from tests.backend.graphs import call
from tests.cli import nnrun
from tests.parity.harness import nn_graph, parity, random_inputs

B, T, F = 3, 5, 4
# Keras's reference (non-cuDNN) path. On a GPU, `use_cudnn="auto"` switches LSTM/GRU to
# cuDNN, which returns `go_backwards` sequences in the opposite time order (seen on an H100
# with Keras 3.15.1), so Keras disagrees with itself there; nndsl follows the reference path.
KLSTM = functools.partial(keras.layers.LSTM, use_cudnn=False)
KGRU = functools.partial(keras.layers.GRU, use_cudnn=False)
LAYERS = {"SimpleRNN": keras.layers.SimpleRNN, "LSTM": KLSTM, "GRU": KGRU}
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def randomized(layer: Any, shape: tuple[int, ...] = (B, T, F), seed: int = 0) -> Any:
    """Build `layer` and give every weight random values (Keras starts biases at 0 or 1)."""
    layer.build(shape)
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype(np.float32))
    return layer


def mask_array() -> np.ndarray:
    m = np.ones((B, T), dtype=bool)
    m[0, 0] = False  # first step masked: the held output is the zero initial state
    m[1, 2:4] = False  # a gap in the middle
    m[2, -1] = False  # the last step masked
    return m


def with_mask(layer: Any, xs: list[np.ndarray], training: bool) -> Any:
    return layer(xs[0], mask=xs[1], training=training)


def nn_args(options: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        return str(v)

    return "".join(f", {k} = {value(v)}" for k, v in options.items())


OPTIONS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"activation": "relu", "use_bias": False},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "default")
@pytest.mark.parametrize("name", LAYERS)
def test_layer(name: str, options: dict[str, Any]) -> None:
    layer = randomized(LAYERS[name](3, **options))
    parity(f"{name}(3{nn_args(options)})", layer, [(B, T, F)])


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_reset_after(reset_after: bool, return_sequences: bool) -> None:
    options = {"reset_after": reset_after, "return_sequences": return_sequences}
    layer = randomized(KGRU(3, **options))
    result = parity(f"GRU(3{nn_args(options)})", layer, [(B, T, F)])
    assert result.params["gru_cell.bias"].shape == ((2, 9) if reset_after else (9,))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_activations(name: str) -> None:
    options = {"activation": "relu", "recurrent_activation": "hard_sigmoid"}
    layer = randomized(LAYERS[name](3, **options))
    parity(f"{name}(3{nn_args(options)})", layer, [(B, T, F)])


@pytest.mark.parametrize(
    "options",
    [{}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True}],
    ids=lambda o: "-".join(o) or "default",
)
@pytest.mark.parametrize("name", LAYERS)
def test_mask(name: str, options: dict[str, Any]) -> None:
    layer = randomized(LAYERS[name](3, **options))
    x = random_inputs([(B, T, F)])[0]
    result = parity(
        f"{name}(3{nn_args(options)})", layer, inputs=[x, mask_array()], keras_call=with_mask
    )
    # The mask matters: without it the outputs differ.
    unmasked = np.asarray(layer(x))
    assert not np.allclose(unmasked, result.nn_outputs[0], atol=1e-4)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name", LAYERS)
def test_return_state(name: str, return_sequences: bool) -> None:
    options = {"return_state": True, "return_sequences": return_sequences}
    layer = randomized(LAYERS[name](3, **options))
    result = parity(
        f"{name}(3{nn_args(options)})",
        layer,
        inputs=[random_inputs([(B, T, F)])[0], mask_array()],
        n_outputs=1 + N_STATES[name],
        keras_call=with_mask,
    )
    assert [o.shape for o in result.nn_outputs][1:] == [(B, 3)] * N_STATES[name]


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merge_modes(mode: str) -> None:
    layer = randomized(
        keras.layers.Bidirectional(KLSTM(3, return_sequences=True, name="lstm"), merge_mode=mode)
    )
    parity(
        f'Bidirectional(LSTM(3, return_sequences = true), merge_mode = "{mode}")',
        layer,
        [(B, T, F)],
    )


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_unmerged_returns_both_directions(return_sequences: bool) -> None:
    """`merge_mode = none` is Keras's `merge_mode=None`: forward then backward output."""
    layer = randomized(
        keras.layers.Bidirectional(
            KGRU(3, return_sequences=return_sequences, name="gru"), merge_mode=None
        )
    )
    flag = "true" if return_sequences else "false"
    parity(
        f"Bidirectional(GRU(3, return_sequences = {flag}), merge_mode = none)",
        layer,
        [(B, T, F)],
        n_outputs=2,
    )


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name", LAYERS)
def test_bidirectional_masked(name: str, return_sequences: bool) -> None:
    """Bidirectional makes masked steps of returned sequences zero (Keras's
    `zero_output_for_mask`), and flips the backward sequence back into time order."""
    keras_name = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[name]
    inner = LAYERS[name](3, return_sequences=return_sequences, name=keras_name)
    layer = randomized(keras.layers.Bidirectional(inner))
    parity(
        f"Bidirectional({name}(3{nn_args({'return_sequences': return_sequences})}))",
        layer,
        inputs=[random_inputs([(B, T, F)])[0], mask_array()],
        keras_call=with_mask,
    )


def test_bidirectional_return_state() -> None:
    layer = randomized(keras.layers.Bidirectional(KLSTM(3, return_state=True, name="lstm")))
    result = parity("Bidirectional(LSTM(3, return_state = true))", layer, [(B, T, F)], n_outputs=5)
    assert [o.shape for o in result.nn_outputs] == [(B, 6), *[(B, 3)] * 4]


def test_bidirectional_gru_reset_before() -> None:
    inner = KGRU(2, reset_after=False, return_sequences=True, name="gru")
    layer = randomized(keras.layers.Bidirectional(inner, merge_mode="sum"))
    parity(
        'Bidirectional(GRU(2, reset_after = false, return_sequences = true), merge_mode = "sum")',
        layer,
        [(B, T, F)],
    )


@pytest.mark.parametrize("name", LAYERS)
def test_dropout_zero_in_training_equals_keras(name: str) -> None:
    layer = randomized(LAYERS[name](3, return_sequences=True))
    parity(f"{name}(3, return_sequences = true)", layer, [(B, T, F)], training=True)


@pytest.mark.parametrize("name", LAYERS)
def test_dropout_is_ignored_in_inference(name: str) -> None:
    layer = randomized(LAYERS[name](3, dropout=0.5, recurrent_dropout=0.3))
    parity(f"{name}(3, dropout = 0.5, recurrent_dropout = 0.3)", layer, [(B, T, F)])


@pytest.mark.parametrize(
    ("name", "recurrent_dropout"),
    [("SimpleRNN", 0.4), ("LSTM", 0.0), ("LSTM", 0.4), ("GRU", 0.4), ("Bidirectional", 0.0)],
)
def test_dropout_in_training(name: str, recurrent_dropout: float) -> None:
    """Random draws cannot match Keras's: training differs from inference, stays finite,
    differs between keys and is the same for the same key."""
    stage = f"{name}(4, dropout = 0.5, recurrent_dropout = {recurrent_dropout})"
    if name == "Bidirectional":
        stage = f"Bidirectional(GRU(4, dropout = 0.5, recurrent_dropout = {recurrent_dropout}))"
    graph = nn_graph(
        f"model Parity() {{\n    input x0: f32[B, {T}, {F}]\n    return {stage}(x0)\n}}\n"
    )
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    x = random_inputs([(16, T, F)])

    apply = {
        flag: jax.jit(lambda k, flag=flag: model.apply(params, state, x, training=flag, key=k))
        for flag in (False, True)
    }

    def run(training: bool, seed: int = 1) -> np.ndarray:
        return np.asarray(apply[training](jax.random.key(seed))[0][0])

    inference = run(False)
    trained = run(True)
    assert np.isfinite(trained).all()
    assert not np.allclose(trained, inference, atol=1e-3)
    assert np.array_equal(trained, run(True))
    assert not np.allclose(trained, run(True, seed=2), atol=1e-3)


def test_stacked_lstms_match_keras_sequential() -> None:
    first = KLSTM(4, return_sequences=True, name="lstm")
    second = KLSTM(3, name="lstm_1")
    seq = keras.Sequential([keras.Input((T, F)), first, second])
    rng = np.random.default_rng(3)
    for v in seq.weights:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype(np.float32))
    graph = nn_graph(
        "model Parity() {\n"
        f"    input x0: f32[B, {T}, {F}]\n"
        "    return x0 |> LSTM(4, return_sequences = true) |> LSTM(3)\n"
        "}\n"
    )
    assert [str(n.type) for n in graph.nodes] == [f"f32[B, {T}, 4]", "f32[B, 3]"]
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    paths = [n.path for n in graph.nodes]
    for path, layer in zip(paths, (first, second), strict=True):
        # Inside a Sequential the paths read `sequential/lstm/lstm_cell/kernel`.
        params[path] = {
            ".".join(v.path.split("/")[-2:]): jax.numpy.asarray(v.value) for v in layer.weights
        }
    x = random_inputs([(B, T, F)])
    with jax.default_matmul_precision("highest"):
        out, _ = model.apply(params, state, x)
        expected = np.asarray(seq(x[0]))
    np.testing.assert_allclose(np.asarray(out[0]), expected, atol=1e-5, rtol=1e-5)
    assert graph.param_counts() == (seq.count_params(), 0)


def test_lstm_bias_initializer_matches_unit_forget_bias() -> None:
    """Keras starts the forget gate's bias at 1 with `unit_forget_bias` (the default)."""
    source = "model Parity() {{\n    input x0: f32[B, {T}, {F}]\n    return x0 |> {stage}\n}}\n"
    for forget, block in ((True, 1.0), (False, 0.0)):
        stage = f"LSTM(3, unit_forget_bias = {'true' if forget else 'false'})"
        graph = nn_graph(source.format(T=T, F=F, stage=stage))
        params, _ = compile_graph(graph).init(jax.random.key(0))
        bias = np.asarray(params["lstm"]["lstm_cell.bias"])
        expected = np.zeros(12, np.float32)
        expected[3:6] = block
        np.testing.assert_array_equal(bias, expected)
        k = KLSTM(3, unit_forget_bias=forget)
        k.build((B, T, F))
        np.testing.assert_array_equal(np.asarray(k.cell.bias.value), expected)


RETURN_STATE_MODEL = """model Seq() {
    input x: f32[B, T, 3]
    y, h, c = x |> LSTM(4, return_state = true, return_sequences = true, dropout = 0.2,
                        recurrent_regularizer = l2(0.01))
    s = Bidirectional(GRU(2, return_sequences = true))(y)
    z = (s |> SimpleRNN(4)) + h + c
    return z |> Dense(1)
}
"""


def test_return_state_in_summary() -> None:
    graph = nn_graph(RETURN_STATE_MODEL.replace("Seq", "Parity"))
    rows = {r.name: r for r in summarize(graph).rows}
    assert rows["lstm"].output_shape == "([B, T, 4], [B, 4], [B, 4])"
    assert rows["lstm"].params == 4 * 4 * (3 + 4 + 1)
    assert rows["bidirectional"].output_shape == "[B, T, 4]"
    assert rows["bidirectional"].params == 2 * 3 * 2 * (4 + 2 + 2)
    assert rows["bidirectional"].connected_to == "lstm"
    assert set(rows["add"].connected_to.split(", ")) == {"simple_rnn", "lstm[1]"}


def test_return_state_model_trains() -> None:
    """One jitted train step after another: the loss (with the recurrent penalty) falls, and
    sequences of another length run through the same model (`T` is symbolic)."""
    graph = nn_graph(RETURN_STATE_MODEL.replace("Seq", "Parity"))
    steps = build_steps(graph, call("mse"), call("adam", learning_rate=0.02))
    params, state = steps.model.init(jax.random.key(0))
    opt = steps.init_opt_state(params)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 3)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None] * 0.1
    losses = []
    aux = steps.init_aux()
    for i in range(15):
        params, state, opt, aux, loss, _, _ = steps.train_step(
            params, state, opt, aux, x, y, jax.random.key(0), jax.numpy.asarray(i)
        )
        losses.append(float(loss))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] * 0.8
    assert float(steps.model.penalty(params)) > 0
    longer = steps.predict(params, state, rng.normal(size=(2, 9, 3)).astype(np.float32))
    assert longer.shape == (2, 1) and np.isfinite(np.asarray(longer)).all()


def test_nnrun_summary(tmp_path: Path) -> None:
    path = tmp_path / "seq.nn"
    path.write_text(RETURN_STATE_MODEL, encoding="utf-8")
    run = nnrun("summary", str(path), columns=200)
    assert run.returncode == 0, run.stderr
    assert "([B, T, 4], [B, 4], [B, 4])" in run.stdout
    assert "lstm[1]" in run.stdout


def test_regularizers_match_keras_losses() -> None:
    """Weight penalties land on the right weights (`recurrent_*` on `recurrent_kernel`) and the
    activity penalty covers every result (output and states), as Keras's `layer.losses`."""
    layer = randomized(
        KLSTM(
            3,
            return_state=True,
            kernel_regularizer=keras.regularizers.L1(0.02),
            recurrent_regularizer=keras.regularizers.L2(0.01),
            bias_regularizer=keras.regularizers.L2(0.03),
            activity_regularizer=keras.regularizers.L2(0.05),
        )
    )
    stage = (
        "LSTM(3, return_state = true, kernel_regularizer = l1(0.02), recurrent_regularizer ="
        " l2(0.01), bias_regularizer = l2(0.03), activity_regularizer = l2(0.05))"
    )
    x = random_inputs([(B, T, F)])
    result = parity(stage, layer, inputs=x, n_outputs=3)
    model = compile_graph(result.graph)
    params = {"lstm": {k: jax.numpy.asarray(v) for k, v in result.params.items()}}
    with jax.default_matmul_precision("highest"):
        _, _, activity = model.apply_with_losses(params, {}, x)
        penalty = model.penalty(params)
        layer(x[0])  # Keras collects its losses during the call
    expected = sum(float(v) for v in layer.losses)
    np.testing.assert_allclose(float(activity + penalty), expected, rtol=1e-5)
    weights_penalty = 0.02 * np.abs(result.params["lstm_cell.kernel"]).sum()
    weights_penalty += 0.01 * np.square(result.params["lstm_cell.recurrent_kernel"]).sum()
    weights_penalty += 0.03 * np.square(result.params["lstm_cell.bias"]).sum()
    np.testing.assert_allclose(float(penalty), weights_penalty, rtol=1e-5)
