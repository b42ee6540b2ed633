"""`nnrun evaluate`: the section's loss and metrics and a confusion matrix, on the held-out test
split or on every row of another file (issue 18)."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import steps_for
from nndsl.cli.main import main
from nndsl.frontend import check_file
from nndsl.runtime import save_checkpoint

SOURCE = """
model M() {
    input x: f32[B, 4]
    return x |> Dense(3)
}
data d = npz("d.npz", test_split = SPLIT)
train M on d {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
    metrics = [accuracy]
    batch = 16
}
"""


def _setup(tmp_path: Path, split: str = "0.25") -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 64).astype(np.int32)
    x = (np.eye(3, 4)[y] * 2.5).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savez(tmp_path / "other.npz", x=x[:10], y=y[:10])
    path = tmp_path / "m.nn"
    path.write_text(SOURCE.replace("SPLIT", split))
    result = check_file(str(path))
    assert result.program is not None and result.program.train is not None
    graph = result.program.train.graph
    params, state = steps_for(result.program.train).model.init(jax.random.key(0))
    save_checkpoint(
        tmp_path / "w.safetensors", graph, params, state, extra={"class_names": ["a", "b", "c"]}
    )
    return path


def test_evaluate_prints_metrics_and_a_named_confusion_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _setup(tmp_path)
    weights = str(tmp_path / "w.safetensors")
    assert main(["evaluate", str(path), "--weights", weights, "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "Evaluated M on the test split of `d`" in out
    assert "accuracy" in out and "loss" in out and "Confusion matrix" in out
    rows = [line for line in out.splitlines() if line.startswith(("│ a ", "│ b ", "│ c "))]
    assert len(rows) == 3
    counts = [int(v) for line in rows for v in line.strip("│ ").split("│")[1:]]
    assert sum(counts) == 16  # 64 rows, test_split 0.25
    assert (
        main(
            [
                "evaluate",
                str(path),
                "--weights",
                weights,
                "--data",
                str(tmp_path / "other.npz"),
                "--no-cache",
            ]
        )
        == 0
    )
    assert "on all 10 rows of" in capsys.readouterr().out


def test_evaluate_without_test_rows_or_data_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _setup(tmp_path, "0")
    weights = str(tmp_path / "w.safetensors")
    assert main(["evaluate", str(path), "--weights", weights]) == 1
    err = capsys.readouterr().err
    assert err == (
        "nnrun: error: `d` holds out no test split (test_split = 0); give the labelled data to "
        "evaluate on with --data\n"
    )
    assert main(["evaluate", str(path), "--weights", weights, "--data", "nowhere.npz"]) == 1
    assert capsys.readouterr().err == "nnrun: error: no such file or folder: nowhere.npz\n"
