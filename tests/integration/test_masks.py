"""Tensor comparisons, mask logic and casts, checked statically and run through JAX."""

from __future__ import annotations

import jax
import numpy as np

from nndsl.backend.jax import compile_graph
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source

SOURCE = """
model Masks() {
    input tokens: i32[B, T]
    input x: f32[B, T, 4]
    pad = tokens == 0
    mask = tokens != 0
    small = (tokens > 0) and (tokens <= 5)
    either = (tokens < 0) or (tokens >= 7)
    weights = mask |> cast(f32) |> Reshape([T, 1])
    return x * weights, pad, small, not either
}
"""


def test_comparisons_give_bool_masks_of_the_broadcast_shape() -> None:
    result = check_source(SOURCE, "masks.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("Masks")
    assert graph is not None
    assert [str(o.type) for o in graph.outputs] == [
        "f32[B, T, 4]",
        "bool[B, T]",
        "bool[B, T]",
        "bool[B, T]",
    ]
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    tokens = np.array([[1, 0, 7], [3, 9, 0]], np.int32)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    (y, pad, small, neither), _ = model.apply(params, state, [tokens, x])
    np.testing.assert_array_equal(np.asarray(y), x * (tokens != 0)[..., None])
    np.testing.assert_array_equal(np.asarray(pad), tokens == 0)
    np.testing.assert_array_equal(np.asarray(small), (tokens > 0) & (tokens <= 5))
    np.testing.assert_array_equal(np.asarray(neither), ~((tokens < 0) | (tokens >= 7)))


def test_logic_needs_bool_tensors() -> None:
    src = "model M() {\n    input x: f32[B, 4]\n    return x and x\n}\n"
    result = check_source(src, "m.nn")
    assert [d.code for d in result.errors] == ["E0301"]
    assert "`and` combines `bool` tensors" in result.errors[0].message
