"""Keras 3 parity of the merging layers: several tensors in, one out."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nndsl.frontend import check_source
from tests.parity.harness import parity, random_inputs

ELEMENTWISE = ["Add", "Multiply", "Average", "Maximum", "Minimum"]


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("n", [2, 3])
def test_elementwise(name: str, n: int) -> None:
    parity(f"{name}()", getattr(keras.layers, name)(), [(2, 3, 4)] * n)


@pytest.mark.parametrize("name", [*ELEMENTWISE, "Subtract"])
def test_elementwise_broadcasts_like_keras(name: str) -> None:
    """Lower ranks gain axes after the batch axis; size-1 axes broadcast."""
    parity(f"{name}()", getattr(keras.layers, name)(), [(2, 3, 4), (2, 4)])
    parity(f"{name}()", getattr(keras.layers, name)(), [(2, 1, 4), (2, 3, 1)])


def test_subtract() -> None:
    parity("Subtract()", keras.layers.Subtract(), [(2, 3), (2, 3)])


def test_integer_inputs() -> None:
    xs = [np.arange(6, dtype=np.int32).reshape(2, 3), np.full((2, 3), 2, np.int32)]
    for name in ["Add", "Subtract", "Multiply", "Maximum", "Minimum", "Concatenate"]:
        result = parity(f"{name}()", getattr(keras.layers, name)(), inputs=xs)
        assert result.nn_outputs[0].dtype == np.int32


@pytest.mark.parametrize(
    ("axis", "shapes"),
    [
        (-1, [(2, 3, 4), (2, 3, 2)]),
        (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
        (-2, [(2, 3, 4), (2, 5, 4)]),
        (0, [(2, 3), (2, 3)]),
    ],
)
def test_concatenate(axis: int, shapes: list[tuple[int, ...]]) -> None:
    parity(f"Concatenate(axis = {axis})", keras.layers.Concatenate(axis=axis), shapes)


@pytest.mark.parametrize(
    ("axes", "shapes"),
    [
        ("1", [(2, 4), (2, 4)]),
        ("-1", [(2, 3, 4), (2, 5, 4)]),
        ("[2, 1]", [(2, 3, 4), (2, 4, 5)]),
        ("[1, 2]", [(2, 4), (2, 3, 4)]),
        ("[2, 1]", [(2, 3, 4), (2, 4)]),
        ("[1, 1]", [(2, 3, 4, 2), (2, 3, 5)]),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(axes: str, shapes: list[tuple[int, ...]], normalize: bool) -> None:
    keras_axes = eval(axes)  # the nndsl literal is a Python literal too
    parity(
        f"Dot(axes = {axes}, normalize = {'true' if normalize else 'false'})",
        keras.layers.Dot(axes=keras_axes, normalize=normalize),
        shapes,
    )


def test_dot_normalize_is_a_cosine() -> None:
    a, b = random_inputs([(3, 5), (3, 5)])
    result = parity(
        "Dot(axes = 1, normalize = true)", keras.layers.Dot(1, normalize=True), [], inputs=[a, b]
    )
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(result.nn_outputs[0][:, 0], cos, rtol=1e-5)


def _check(body: str) -> str:
    src = f"model M() {{\n    input a: f32[B, T, 8]\n    input b: f32[B, T, 4]\n    {body}\n}}\n"
    result = check_source(src, "m.nn")
    return "\n".join(f"{d.code} {d.message}" for d in result.diagnostics)


@pytest.mark.parametrize(
    "body",
    [
        "y: f32[B, T, 12] = Concatenate()(a, b)\n    return y",
        "y: f32[B, 2*T, 8] = Concatenate(axis = 1)(a, a)\n    return y",
        "y: f32[B, T, T] = Dot(axes = 2)(a, a)\n    return y",
        "y: f32[B, T, 8] = Add()(a, a, a)\n    return y",
        "y: f32[B, T, 8] = Maximum()(a, a)\n    return y",
    ],
)
def test_symbolic_shapes(body: str) -> None:
    assert _check(body) == ""


def test_a_pipeline_feeds_a_tuple_of_tensors() -> None:
    """`x |> Pair() |> Concatenate()`: a block with two outputs feeds a merging layer."""
    src = (
        "block Pair() {\n    input x: f32[B, D]\n    return x, x |> Dense(3)\n}\n"
        "model M() {\n    input x: f32[B, 5]\n"
        "    y: f32[B, 8] = x |> Pair() |> Concatenate()\n    return y\n}\n"
    )
    result = check_source(src, "m.nn")
    assert not result.has_errors, [str(d) for d in result.diagnostics]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("return Add()(a, b)", "E0202"),
        ("return Subtract()(a, a, a)", "E0407"),
        ("return Add()(a)", "E0407"),
        ("return Concatenate(axis = 1)(a, b)", "E0203"),
        ("return Concatenate(axis = 3)(a, a)", "E0404"),
        ("return Dot(axes = 2)(a, b)", "E0203"),
        ("return Dot(axes = 0)(a, a)", "E0404"),
    ],
)
def test_bad_merges_are_diagnosed(body: str, code: str) -> None:
    assert _check(body).startswith(code)
