"""Keras 3 parity of the attention layers: MultiHeadAttention, GroupedQueryAttention,
Attention, AdditiveAttention, with masks, causal masks, attention scores and dropout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from tests.parity.harness import model_source, nn_graph, parity, random_inputs

B, T, S = 2, 5, 6


def _mask(shape: tuple[int, ...], seed: int = 3) -> np.ndarray:
    """A random boolean mask with every row along the last axis attending somewhere."""
    m = np.random.default_rng(seed).random(shape) < 0.6
    m[..., 0] = True
    return m


def _heads_call(**kw: Any) -> Callable[[Any, list[np.ndarray], bool], Any]:
    """Keras's call for (query, value, key?, attention_mask?) given positionally in nndsl."""

    def call(layer: Any, xs: list[np.ndarray], training: bool) -> Any:
        key = xs[2] if len(xs) > 2 else None
        mask = xs[3] if len(xs) > 3 else None
        return layer(xs[0], xs[1], key=key, attention_mask=mask, training=training, **kw)

    return call


def _luong_call(**kw: Any) -> Callable[[Any, list[np.ndarray], bool], Any]:
    """Keras's call for (query, value, key?, value_mask?, query_mask?) given positionally."""

    def call(layer: Any, xs: list[np.ndarray], training: bool) -> Any:
        tensors = xs[:3]
        mask = None
        if len(xs) > 3:
            mask = [xs[4] if len(xs) > 4 else None, xs[3]]
        return layer(tensors, mask=mask, training=training, **kw)

    return call


def _flags(causal: bool, scores: bool) -> str:
    text = ""
    if causal:
        text += ", use_causal_mask = true"
    if scores:
        text += ", return_attention_scores = true"
    return text


# == MultiHeadAttention =====================================================================
@pytest.mark.parametrize(
    ("options", "keras_kw", "shapes"),
    [
        ("", {}, [(B, T, 8), (B, T, 8)]),  # self-attention shapes, separate tensors
        ("", {}, [(B, T, 8), (B, S, 4)]),  # cross-attention, another S and width
        ("", {}, [(B, T, 8), (B, S, 4), (B, S, 7)]),  # key given
        ("use_bias = false", {"use_bias": False}, [(B, T, 8), (B, S, 4)]),
        ("output_shape = 6", {"output_shape": 6}, [(B, T, 8), (B, S, 4)]),
        ("output_shape = [2, 3]", {"output_shape": (2, 3)}, [(B, T, 8), (B, S, 4)]),
        ("use_gate = true", {"use_gate": True}, [(B, T, 8), (B, S, 4)]),
        ("sliding_window = 2", {"sliding_window": 2}, [(B, T, 8), (B, S, 4)]),
    ],
)
def test_mha(options: str, keras_kw: dict[str, Any], shapes: Sequence[tuple[int, ...]]) -> None:
    stage = f"MultiHeadAttention(2, 3{', ' + options if options else ''})"
    parity(
        stage,
        keras.layers.MultiHeadAttention(2, 3, **keras_kw),
        shapes,
        keras_call=_heads_call(),
    )


def test_mha_value_dim() -> None:
    """Keras's fused path fails when value_dim != key_dim; its explicit-scores path runs."""
    parity(
        "MultiHeadAttention(2, 3, value_dim = 5, return_attention_scores = true)",
        keras.layers.MultiHeadAttention(2, 3, value_dim=5),
        [(B, T, 8), (B, S, 4)],
        n_outputs=2,
        keras_call=_heads_call(return_attention_scores=True),
    )


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("scores", [False, True])
def test_mha_masks_and_scores(causal: bool, masked: bool, scores: bool) -> None:
    xs = random_inputs([(B, T, 8), (B, S, 4), (B, S, 4)])
    if masked:
        xs.append(_mask((B, T, S)))
    parity(
        f"MultiHeadAttention(2, 3{_flags(causal, scores)})",
        keras.layers.MultiHeadAttention(2, 3),
        inputs=xs,
        n_outputs=2 if scores else 1,
        keras_call=_heads_call(use_causal_mask=causal, return_attention_scores=scores),
    )


def test_mha_causal_with_sliding_window_and_scores() -> None:
    parity(
        "MultiHeadAttention(2, 3, sliding_window = 2, use_causal_mask = true, "
        "return_attention_scores = true)",
        keras.layers.MultiHeadAttention(2, 3, sliding_window=2),
        [(B, T, 8), (B, T, 8)],
        n_outputs=2,
        keras_call=_heads_call(use_causal_mask=True, return_attention_scores=True),
    )


