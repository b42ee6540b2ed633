"""ONNX export of the preprocessing layers against the JAX impls, argument by argument.

Preprocessing shapes are not among `tests/backend/test_shapes.py`'s CASES: the cases here are
explicit. Integer inputs (ids, tokens, `u8` pixels) are built here: the harness draws ids in
0..1 only, which would miss out-of-range ids, OOV tokens and mask tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nndsl.backend.onnx import ExportError, check_exportable, export_onnx
from nndsl.ir import Graph
from nndsl.ops import ArgValue
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs, random_weights

IMAGE = (5, 6, 3)  # [H, W, C] after the batch; H != W so axis mix-ups show


def _images(graph: Graph, batch: int, seed: int = 0, **sizes: int) -> dict[str, np.ndarray]:
    """Pixel-like inputs: uniform in 0..1, integers in 0..255."""
    feed = random_inputs(graph, batch, seed, **sizes)
    rng = np.random.default_rng(seed)
    return {
        k: (
            rng.uniform(0, 1, v.shape) if v.dtype.kind == "f" else rng.integers(0, 256, v.shape)
        ).astype(v.dtype)
        for k, v in feed.items()
    }


def _check_images(
    name: str,
    attrs: dict[str, ArgValue],
    shape: tuple[int, ...] = IMAGE,
    dtype: DType = DType.F32,
    **kw: Any,
) -> None:
    graph = op_graph(name, attrs, [(2, *shape)], dtype)
    assert_onnx_matches(graph, [_images(graph, b, seed=b) for b in (1, 3)], **kw)


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    h, w, c = shape
    return (c, h, w)


# -- Normalization ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attrs", "shape"),
    [
        ({}, (4, 3)),
        ({"axis": -1, "invert": True}, (4, 3)),
        ({"axis": (1, 2)}, (3, 4, 2)),
        ({"axis": (-1, 1)}, (3, 4, 2)),
        ({"axis": 1}, (3, 4, 2)),
        ({"axis": None}, (3, 4)),
        ({"axis": ()}, (3, 4)),
    ],
)
def test_normalization_adapted_state(attrs: dict[str, ArgValue], shape: tuple[int, ...]) -> None:
    """The adapted mean and variance come through the state (one variance is 0: the floor)."""
    graph = op_graph("Normalization", attrs, [(2, *shape)])
    params, state = random_weights(graph)
    rng = np.random.default_rng(1)
    for ws in state.values():
        mean = rng.normal(0, 2, ws["mean"].shape).astype(np.float32)
        variance = rng.uniform(0.1, 4, ws["variance"].shape).astype(np.float32)
        variance.reshape(-1)[0] = 0.0
        ws["mean"], ws["variance"] = mean, variance
    inputs = [random_inputs(graph, b, seed=b) for b in (1, 3)]
    assert_onnx_matches(graph, inputs, (params, state))


@pytest.mark.parametrize(
    ("attrs", "shape"),
    [
        ({"mean": 3.0, "variance": 2.0}, (4, 5)),
        ({"mean": 3.0, "variance": 2.0, "invert": True}, (4, 5)),
        ({"mean": (1.0, 2.0, 3.0), "variance": (1.0, 4.0, 0.25)}, (4, 3)),
        ({"mean": (1.0, 2.0, 3.0), "variance": (1.0, 0.0, 0.25), "invert": True}, (4, 3)),
        ({"mean": (1.0,), "variance": (4.0,)}, (4, 3)),
        ({"mean": (1.0, 2.0, 3.0, 4.0), "variance": (1.0, 2.0, 3.0, 4.0), "axis": 1}, (4, 3)),
        ({"mean": 0.5, "variance": 0.25, "axis": None}, (4, 3)),
    ],
)
def test_normalization_fixed(attrs: dict[str, ArgValue], shape: tuple[int, ...]) -> None:
    graph = op_graph("Normalization", attrs, [(2, *shape)])
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, 3)])


# -- Rescaling --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attrs", "dtype"),
    [
        ({"scale": 1.0 / 255}, DType.F32),
        ({"scale": 1.0 / 127.5, "offset": -1.0}, DType.F32),
        ({"scale": (0.5, 2.0, -1.0), "offset": (0.1, 0.2, 0.3)}, DType.F32),
        ({"scale": (0.5,), "offset": 1.0}, DType.F32),
        ({"scale": 1.0 / 255}, DType.U8),
        ({"scale": (0.5, 2.0, -1.0), "offset": -3.0}, DType.I32),
    ],
)
def test_rescaling(attrs: dict[str, ArgValue], dtype: DType) -> None:
    _check_images("Rescaling", attrs, dtype=dtype)


# -- cropping ---------------------------------------------------------------------------------
CROPS = [
    ((3, 4), (5, 6, 3)),  # smaller: a window
    ((4, 4), (5, 6, 3)),  # odd margins
    ((5, 6), (5, 6, 3)),  # the image itself
    ((7, 9), (5, 6, 3)),  # larger: smart_resize upscales
    ((8, 3), (5, 6, 3)),  # taller, narrower: crop to the aspect ratio, then resize
    ((2, 8), (5, 6, 3)),
]


@pytest.mark.parametrize(("size", "shape"), CROPS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("op", ["CenterCrop", "RandomCrop"])
def test_crops(
    op: str, data_format: str, size: tuple[int, int], shape: tuple[int, int, int]
) -> None:
    """CenterCrop and RandomCrop's inference form (RandomCrop resizes even a larger image)."""
    attrs: dict[str, ArgValue] = {"height": size[0], "width": size[1], "data_format": data_format}
    _check_images(op, attrs, shape if data_format == "channels_last" else _nchw(shape))


