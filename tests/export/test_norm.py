"""ONNX export of the normalization layers against the JAX impls (inference)."""

from __future__ import annotations

from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.ir import Graph
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

NORMS = (
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "RMSNormalization",
)


def _sequence_graph(name: str, dims: tuple[int | str, ...], **attrs: Any) -> Graph:
    g = GraphMaker("Norm")
    return g.output("y", g.op(name, g.input("x", tensor(*dims)), **attrs))


def _check(graph: Graph) -> None:
    feeds = [random_inputs(graph, b, seed=b, T=t) for b, t in ((1, 3), (3, 7))]
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize(
    ("name", "attrs"),
    [
        ("BatchNormalization", {}),
        ("BatchNormalization", {"axis": 1}),
        ("BatchNormalization", {"axis": 2}),
        ("BatchNormalization", {"scale": False, "center": False}),
        ("LayerNormalization", {}),
        ("LayerNormalization", {"scale": False}),
        ("LayerNormalization", {"center": False}),
        ("LayerNormalization", {"scale": False, "center": False}),
        ("LayerNormalization", {"axis": (-2, -1)}),
        ("LayerNormalization", {"axis": 1}),
        ("LayerNormalization", {"axis": (1, 3)}),
        ("LayerNormalization", {"axis": (3, 1)}),
        ("LayerNormalization", {"rms_scaling": True}),
        ("LayerNormalization", {"epsilon": 1e-6}),
        ("GroupNormalization", {"groups": 2}),
        ("GroupNormalization", {"groups": -1}),
        ("GroupNormalization", {"groups": 1, "scale": False}),
        ("GroupNormalization", {"groups": 3, "axis": 1}),
        ("UnitNormalization", {}),
        ("UnitNormalization", {"axis": (1, 2)}),
        ("RMSNormalization", {}),
        ("RMSNormalization", {"axis": (2, 3)}),
    ],
)
def test_static_shapes(name: str, attrs: dict[str, Any]) -> None:
    graph = op_graph(name, attrs, [(2, 3, 5, 6)])
    _check(graph)


@pytest.mark.parametrize("name", NORMS)
def test_symbolic_batch_and_time(name: str) -> None:
    attrs = {"groups": 2} if name == "GroupNormalization" else {}
    _check(_sequence_graph(name, ("B", "T", 4), **attrs))


def test_layer_norm_over_symbolic_time_without_weights() -> None:
    graph = _sequence_graph(
        "LayerNormalization", ("B", "T", 4), axis=(1, 2), scale=False, center=False
    )
    _check(graph)


def test_unit_norm_over_symbolic_time() -> None:
    _check(_sequence_graph("UnitNormalization", ("B", "T", 4), axis=1))


def test_batch_norm_ignores_its_mask_at_inference() -> None:
    g = GraphMaker("Norm")
    x = g.input("x", tensor("B", "T", 4))
    m = g.input("m", tensor("B", "T", dtype=DType.BOOL))
    _check(g.output("y", g.op("BatchNormalization", x, m)))


@pytest.mark.parametrize("dtype", [DType.F16, DType.BF16])
@pytest.mark.parametrize("name", ["BatchNormalization", "LayerNormalization", "RMSNormalization"])
def test_half_precision(name: str, dtype: DType) -> None:
    graph = op_graph(name, {}, [(2, 3, 8)], dtype)
    if dtype is DType.BF16:
        pytest.skip("ONNX Runtime's CPU provider has few bfloat16 kernels")
    assert_onnx_matches(graph, random_inputs(graph, 2), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", NORMS)
def test_exportable_on_placeholder_weights(name: str) -> None:
    attrs = {"groups": 2} if name == "GroupNormalization" else {}
    assert check_exportable(_sequence_graph(name, ("B", "T", 4), **attrs)) == []
