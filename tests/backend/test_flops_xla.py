"""The ops' FLOPs rules (`nndsl.ir.flops`, no JAX) against XLA's own count of the compiled
forward pass (`jax.jit(f).lower(...).compile().cost_analysis()["flops"]`), batch 1, inference.

Matrix products and convolutions agree exactly. Known, documented differences:
- "same" padding: XLA skips the products with padding cells; the rule counts every window
  cell, as the usual convention (and the paper figures) do.
- recurrent layers: XLA counts a loop's body once, so they are compared at T = 1; the input
  projection and cell arithmetic differ by a few per cent (XLA counts transcendentals
  apart; the rule counts an activation as 1).
- attention, softmax, layer norm: a few FLOPs per element, within a few per cent overall.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import pytest

from nndsl.backend.jax.compile import compile_graph
from nndsl.frontend import check_source
from nndsl.ir import Graph, flops

ROOT = Path(__file__).resolve().parents[2]


def _graph(src: str) -> Graph:
    result = check_source(src, str(ROOT / "m.nn"))
    assert not result.has_errors, [d.message for d in result.diagnostics]
    graph = result.graph("M")
    assert graph is not None
    return graph


def _xla_flops(graph: Graph) -> float:
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    inputs = [jnp.ones([d.as_int() or 1 for d in i.type.shape], jnp.float32) for i in graph.inputs]

    def forward(p: Any, xs: list[jax.Array]) -> jax.Array:
        return model.apply(p, state, xs)[0][0]

    cost = jax.jit(forward).lower(params, inputs).compile().cost_analysis()
    if isinstance(cost, list):  # older JAX: one dict per device
        cost = cost[0]
    return float(cost["flops"])


def _layer(layer: str, shape: str) -> Graph:
    return _graph(f"model M() {{\n input x: f32{shape}\n return x |> {layer}\n}}\n")


IMAGE = "[B, 32, 32, 16]"
EXACT = [
    ("Dense(128)", "[B, 784]"),  # 2 * 784 * 128 + 128
    ("Dense(128, use_bias = false)", "[B, 784]"),
    ('Dense(128, activation = "relu")', "[B, 784]"),
    ("Dense(16)", "[B, 7, 32]"),
    ("Conv2D(8, 3)", IMAGE),
    ("Conv2D(8, 3, strides = 2, use_bias = false)", IMAGE),
    ("Conv2D(8, 3, groups = 4, use_bias = false)", IMAGE),
    ("Conv1D(8, 5)", "[B, 20, 3]"),
    ("DepthwiseConv2D(3, depth_multiplier = 2, use_bias = false)", IMAGE),
    ("SeparableConv2D(8, 3, use_bias = false)", IMAGE),
    ("Conv2DTranspose(8, 3, strides = 2, use_bias = false)", IMAGE),
    ("MaxPooling2D(2)", "[B, 8, 8, 4]"),
    ("GlobalAveragePooling2D()", "[B, 8, 8, 4]"),
    ("relu", "[B, 8, 8, 4]"),
]


@pytest.mark.parametrize(("layer", "shape"), EXACT, ids=[f"{a} {b}" for a, b in EXACT])
def test_products_and_convolutions_agree_with_xla_exactly(layer: str, shape: str) -> None:
    graph = _layer(layer, shape)
    assert flops(graph) == _xla_flops(graph)


CLOSE = [
    ("LSTM(32)", "[B, 1, 16]", 0.02),
    ("GRU(32)", "[B, 1, 16]", 0.02),
    ("SimpleRNN(32)", "[B, 1, 16]", 0.02),
    ("BatchNormalization()", "[B, 8, 8, 4]", 0.03),
    ("LayerNormalization()", "[B, 8, 8, 4]", 0.25),
]


@pytest.mark.parametrize(("layer", "shape", "tol"), CLOSE, ids=[c[0] for c in CLOSE])
def test_cells_and_norms_are_close_to_xla(layer: str, shape: str, tol: float) -> None:
    graph = _layer(layer, shape)
    ours = flops(graph)
    assert ours is not None
    assert ours == pytest.approx(_xla_flops(graph), rel=tol)


def test_attention_is_close_to_xla() -> None:
    graph = _graph(
        "model M() {\n input q: f32[B, 10, 32]\n input v: f32[B, 12, 16]\n"
        " return MultiHeadAttention(4, 8)(q, v)\n}\n"
    )
    assert flops(graph) == pytest.approx(_xla_flops(graph), rel=0.01)


def test_same_padding_counts_the_padding_cells() -> None:
    graph = _layer('Conv2D(8, 3, padding = "same", use_bias = false)', IMAGE)
    ours, xla = flops(graph), _xla_flops(graph)
    assert ours == 2 * 32 * 32 * 8 * 9 * 16
    # per axis, 32 windows of 3 cells minus the 2 padding cells at the borders: 94 products
    assert xla == 2 * 94 * 94 * 16 * 8  # 4% fewer at 32x32


def test_a_small_cnn_is_close_to_xla() -> None:
    graph = _graph(
        "model M() {\n input x: f32[B, 28, 28, 1]\n"
        ' h = x |> Conv2D(16, 3, activation = "relu") |> MaxPooling2D(2)\n'
        ' h = h |> Conv2D(32, 3, activation = "relu") |> MaxPooling2D(2)\n'
        " h = h |> Flatten() |> Dense(64) |> BatchNormalization() |> relu\n"
        " return h |> Dense(10)\n}\n"
    )
    assert flops(graph) == pytest.approx(_xla_flops(graph), rel=0.005)
