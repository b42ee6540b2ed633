"""ONNX export of the operators (arithmetic, comparisons, logic, casts, constants) against JAX,
on the dtypes ONNX Runtime has kernels for; the others are reported (E0701)."""

from __future__ import annotations

import numpy as np
import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.ir import Graph
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.backend.test_shapes import BOOL_CASES
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

ARITHMETIC = ["add", "sub", "mul", "div"]
COMPARISONS = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
SHAPES = [[(2, 3, 4), (2, 3, 4)], [(2, 3, 4), (4,)], [(2, 1, 4), (3, 1)], [(2, 3), ()]]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("name", ARITHMETIC + COMPARISONS)
def test_binary_f32(name: str, shapes: list[tuple[int, ...]]) -> None:
    graph = op_graph(name, {}, shapes, symbolic_batch=False)
    feeds = [random_inputs(graph, 2, seed=s) for s in (0, 1)]
    feeds[1] = {k: np.asarray(np.round(v)) for k, v in feeds[1].items()}  # ties, to compare
    assert_onnx_matches(graph, feeds)


# (not i64: JAX without x64 computes it as i32)
@pytest.mark.parametrize("dtype", [DType.I32, DType.I8, DType.U8, DType.F16])
@pytest.mark.parametrize("name", ["add", "sub", "mul", *COMPARISONS])
def test_binary_other_dtypes(name: str, dtype: DType) -> None:
    graph = op_graph(name, {}, [(2, 3), (2, 3)], dtype)
    rng = np.random.default_rng(0)
    feed = {f"x{i}": rng.integers(0, 5, (4, 3)).astype(dtype.numpy_name) for i in range(2)}
    assert_onnx_matches(graph, feed)


@pytest.mark.parametrize("name", COMPARISONS)
def test_bool_comparisons(name: str) -> None:
    """Ordering of masks: False < True, as in JAX (ONNX's Less has no bool kernel: u8)."""
    graph = op_graph(name, {}, [(2, 3), (2, 3)], DType.BOOL)
    assert_onnx_matches(graph, [random_inputs(graph, 4, seed=s) for s in (0, 1)])


def test_f16_division() -> None:
    graph = op_graph("div", {}, [(2, 3), (2, 3)], DType.F16)
    feed = {"x0": np.full((2, 3), 3.0, np.float16), "x1": np.arange(1, 7, dtype=np.float16)}
    feed["x1"] = feed["x1"].reshape(2, 3)
    assert_onnx_matches(graph, feed)


def test_integer_division_is_reported() -> None:
    problems = check_exportable(op_graph("div", {}, [(2, 3), (2, 3)], DType.I32))
    assert [p.code for p in problems] == ["E0701"]


@pytest.mark.parametrize(
    ("name", "dtype", "inputs"),
    [
        ("add", DType.BF16, 2),
        ("less", DType.BF16, 2),
        ("matmul", DType.I16, 2),
        ("neg", DType.U8, 1),
        ("add", DType.BOOL, 2),
    ],
)
def test_missing_kernels_are_reported(name: str, dtype: DType, inputs: int) -> None:
    problems = check_exportable(op_graph(name, {}, [(2, 2)] * inputs, dtype))
    assert [p.code for p in problems] == ["E0701"]
    assert dtype.value in problems[0].message


@pytest.mark.parametrize("dtype", [DType.F32, DType.I32, DType.F16])
def test_neg(dtype: DType) -> None:
    graph = op_graph("neg", {}, [(2, 3)], dtype)
    assert_onnx_matches(graph, {"x0": np.arange(-3, 3).reshape(2, 3).astype(dtype.numpy_name)})


@pytest.mark.parametrize(
    "shapes",
    [
        [(2, 3), (3, 4)],
        [(2, 3, 5), (5, 4)],
        [(2, 3, 5), (2, 5, 4)],
        [(2, 3), (3,)],
        [(3,), (2, 3, 4)],
        [(1, 2, 3, 5), (4, 1, 5, 2)],
    ],
)
def test_matmul(shapes: list[tuple[int, ...]]) -> None:
    graph = op_graph("matmul", {}, shapes, symbolic_batch=False)
    assert_onnx_matches(graph, random_inputs(graph, 2))