def test_mha_mask_broadcasts_over_batch() -> None:
    """A `[T, S]` mask (no batch axis) broadcasts, as Keras allows."""
    xs = [*random_inputs([(B, T, 8), (B, S, 4), (B, S, 4)]), _mask((T, S))]
    src = model_source("MultiHeadAttention(2, 3)", xs).replace(
        f"input x3: bool[B, {S}]", f"input x3: bool[{T}, {S}]"
    )
    graph = nn_graph(src)
    assert str(graph.outputs[0].type) == f"f32[B, {T}, 8]"
    layer = keras.layers.MultiHeadAttention(2, 3)
    expected = np.asarray(layer(xs[0], xs[1], key=xs[2], attention_mask=xs[3][None]))
    out = _apply_with(graph, layer, xs)
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)


def test_mha_fully_masked_row_matches_keras_softmax() -> None:
    """A query row that may attend nowhere gets zero weights (Keras's masked Softmax, used on
    its explicit-scores path), so its output is the output projection's bias."""
    xs = random_inputs([(B, T, 8), (B, S, 4)])
    mask = _mask((B, T, S))
    mask[0, 1, :] = False
    layer = keras.layers.MultiHeadAttention(2, 3, bias_initializer="ones")
    result = parity(
        "MultiHeadAttention(2, 3, return_attention_scores = true)",
        layer,
        inputs=[xs[0], xs[1], xs[1], mask],
        n_outputs=2,
        keras_call=_heads_call(return_attention_scores=True),
    )
    np.testing.assert_allclose(result.nn_outputs[1][0, :, 1, :], 0.0)
    np.testing.assert_allclose(result.nn_outputs[0][0, 1], np.ones(8), atol=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_mha_inference_with_dropout(dropout: float) -> None:
    """Dropout is inactive in inference; with rate 0 training equals inference."""
    layer = keras.layers.MultiHeadAttention(2, 3, dropout=dropout)
    parity(
        f"MultiHeadAttention(2, 3, dropout = {dropout}, return_attention_scores = true)",
        layer,
        [(B, T, 8), (B, S, 4)],
        n_outputs=2,
        keras_call=_heads_call(return_attention_scores=True),
    )
    if dropout == 0.0:
        parity(
            "MultiHeadAttention(2, 3, dropout = 0.0)",
            keras.layers.MultiHeadAttention(2, 3, dropout=0.0),
            [(B, T, 8), (B, S, 4)],
            training=True,
            keras_call=_heads_call(),
        )


@pytest.mark.parametrize(
    ("axes", "keras_axes", "value_shape", "mask_shape"),
    [
        # default: every axis between batch and features, jointly
        ("", None, (B, 2, 5, 4), (B, 3, 4, 2, 5)),
        (", attention_axes = 2", 2, (B, 3, 5, 4), (B, 3, 4, 5)),
        (", attention_axes = -2", (-2,), (B, 3, 5, 4), (B, 3, 4, 5)),
        (", attention_axes = 1", (1,), (B, 2, 4, 4), (B, 4, 3, 2)),
        (", attention_axes = [2, 1]", (2, 1), (B, 2, 5, 4), (B, 4, 3, 5, 2)),  # order matters
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_mha_attention_axes(
    axes: str,
    keras_axes: Any,
    value_shape: tuple[int, ...],
    mask_shape: tuple[int, ...],
    masked: bool,
) -> None:
    """Rank-4 inputs `[B, X, Y, D]` (query `[B, 3, 4, 8]`), attended over some of X, Y."""
    xs = random_inputs([(B, 3, 4, 8), value_shape])
    if masked:
        xs += [xs[1], _mask(mask_shape)]
    parity(
        f"MultiHeadAttention(2, 3{axes}, return_attention_scores = true)",
        keras.layers.MultiHeadAttention(2, 3, attention_axes=keras_axes),
        inputs=xs,
        n_outputs=2,
        keras_call=_heads_call(return_attention_scores=True),
    )


# == GroupedQueryAttention ==================================================================
@pytest.mark.parametrize(
    ("heads", "options", "keras_kw", "shapes"),
    [
        ((4, 2), "", {}, [(B, T, 8), (B, S, 8)]),
        ((4, 1), "", {}, [(B, T, 8), (B, S, 8)]),  # multi-query
        ((2, 2), "", {}, [(B, T, 8), (B, S, 8), (B, S, 5)]),  # key given
        ((4, 2), "use_bias = false", {"use_bias": False}, [(B, T, 8), (B, S, 8)]),
        ((4, 2), "use_gate = true", {"use_gate": True}, [(B, T, 8), (B, S, 8)]),
        ((4, 2), "sliding_window = 2", {"sliding_window": 2}, [(B, T, 8), (B, S, 8)]),
    ],
)
def test_gqa(
    heads: tuple[int, int],
    options: str,
    keras_kw: dict[str, Any],
    shapes: Sequence[tuple[int, ...]],
) -> None:
    nq, nkv = heads
    stage = f"GroupedQueryAttention(3, {nq}, {nkv}{', ' + options if options else ''})"
    parity(
        stage,
        keras.layers.GroupQueryAttention(3, nq, nkv, **keras_kw),
        shapes,
        keras_call=_heads_call(),
    )


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("scores", [False, True])
def test_gqa_masks_and_scores(causal: bool, masked: bool, scores: bool) -> None:
    xs = random_inputs([(B, T, 8), (B, S, 8), (B, S, 6)])
    if masked:
        xs.append(_mask((B, T, S)))
    parity(
        f"GroupedQueryAttention(3, 4, 2{_flags(causal, scores)})",
        keras.layers.GroupQueryAttention(3, 4, 2),
        inputs=xs,
        n_outputs=2 if scores else 1,
        keras_call=_heads_call(use_causal_mask=causal, return_attention_scores=scores),
    )


def test_gqa_dropout_zero_training_equals_inference() -> None:
    parity(
        "GroupQueryAttention(3, 4, 2)",  # the Keras export name is an alias
        keras.layers.GroupQueryAttention(3, 4, 2),
        [(B, T, 8), (B, S, 8)],
        training=True,
        keras_call=_heads_call(),
    )


# == Attention, AdditiveAttention ===========================================================
@pytest.mark.parametrize(
    ("options", "keras_kw"),
    [
        ("", {}),
        ("use_scale = true", {"use_scale": True}),
        ('score_mode = "concat"', {"score_mode": "concat"}),
        ('use_scale = true, score_mode = "concat"', {"use_scale": True, "score_mode": "concat"}),
    ],
)
@pytest.mark.parametrize("with_key", [False, True])
def test_attention(options: str, keras_kw: dict[str, Any], with_key: bool) -> None:
    layer = keras.layers.Attention(**keras_kw)
    shapes = [(B, T, 4), (B, S, 3), (B, S, 4)] if with_key else [(B, T, 4), (B, S, 4)]
    layer.build([s for s in shapes])
    for v in layer.weights:  # not the initial ones, so a missing scale would show
        v.assign(np.full(v.shape, 0.7, np.float32))
    parity(f"Attention({options})", layer, shapes, keras_call=_luong_call())


@pytest.mark.parametrize("use_scale", [True, False])
@pytest.mark.parametrize("with_key", [False, True])
def test_additive_attention(use_scale: bool, with_key: bool) -> None:
    shapes = [(B, T, 4), (B, S, 3), (B, S, 4)] if with_key else [(B, T, 4), (B, S, 4)]
    parity(
        f"AdditiveAttention(use_scale = {str(use_scale).lower()})",
        keras.layers.AdditiveAttention(use_scale=use_scale),
        shapes,
        keras_call=_luong_call(),
    )


# Every combination for Attention; AdditiveAttention shares the masking code, so a few.
_LUONG_CASES = [
    *(
        ("Attention", causal, masks, scores)
        for causal in (False, True)
        for masks in (0, 1, 2)
        for scores in (False, True)
    ),
    ("AdditiveAttention", False, 1, False),
    ("AdditiveAttention", True, 2, True),
]


@pytest.mark.parametrize(("layer_name", "causal", "masks", "scores"), _LUONG_CASES)
def test_luong_masks_and_scores(layer_name: str, causal: bool, masks: int, scores: bool) -> None:
    xs = random_inputs([(B, T, 4), (B, S, 3), (B, S, 4)])
    if masks >= 1:
        xs.append(_mask((B, S)))
    if masks == 2:
        q_mask = _mask((B, T), seed=5)
        q_mask[1, 2] = False
        xs.append(q_mask)
    parity(
        f"{layer_name}({_flags(causal, scores).removeprefix(', ')})",
        getattr(keras.layers, layer_name)(),
        inputs=xs,
        n_outputs=2 if scores else 1,
        keras_call=_luong_call(use_causal_mask=causal, return_attention_scores=scores),
    )


def test_attention_fully_masked_values_as_keras() -> None:
    """Keras subtracts 1e9 from masked scores (no zeroing): all-masked rows stay uniform."""
    xs = random_inputs([(B, T, 4), (B, S, 4)])
    v_mask = _mask((B, S))
    v_mask[1] = False
    parity(
        "Attention(return_attention_scores = true)",
        keras.layers.Attention(),
        inputs=[xs[0], xs[1], xs[1], v_mask],
        n_outputs=2,
        keras_call=_luong_call(return_attention_scores=True),
    )


@pytest.mark.parametrize("layer_name", ["Attention", "AdditiveAttention"])
def test_luong_dropout_inference_and_zero_rate(layer_name: str) -> None:
    cls = getattr(keras.layers, layer_name)
    parity(f"{layer_name}(dropout = 0.4)", cls(dropout=0.4), [(B, T, 4), (B, S, 4)])
    parity(
        f"{layer_name}(dropout = 0.0)",
        cls(dropout=0.0),
        [(B, T, 4), (B, S, 4)],
        training=True,
        keras_call=_luong_call(),
    )


# == dropout while training (random: statistics, not Keras's draws) ========================
def _apply_all(graph: Any, layer: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    """nndsl's inference outputs with the Keras layer's weights copied in."""
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    node = next(n for n in graph.nodes if n.weights)
    for v in layer.weights:
        params[node.path][v.path.split("/", 1)[1].replace("/", ".")] = jax.numpy.asarray(v.value)
    with jax.default_matmul_precision("highest"):
        outs, _ = model.apply(params, state, xs)
    return [np.asarray(o) for o in outs]


def _apply_with(graph: Any, layer: Any, xs: list[np.ndarray]) -> np.ndarray:
    return _apply_all(graph, layer, xs)[0]


def _training_runs(
    stage: str, xs: list[np.ndarray], n_outputs: int, keys: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inference outputs, and training outputs stacked over `keys` PRNG keys."""
    graph = nn_graph(model_source(stage, xs, n_outputs))
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    infer, _ = model.apply(params, state, xs)

    def run(key: jax.Array) -> list[jax.Array]:
        return model.apply(params, state, xs, training=True, key=key)[0]

    trained = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(7), keys))
    return [np.asarray(o) for o in infer], [np.asarray(o) for o in trained]


@pytest.mark.parametrize(
    "stage",
    ["MultiHeadAttention(2, 3, dropout = 0.5", "GroupedQueryAttention(3, 4, 2, dropout = 0.5"],
)
def test_heads_dropout_is_unbiased(stage: str) -> None:
    """Training outputs vary with the key, average to the inference output (the output is
    linear in the dropped weights), and the returned scores are taken before dropout."""
    xs = random_inputs([(B, T, 8), (B, S, 8)])
    infer, trained = _training_runs(stage + ", return_attention_scores = true)", xs, 2, 400)
    out, scores = trained
    assert np.abs(out[0] - out[1]).max() > 1e-3
    assert np.abs(out[0] - infer[0]).max() > 1e-3
    np.testing.assert_allclose(out.mean(axis=0), infer[0], atol=0.15)
    np.testing.assert_allclose(scores[0], infer[1], atol=1e-6)


@pytest.mark.parametrize("layer_name", ["Attention", "AdditiveAttention"])
def test_luong_dropout_drops_weights(layer_name: str) -> None:
    """Keras returns the weights after dropout: a `rate` fraction zeroed, the rest scaled."""
    xs = random_inputs([(B, T, 4), (B, S, 4)])
    infer, trained = _training_runs(
        f"{layer_name}(dropout = 0.25, return_attention_scores = true)", xs, 2, 400
    )
    weights = trained[1]
    dropped = weights == 0.0
    assert abs(dropped.mean() - 0.25) < 0.03
    kept = np.broadcast_to(infer[1] / 0.75, weights.shape)[~dropped]
    np.testing.assert_allclose(weights[~dropped], kept, rtol=1e-5)
    np.testing.assert_allclose(trained[0].mean(axis=0), infer[0], atol=0.15)


# == the idioms the diagnostics suggest, and training through the layers ===================
def test_padding_mask_idiom_matches_keras() -> None:
    """`ids != 0 |> Reshape([1, S])` (the help of a `[B, S]` mask) is Keras's padding mask."""
    rng = np.random.default_rng(2)
    q, v = random_inputs([(B, T, 8), (B, S, 4)])
    ids = rng.integers(0, 3, (B, S)).astype(np.int32)
    ids[:, 0] = 1
    src = (
        "model Parity() {\n"
        f"    input x0: f32[B, {T}, 8]\n    input x1: f32[B, {S}, 4]\n"
        f"    input x2: i32[B, {S}]\n"
        f"    mask = x2 != 0 |> Reshape([1, {S}])\n"
        "    return MultiHeadAttention(2, 3)(x0, x1, x1, mask)\n}\n"
    )
    layer = keras.layers.MultiHeadAttention(2, 3)
    with jax.default_matmul_precision("highest"):
        expected = np.asarray(layer(q, v, attention_mask=(ids != 0)[:, None, :]))
    out = _apply_with(nn_graph(src), layer, [q, v, ids])
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_weight_through_scores_and_dropout() -> None:
    """Training end to end: a loss on both results (output and scores) of layers with dropout
    has finite gradients, non-zero for every weight that can matter."""
    stage = (
        "MultiHeadAttention(2, 3, dropout = 0.2, use_gate = true, return_attention_scores = true)"
    )
    xs = random_inputs([(B, T, 8), (B, S, 4)])
    graph = nn_graph(model_source(stage, xs, 2))
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))

    def loss(p: Any) -> jax.Array:
        (out, scores), _ = model.apply(p, state, xs, training=True, key=jax.random.key(3))
        return (out**2).mean() + (scores**3).mean()

    grads = jax.jit(jax.grad(loss))(params)
    flat = {k: np.asarray(g) for path in grads.values() for k, g in path.items()}
    assert set(flat) == {
        f"{p}.{w}"
        for p in ("query", "key", "value", "gate", "attention_output")
        for w in ("kernel", "bias")
    }
    for name, g in flat.items():
        assert np.isfinite(g).all(), name
        if name == "key.bias":  # adds the same q . b to every key: softmax cancels it
            assert np.abs(g).max() < 1e-5
        else:
            assert np.abs(g).max() > 1e-6, name


def test_mha_kernel_regularizer_penalizes_every_projection() -> None:
    """`kernel_regularizer` reaches the four projection kernels, as Keras's sublayers have it."""
    xs = random_inputs([(B, T, 8), (B, S, 4)])
    layer = keras.layers.MultiHeadAttention(
        2, 3, kernel_regularizer="l2", bias_initializer="ones", bias_regularizer="l1"
    )
    result = parity(
        "MultiHeadAttention(2, 3, kernel_regularizer = l2(0.01), bias_regularizer = l1(0.01))",
        layer,
        inputs=xs,
        keras_call=_heads_call(),
    )
    model = compile_graph(result.graph)
    node = next(n for n in result.graph.nodes if n.weights)
    params = {node.path: {k: jax.numpy.asarray(v) for k, v in result.params.items()}}
    np.testing.assert_allclose(
        float(model.penalty(params)), float(sum(np.asarray(x) for x in layer.losses)), rtol=1e-5
    )


@pytest.mark.parametrize("t", [3, 7])
def test_symbolic_lengths_run_at_any_length(t: int) -> None:
    """One checked model with symbolic `T` serves every length; the causal mask follows it."""
    src = (
        "model Parity() {\n    input x0: f32[B, T, 8]\n"
        "    y0, y1 = MultiHeadAttention(2, 3, use_causal_mask = true, "
        "return_attention_scores = true)(x0, x0)\n    return y0, y1\n}\n"
    )
    graph = nn_graph(src)
    assert [str(o.type) for o in graph.outputs] == ["f32[B, T, 8]", "f32[B, 2, T, T]"]
    layer = keras.layers.MultiHeadAttention(2, 3)
    (x,) = random_inputs([(B, t, 8)])
    with jax.default_matmul_precision("highest"):
        expected = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    outs = _apply_all(graph, layer, [x])
    for a, b in zip(outs, expected, strict=True):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-5, rtol=1e-5)
    assert np.all(np.triu(outs[1][0, 0], 1) == 0.0)