@pytest.mark.parametrize("op", ["CenterCrop", "RandomCrop"])
def test_crops_of_integer_images(op: str) -> None:
    # Resized pixels up to 255: float32 resolves them to ~1.5e-5, and the weighted sums differ
    # in order, so the tolerance scales with the pixel range.
    _check_images(op, {"height": 3, "width": 8}, dtype=DType.U8, atol=255e-5)


# -- Resizing ---------------------------------------------------------------------------------
SIZES = [(10, 12), (2, 3), (3, 11), (5, 6)]  # up, down, mixed, the same (of IMAGE)
METHODS = ["bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", METHODS)
def test_resizing(interpolation: str, antialias: bool, size: tuple[int, int]) -> None:
    attrs: dict[str, ArgValue] = {
        "height": size[0],
        "width": size[1],
        "interpolation": interpolation,
        "antialias": antialias,
    }
    _check_images("Resizing", attrs)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((13, 9, 2), (5, 6)), ((8, 8, 2), (3, 3)), ((7, 5, 2), (11, 2)), ((17, 4, 1), (4, 1))],
)
@pytest.mark.parametrize(
    ("interpolation", "antialias"),
    [("bilinear", True), ("bilinear", False), ("bicubic", True), ("bicubic", False)],
)
def test_resizing_more_ratios(
    interpolation: str, antialias: bool, shape: tuple[int, int, int], size: tuple[int, int]
) -> None:
    attrs: dict[str, ArgValue] = {
        "height": size[0],
        "width": size[1],
        "interpolation": interpolation,
        "antialias": antialias,
    }
    _check_images("Resizing", attrs, shape)


def test_nearest_indices_match_jax_on_ties() -> None:
    """Sizes where `(i + 0.5) * m / n` is an integer: ONNX Runtime's nearest mode rounds some
    of them the other way, the exported `Gather` indices do not."""
    for m, n in [(52, 1), (60, 2), (40, 6), (30, 9), (42, 11), (12, 5)]:
        attrs: dict[str, ArgValue] = {"height": n, "width": 2, "interpolation": "nearest"}
        graph = op_graph("Resizing", attrs, [(1, m, 3, 1)])
        assert_onnx_matches(graph, random_inputs(graph, 1))


@pytest.mark.parametrize("interpolation", METHODS)
@pytest.mark.parametrize(
    ("keep", "size"),
    [
        ("crop_to_aspect_ratio", (4, 4)),
        ("crop_to_aspect_ratio", (2, 7)),
        ("pad_to_aspect_ratio", (4, 4)),
        ("pad_to_aspect_ratio", (9, 3)),
        ("pad_to_aspect_ratio", (10, 12)),  # the aspect ratio already: no padding
    ],
)
def test_resizing_keep_aspect_ratio(interpolation: str, keep: str, size: tuple[int, int]) -> None:
    attrs: dict[str, ArgValue] = {
        "height": size[0],
        "width": size[1],
        "interpolation": interpolation,
        keep: True,
        "fill_value": -7.5,
    }
    _check_images("Resizing", attrs)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "lanczos3"])
@pytest.mark.parametrize("keep", ["crop_to_aspect_ratio", "pad_to_aspect_ratio", None])
def test_resizing_channels_first(interpolation: str, keep: str | None) -> None:
    attrs: dict[str, ArgValue] = {
        "height": 4,
        "width": 9,
        "interpolation": interpolation,
        "data_format": "channels_first",
        "fill_value": 2.0,
    }
    if keep:
        attrs[keep] = True
    _check_images("Resizing", attrs, _nchw(IMAGE))


def test_resizing_integer_images() -> None:
    attrs: dict[str, ArgValue] = {"height": 3, "width": 9, "antialias": True}
    _check_images("Resizing", attrs, dtype=DType.U8, atol=255e-5)  # as for the crops above


