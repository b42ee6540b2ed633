"""Generated code runs each layer under a `jax.named_scope` naming its `.nn` source."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.compile import compile_graph
from nndsl.frontend import check_source

SRC = """
block Proj(units: int) {
    input x: f32[B, D]
    return x |> Dense(units)
}
model Net() {
    input x: f32[B, 8]
    hidden = x |> Proj(4) |> relu
    return hidden
}
"""


def test_hlo_carries_source_names() -> None:
    result = check_source(SRC, "net.nn")
    graph = result.program.graphs["Net"]
    names = {node.scope_name for node in graph.nodes}
    assert names == {"Net/proj/dense@L4", "Net/relu[hidden]@L8"}
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    x = jax.ShapeDtypeStruct((2, 8), jnp.float32)
    hlo = (
        jax.jit(lambda p, s, x: model.apply(p, s, [x]))
        .lower(params, state, x)
        .as_text(debug_info=True)
    )
    assert "Net/proj/dense@L4" in hlo
    assert "Net/relu[hidden]@L8" in hlo
