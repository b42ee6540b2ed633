"""The fine-tuning, multi-task and VAE examples train through `nnrun`, a couple of epochs each,
in a copy of the examples folder (runs are written next to the files, as a user's would be)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.cli import ROOT, nnrun

pytestmark = pytest.mark.slow

# "epoch 1/2  21/21  8.07s  2.6 steps/s  loss 2.4980  ..." (the steps and timings optional)
EPOCH = re.compile(r"^epoch\s+\d+/\d+\b.*?\sloss (\S+)", re.MULTILINE)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project") / "examples"
    shutil.copytree(ROOT / "examples", folder, ignore=shutil.ignore_patterns("web", "runs"))
    return folder


def _train(folder: Path, name: str, *args: str) -> str:
    run = nnrun("train", name, "--quiet", *args, cwd=folder)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    return run.stdout


def _losses(stdout: str) -> list[float]:
    losses = [float(v) for v in EPOCH.findall(stdout)]
    assert losses and all(np.isfinite(losses)), stdout
    return losses


def test_vae_trains_and_its_decoder_predicts(examples: Path) -> None:
    out = _train(examples, "vae_digits.nn", "--epochs", "2", "--out", "runs/Vae")
    first, last = _losses(out)
    assert last < first, out
    assert "val_loss" in out

    # The decoder alone, from the VAE's own file: its paths are the VAE's generator/... ones.
    np.save(examples / "z.npy", np.array([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]], np.float32))
    pred = nnrun(
        "predict",
        "vae_digits.nn",
        "--model",
        "Decoder",
        "--weights",
        "runs/Vae/model.safetensors",
        "--input",
        "z.npy",
        "--output",
        "images.npy",
        cwd=examples,
    )
    assert pred.returncode == 0, pred.stdout + pred.stderr
    assert "that Decoder does not have: encoder/" in pred.stderr, pred.stderr
    images = np.load(examples / "images.npy")
    assert images.shape == (3, 8, 8, 1)
    assert np.all((images >= 0) & (images <= 1))


def test_multi_task_logs_each_output(examples: Path) -> None:
    out = _train(examples, "multi_task.nn", "--epochs", "2", "--out", "runs/MultiTask")
    first, last = _losses(out)
    assert last < first, out
    for name in (
        "digit_loss",
        "center_loss",
        "digit_accuracy",
        "center_root_mean_squared_error",
        "val_digit_accuracy",
        "val_center_loss",
    ):
        assert f" {name} " in out, (name, out)


def test_finetune_loads_and_freezes_the_cnn_trunk(examples: Path) -> None:
    from safetensors.numpy import load_file

    _train(examples, "digits_cnn.nn", "--epochs", "1")  # writes runs/DigitsCNN/, as documented
    out = _train(examples, "finetune.nn", "--epochs", "2", "--out", "runs/Tuned")
    assert "loaded 4 of 8 weights" in out, out
    assert "skipped (not in the file, initialised afresh): head/dense/kernel" in out, out
    assert "unused (not in CenterFinder): dense/bias, dense/kernel" in out, out
    first, last = _losses(out)
    assert last < first, out

    pre = load_file(examples / "runs/DigitsCNN/model.safetensors")
    tuned = load_file(examples / "runs/Tuned/model.safetensors")
    for path in ("conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias"):
        np.testing.assert_array_equal(tuned[path], pre[path], err_msg=path)
