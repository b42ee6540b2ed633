"""ONNX export of the merging layers against JAX: Keras's broadcasting (missing axes after the
batch axis), Concatenate on every axis, Dot (`batch_dot`) with and without normalisation."""

from __future__ import annotations

from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.shapes import DType
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
SHAPES = [
    [(2, 3, 4), (2, 3, 4)],
    [(2, 3, 4), (2, 4)],  # Keras: `[B, 4]` -> `[B, 1, 4]`
    [(2, 4), (2, 3, 4)],
    [(2, 3, 1), (2, 1, 4)],
    [(2, 5), (2,)],  # `[B]` -> `[B, 1]`
]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise(name: str, shapes: list[tuple[int, ...]]) -> None:
    graph = op_graph(name, {}, shapes)
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, 3)])


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_three_inputs(name: str) -> None:
    graph = op_graph(name, {}, [(2, 3, 4), (2, 4), (2, 1, 1)])
    assert_onnx_matches(graph, random_inputs(graph, 3))


@pytest.mark.parametrize("name", ["Add", "Subtract", "Maximum", "Minimum", "Multiply"])
def test_integer_inputs(name: str) -> None:
    graph = op_graph(name, {}, [(2, 3), (2, 3)], DType.I32)
    assert_onnx_matches(graph, random_inputs(graph, 2))


def test_missing_kernel_is_reported() -> None:
    problems = check_exportable(op_graph("Maximum", {}, [(2, 3), (2, 3)], DType.I16))
    assert [p.code for p in problems] == ["E0701"]


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -3])
def test_concatenate(axis: int) -> None:
    shapes = [(2, 3, 4), (2, 3, 4)]
    graph = op_graph("Concatenate", {"axis": axis}, shapes)
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 3)])


def test_concatenate_three_of_different_sizes() -> None:
    graph = op_graph("Concatenate", {"axis": -1}, [(2, 3, 4), (2, 3, 1), (2, 3, 2)])
    assert_onnx_matches(graph, random_inputs(graph, 2))


def test_concatenate_bool() -> None:
    graph = op_graph("Concatenate", {"axis": 1}, [(2, 3), (2, 2)], DType.BOOL)
    assert_onnx_matches(graph, random_inputs(graph, 2))


DOTS = [
    ({"axes": 1}, [(2, 5), (2, 5)]),  # `[B]` -> `[B, 1]`
    ({"axes": (2, 1)}, [(2, 3, 5), (2, 5, 4)]),
    ({"axes": (1, 1)}, [(2, 5, 3), (2, 5, 4)]),
    ({"axes": -1}, [(2, 3, 5), (2, 4, 5)]),
    ({"axes": (2, 2)}, [(2, 3, 4, 2), (2, 2, 4)]),
    ({"axes": (1, 2)}, [(2, 4), (2, 3, 4)]),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize(("attrs", "shapes"), DOTS)
def test_dot(attrs: dict[str, Any], shapes: list[tuple[int, ...]], normalize: bool) -> None:
    graph = op_graph("Dot", {**attrs, "normalize": normalize}, shapes)
    feeds = [random_inputs(graph, b, seed=b) for b in (1, 3)]
    feeds[0]["x0"][...] = 0.0  # normalize: rsqrt(0) is capped at 1e7, as in Keras
    assert_onnx_matches(graph, feeds)
