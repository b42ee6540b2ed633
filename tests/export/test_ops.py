"""Every graph op against ONNX Runtime, over the registry: random valid arguments and shapes
(the strategies of the `jax.eval_shape` property test), exported one node at a time and run
by ONNX Runtime, must equal the JAX implementation. Plus the list of what each backend
covers: every graph op has a JAX implementation and an ONNX lowering."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from nndsl.backend.jax.registry import missing_implementations
from nndsl.backend.onnx import ExportError, missing_lowerings
from nndsl.backend.onnx.registry import GRAPH_KINDS
from nndsl.ops import ShapeError, iter_specs
from nndsl.shapes import DType
from tests.backend.test_shapes import BOOL_CASES, GRAPH_SPECS, INTEGER_INPUTS, case_for
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

# Ops whose lowering has no ONNX form at all (each with the reason), if any.
NOT_EXPORTABLE: dict[str, str] = {}


def test_every_graph_op_has_a_jax_implementation_and_an_onnx_lowering() -> None:
    graph_ops = {s.name for s in iter_specs() if s.kind in GRAPH_KINDS}
    assert not set(missing_implementations()) & graph_ops
    assert missing_lowerings() == sorted(NOT_EXPORTABLE)


@pytest.mark.parametrize("name", GRAPH_SPECS)
def test_op_matches_jax_in_onnx_runtime(name: str) -> None:
    """One node per drawn case, batch axis symbolic where the spec allows, batches 1 and 3."""

    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case_for(name))
    def check(case: tuple[dict[str, Any], list[tuple[int, ...]]]) -> None:
        attrs, shapes = case
        dtype = DType.F32
        if name in INTEGER_INPUTS:
            dtype = DType.I32
        elif name in BOOL_CASES:
            dtype = DType.BOOL
        try:
            graph = op_graph(name, attrs, shapes, dtype)
        except ShapeError:
            assume(False)
            return
        if name == "cast" and attrs.get("dtype") is DType.BF16:
            assume(False)  # ONNX Runtime's Python API cannot return bfloat16 arrays
        ids = int(attrs.get("input_dim", 2))  # Embedding: ids inside the table
        batch = [s[0] for s in shapes if s]
        if graph.inputs and graph.inputs[0].type.shape and graph.inputs[0].type.shape[0].is_known:
            feeds = [random_inputs(graph, batch[0] if batch else 1, seed=1, ids=ids)]
        else:
            # the drawn size and three times it: both keep what the drawn size satisfies (`glu`
            # over the batch axis needs it even)
            b = batch[0] if batch else 1
            feeds = [random_inputs(graph, n, seed=n, ids=ids) for n in (b, 3 * b)]
        try:
            assert_onnx_matches(graph, feeds)
        except ExportError:
            assume(False)  # an argument combination ONNX cannot express: a diagnostic

    check()
