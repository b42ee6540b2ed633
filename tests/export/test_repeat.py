"""A collapsed `repeat` in ONNX: unrolled copies (the default) or one `Scan` over stacked
weights (`NNDSL_ONNX_REPEAT=scan`); both agree with JAX and with each other in ONNX Runtime,
and the `.ort` converter takes the `Scan`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nndsl.backend.onnx import check_exportable, export_onnx
from nndsl.backend.onnx.ort_format import to_ort
from nndsl.backend.onnx.repeat import FORM_ENV, form
from nndsl.frontend import check_source
from nndsl.ir import Graph
from nndsl.ir.graph import Repeat
from tests.export.harness import assert_onnx_matches, random_inputs, random_weights, run_onnx

DENSE = """
block Res(width: int) {
    input x: f32[B, width]
    h = x |> LayerNorm() |> Dense(width, activation = "relu")
    return x + (h |> Dense(width))
}
model Deep() {
    input x: f32[B, 12]
    h = x |> Dense(16)
    h = h |> repeat 5 Res(16)
    return h |> Dense(3)
}
"""

# BatchNorm: state (moving statistics) stacked beside the trainable weights; a conv kernel:
# a weight whose ONNX layout differs from nndsl's (transposed per copy, then stacked).
CONV = """
block Res(filters: int) {
    input x: f32[B, 6, 6, filters]
    h = x |> Conv2D(filters, 3, padding = "same") |> BatchNorm() |> relu
    return x + (h |> Conv2D(filters, 3, padding = "same"))
}
model Deep() {
    input x: f32[B, 6, 6, 2]
    h = x |> Conv2D(4, 3, padding = "same")
    h = h |> repeat 3 Res(4)
    return h |> GlobalAvgPool2D() |> Dense(3)
}
"""

# a repeat inside a repeated block (unrolled inside the body), and a weightless repeat
NESTED = """
block Inner(width: int) {
    input x: f32[B, width]
    return x + (x |> Dense(width, activation = "tanh"))
}
block Outer(width: int) {
    input x: f32[B, width]
    h = x |> repeat 2 Inner(width) |> LayerNorm()
    return h |> repeat 3 relu
}
model Deep() {
    input x: f32[B, 8]
    return x |> repeat 4 Outer(8) |> Dense(2)
}
"""


def _graph(text: str) -> Graph:
    graph = check_source(text, "deep.nn").graph("Deep")
    assert graph is not None
    return graph


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("text", [DENSE, CONV, NESTED], ids=["dense", "conv", "nested"])
def test_scan_and_unrolled_agree_with_jax_and_each_other(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = _graph(text)
    weights = random_weights(graph)
    inputs = random_inputs(graph, batch=5)
    monkeypatch.delenv(FORM_ENV, raising=False)
    unrolled = assert_onnx_matches(graph, inputs, weights)
    assert "Scan" not in _ops(unrolled)  # the default
    monkeypatch.setenv(FORM_ENV, "scan")
    scanned = assert_onnx_matches(graph, inputs, weights, batches=(1, 2))
    assert _ops(scanned).count("Scan") == 1
    for a, b in zip(run_onnx(scanned, inputs), run_onnx(unrolled, inputs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.fixture
def scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORM_ENV, "scan")


@pytest.mark.usefixtures("scan")
def test_the_scan_stacks_each_weight_once() -> None:
    graph = _graph(DENSE)
    model = export_onnx(graph, *random_weights(graph))
    shapes = {tuple(i.dims) for i in model.graph.initializer if "stacked" in i.name}
    # LayerNorm gamma and beta, two kernels, two biases: [5, ...] each
    assert shapes == {(5, 16), (5, 16, 16)}
    stacked = [i for i in model.graph.initializer if "stacked" in i.name]
    assert len(stacked) == 6
    per_copy = [i.name for i in model.graph.initializer if i.name.startswith("res_")]
    assert per_copy == []  # no copy's weights stored apart from the stack


@pytest.mark.usefixtures("scan")
def test_the_ort_format_runs_the_scan(tmp_path: Path) -> None:
    graph = _graph(CONV)
    weights = random_weights(graph)
    model = export_onnx(graph, *weights)
    assert "Scan" in _ops(model)
    path = tmp_path / "deep.ort"
    path.write_bytes(to_ort(model))
    inputs = random_inputs(graph, batch=3)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, inputs)
    for a, b in zip(got, run_onnx(model, inputs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def rep(text: str) -> Repeat:
        node = next(n for n in _graph(text).nodes if n.repeat is not None)
        assert node.repeat is not None
        return node.repeat

    monkeypatch.delenv(FORM_ENV, raising=False)
    assert form(rep(DENSE)) == "unroll"
    monkeypatch.setenv(FORM_ENV, "scan")
    assert form(rep(DENSE)) == "scan"
    assert form(replace(rep(DENSE), count=1)) == "unroll"
    weightless = """
block Act() {
    input x: f32[B, 4]
    return x |> relu
}
model Deep() {
    input x: f32[B, 4]
    return x |> repeat 3 Act()
}
"""
    assert form(rep(weightless)) == "unroll"
    lstm = """
block Rec() {
    input x: f32[B, 4, 6]
    return x |> LSTM(6, return_sequences = true)
}
model Deep() {
    input x: f32[B, 4, 6]
    return x |> repeat 3 Rec()
}
"""
    assert form(rep(lstm)) == "unroll"
    monkeypatch.setenv(FORM_ENV, "unroll")
    assert form(rep(DENSE)) == "unroll"


@pytest.mark.usefixtures("scan")
def test_checking_a_scanned_repeat_reads_no_weight() -> None:
    assert check_exportable(_graph(DENSE)) == []
    assert check_exportable(_graph(CONV)) == []


@pytest.mark.parametrize("fmt", ["onnx", "ort"])
@pytest.mark.parametrize("shape", ["unroll", "scan"])
def test_nnrun_export_checks_a_repeat(
    fmt: str,
    shape: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`nnrun export --check` (reload and compare with JAX), as ONNX and as `.ort`."""
    monkeypatch.setenv(FORM_ENV, shape)
    import jax

    from nndsl.backend.jax.compile import compile_graph
    from nndsl.cli.main import main
    from nndsl.runtime.checkpoint import save_checkpoint

    (tmp_path / "deep.nn").write_text(DENSE)
    graph = _graph(DENSE)
    params, state = compile_graph(graph).init(jax.random.key(0))
    save_checkpoint(tmp_path / "model.safetensors", graph, params, state)
    out = tmp_path / f"deep.{fmt}"
    argv = ["export", str(tmp_path / "deep.nn"), "--weights", str(tmp_path / "model.safetensors")]
    assert main([*argv, "--format", fmt, "-o", str(out), "--check"]) == 0
    assert "max |difference|" in capsys.readouterr().out
    if fmt == "onnx":
        assert ("Scan" in _ops(onnx.load(out))) == (shape == "scan")
