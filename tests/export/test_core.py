"""ONNX export of the core layers (Dense, Identity, Embedding, PositionEmbedding, EinsumDense,
Dropout) and the regularization layers (identity at inference) against JAX."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs


@pytest.mark.parametrize(
    ("attrs", "shape"),
    [
        ({"units": 3}, (2, 5)),
        ({"units": 4, "use_bias": False}, (2, 3, 5)),
        ({"units": 2, "activation": "tanh"}, (2, 2, 3, 5)),
    ],
)
def test_dense(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph("Dense", attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 3)])


@pytest.mark.parametrize("name", ["Identity", "Dropout"])
def test_identity(name: str) -> None:
    graph = op_graph(name, {"rate": 0.5} if name == "Dropout" else {}, [(2, 3, 4)])
    assert_onnx_matches(graph, random_inputs(graph, 2))


@pytest.mark.parametrize("dtype", [DType.I32, DType.I64, DType.I8, DType.U8, DType.I16])
def test_embedding_ids(dtype: DType) -> None:
    graph = op_graph("Embedding", {"input_dim": 7, "output_dim": 4}, [(2, 5)], dtype)
    rng = np.random.default_rng(0)
    feeds = [{"x0": rng.integers(0, 7, (b, 5)).astype(dtype.numpy_name)} for b in (1, 3)]
    model = assert_onnx_matches(graph, feeds)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "B"


def test_embedding_of_rank_3_ids() -> None:
    graph = op_graph("Embedding", {"input_dim": 11, "output_dim": 3}, [(2, 4, 2)], DType.I32)
    feed = {"x0": np.random.default_rng(1).integers(0, 11, (3, 4, 2)).astype(np.int32)}
    assert_onnx_matches(graph, feed)


@pytest.mark.parametrize("length", [1, 4, 6])
def test_position_embedding_symbolic_length(length: int) -> None:
    """T symbolic: the rows are sliced at run time; one model serves every length."""
    g = GraphMaker("P")
    x = g.input("x", tensor("B", "T", 8))
    graph = g.output("y", g.op("PositionEmbedding", x, sequence_length=6))
    assert_onnx_matches(graph, [random_inputs(graph, b, T=length) for b in (1, 2)])


def test_position_embedding_static_length() -> None:
    graph = op_graph("PositionEmbedding", {"sequence_length": 9}, [(2, 5, 3)])
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 2)])


def test_position_embedding_added_to_tokens() -> None:
    g = GraphMaker("P")
    ids = g.input("ids", tensor("B", "T", dtype=DType.I32))
    h = g.op("Embedding", ids, input_dim=2, output_dim=4)
    graph = g.output("y", g.op("add", h, g.op("PositionEmbedding", h, sequence_length=5)))
    assert_onnx_matches(graph, [random_inputs(graph, 2, T=t) for t in (2, 5)])


EINSUM = [
    ({"equation": "abc,cd->abd", "output_shape": (-1, 3), "bias_axes": "d"}, (2, 4, 5)),
    ({"equation": "abc,cd->abd", "output_shape": (4, 3), "activation": "relu"}, (2, 4, 5)),
    ({"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": None}, (2, 3, 5)),
    ({"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": "c"}, (2, 3, 4, 5)),
    ({"equation": "ab...,bc->ac...", "output_shape": 3, "bias_axes": "c"}, (2, 5, 4)),
    ({"equation": "ab...,bc->ac...", "output_shape": 3, "bias_axes": "c"}, (2, 5, 4, 2)),
    ({"equation": "abc,cde->abde", "output_shape": (4, 2, 3), "bias_axes": "e"}, (2, 4, 5)),
    ({"equation": "abc,cde->abde", "output_shape": (4, 2, 3), "bias_axes": "de"}, (2, 4, 5)),
    ({"equation": "abcd,cde->abe", "output_shape": (4, 6), "bias_axes": "be"}, (2, 4, 3, 2)),
    ({"equation": "aBc,cD->aBD", "output_shape": (-1, 3), "bias_axes": "D"}, (2, 4, 5)),
    ({"equation": "ab,bc->ac", "output_shape": 7, "activation": "gelu"}, (2, 5)),
]


@pytest.mark.parametrize(("attrs", "shape"), EINSUM)
def test_einsum_dense(attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph("EinsumDense", attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 3)])


REGULARIZATION = [
    ("SpatialDropout1D", {"rate": 0.5}, (2, 3, 4)),
    ("SpatialDropout2D", {"rate": 0.5}, (2, 3, 4, 2)),
    ("SpatialDropout2D", {"rate": 0.5, "data_format": "channels_first"}, (2, 3, 4, 2)),
    ("SpatialDropout3D", {"rate": 0.2}, (2, 3, 2, 4, 2)),
    ("GaussianNoise", {"stddev": 0.5}, (2, 5)),
    ("GaussianDropout", {"rate": 0.3}, (2, 5)),
    ("AlphaDropout", {"rate": 0.3}, (2, 5)),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, (2, 5)),
]


@pytest.mark.parametrize(("name", "attrs", "shape"), REGULARIZATION)
def test_regularization_is_identity(name: str, attrs: dict[str, Any], shape: Any) -> None:
    graph = op_graph(name, attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 3)])


SPECS = [
    "Dense",
    "Identity",
    "Dropout",
    "Embedding",
    "PositionEmbedding",
    "EinsumDense",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
]
