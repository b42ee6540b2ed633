"""ONNX export of the attention layers against the JAX impls, with symbolic batch and sequence
lengths (two different lengths per graph), masks and the attention scores as a second result."""

from __future__ import annotations

from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.ir import Graph
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, random_inputs

SIZES = ((1, 3, 4), (3, 5, 2))  # (batch, T, S)


def _graph(
    name: str,
    attrs: dict[str, Any],
    *,
    q: int = 8,
    v: int = 6,
    k: int | None = None,
    mask: tuple[str, ...] | None = None,
    query_mask: bool = False,
) -> Graph:
    """query `[B, T, q]`, value `[B, S, v]`, key `[B, S, k]` when given, then the masks."""
    g = GraphMaker("Attn")
    ins = [g.input("query", tensor("B", "T", q)), g.input("value", tensor("B", "S", v))]
    if k is not None or mask is not None:
        key = k if k is not None else v
        ins.append(g.input("key", tensor("B", "S", key)))
    if mask is not None:
        ins.append(g.input("mask", tensor(*mask, dtype=DType.BOOL)))
    if query_mask:
        ins.append(g.input("query_mask", tensor("B", "T", dtype=DType.BOOL)))
    ids = g.op_outputs(name, *ins, **attrs)
    for i, vid in enumerate(ids):
        g.output("y" if i == 0 else "scores", vid)
    return g.graph


def _check(graph: Graph) -> None:
    feeds = [random_inputs(graph, b, seed=b, T=t, S=s) for b, t, s in SIZES]
    assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize(
    "attrs",
    [
        {"num_heads": 2, "key_dim": 3},
        {"num_heads": 2, "key_dim": 3, "value_dim": 5, "use_bias": False},
        {"num_heads": 3, "key_dim": 2, "output_shape": (4, 2)},
        {"num_heads": 2, "key_dim": 3, "output_shape": 5, "use_gate": True},
        {"num_heads": 2, "key_dim": 3, "use_causal_mask": True},
        {"num_heads": 2, "key_dim": 3, "sliding_window": 2},
        {"num_heads": 2, "key_dim": 3, "use_causal_mask": True, "sliding_window": 2},
        {"num_heads": 2, "key_dim": 3, "return_attention_scores": True},
        {"num_heads": 1, "key_dim": 4, "dropout": 0.5},
    ],
)
def test_multi_head_attention(attrs: dict[str, Any]) -> None:
    _check(_graph("MultiHeadAttention", attrs))


@pytest.mark.parametrize("mask", [("B", "T", "S"), ("T", "S"), ("B", 1, "S"), ("S",), (1, 1, "S")])
def test_multi_head_attention_masks(mask: tuple[str, ...]) -> None:
    attrs = {"num_heads": 2, "key_dim": 3, "use_causal_mask": True, "return_attention_scores": True}
    _check(_graph("MultiHeadAttention", attrs, k=5, mask=mask))


@pytest.mark.parametrize(
    ("axes", "mask"),
    [(None, None), ((2,), None), ((1,), ("B", 4, "T", "S")), ((1, 2), None), ((2, 1), None)],
)
def test_multi_head_attention_over_axes(axes: Any, mask: tuple[Any, ...] | None) -> None:
    """Rank-4 inputs `[B, T, 4, D]` attending over `attention_axes` (the Einsum path)."""
    g = GraphMaker("Attn")
    s = "T" if axes == (2,) else "S"  # an axis not attended over has the query's length
    ins = [g.input("query", tensor("B", "T", 4, 6)), g.input("value", tensor("B", s, 4, 5))]
    if mask is not None:
        ins.append(g.input("key", tensor("B", s, 4, 5)))
        ins.append(g.input("mask", tensor(*mask, dtype=DType.BOOL)))
    attrs = {"num_heads": 2, "key_dim": 3, "attention_axes": axes, "return_attention_scores": True}
    ids = g.op_outputs("MultiHeadAttention", *ins, **attrs)
    for i, vid in enumerate(ids):
        g.output(f"y{i}", vid)
    feeds = [random_inputs(g.graph, b, seed=b, T=t, S=n) for b, t, n in ((1, 2, 3), (2, 3, 2))]
    assert_onnx_matches(g.graph, feeds)


@pytest.mark.parametrize(
    "attrs",
    [
        {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
        {"head_dim": 2, "num_query_heads": 3, "num_key_value_heads": 1, "use_bias": False},
        {"head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 2, "use_gate": True},
        {
            "head_dim": 3,
            "num_query_heads": 4,
            "num_key_value_heads": 2,
            "use_causal_mask": True,
            "sliding_window": 3,
            "return_attention_scores": True,
        },
    ],
)
def test_grouped_query_attention(attrs: dict[str, Any]) -> None:
    _check(_graph("GroupedQueryAttention", attrs, q=8, v=8))
    _check(_graph("GroupedQueryAttention", attrs, q=8, v=8, k=5, mask=("B", "T", "S")))


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"use_scale": True},
        {"use_scale": False, "use_causal_mask": True},
        {"return_attention_scores": True, "dropout": 0.3},
        {"score_mode": "concat"},
        {"score_mode": "concat", "use_scale": True, "use_causal_mask": True},
    ],
)
def test_luong_attention(name: str, attrs: dict[str, Any]) -> None:
    if name == "AdditiveAttention" and "score_mode" in attrs:
        pytest.skip("AdditiveAttention has no score_mode")
    _check(_graph(name, attrs, q=6, v=5, k=6))
    _check(_graph(name, attrs, q=6, v=6))


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
@pytest.mark.parametrize("query_mask", [False, True])
def test_luong_attention_masks(name: str, query_mask: bool) -> None:
    attrs = {"use_causal_mask": True, "return_attention_scores": True}
    _check(_graph(name, attrs, q=6, v=5, k=6, mask=("B", "S"), query_mask=query_mask))


def test_exportable_on_placeholder_weights() -> None:
    gqa = {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, "use_gate": True}
    mha = {"num_heads": 2, "key_dim": 3, "output_shape": (2, 2)}
    for name, attrs, mask in [
        ("MultiHeadAttention", mha, ("B", "T", "S")),
        ("GroupedQueryAttention", gqa, ("B", "T", "S")),
        ("Attention", {"use_scale": True, "score_mode": "concat"}, ("B", "S")),
        ("AdditiveAttention", {}, ("B", "S")),
    ]:
        assert check_exportable(_graph(name, attrs, q=8, v=8, mask=mask)) == []
