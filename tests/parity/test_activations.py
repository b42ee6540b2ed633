"""Activations against Keras 3: every function with its options, every `activation = "..."`
string in a kernel layer, the activation layers with Keras's weights; and one list of names."""

from __future__ import annotations

from typing import Any

import jax
import keras
import numpy as np
import pytest
from keras.src.activations import ALL_OBJECTS_DICT

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.impls.activation import ACTIVATIONS
from nndsl.frontend import check_source
from nndsl.ops import OpKind, iter_specs, lookup
from nndsl.ops.activation import ACTIVATION_FUNCTIONS, ACTIVATION_NAMES
from tests.parity.harness import nn_graph, parity

# Values around the kinks of every activation (0, ±0.5, ±1, ±3, ±6) and beyond.
X = np.concatenate(
    [
        np.array([-7.0, -6.0, -3.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 3.0, 6.0, 7.0]),
        np.random.default_rng(0).normal(scale=3.0, size=11),
    ]
).astype(np.float32)
X3 = X.reshape(2, 3, 4)


def _run(stage: str, x: np.ndarray) -> np.ndarray:
    """`x |> stage` through the checker and the compiler; the declared shape is checked."""
    dims = ", ".join(["B", *(str(d) for d in x.shape[1:])])
    src = (
        f"model Parity() {{\n    input x0: f32[{dims}]\n    y0 = x0 |> {stage}\n    return y0\n}}\n"
    )
    graph = nn_graph(src)
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    with jax.default_matmul_precision("highest"):
        (y,), _ = model.apply(params, state, [x])
    declared = [d.as_int() for d in graph.outputs[0].type.shape]
    assert all(d is None or d == n for d, n in zip(declared, y.shape, strict=True))
    return np.asarray(y)


FUNCTION_CASES: list[tuple[str, str, dict[str, Any]]] = [
    *[(n, n, {}) for n in ACTIVATION_FUNCTIONS if n != "threshold"],
    ("relu(negative_slope = 0.1)", "relu", {"negative_slope": 0.1}),
    ("relu(max_value = 6.0)", "relu", {"max_value": 6.0}),
    ("relu(max_value = 2.5)", "relu", {"max_value": 2.5}),
    ("relu(threshold = 0.5)", "relu", {"threshold": 0.5}),
    (
        "relu(negative_slope = 0.2, max_value = 4.0, threshold = 0.5)",
        "relu",
        {"negative_slope": 0.2, "max_value": 4.0, "threshold": 0.5},
    ),
    (
        "relu(negative_slope = 0.3, threshold = 1.0)",
        "relu",
        {"negative_slope": 0.3, "threshold": 1.0},
    ),
    ("leaky_relu(negative_slope = 0.05)", "leaky_relu", {"negative_slope": 0.05}),
    ("gelu(approximate = true)", "gelu", {"approximate": True}),
    ("elu(alpha = 0.5)", "elu", {"alpha": 0.5}),
    ("celu(alpha = 2.0)", "celu", {"alpha": 2.0}),
    ("squareplus(b = 1.0)", "squareplus", {"b": 1.0}),
    ("soft_shrink(threshold = 1.0)", "soft_shrink", {"threshold": 1.0}),
    ("hard_shrink(threshold = 1.0)", "hard_shrink", {"threshold": 1.0}),
    ("threshold(0.5, -2.0)", "threshold", {"threshold": 0.5, "default_value": -2.0}),
    ("softmax(axis = 1)", "softmax", {"axis": 1}),
    ("log_softmax(axis = 1)", "log_softmax", {"axis": 1}),
    ("sparsemax(axis = 1)", "sparsemax", {"axis": 1}),
    ("glu(axis = 1)", "glu", {"axis": 1}),
    ("swish", "silu", {}),
    ("hard_swish", "hard_silu", {}),
]


@pytest.mark.parametrize(
    "stage, keras_name, kwargs", FUNCTION_CASES, ids=[c[0] for c in FUNCTION_CASES]
)
def test_function_matches_keras(stage: str, keras_name: str, kwargs: dict[str, Any]) -> None:
    x = X.reshape(2, 6, 2) if "axis = 1" in stage else X3  # glu needs an even axis
    ours = _run(stage, x)
    theirs = np.asarray(getattr(keras.activations, keras_name)(x, **kwargs))
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_string_matches_keras(name: str) -> None:
    """`activation = "name"` (the path every kernel layer takes) is Keras's `get(name)`."""
    ours = _run(f'Activation("{name}")', X3)
    np.testing.assert_allclose(ours, np.asarray(keras.activations.get(name)(X3)), atol=1e-6)


