"""Keras 3 parity of the reshaping layers (no weights: shapes and values)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nndsl.frontend import check_source
from tests.parity.harness import parity

CF = "channels_first"


@pytest.mark.parametrize(
    ("data_format", "shape"),
    [("channels_last", (2, 3, 4, 2)), (CF, (2, 3, 4, 2)), (CF, (2, 3, 4)), ("channels_last", (3,))],
)
def test_flatten(data_format: str, shape: tuple[int, ...]) -> None:
    parity(
        f'Flatten(data_format = "{data_format}")',
        keras.layers.Flatten(data_format=data_format),
        [shape],
    )


@pytest.mark.parametrize("target", [(4, 3), (-1, 2), (2, -1, 3), (12,)])
def test_reshape(target: tuple[int, ...]) -> None:
    stage = f"Reshape(target_shape = [{', '.join(map(str, target))}])"
    parity(stage, keras.layers.Reshape(target), [(2, 3, 4)])


def test_reshape_keeps_the_old_argument_name() -> None:
    parity("Reshape(shape = [6, 2])", keras.layers.Reshape((6, 2)), [(2, 3, 4)])


@pytest.mark.parametrize("dims", [(2, 1), (1, 2), (3, 1, 2)])
def test_permute(dims: tuple[int, ...]) -> None:
    shape = (2, 3, 4, 5)[: len(dims) + 1]
    parity(f"Permute([{', '.join(map(str, dims))}])", keras.layers.Permute(dims), [shape])


def test_repeat_vector() -> None:
    parity("RepeatVector(3)", keras.layers.RepeatVector(3), [(2, 4)])


def test_up_sampling_1d() -> None:
    parity("UpSampling1D(3)", keras.layers.UpSampling1D(3), [(2, 4, 3)])


@pytest.mark.parametrize(
    ("interpolation", "data_format"),
    [
        ("nearest", "channels_last"),
        ("nearest", CF),
        ("bilinear", "channels_last"),
        ("bilinear", CF),
        ("bicubic", "channels_last"),
        ("lanczos3", "channels_last"),
    ],
)
def test_up_sampling_2d(interpolation: str, data_format: str) -> None:
    parity(
        f'UpSampling2D([2, 3], data_format = "{data_format}", interpolation = "{interpolation}")',
        keras.layers.UpSampling2D((2, 3), data_format=data_format, interpolation=interpolation),
        [(2, 3, 4, 2)],
    )


@pytest.mark.parametrize("data_format", ["channels_last", CF])
def test_up_sampling_3d(data_format: str) -> None:
    parity(
        f'UpSampling3D([1, 2, 3], data_format = "{data_format}")',
        keras.layers.UpSampling3D((1, 2, 3), data_format=data_format),
        [(2, 2, 3, 2, 2)],
    )


def _nn(value: object) -> str:
    """A Python int / tuple as nndsl text: `((1, 2), 3)` -> `[[1, 2], 3]`."""
    if isinstance(value, tuple):
        return "[" + ", ".join(_nn(v) for v in value) + "]"
    return str(value)


@pytest.mark.parametrize("padding", [1, (2, 0)])
def test_zero_padding_1d(padding: int | tuple[int, int]) -> None:
    parity(
        f"ZeroPadding1D({_nn(padding)})",
        keras.layers.ZeroPadding1D(padding),
        [(2, 3, 2)],
    )


@pytest.mark.parametrize("padding", [2, (1, 2), ((1, 0), (0, 2)), ((1, 2), 3)])
@pytest.mark.parametrize("data_format", ["channels_last", CF])
def test_zero_padding_2d(padding: object, data_format: str) -> None:
    parity(
        f'ZeroPadding2D({_nn(padding)}, data_format = "{data_format}")',
        keras.layers.ZeroPadding2D(padding, data_format=data_format),
        [(2, 3, 4, 2)],
    )


@pytest.mark.parametrize("padding", [1, (1, 0, 2), ((0, 1), (2, 0), (1, 1))])
@pytest.mark.parametrize("data_format", ["channels_last", CF])
def test_zero_padding_3d(padding: object, data_format: str) -> None:
    parity(
        f'ZeroPadding3D({_nn(padding)}, data_format = "{data_format}")',
        keras.layers.ZeroPadding3D(padding, data_format=data_format),
        [(2, 2, 3, 2, 2)],
    )


def test_zero_padding_defaults() -> None:
    parity("ZeroPadding1D()", keras.layers.ZeroPadding1D(), [(2, 3, 2)])
    parity("ZeroPadding2D()", keras.layers.ZeroPadding2D(), [(2, 3, 4, 2)])
    parity("ZeroPadding3D()", keras.layers.ZeroPadding3D(), [(2, 2, 3, 2, 2)])


@pytest.mark.parametrize("cropping", [1, (2, 0), (0, 3)])
def test_cropping_1d(cropping: int | tuple[int, int]) -> None:
    parity(f"Cropping1D({_nn(cropping)})", keras.layers.Cropping1D(cropping), [(2, 6, 2)])


@pytest.mark.parametrize("cropping", [1, (1, 2), ((1, 0), (0, 2)), ((0, 0), (2, 1))])
@pytest.mark.parametrize("data_format", ["channels_last", CF])
def test_cropping_2d(cropping: object, data_format: str) -> None:
    parity(
        f'Cropping2D({_nn(cropping)}, data_format = "{data_format}")',
        keras.layers.Cropping2D(cropping, data_format=data_format),
        [(2, 5, 6, 5)],
    )


@pytest.mark.parametrize("cropping", [1, (1, 0, 2), ((0, 1), (2, 0), (1, 1))])
@pytest.mark.parametrize("data_format", ["channels_last", CF])
def test_cropping_3d(cropping: object, data_format: str) -> None:
    parity(
        f'Cropping3D({_nn(cropping)}, data_format = "{data_format}")',
        keras.layers.Cropping3D(cropping, data_format=data_format),
        [(2, 5, 5, 5, 5)],
    )


def test_cropping_defaults() -> None:
    parity("Cropping1D()", keras.layers.Cropping1D(), [(2, 6, 2)])
    parity("Cropping2D()", keras.layers.Cropping2D(), [(2, 5, 6, 2)])
    parity("Cropping3D()", keras.layers.Cropping3D(), [(2, 4, 4, 4, 2)])


def test_integer_inputs_keep_their_dtype() -> None:
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    for stage, layer in [
        ("Permute([2, 1])", keras.layers.Permute((2, 1))),
        ("ZeroPadding1D(1)", keras.layers.ZeroPadding1D(1)),
        ("Cropping1D(1)", keras.layers.Cropping1D(1)),
        ("UpSampling1D(2)", keras.layers.UpSampling1D(2)),
    ]:
        result = parity(stage, layer, inputs=[x])
        assert result.nn_outputs[0].dtype == np.int32


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("Permute([2, 1])", "f32[B, 8, T]"),
        ("UpSampling1D(3)", "f32[B, 3*T, 8]"),
        ("ZeroPadding1D([1, 2])", "f32[B, T + 3, 8]"),
        ("Cropping1D([1, 2])", "f32[B, T - 3, 8]"),
        ("Reshape([-1])", "f32[B, 8*T]"),
        ("Flatten()", "f32[B, 8*T]"),
    ],
)
def test_symbolic_time_axis(stage: str, expected: str) -> None:
    """The rules work on a symbolic axis, not only on known sizes."""
    body = f"input x: f32[B, T, 8]\n    y: {expected} = x |> {stage}\n    return y"
    src = f"model M() {{\n    {body}\n}}\n"
    result = check_source(src, "m.nn")
    assert not result.has_errors, [str(d) for d in result.diagnostics]
