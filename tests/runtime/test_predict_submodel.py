"""`nnrun predict` of a sub-model from a larger model's weights file (by weight path), and
`--seed` for sampling layers kept on at inference. In process (`main`), tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from nndsl.backend.jax.compile import compile_graph
from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK
from nndsl.cli.main import main
from nndsl.frontend import check_source
from nndsl.ir import Graph

SOURCE = """
block Gen() {
    input z: f32[B, 2]
    return z |> Dense(3, activation = "sigmoid")
}

model Big() {
    input x: f32[B, 4]
    z = x |> Dense(2)
    noisy = z + random_normal(z, inference = "sample")
    return noisy |> Gen()
}

model Small() {
    input z: f32[B, 2]
    return z |> Gen()
}

model Noisy() {
    input z: f32[B, 2]
    return z + random_normal(z, inference = "sample", seed = 7)
}
"""


def _graph(name: str) -> Graph:
    checked = check_source(SOURCE, "/project/m.nn")
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None
    return checked.program.graphs[name]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "m.nn").write_text(SOURCE)
    import jax

    params, _ = compile_graph(_graph("Big")).init(jax.random.key(0))
    flat = {f"{p}/{k}": np.asarray(v) for p, ws in params.items() for k, v in ws.items()}
    save_file(flat, str(tmp_path / "big.safetensors"))
    np.save(tmp_path / "z.npy", np.arange(10, dtype=np.float32).reshape(5, 2) / 10)
    return tmp_path


def _predict(project: Path, *args: str) -> int:
    return main(["predict", str(project / "m.nn"), "--input", str(project / "z.npy"), *args])


def test_a_sub_model_predicts_from_the_larger_models_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = project / "out.npy"
    rc = _predict(
        project,
        "--model",
        "Small",
        "--weights",
        str(project / "big.safetensors"),
        "--output",
        str(out),
    )
    err = capsys.readouterr().err
    assert rc == EXIT_OK, err
    assert "ignored 2 weights that Small does not have: dense/bias, dense/kernel" in err
    assert "--seed" not in err
    _predict(
        project, "--model", "Small", "--weights", str(project / "big.safetensors"), "--seed", "1"
    )
    assert "note: --seed has no effect: no sampling layer of Small draws" in capsys.readouterr().err
    weights = load_file(project / "big.safetensors")
    kernel, bias = weights["gen/dense/kernel"], weights["gen/dense/bias"]
    z = np.load(project / "z.npy")
    expected = 1 / (1 + np.exp(-(z @ kernel + bias)))
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)


def test_a_sub_model_exports_from_the_larger_models_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = project / "small.onnx"
    big = str(project / "big.safetensors")
    args = ["export", str(project / "m.nn"), "--model", "Small", "--weights", big, "-o", str(out)]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == EXIT_OK, err
    assert "ignored 2 weights that Small does not have" in err and out.is_file()


def test_a_weight_the_sub_model_needs_and_the_file_lacks_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = load_file(project / "big.safetensors")
    del weights["gen/dense/bias"]
    save_file(weights, str(project / "partial.safetensors"))
    rc = _predict(project, "--model", "Small", "--weights", str(project / "partial.safetensors"))
    err = capsys.readouterr().err
    assert rc == EXIT_ERRORS
    [line] = err.strip().splitlines()
    assert line.endswith(
        "partial.safetensors: missing weights for Small: gen/dense/bias (found 1 of its 2 by path)"
    ), line


def test_seed_makes_inference_draws_reproducible(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_file({}, str(project / "none.safetensors"))

    def draw(*seed: str) -> np.ndarray:
        out = project / f"noisy{'_'.join(seed)}.npy"
        args = ("--model", "Noisy", "--weights", str(project / "none.safetensors"))
        assert _predict(project, *args, "--output", str(out), *seed) == EXIT_OK
        return np.load(out)

    z = np.load(project / "z.npy")
    a, again, b = draw("--seed", "1"), draw("--seed", "1"), draw("--seed", "2")
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, b)
    assert not np.allclose(a, z)  # it does draw
    # Without --seed: the layer's own `seed` (7), the same on every run.
    np.testing.assert_array_equal(draw(), draw())
    assert not np.allclose(draw(), a)
    capsys.readouterr()
    with pytest.raises(SystemExit):  # argparse's usage error
        _predict(project, "--model", "Noisy", "--weights", "x.safetensors", "--seed", "-1")
    assert "-1 is not in 0..4294967295" in capsys.readouterr().err


def test_seed_draws_afresh_in_every_batch() -> None:
    from nndsl.runtime.predict import predict

    graph = _graph("Noisy")
    z = np.zeros((6, 2), np.float32)
    y = predict(graph, {}, {}, z, batch=2, seed=3)
    assert not np.allclose(y[:2], y[2:4])  # each batch its own key
    np.testing.assert_array_equal(y, predict(graph, {}, {}, z, batch=2, seed=3))
