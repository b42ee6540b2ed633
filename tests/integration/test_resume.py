"""`nnrun --resume` after SIGKILL at random moments ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

ROOT = Path(__file__).resolve().parents[2]

# Dropout (PRNG per step), BatchNorm (state), Adam (optimizer state), a plateau callback
# (learning-rate factor in the optimizer state, callback memory in the checkpoint), a repeated
# block (one scanned node, with a Dropout drawing per copy).
MODEL = """
block Res(width: int) {
    input x: f32[B, width]
    return x + (x |> Dense(width, activation = "relu") |> Dropout(0.1))
}
model Tiny(hidden: int = 32) {
    input x: f32[B, 4]
    h = x |> Dense(hidden, activation = "relu") |> BatchNorm() |> Dropout(0.2)
    h = h |> repeat 2 Res(hidden)
    return h |> Dense(3)
}
data blobs = npz("blobs.npz", x = "features", y = "labels", test_split = 0.2)
train Tiny on blobs {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.01)
    metrics = [accuracy]
    epochs = 20
    batch = 4
    seed = 7
    callbacks = [
        checkpoint(every = 1, every_steps = 7, keep = 2),
        reduce_lr_on_plateau(monitor = "loss", factor = 0.5, patience = 1),
        csv_log("log.csv"),
    ]
}
"""


def _command(out: str, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "nndsl", "tiny.nn", "--quiet", "--out", out]
    return [*cmd, "--resume"] if resume else cmd


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "NNDSL_CACHE_DIR": str(tmp / "cache"),
        "JAX_PLATFORMS": "cpu",
    }


def _latest_step(run: Path) -> int:
    ckpts = run / "checkpoints"
    steps = [int(p.name[5:]) for p in ckpts.glob("step-*")] if ckpts.is_dir() else []
    return max(steps, default=0)


def _weights(path: Path) -> dict[str, np.ndarray]:
    return safetensors.numpy.load_file(str(path))


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 2]], dtype=np.float32)
    labels = rng.integers(0, 3, size=300).astype(np.int32)
    features = centers[labels] + rng.normal(0, 0.8, size=(300, 4)).astype(np.float32)
    np.savez(tmp_path / "blobs.npz", features=features, labels=labels)
    (tmp_path / "tiny.nn").write_text(MODEL)
    env = _env(tmp_path)

    ref = subprocess.run(
        _command("ref", False), cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ref.returncode == 0, ref.stdout + ref.stderr

    # Kill at a random moment of training: after a random number of further steps (seen
    # through the checkpoints), plus a random fraction of a checkpoint interval.
    pick = random.Random(int(os.environ.get("NNDSL_KILL_SEED", "1")))
    kills = 0
    resumed_mid_run = False
    for _ in range(3):
        before = _latest_step(tmp_path / "run")
        target = before + pick.randrange(60, 400)
        proc = subprocess.Popen(
            _command("run", True),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while proc.poll() is None and _latest_step(tmp_path / "run") < target:
            time.sleep(0.01)
        time.sleep(pick.uniform(0.0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        out = proc.communicate()[0]
        resumed_mid_run |= "resuming from" in out
    assert kills >= 2, "training finished before it could be killed; make it longer"
    last = subprocess.run(
        _command("run", True), cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert last.returncode == 0, last.stdout + last.stderr
    assert resumed_mid_run or "resuming from" in last.stdout, last.stdout
    a, b = (
        _weights(tmp_path / "ref/model.safetensors"),
        _weights(tmp_path / "run/model.safetensors"),
    )
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), f"{k} differs after resume"
    # The log holds each epoch once, whatever was repeated after a kill.
    epochs = [line.split(",")[0] for line in (tmp_path / "run/log.csv").read_text().splitlines()]
    assert epochs == ["epoch", *map(str, range(1, 21))]
    assert (tmp_path / "ref/log.csv").read_text() == (tmp_path / "run/log.csv").read_text()