@pytest.mark.parametrize("name", ["gelu", "swish", "softmax", "hard_silu"])
def test_activation_string_in_dense_matches_keras(name: str) -> None:
    parity(f'Dense(4, activation = "{name}")', keras.layers.Dense(4, activation=name), [(3, 5)])


@pytest.mark.parametrize("name", ["gelu", "softmax", "hard_sigmoid", "swish", "linear"])
def test_activation_layer_matches_keras(name: str) -> None:
    parity(f'Activation("{name}")', keras.layers.Activation(name), inputs=[X3])


def test_the_gelu_string_is_exact_gelu() -> None:
    """Keras's `"gelu"` is `gelu(approximate=False)`; the approximation differs by ~1e-4."""
    ours = _run('Activation("gelu")', X3)
    np.testing.assert_allclose(
        ours, np.asarray(keras.activations.gelu(X3, approximate=False)), atol=1e-7
    )
    assert np.abs(ours - np.asarray(keras.activations.gelu(X3, approximate=True))).max() > 1e-5


# -- one list of names -----------------------------------------------------------------------
def test_spec_names_and_impl_table_agree() -> None:
    specs = {s.name for s in iter_specs(OpKind.FUNCTION) if s.family == "activation"}
    assert set(ACTIVATION_FUNCTIONS) == specs
    assert set(ACTIVATIONS) == specs


def test_every_keras_activation_is_an_nndsl_function() -> None:
    for name in ALL_OBJECTS_DICT:
        spec = lookup(name)
        assert spec is not None and spec.kind is OpKind.FUNCTION, name


def test_activation_strings_are_keras_strings() -> None:
    for name in ACTIVATION_NAMES:
        assert name in ALL_OBJECTS_DICT
    assert "glu" not in ACTIVATION_NAMES and "threshold" not in ACTIVATION_NAMES


# -- activation layers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "stage, layer",
    [
        ("ReLU()", keras.layers.ReLU()),
        ("ReLU(max_value = 6.0)", keras.layers.ReLU(max_value=6.0)),
        (
            "ReLU(max_value = 3.0, negative_slope = 0.1, threshold = 0.5)",
            keras.layers.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5),
        ),
        ("LeakyReLU()", keras.layers.LeakyReLU()),
        ("LeakyReLU(0.1)", keras.layers.LeakyReLU(0.1)),
        ("ELU()", keras.layers.ELU()),
        ("ELU(alpha = 0.3)", keras.layers.ELU(alpha=0.3)),
        ("Softmax()", keras.layers.Softmax()),
        ("Softmax(axis = 1)", keras.layers.Softmax(axis=1)),
    ],
    ids=str,
)
def test_activation_layers_match_keras(stage: str, layer: Any) -> None:
    parity(stage, layer, inputs=[X3])


def test_softmax_with_a_mask_matches_keras() -> None:
    mask = np.random.default_rng(1).random((2, 3, 4)) > 0.4
    mask[..., 0] = True
    keras_call = lambda layer, xs, training: layer(xs[0], mask=xs[1])
    result = parity("Softmax()", keras.layers.Softmax(), inputs=[X3, mask], keras_call=keras_call)
    assert (result.nn_outputs[0][~mask] == 0).all()
    # a mask broadcast over the rows
    row_mask = mask[:, :1, :]
    parity("Softmax()", keras.layers.Softmax(), inputs=[X3, row_mask], keras_call=keras_call)


def _random_alpha(layer: Any, shape: tuple[int, ...]) -> Any:
    layer.build(shape)
    layer.alpha.assign(np.random.default_rng(2).uniform(0.0, 0.5, layer.alpha.shape))
    return layer


@pytest.mark.parametrize(
    "stage, shared",
    [("PReLU()", None), ("PReLU(shared_axes = [1, 2])", [1, 2]), ("PReLU(shared_axes = 2)", 2)],
)
def test_prelu_matches_keras(stage: str, shared: Any) -> None:
    layer = _random_alpha(keras.layers.PReLU(shared_axes=shared), (2, 3, 4))
    result = parity(stage, layer, inputs=[X3])
    assert result.params["alpha"].shape == tuple(layer.alpha.shape)


def test_prelu_trains_alpha() -> None:
    stage = "PReLU(alpha_initializer = Constant(0.25))"
    src = f"model M() {{\n    input x: f32[B, 3]\n    return x |> {stage}\n}}\n"
    graph = check_source(src, "m.nn").graph("M")
    assert graph is not None
    node = next(n for n in graph.nodes if n.weights)
    assert [(w.name, w.shape, w.trainable) for w in node.weights] == [("alpha", (3,), True)]
    params, _ = compile_graph(graph).init(jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(params[node.path]["alpha"]), [0.25] * 3)
