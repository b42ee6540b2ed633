"""ONNX export of the activation functions and layers against JAX, on inputs spanning [-10, 10]
plus large magnitudes (where a naive softplus or log_sigmoid overflows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.ops.activation import ACTIVATION_FUNCTIONS, ACTIVATION_NAMES
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

SHAPE = (3, 5, 16)
LARGE = [20.0, 50.0, 88.0, 89.0, 100.0, 1e4, 1e30]


def spanning(shape: tuple[int, ...] = SHAPE, seed: int = 0) -> np.ndarray:
    """[-10, 10] evenly, plus large magnitudes of both signs, shuffled into `shape`."""
    n = int(np.prod(shape))
    large = np.array(LARGE + [-v for v in LARGE])[: n // 3]
    values = np.concatenate([np.linspace(-10.0, 10.0, n - len(large)), large])
    return np.random.default_rng(seed).permutation(values).reshape(shape).astype(np.float32)


def check(name: str, attrs: dict[str, Any], shape: tuple[int, ...] = SHAPE, other: int = 1) -> None:
    """At the drawn batch size and at batch `other` (the batch axis is symbolic)."""
    graph = op_graph(name, attrs, [shape])
    feeds = [{"x0": spanning(shape)}, {"x0": spanning((other, *shape[1:]), 1)}]
    if name == "squareplus":  # x**2 overflows float32 past 1.8e19: JAX's own result is inf
        feeds = [{"x0": np.clip(f["x0"], -1e4, 1e4)} for f in feeds]
    assert_onnx_matches(graph, feeds)


DEFAULTS = {"threshold": {"threshold": 0.5, "default_value": -1.0}}


@pytest.mark.parametrize("name", ACTIVATION_FUNCTIONS)
def test_function_with_defaults(name: str) -> None:
    check(name, DEFAULTS.get(name, {}))


@pytest.mark.parametrize(
    ("name", "attrs"),
    [
        ("leaky_relu", {"negative_slope": 0.01}),
        ("elu", {"alpha": 0.5}),
        ("celu", {"alpha": 0.5}),
        ("celu", {"alpha": 2.0}),
        ("squareplus", {"b": 0.0}),
        ("squareplus", {"b": 1.5}),
        ("gelu", {"approximate": True}),
        ("gelu", {"approximate": False}),
        ("soft_shrink", {"threshold": 1.0}),
        ("soft_shrink", {"threshold": 0.0}),
        ("hard_shrink", {"threshold": 2.0}),
        ("threshold", {"threshold": -1.0, "default_value": 3.0}),
        *((n, {"axis": a}) for n in ("softmax", "log_softmax", "sparsemax") for a in (0, 1, -2)),
        ("glu", {"axis": 1}),
        ("glu", {"axis": 0}),
    ],
)
def test_function_arguments(name: str, attrs: dict[str, Any]) -> None:
    if name == "glu":  # even sizes, also on the batch axis for `axis = 0`
        check(name, attrs, (4, 6, 16), other=2)
    else:
        check(name, attrs)


RELU_BRANCHES = [
    {"negative_slope": s, "max_value": m, "threshold": t}
    for s in (0.0, 0.1)
    for m in (None, 6.0, 3.5)
    for t in (0.0, 0.5, 2.0)
]


@pytest.mark.parametrize("attrs", RELU_BRANCHES)
def test_relu_branches(attrs: dict[str, Any]) -> None:
    """Every branch of Keras's `ReLU.static_call`, as the function and as the layer."""
    check("relu", attrs)
    check("ReLU", attrs)


def test_relu_function_negative_threshold() -> None:
    check("relu", {"negative_slope": 0.2, "threshold": -1.0})


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer(name: str) -> None:
    check("Activation", {"activation": name})


@pytest.mark.parametrize(
    ("name", "attrs"),
    [("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.05}), ("ELU", {"alpha": 0.7})],
)
def test_layers(name: str, attrs: dict[str, Any]) -> None:
    check(name, attrs)


@pytest.mark.parametrize("activation", ["gelu", "swish", "softplus", "hard_swish", "relu"])
def test_dense_activation(activation: str) -> None:
    graph = op_graph("Dense", {"units": 5, "activation": activation}, [(2, 7)])
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 4)])


@pytest.mark.parametrize(
    ("mask", "axis"),
    [(("B", 4, 6), -1), ((6,), -1), ((4, 1), -1), (("B", 4, 6), 1), ((1, 6), 1)],
)
def test_softmax_layer_mask(mask: tuple[int | str, ...], axis: int) -> None:
    g = GraphMaker("M")
    x = g.input("x", tensor("B", 4, 6))
    m = g.input("m", tensor(*mask, dtype=DType.BOOL))
    graph = g.output("y", g.op("Softmax", x, m, axis=axis))
    feeds = [random_inputs(graph, b, seed=b) for b in (1, 3)]
    feeds[0]["m"][...] = False  # a fully masked input: probability 0 everywhere
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_layer_without_mask(axis: int) -> None:
    check("Softmax", {"axis": axis})


@pytest.mark.parametrize(
    ("shared_axes", "shape"),
    [(None, (2, 5)), (None, (2, 4, 5)), (1, (2, 4, 5)), ((1, 2), (2, 3, 4, 5)), (2, (2, 3, 4))],
)
def test_prelu(shared_axes: Any, shape: tuple[int, ...]) -> None:
    graph = op_graph("PReLU", {"shared_axes": shared_axes}, [shape])
    assert_onnx_matches(graph, [{"x0": spanning((b, *shape[1:]), b)} for b in (1, 3)])


@pytest.mark.parametrize("name", ["relu", "gelu", "softplus", "silu", "softmax", "sparsemax"])
def test_f16(name: str) -> None:
    """f16 graphs stay f16; both sides round to f16 (10-bit mantissa), hence ~1e-2."""
    graph = op_graph(name, {}, [(2, 16)], DType.F16)
    feed = {"x0": np.clip(spanning((2, 16)), -30, 30).astype(np.float16)}
    assert_onnx_matches(graph, feed, rtol=1e-2, atol=1e-2)


def test_bf16_is_reported() -> None:
    """ONNX Runtime has no bf16 arithmetic kernels: a diagnostic, not a broken model."""
    problems = check_exportable(op_graph("gelu", {}, [(2, 4)], DType.BF16))
    assert [p.code for p in problems] == ["E0701"]
    assert "bf16" in problems[0].message
    assert check_exportable(op_graph("linear", {}, [(2, 4)], DType.BF16)) == []


# Drawn shapes matter where the lowering reads an axis or a weight's shape; the element-wise
# functions are covered above, on the fixed shape.
SPECS = ["softmax", "log_softmax", "sparsemax", "glu", "Activation", "Softmax", "PReLU", "relu"]