def test_matmul_symbolic_batch() -> None:
    g = GraphMaker("M")
    a = g.input("a", tensor("B", 3, 5))
    b = g.input("b", tensor(5, 4))
    graph = g.output("y", g.op("matmul", a, b))
    assert_onnx_matches(graph, [random_inputs(graph, n) for n in (1, 3)])


def _scaled(dtype: DType, value: float) -> Graph:
    """`x * value`, the literal a `constant` of x's dtype, as the checker builds it."""
    g = GraphMaker("C")
    x = g.input("x", tensor("B", 3, dtype=dtype))
    c = g.op("constant", value=value, dtype=dtype)
    return g.output("y", g.op("mul", x, c))


@pytest.mark.parametrize(
    ("dtype", "value"), [(DType.F32, 0.5), (DType.F32, -3.0), (DType.I32, 2.0), (DType.F16, 1.5)]
)
def test_constant(dtype: DType, value: float) -> None:
    graph = _scaled(dtype, value)
    assert_onnx_matches(graph, {"x": np.arange(6).reshape(2, 3).astype(dtype.numpy_name)})


def test_constant_as_output() -> None:
    g = GraphMaker("C")
    x = g.input("x", tensor("B", 3))
    g.output("y", g.op("add", x, g.op("constant", value=1.0, dtype=DType.F32)))
    graph = g.output("c", g.op("constant", value=2.5, dtype=DType.F32))
    assert_onnx_matches(graph, random_inputs(graph, 2))


@pytest.mark.parametrize("name", ["logical_and", "logical_or"])
def test_logical(name: str) -> None:
    graph = op_graph(name, {}, [(2, 3, 4), (3, 1)], DType.BOOL, symbolic_batch=False)
    assert_onnx_matches(graph, [random_inputs(graph, 2, seed=s) for s in (0, 1)])


def test_logical_not() -> None:
    graph = op_graph("logical_not", {}, [(2, 3)], DType.BOOL)
    assert_onnx_matches(graph, random_inputs(graph, 3))


CAST_VALUES = np.array([[-2.7, -1.5, -0.2, 0.0, 0.3, 1.5], [2.7, 100.9, -100.9, 7.0, 0.5, -0.5]])


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (DType.F32, DType.I32),
        (DType.F32, DType.I8),
        (DType.F32, DType.BOOL),
        (DType.F32, DType.F16),
        (DType.F16, DType.F32),
        (DType.I32, DType.F32),
        (DType.BOOL, DType.F32),
        (DType.BOOL, DType.I32),
        (DType.I32, DType.BOOL),
        (DType.F32, DType.F32),
    ],
)
def test_cast(source: DType, target: DType) -> None:
    graph = op_graph("cast", {"dtype": target}, [(2, 6)], source)
    assert_onnx_matches(graph, {"x0": CAST_VALUES.astype(source.numpy_name)})


@pytest.mark.parametrize("other", [DType.F32, DType.I32, DType.F16])
def test_cast_through_bf16(other: DType) -> None:
    """bf16 cannot cross ONNX Runtime's Python API, so it is checked inside a graph: f32 ->
    bf16 (round to nearest even, as JAX) -> `other`."""
    g = GraphMaker("C")
    x = g.input("x", tensor("B", 6))
    h = g.op("cast", x, dtype=DType.BF16)
    graph = g.output("y", g.op("cast", h, dtype=other))
    feed = {"x": (CAST_VALUES * np.float32(1.0078)).astype(np.float32)}
    assert_onnx_matches(graph, feed)


SPECS = [*ARITHMETIC, *COMPARISONS, "neg", "matmul", "cast", *BOOL_CASES]
