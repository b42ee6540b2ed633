"""Random sampling inside a model (issue 15): statistics, determinism per key, the inference
behaviour (mean / mode, or draws from `seed`), ONNX at inference, the initializer names with a
tensor, and a training run with a draw that resumes bit-identically."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from nndsl.backend.jax import ApplyCall, implementation
from nndsl.backend.onnx import ExportError
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ops import lookup
from nndsl.runtime import fit
from nndsl.runtime.checkpoint import latest_training_state
from tests.backend.graphs import GraphMaker, call, tensor, with_defaults
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs
from tests.runtime.helpers import blobs, config_for, write_npz

LIKE = np.zeros((4000, 8), np.float32)


def draw(
    name: str, x: np.ndarray = LIKE, *, training: bool = True, key_seed: int = 0, **attrs: Any
):
    spec = lookup(name)
    assert spec is not None
    full = with_defaults(spec, attrs)
    key = jax.random.key(key_seed) if training else None
    return np.asarray(implementation(spec)(ApplyCall(full, [x], training=training, key=key)))


def test_normal_statistics_and_determinism() -> None:
    a = draw("sample_normal", mean=1.0, stddev=2.0)
    assert a.shape == LIKE.shape and a.dtype == np.float32
    assert abs(a.mean() - 1.0) < 0.05 and abs(a.std() - 2.0) < 0.05
    assert np.array_equal(a, draw("sample_normal", mean=1.0, stddev=2.0))  # same key
    assert not np.array_equal(a, draw("sample_normal", mean=1.0, stddev=2.0, key_seed=1))


def test_uniform_statistics() -> None:
    u = draw("sample_uniform", minval=-1.0, maxval=3.0)
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.05 and abs(u.std() - 4 / np.sqrt(12)) < 0.05


def test_categorical_frequencies_follow_the_softmax() -> None:
    logits = np.log(np.tile(np.asarray([[0.2, 0.5, 0.3]], np.float32), (2000, 1)))
    ids = draw("random_categorical", logits, num_samples=2)
    assert ids.shape == (2000, 2) and ids.dtype == np.int32
    freq = np.bincount(ids.ravel(), minlength=3) / ids.size
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.03)


def test_inference_gives_the_mean_or_the_mode() -> None:
    assert np.all(draw("sample_normal", training=False, mean=0.5) == 0.5)
    assert np.all(draw("sample_uniform", training=False, minval=1.0, maxval=2.0) == 1.5)
    logits = np.asarray([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0]], np.float32)
    ids = draw("random_categorical", logits, training=False, num_samples=3)
    assert ids.tolist() == [[1, 1, 1], [0, 0, 0]]


def test_sampling_at_inference_draws_from_the_seed() -> None:
    a = draw("sample_normal", training=False, inference="sample", seed=4)
    assert abs(a.std() - 1.0) < 0.05
    assert np.array_equal(a, draw("sample_normal", training=False, inference="sample", seed=4))
    b = draw("sample_normal", training=False, inference="sample", seed=5)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("name", "attrs", "shape"),
    [
        ("sample_normal", {"mean": 0.25}, (3, 4)),
        ("sample_uniform", {"minval": -2.0, "maxval": 1.0}, (3, 4)),
        ("random_categorical", {"num_samples": 3}, (3, 5)),
        ("random_categorical", {}, (3, 2, 5)),
    ],
)
def test_onnx_at_inference(name: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph(name, attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, n, seed=n) for n in (3, 5)])


def test_onnx_refuses_sampling_at_inference() -> None:
    graph = op_graph("sample_normal", {"inference": "sample"}, [(3, 4)])
    with pytest.raises(ExportError, match="draws at inference"):
        assert_onnx_matches(graph, [random_inputs(graph, 3)])


def test_initializer_names_with_a_tensor_sample() -> None:
    src = """
model M() {
    input x: f32[B, 8]
    z_mean = x |> Dense(4, kernel_initializer = random_normal(stddev = 0.02))
    log_var = x |> Dense(4, kernel_initializer = random_uniform(-0.1, 0.1))
    z = z_mean + exp(0.5 * log_var) * random_normal(shape_like = z_mean)
    return z + (z |> random_uniform) + random_normal(z, stddev = 0.5)
}
"""
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None
    ops = [n.op.name for n in graph.nodes]
    assert ops.count("sample_normal") == 2 and ops.count("sample_uniform") == 1
    inits = [n.attrs["kernel_initializer"] for n in graph.nodes if n.op.name == "Dense"]
    assert [getattr(i, "name", i) for i in inits] == ["random_normal", "random_uniform"]


@pytest.mark.parametrize(
    ("expr", "code", "words"),
    [
        ('random_normal(x, inference = "always")', "E0404", "inference"),
        ("random_categorical(x, num_samples = 0)", "E0404", "num_samples"),
        ("sample_uniform(x, minval = 1.0, maxval = 1.0)", "E0404", "must be above"),
        ("sample_normal(x, shape_like = x)", "E0406", "given twice"),
    ],
)
def test_bad_sampling_calls(expr: str, code: str, words: str) -> None:
    src = f"model M() {{\n    input x: f32[B, 3]\n    y = {expr}\n    return x\n}}\n"
    errors = [d for d in check_source(src, "m.nn").diagnostics if d.is_error]
    assert errors and errors[0].code == code and words in errors[0].message, render_plain(errors)
    assert errors[0].primary.span.start >= src.index(expr)


def _leaves(tree: object) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def test_training_with_a_draw_is_deterministic_and_resumes_bit_identically(
    tmp_path: Path,
) -> None:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    g = GraphMaker("Noisy")
    h = g.op("Dense", g.input("x", tensor("B", 4)), units=8)
    noisy = g.op("add", h, g.op("sample_normal", h, stddev=0.3))
    graph = g.output("logits", g.op("Dense", noisy, units=3))
    cfg = config_for(tmp_path, graph=graph, epochs=2, seed=3)
    cfg = dataclasses.replace(cfg, callbacks=[call("checkpoint", every=1, every_steps=5, keep=10)])
    full = fit(cfg, run_dir=tmp_path / "full")
    again = fit(cfg, run_dir=tmp_path / "again")
    for a, b in zip(_leaves(full.params), _leaves(again.params), strict=True):
        assert a.tobytes() == b.tobytes()
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 7

    assert fit(cfg, run_dir=tmp_path / "part", stop=stop).stopped
    assert latest_training_state(tmp_path / "part") is not None
    resumed = fit(cfg, run_dir=tmp_path / "part", resume=True)
    for a, b in zip(_leaves(full.params), _leaves(resumed.params), strict=True):
        assert a.tobytes() == b.tobytes()
    other = fit(dataclasses.replace(cfg, seed=4), run_dir=tmp_path / "other")
    assert any(
        a.tobytes() != b.tobytes()
        for a, b in zip(_leaves(full.params), _leaves(other.params), strict=True)
    )
