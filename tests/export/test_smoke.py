"""The exporter end to end on the smallest graphs (the per-op tests cover the catalogue)."""

from __future__ import annotations

from tests.backend.graphs import mlp
from tests.export.harness import assert_onnx_matches, random_inputs


def test_mlp_matches_jax_at_several_batch_sizes() -> None:
    graph = mlp()
    model = assert_onnx_matches(graph, [random_inputs(graph, b) for b in (1, 3, 64)])
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "B"
