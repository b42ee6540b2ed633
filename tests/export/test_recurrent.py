"""ONNX export of SimpleRNN, LSTM, GRU and Bidirectional against the JAX impls, with batch and
time symbolic (each graph run at two sequence lengths), in both lowered forms: ONNX's own
RNN/LSTM/GRU ops and the Scan over time (forced here where ONNX's op would be chosen)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.backend.onnx.lowerings import recurrent
from nndsl.ir import Graph
from nndsl.ops import Configured, OpKind, configured
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, tensor
from tests.export.harness import assert_onnx_matches, random_inputs

LAYERS = ("SimpleRNN", "LSTM", "GRU")
SIZES = ((1, 1), (3, 5))  # (batch, T)


@pytest.fixture(params=["onnx_op", "scan"])
def form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test runs with ONNX's recurrent ops where they apply, then with Scan throughout."""
    if request.param == "scan":
        monkeypatch.setattr(recurrent, "_native", lambda cell, dtype, masked: False)
    yield request.param


def _graph(name: str, attrs: dict[str, Any], *, mask: bool = False) -> Graph:
    g = GraphMaker("Rnn")
    ins = [g.input("x", tensor("B", "T", 4))]
    if mask:
        ins.append(g.input("mask", tensor("B", "T", dtype=DType.BOOL)))
    for i, vid in enumerate(g.op_outputs(name, *ins, **attrs)):
        g.output(f"y{i}", vid)
    return g.graph


def _check(graph: Graph) -> None:
    feeds = [random_inputs(graph, b, seed=t, T=t) for b, t in SIZES]
    assert_onnx_matches(graph, feeds)


def _layer(name: str, **attrs: Any) -> Configured:
    cfg = configured(Configured(name, tuple(attrs.items())), OpKind.LAYER)
    assert cfg is not None
    return cfg


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"return_sequences": True},
        {"go_backwards": True},
        {"return_sequences": True, "go_backwards": True, "return_state": True},
        {"return_state": True},
        {"use_bias": False, "return_sequences": True},
    ],
)
def test_layers(name: str, flags: dict[str, Any], form: str) -> None:
    _check(_graph(name, {"units": 3, **flags}))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize(
    "flags",
    [{}, {"return_sequences": True, "return_state": True}, {"go_backwards": True}],
)
def test_masks(name: str, flags: dict[str, Any]) -> None:
    """Masked steps keep the state and repeat the previous output (always a Scan)."""
    _check(_graph(name, {"units": 3, **flags}, mask=True))


@pytest.mark.parametrize(
    ("name", "acts"),
    [
        ("SimpleRNN", {"activation": "relu"}),
        ("SimpleRNN", {"activation": "linear"}),
        ("LSTM", {"recurrent_activation": "hard_sigmoid"}),
        ("LSTM", {"activation": "relu", "recurrent_activation": "tanh"}),
        ("GRU", {"recurrent_activation": "hard_sigmoid", "activation": "sigmoid"}),
        ("GRU", {"activation": "linear", "reset_after": False}),
    ],
)
def test_activations(name: str, acts: dict[str, Any], form: str) -> None:
    _check(_graph(name, {"units": 3, "return_sequences": True, **acts}))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_gru_reset_after(reset_after: bool, use_bias: bool, form: str) -> None:
    attrs = {"units": 3, "reset_after": reset_after, "use_bias": use_bias, "return_state": True}
    _check(_graph("GRU", {**attrs, "return_sequences": True}))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("seqs", [False, True])
def test_bidirectional(name: str, merge_mode: str | None, seqs: bool, form: str) -> None:
    inner = _layer(name, units=3, return_sequences=seqs, return_state=merge_mode == "sum")
    _check(_graph("Bidirectional", {"layer": inner, "merge_mode": merge_mode}))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("seqs", [False, True])
def test_bidirectional_masks(name: str, seqs: bool) -> None:
    extra = {"reset_after": False} if name == "GRU" and seqs else {}
    inner = _layer(name, units=3, return_sequences=seqs, return_state=True, **extra)
    _check(_graph("Bidirectional", {"layer": inner}, mask=True))


def test_onnx_ops_are_used_without_mask() -> None:
    ops = {n.op_type for n in _model(_graph("LSTM", {"units": 3})).graph.node}
    assert "LSTM" in ops and "Scan" not in ops
    ops = {n.op_type for n in _model(_graph("GRU", {"units": 3}, mask=True)).graph.node}
    assert "Scan" in ops and "GRU" not in ops


def _model(graph: Graph) -> Any:
    feeds = [random_inputs(graph, 2, T=4)]
    return assert_onnx_matches(graph, feeds)


@pytest.mark.parametrize("mask", [False, True])
def test_exportable_on_placeholder_weights(mask: bool) -> None:
    for name in LAYERS:
        assert check_exportable(_graph(name, {"units": 3, "return_state": True}, mask=mask)) == []
        inner = _layer(name, units=3, return_sequences=True)
        assert check_exportable(_graph("Bidirectional", {"layer": inner}, mask=mask)) == []