def _symbolic_image_graph(attrs: dict[str, ArgValue], channels_first: bool = False) -> Graph:
    g = GraphMaker("Op")
    shape = ("B", 3, "H", "W") if channels_first else ("B", "H", "W", 3)
    x = g.input("x0", tensor(*shape))
    return g.output("y", g.op("Resizing", x, **attrs))


@pytest.mark.parametrize(
    ("interpolation", "antialias"),
    [("bilinear", False), ("bilinear", True), ("nearest", False), ("bicubic", True)],
)
@pytest.mark.parametrize("channels_first", [False, True])
def test_resizing_image_of_run_time_size(
    interpolation: str, antialias: bool, channels_first: bool
) -> None:
    """Height and width known only at run time: one model for several image sizes."""
    attrs: dict[str, ArgValue] = {
        "height": 4,
        "width": 6,
        "interpolation": interpolation,
        "antialias": antialias,
        "data_format": "channels_first" if channels_first else "channels_last",
    }
    graph = _symbolic_image_graph(attrs, channels_first)
    feeds = [_images(graph, 2, H=h, W=w) for h, w in ((8, 12), (3, 3), (4, 6), (52, 5))]
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize(
    ("interpolation", "antialias", "reason"),
    [
        ("lanczos3", True, "no Lanczos kernel"),
        ("lanczos5", False, "no Lanczos kernel"),
        ("bicubic", False, "refuses bicubic downscaling without antialias"),
    ],
)
def test_resizing_image_of_run_time_size_unsupported(
    interpolation: str, antialias: bool, reason: str
) -> None:
    attrs: dict[str, ArgValue] = {
        "height": 4,
        "width": 6,
        "interpolation": interpolation,
        "antialias": antialias,
    }
    graph = _symbolic_image_graph(attrs)
    params, state = random_weights(graph)
    with pytest.raises(ExportError, match=reason):
        export_onnx(graph, params, state)


# -- augmentations ----------------------------------------------------------------------------
AUGMENTATIONS: list[tuple[str, dict[str, ArgValue]]] = [
    ("RandomFlip", {"mode": "horizontal"}),
    ("RandomFlip", {"mode": "vertical", "seed": 3}),
    ("RandomFlip", {}),
    ("RandomContrast", {"factor": 0.3}),
    ("RandomContrast", {"factor": (0.1, 0.5), "value_range": (0.0, 1.0)}),
    ("RandomRotation", {"factor": 0.1}),
    ("RandomRotation", {"factor": (-0.2, 0.3), "fill_mode": "constant", "fill_value": 1.0}),
    ("RandomZoom", {"height_factor": 0.2}),
    ("RandomZoom", {"height_factor": (-0.2, 0.3), "width_factor": 0.1, "fill_mode": "wrap"}),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2}),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2, "interpolation": "nearest"}),
]


@pytest.mark.parametrize(("op", "attrs"), AUGMENTATIONS)
@pytest.mark.parametrize("dtype", [DType.F32, DType.U8])
def test_augmentations_are_the_identity(op: str, attrs: dict[str, ArgValue], dtype: DType) -> None:
    _check_images(op, attrs, dtype=dtype)


@pytest.mark.parametrize("op", ["RandomFlip", "RandomContrast", "RandomRotation"])
def test_augmentations_channels_first(op: str) -> None:
    attrs: dict[str, ArgValue] = {"data_format": "channels_first"}
    if op != "RandomFlip":
        attrs["factor"] = 0.2
    _check_images(op, attrs, _nchw(IMAGE))


# -- categorical ------------------------------------------------------------------------------
def _ids(shape: tuple[int, ...], low: int, high: int, dtype: DType, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, shape).astype(dtype.numpy_name)


def _check_ids(
    name: str,
    attrs: dict[str, ArgValue],
    shape: tuple[int, ...],
    low: int,
    high: int,
    dtype: DType = DType.I32,
) -> None:
    graph = op_graph(name, attrs, [shape], dtype)
    feeds = [{"x0": _ids((b, *shape[1:]), low, high, dtype, b)} for b in (1, 4)]
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("shape", [(2,), (2, 5), (2, 1)])
def test_category_encoding(mode: str, shape: tuple[int, ...]) -> None:
    """Ids out of range (negative, or >= num_tokens) encode as zeros."""
    _check_ids("CategoryEncoding", {"num_tokens": 6, "output_mode": mode}, shape, -3, 9)


@pytest.mark.parametrize("dtype", [DType.I64, DType.U8, DType.I8])
def test_category_encoding_id_types(dtype: DType) -> None:
    low = 0 if dtype is DType.U8 else -2
    _check_ids("CategoryEncoding", {"num_tokens": 7, "output_mode": "count"}, (2, 4), low, 9, dtype)


