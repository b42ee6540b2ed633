"""`nnrun export` of a model with several inputs and outputs (examples/multi_task.nn: an image
and a feature vector in, class scores and a regression target out): the `.nn` names on both
sides, a dynamic batch axis everywhere, `--check` comparing every output, ONNX Runtime in
Python and the StableHLO artefact in a fresh process that does not import nndsl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nndsl.backend.jax.compile import compile_graph
from nndsl.cli.main import main
from nndsl.frontend import check_file
from nndsl.ir import Graph
from nndsl.runtime.checkpoint import load_weights, save_checkpoint
from nndsl.runtime.export import reference_outputs, sample_inputs
from tests.cli import ROOT

INPUTS, OUTPUTS = ["image", "profile"], ["digit", "center"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multi_io")
    shutil.copy(ROOT / "examples" / "multi_task.nn", root / "multi_task.nn")
    graph = _graph(root)
    params, state = compile_graph(graph).init(jax.random.key(0))
    save_checkpoint(root / "w.safetensors", graph, params, state)
    return root


def _graph(root: Path) -> Graph:
    graph = check_file(root / "multi_task.nn").graph()
    assert graph is not None
    return graph


def _export(project: Path, *args: str) -> int:
    nn, weights = str(project / "multi_task.nn"), str(project / "w.safetensors")
    return main(["export", nn, "--weights", weights, *args])


def test_onnx_keeps_names_and_a_dynamic_batch_and_checks_every_output(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    art = project / "net.onnx"
    assert _export(project, "-o", str(art), "--check") == 0
    out = capsys.readouterr().out
    assert "per output: digit " in out and ", center " in out, out
    model = onnx.load(art)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == INPUTS
    assert [o.name for o in model.graph.output] == OUTPUTS
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "B", value.name
    meta = {p.key: p.value for p in model.metadata_props}
    assert list(json.loads(meta["outputs"])) == OUTPUTS

    graph = _graph(project)
    params, state = load_weights(project / "w.safetensors", graph)
    session = ort.InferenceSession(str(art), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        xs = sample_inputs(graph, batch, seed=batch)
        want = reference_outputs(graph, params, state, xs)
        got = session.run(OUTPUTS, dict(zip(INPUTS, xs, strict=True)))
        for name, g, w in zip(OUTPUTS, got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=name)


FRESH = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from jax import export
    art, folder = sys.argv[1], sys.argv[2]
    meta = json.load(open(art + ".json"))
    exported = export.deserialize(bytearray(open(art, "rb").read()))
    names = [i["name"] for i in meta["inputs"]]
    for batch in (1, 5):
        xs = [np.load(f"{folder}/{name}{batch}.npy") for name in names]
        for out, y in zip(meta["outputs"], exported.call(*xs)):
            np.save(f"{folder}/{out['name']}{batch}.npy", np.asarray(y))
    assert not any(m.startswith("nndsl") for m in sys.modules), "nndsl was imported"
    print(names, [o["name"] for o in meta["outputs"]], meta["inputs"][1]["shape"])
    """
)


@pytest.mark.slow
def test_stablehlo_takes_and_returns_every_tensor_in_a_fresh_process(
    project: Path, tmp_path: Path
) -> None:
    art = tmp_path / "net.stablehlo"
    assert _export(project, "--format", "stablehlo", "-o", str(art)) == 0
    graph = _graph(project)
    params, state = load_weights(project / "w.safetensors", graph)
    inputs = {batch: sample_inputs(graph, batch, seed=batch) for batch in (1, 5)}
    for batch, xs in inputs.items():
        for name, x in zip(INPUTS, xs, strict=True):
            np.save(tmp_path / f"{name}{batch}.npy", x)
    script = tmp_path / "consume.py"
    script.write_text(FRESH)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(script), str(art), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "['image', 'profile'] ['digit', 'center'] ['B', 16]" in done.stdout
    model = compile_graph(graph)
    predict = jax.jit(lambda *xs: model.apply(params, state, list(xs))[0])  # as `predict`
    for batch, xs in inputs.items():
        for name, w in zip(OUTPUTS, predict(*xs), strict=True):
            got = np.load(tmp_path / f"{name}{batch}.npy")
            np.testing.assert_array_equal(got, np.asarray(w), err_msg=name)  # bit for bit


def test_an_input_returned_as_an_output_exports_and_a_shadowing_one_is_a_diagnostic() -> None:
    from nndsl.backend.onnx import check_exportable, export_onnx
    from nndsl.frontend import check_source

    source = """
model Echo() {
    input a: f32[B, 4]
    input b: f32[B, 4]
    d = (a + b) |> Dense(2)
    return a, d
}
model Shadow() {
    input a: f32[B, 4]
    a = a |> Dense(4)
    return a
}
"""
    result = check_source(source, "e.nn")
    assert not result.diagnostics and result.program is not None
    echo, shadow = result.program.graphs["Echo"], result.program.graphs["Shadow"]
    params, state = compile_graph(echo).init(jax.random.key(0))
    model = export_onnx(echo, params, state)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["a", "d"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    xs = sample_inputs(echo, 3)
    got = session.run(None, {"a": xs[0], "b": xs[1]})
    want = reference_outputs(echo, params, state, xs)
    np.testing.assert_array_equal(got[0], xs[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-5)
    [problem] = check_exportable(shadow)
    assert problem.code == "E0701"
    assert "output `a` has the name of an input but another value" in problem.message
    assert source[problem.primary.span.start : problem.primary.span.end] == "Dense(4)"
