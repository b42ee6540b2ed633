"""ONNX export of the poolings against JAX: windows, strides, "same" padding (padded cells out
of the mean), both layouts, global pools with keepdims and the 1-D average's mask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs, run_onnx

NAMES = [
    f"{kind}Pooling{n}D"
    for kind in ("Max", "Average", "GlobalMax", "GlobalAverage")
    for n in (1, 2, 3)
]

FIRST = {"data_format": "channels_first"}

EXPLICIT: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    ("MaxPooling2D", {"pool_size": 2}, (2, 7, 6, 3)),
    ("MaxPooling2D", {"pool_size": (3, 2), "strides": 1, "padding": "same", **FIRST}, (2, 3, 5, 4)),
    ("MaxPooling3D", {"pool_size": 2, "padding": "same"}, (1, 3, 5, 4, 2)),
    ("AveragePooling1D", {"pool_size": 3, "padding": "same"}, (2, 7, 3)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 7, 3)),
    ("AveragePooling2D", {"pool_size": (2, 3), "strides": (1, 2), **FIRST}, (2, 3, 6, 7)),
    (
        "AveragePooling3D",
        {"pool_size": 2, "strides": 1, "padding": "same", **FIRST},
        (1, 2, 3, 4, 3),
    ),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 4, 5, 3)),
    ("GlobalAveragePooling1D", {"keepdims": True, **FIRST}, (2, 3, 5)),
    ("GlobalAveragePooling3D", {}, (2, 3, 2, 4, 3)),
]


@pytest.mark.parametrize(("name", "attrs", "shape"), EXPLICIT, ids=str)
def test_pool_matches_jax(name: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph(name, attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, shape[0] + 1)])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_masked_global_average(keepdims: bool, data_format: str) -> None:
    """Masked steps count neither in the sum nor in the divisor."""
    g = GraphMaker("Op")
    x = g.input(
        "x0", tensor("B", "T", 3) if data_format == "channels_last" else tensor("B", 3, "T")
    )
    mask = g.input("x1", tensor("B", "T", dtype=DType.BOOL))
    attrs = {"keepdims": keepdims, "data_format": data_format}
    graph = g.output("y", g.op("GlobalAveragePooling1D", x, mask, **attrs))
    feeds = []
    for b, t in ((2, 5), (3, 1)):
        feed = random_inputs(graph, b, seed=t, T=t)
        feed["x1"][:, 0] = True  # at least one step kept per row
        feeds.append(feed)
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize(
    "attrs",
    [
        {"pool_size": 3, "strides": 2, "padding": "same"},
        {"pool_size": 2, "strides": 2, "padding": "same"},
        {"pool_size": 1, "strides": 3, "padding": "same"},
        {"pool_size": 2, "strides": 3},
    ],
    ids=str,
)
@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D"])
def test_symbolic_length_stays_dynamic(name: str, attrs: dict[str, Any]) -> None:
    g = GraphMaker("Op")
    graph = g.output("y", g.op(name, g.input("x0", tensor("B", "T", 2)), **attrs))
    assert_onnx_matches(graph, [random_inputs(graph, 2, seed=t, T=t) for t in range(2, 12)])


def test_same_with_stride_over_a_smaller_window_needs_a_known_length() -> None:
    """ONNX's SAME_UPPER would pad a negative count there: a diagnostic, not a wrong model."""
    g = GraphMaker("Op")
    x = g.input("x0", tensor("B", "T", 2))
    graph = g.output("y", g.op("MaxPooling1D", x, pool_size=2, strides=3, padding="same"))
    problems = check_exportable(graph)
    assert [p.code for p in problems] == ["E0701"]
    assert "run time" in problems[0].message


def test_average_excludes_padding() -> None:
    """All-ones input: every "same" window's mean is exactly 1, border windows included."""
    graph = op_graph(
        "AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, [(1, 6, 6, 1)]
    )
    ones = {"x0": np.ones((2, 6, 6, 1), np.float32)}
    (y,) = run_onnx(assert_onnx_matches(graph, ones), ones)
    np.testing.assert_allclose(y, np.ones((2, 3, 3, 1)), rtol=1e-6)
