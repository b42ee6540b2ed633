"""ONNX export of the reshaping layers against JAX, with the batch (and a length) dynamic."""

from __future__ import annotations

from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.shapes import Dim, DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

NAMES = [
    "Flatten",
    "Reshape",
    "Permute",
    "RepeatVector",
    *(f"{kind}{n}D" for kind in ("UpSampling", "ZeroPadding", "Cropping") for n in (1, 2, 3)),
]

FIRST = {"data_format": "channels_first"}

EXPLICIT: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("Flatten", {}, (2, 3)),
    ("Flatten", {}, (2, 3, 4, 5)),
    ("Flatten", FIRST, (2, 3, 4, 5)),
    ("Reshape", {"target_shape": (4, -1)}, (2, 3, 4, 2)),
    ("Reshape", {"target_shape": (2, 3, 4)}, (2, 6, 4)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5)),
    ("RepeatVector", {"n": 3}, (2, 5)),
    ("UpSampling1D", {"size": 3}, (2, 4, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": (3, 2), **FIRST}, (2, 2, 3, 4)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": 3, "interpolation": "bilinear", **FIRST}, (2, 2, 3, 4)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bicubic"}, (2, 4, 5, 2)),
    ("UpSampling3D", {"size": (1, 2, 3), **FIRST}, (2, 2, 2, 3, 2)),
    ("ZeroPadding1D", {"padding": (1, 2)}, (2, 4, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3)), **FIRST}, (2, 3, 4, 2)),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}, (2, 2, 3, 2, 2)),
    ("Cropping1D", {"cropping": (0, 2)}, (2, 5, 3)),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1)), **FIRST}, (2, 3, 5, 6)),
    ("Cropping3D", {"cropping": (1, 0, 2)}, (2, 4, 3, 6, 2)),
]


@pytest.mark.parametrize(("name", "attrs", "shape"), EXPLICIT, ids=str)
def test_reshaping_matches_jax(name: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph(name, attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, shape[0] + 1)])


@pytest.mark.parametrize(
    ("name", "attrs", "shape"),
    [
        ("Flatten", {}, (3, 4, 2)),
        ("UpSampling2D", {"size": 2}, (3, 4, 2)),
        ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (3, 4, 2)),
        ("ZeroPadding1D", {"padding": 1}, (3, 4)),
    ],
    ids=str,
)
def test_integer_inputs(name: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    """Nearest upsampling, padding and flattening keep any dtype; bilinear rounds back."""
    graph = op_graph(name, attrs, [(1, *shape)], DType.I32)
    feed = random_inputs(graph, 2)
    feed["x0"] = feed["x0"] * 7 - 3
    assert_onnx_matches(graph, feed)


def _graph(name: str, shape: tuple[int | str, ...], **attrs: Any) -> Any:
    g = GraphMaker("Op")
    return g.output("y", g.op(name, g.input("x0", tensor(*shape)), **attrs))


@pytest.mark.parametrize(
    ("name", "shape", "attrs"),
    [
        ("Flatten", ("B", "T", 3), {}),
        ("Reshape", ("B", "T", 4), {"target_shape": (-1, 2)}),
        ("Reshape", ("B", "T", 4), {"target_shape": (Dim.sym("T"), 2, 2)}),
        ("Reshape", ("B", "T", "S", 2), {"target_shape": (Dim.sym("S"), Dim.sym("T"), 2)}),
        ("Reshape", ("B", "T", "S", 2), {"target_shape": (Dim.sym("S"), -1)}),
        ("Permute", ("B", "T", "S"), {"dims": (2, 1)}),
        ("UpSampling1D", ("B", "T", 3), {"size": 2}),
        ("ZeroPadding1D", ("B", "T", 3), {"padding": (2, 1)}),
        ("Cropping1D", ("B", "T", 3), {"cropping": (1, 2)}),
    ],
    ids=str,
)
def test_symbolic_sizes_stay_dynamic(
    name: str, shape: tuple[int | str, ...], attrs: dict[str, Any]
) -> None:
    graph = _graph(name, shape, **attrs)
    feeds = [random_inputs(graph, b, seed=t, T=t, S=s) for b, t, s in ((1, 4, 2), (3, 5, 3))]
    assert_onnx_matches(graph, feeds)


def test_lanczos_has_no_onnx_form() -> None:
    graph = op_graph("UpSampling2D", {"size": 2, "interpolation": "lanczos3"}, [(1, 3, 3, 2)])
    problems = check_exportable(graph)
    assert [p.code for p in problems] == ["E0701"]
    assert "lanczos3" in problems[0].message
