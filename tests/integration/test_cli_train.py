"""`nnrun` end to end in a subprocess: train, save, predict, and clear errors for bad data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli import nnrun

ROOT = Path(__file__).resolve().parents[2]

MODEL = """
model Tiny(hidden: int = 16) {
    input x: f32[B, 4]
    h = x |> Dense(hidden, activation = "relu") |> BatchNorm()
    return h |> Dense(3)
}
data blobs = npz("blobs.npz", x = "features", y = "labels", test_split = 0.25)
train Tiny on blobs {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.05)
    metrics = [accuracy]
    epochs = 8
    batch = 16
    seed = 3
}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 2]], dtype=np.float32)
    labels = rng.integers(0, 3, size=240).astype(np.int32)
    features = centers[labels] + rng.normal(0, 0.5, size=(240, 4)).astype(np.float32)
    np.savez(tmp_path / "blobs.npz", features=features, labels=labels)
    (tmp_path / "tiny.nn").write_text(MODEL)
    return tmp_path


@pytest.mark.slow
def test_train_then_predict(project: Path) -> None:
    run = nnrun("tiny.nn", "--quiet", "--out", "out", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 8
    first = float(lines[0].split("loss")[1].split()[0])
    last = float(lines[-1].split("loss")[1].split()[0])
    assert last < first, run.stdout
    meta = json.loads((project / "out" / "model.json").read_text())
    assert meta["metrics"]["accuracy"] > 0.8
    assert (project / "out" / "model.safetensors").exists()

    np.save(project / "x.npy", np.eye(3, 4, dtype=np.float32) * 2)
    pred = nnrun(
        "predict",
        "tiny.nn",
        "--weights",
        "out/model.safetensors",
        "--input",
        "x.npy",
        "--output",
        "y.npy",
        cwd=project,
    )
    assert pred.returncode == 0, pred.stderr
    y = np.load(project / "y.npy")
    assert y.shape == (3, 3)
    assert list(np.argmax(y, axis=-1)) == [0, 1, 2]


def test_same_seed_same_weights(project: Path) -> None:
    from safetensors.numpy import load_file

    a = nnrun("tiny.nn", "--quiet", "--epochs", "2", "--out", "a", cwd=project)
    b = nnrun("tiny.nn", "--quiet", "--epochs", "2", "--out", "b", cwd=project)
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    wa = load_file(project / "a" / "model.safetensors")
    wb = load_file(project / "b" / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k


def test_bad_data_key_is_one_clear_line(project: Path) -> None:
    (project / "tiny.nn").write_text(MODEL.replace('y = "labels"', 'y = "targets"'))
    run = nnrun("tiny.nn", cwd=project)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "blobs.npz" in run.stderr and "targets" in run.stderr and "labels" in run.stderr


def test_data_shape_mismatch_names_both_shapes(project: Path) -> None:
    (project / "tiny.nn").write_text(MODEL.replace("f32[B, 4]", "f32[B, 5]"))
    run = nnrun("tiny.nn", cwd=project)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "[240, 4]" in run.stderr and "[B, 5]" in run.stderr


def test_missing_data_file(project: Path) -> None:
    (project / "blobs.npz").unlink()
    run = nnrun("tiny.nn", cwd=project)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and "blobs.npz" in run.stderr


def test_train_without_train_section(project: Path) -> None:
    (project / "m.nn").write_text(MODEL.split("data blobs")[0])
    run = nnrun("m.nn", cwd=project)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("nnrun: error:") and "train" in run.stderr
