"""Core layers against Keras 3: Dense, Identity, Embedding, EinsumDense (Keras's weights copied
over), and the checker's errors for equations, ids and initializers."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from nndsl.frontend import check_source
from tests.parity.harness import parity


@pytest.mark.parametrize(
    "stage, layer, shape",
    [
        ("Dense(5)", keras.layers.Dense(5), (3, 4)),
        ('Dense(5, activation = "gelu")', keras.layers.Dense(5, activation="gelu"), (3, 4)),
        ("Dense(5, use_bias = false)", keras.layers.Dense(5, use_bias=False), (3, 4)),
        (
            'Dense(3, activation = "softmax")',
            keras.layers.Dense(3, activation="softmax"),
            (2, 4, 6),
        ),
    ],
    ids=str,
)
def test_dense(stage: str, layer: Any, shape: tuple[int, ...]) -> None:
    parity(stage, layer, [shape])


def test_dense_bias_is_used() -> None:
    layer = keras.layers.Dense(4)
    layer.build((3, 5))
    layer.bias.assign(np.arange(4, dtype=np.float32))
    parity("Dense(4)", layer, [(3, 5)])


def test_identity() -> None:
    parity("Identity()", keras.layers.Identity(), [(2, 3, 4)])


def _ids(shape: tuple[int, ...], vocab: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, vocab, size=shape).astype(np.int32)


@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)], ids=str)
def test_embedding(shape: tuple[int, ...]) -> None:
    result = parity("Embedding(11, 6)", keras.layers.Embedding(11, 6), inputs=[_ids(shape, 11)])
    assert result.nn_outputs[0].dtype == np.float32


def test_embedding_mask_zero_is_accepted() -> None:
    parity(
        "Embedding(7, 3, mask_zero = true)",
        keras.layers.Embedding(7, 3, mask_zero=True),
        inputs=[_ids((2, 5), 7)],
    )


EINSUM = [
    ("ab,bc->ac", 4, "c", (3, 5)),
    ("ab,bc->ac", 4, None, (3, 5)),
    ("abc,cd->abd", (4, 6), "d", (2, 4, 5)),
    ("abc,cde->abde", (4, 2, 3), "de", (2, 4, 5)),
    ("abc,cde->abde", (4, 2, 3), "e", (2, 4, 5)),
    ("abcd,cde->abe", (3, 6), "be", (2, 3, 4, 5)),
    ("...b,bc->...c", 6, "c", (2, 3, 5)),
    ("...b,bc->...c", (6,), None, (2, 3, 4, 5)),
    ("ab...,bc->ac...", 6, "c", (2, 5, 3)),
    ("abc,cd->abd", (None, 6), "d", (2, 4, 5)),
]


def _nn_shape(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "[" + ", ".join("-1" if v is None else str(v) for v in value) + "]"


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, shape", EINSUM, ids=[f"{e[0]}-{e[2]}" for e in EINSUM]
)
def test_einsum_dense(
    equation: str, output_shape: Any, bias_axes: str | None, shape: tuple[int, ...]
) -> None:
    bias = f', bias_axes = "{bias_axes}"' if bias_axes else ""
    layer = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)
    if bias_axes:  # a non-zero bias, so its layout is tested
        layer.build(shape)
        layer.bias.assign(np.random.default_rng(3).normal(size=layer.bias.shape))
    parity(f'EinsumDense("{equation}", {_nn_shape(output_shape)}{bias})', layer, [shape])


def test_einsum_dense_activation() -> None:
    parity(
        'EinsumDense("abc,cd->abd", [4, 3], activation = "relu", bias_axes = "d")',
        keras.layers.EinsumDense("abc,cd->abd", (4, 3), activation="relu", bias_axes="d"),
        [(2, 4, 5)],
    )


def test_einsum_dense_symbolic_sequence() -> None:
    """`-1` takes a size from the input, which may stay symbolic in the checker."""
    src = (
        "model M() {\n    input x: f32[B, T, 5]\n"
        '    return x |> EinsumDense("abc,cd->abd", [-1, 3], bias_axes = "d")\n}\n'
    )
    result = check_source(src, "m.nn")
    assert not result.has_errors
    graph = result.graph("M")
    assert graph is not None
    assert str(graph.outputs[0].type) == "f32[B, T, 3]"


def _errors(stage: str, input_type: str = "f32[B, 4, 5]") -> list[tuple[str, str]]:
    src = f"model M() {{\n    input x: {input_type}\n    return x |> {stage}\n}}\n"
    return [(d.code, d.message) for d in check_source(src, "m.nn").diagnostics]


@pytest.mark.parametrize(
    "stage, code, words",
    [
        ('EinsumDense("abc->abd", 3)', "E0404", "not an einsum equation"),
        ('EinsumDense("abc,cd->ab", [4])', "E0404", "kernel label `d`"),
        ('EinsumDense("abc,cd->abe", [4, 3])', "E0404", "output label `e`"),
        ('EinsumDense("abc,cd->bad", [4, 3])', "E0404", "batch"),
        ('EinsumDense("aab,bd->ad", 3)', "E0404", "repeats"),
        ('EinsumDense("...bc,cd->bd", 3)', "E0404", "`...`"),
        ('EinsumDense("abc,cd->abd", [4])', "E0404", "needs 2"),
        ('EinsumDense("ab,bd->ad", 3)', "E0203", "names 2 input axes"),
        ('EinsumDense("abc,cd->abd", [7, 3])', "E0203", "size 7"),
        ('EinsumDense("abc,cd->abd", [4, -1])', "E0203", "only in the kernel"),
        ('EinsumDense("abc,cd->abd", [4, 3], bias_axes = "c")', "E0404", "bias label `c`"),
    ],
)
def test_einsum_dense_errors(stage: str, code: str, words: str) -> None:
    errors = _errors(stage)
    assert errors, stage
    assert errors[0][0] == code and words in errors[0][1], errors


def test_embedding_rejects_float_ids() -> None:
    errors = _errors("Embedding(10, 3)")
    assert errors and errors[0][0] == "E0301" and "integer ids" in errors[0][1]


def test_embedding_ints_keep_ids_symbolic() -> None:
    src = "model M() {\n    input t: i32[B, T]\n    return t |> Embedding(10, 3)\n}\n"
    graph = check_source(src, "m.nn").graph("M")
    assert graph is not None and str(graph.outputs[0].type) == "f32[B, T, 3]"


def test_position_embedding_is_an_embedding_of_the_positions() -> None:
    """Keras core has no PositionEmbedding (KerasHub does); the same table as an `Embedding`
    of `arange(T)`, broadcast over the batch, is the reference. T below the table's length."""
    import jax
    import numpy as np

    from nndsl.backend.jax import compile_graph
    from tests.parity.harness import model_source, nn_graph

    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    graph = nn_graph(model_source("PositionEmbedding(8)", [x]))
    assert graph.param_counts() == (8 * 3, 0)
    table = keras.layers.Embedding(8, 3)
    expected = np.broadcast_to(np.asarray(table(np.arange(5))), x.shape)
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    params[graph.nodes[0].path]["embeddings"] = np.asarray(table.embeddings.value)
    (out,), _ = model.apply(params, state, [x])
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-6)