def test_category_encoding_one_hot_of_higher_rank() -> None:
    _check_ids("CategoryEncoding", {"num_tokens": 4, "output_mode": "one_hot"}, (2, 3, 2), -1, 5)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize(
    "bins", [(0.0, 1.0, 2.5), (-1.0,), (0.0, 0.0, 1.0), 0.5], ids=["rising", "one", "tie", "num"]
)
def test_discretization(mode: str, bins: ArgValue) -> None:
    """Values on the boundaries, infinities and NaN included."""
    attrs: dict[str, ArgValue] = {"bin_boundaries": bins, "output_mode": mode}
    graph = op_graph("Discretization", attrs, [(2, 7)])
    edges = np.asarray([0.0, 1.0, 2.5, -1.0, np.inf, -np.inf, np.nan], np.float32)
    feeds = []
    for b in (1, 3):
        x = np.random.default_rng(b).uniform(-2, 3, (b, 7)).astype(np.float32)
        x[0] = edges
        feeds.append({"x0": x})
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize("mode", ["int", "one_hot"])
@pytest.mark.parametrize("shape", [(2,), (2, 3, 2)])
def test_discretization_ranks(mode: str, shape: tuple[int, ...]) -> None:
    graph = op_graph("Discretization", {"bin_boundaries": (0.0, 1.0), "output_mode": mode}, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, 3)])


def test_discretization_of_integers() -> None:
    _check_ids("Discretization", {"bin_boundaries": (0.0, 2.0, 3.5)}, (2, 6), -2, 6)


VOCAB = (7, 11, 42, -5, 0)


@pytest.mark.parametrize("num_oov_indices", [0, 1, 3])
@pytest.mark.parametrize("mask_token", [None, 9, -1])
def test_integer_lookup(num_oov_indices: int, mask_token: int | None) -> None:
    """Tokens: the vocabulary, the mask token, and out-of-vocabulary ones (negative too)."""
    attrs: dict[str, ArgValue] = {
        "vocabulary": VOCAB,
        "num_oov_indices": num_oov_indices,
        "mask_token": mask_token,
    }
    graph = op_graph("IntegerLookup", attrs, [(2, 6)], DType.I32)
    rng = np.random.default_rng(0)
    tokens = np.asarray([*VOCAB, 9, -1, 1, 2, 100, -13], np.int32)
    feeds = [{"x0": rng.choice(tokens, (b, 6)).astype(np.int32)} for b in (1, 5)]
    feeds[1]["x0"][0] = tokens[:6]
    feeds[1]["x0"][1] = tokens[-6:]
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("mask_token", [None, 9])
def test_integer_lookup_encoded(mode: str, mask_token: int | None) -> None:
    attrs: dict[str, ArgValue] = {
        "vocabulary": VOCAB,
        "num_oov_indices": 2,
        "mask_token": mask_token,
        "output_mode": mode,
    }
    _check_ids("IntegerLookup", attrs, (2, 4), -3, 15)


@pytest.mark.parametrize("num_oov_indices", [0, 1, 2])
@pytest.mark.parametrize("mask_token", [None, 9])
def test_integer_lookup_invert(num_oov_indices: int, mask_token: int | None) -> None:
    """Indices back to tokens; indices outside the table give `oov_token`."""
    attrs: dict[str, ArgValue] = {
        "vocabulary": VOCAB,
        "num_oov_indices": num_oov_indices,
        "mask_token": mask_token,
        "oov_token": -99,
        "invert": True,
    }
    _check_ids("IntegerLookup", attrs, (2, 5), -3, 11)


@pytest.mark.parametrize("dtype", [DType.I64, DType.U8])
def test_integer_lookup_token_types(dtype: DType) -> None:
    attrs: dict[str, ArgValue] = {"vocabulary": (3, 200, 7), "num_oov_indices": 2}
    _check_ids("IntegerLookup", attrs, (2, 3, 2), 0, 255, dtype)


def test_integer_lookup_single_token_vocabulary() -> None:
    _check_ids("IntegerLookup", {"vocabulary": 4, "output_mode": "count"}, (2, 3), 0, 8)


def test_check_exportable_on_placeholder_weights() -> None:
    """The adapted statistics work as zero-stride placeholders; a Lanczos resize of an image
    of run-time size is reported (E0701) before any weight is read."""
    g = GraphMaker("Op")
    x = g.input("x0", tensor("B", 5, 6, 3))
    h = g.op("Normalization", x, axis=(1, -1))
    ok = g.output("y", g.op("Resizing", h, height=3, width=4, interpolation="lanczos3"))
    assert check_exportable(ok) == []
    bad = _symbolic_image_graph({"height": 3, "width": 4, "interpolation": "lanczos3"})
    (problem,) = check_exportable(bad)
    assert problem.code == "E0701"
    assert "no Lanczos kernel" in problem.message
