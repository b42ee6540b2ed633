"""A 1 GiB `.npy` trains through `nnrun` with `stream = true` in a process whose peak resident
memory stays far below the file's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.hardening.test_pathological import LAUNCH

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 4096
ROWS = 65536  # x 4096 float32 = 1 GiB
# Measured peak of this run: ~380 MB (~250 MB of it is Python, JAX and XLA before any data);
# the same run with `stream = false` peaks at ~2.2 GB (the file, and its cast copy).
BOUND_MB = 600

MODEL = """
model Wide() {
    input x: f32[B, 4096]
    return x |> Dense(1)
}
data d = npy(x = "x.npy", y = "y.npy", test_split = 0.0, stream = true)
train Wide on d {
    loss = mse
    optimizer = sgd(learning_rate = 0.001)
    epochs = 1
    batch = 1024
    validation_split = 0.0
}
"""


@pytest.mark.slow
def test_a_1_gib_npy_streams_with_bounded_memory(tmp_path: Path) -> None:
    # A sparse file: the zeros of 1 GiB cost no disk writes, but every row is read back.
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (ROWS, WIDTH))
    x[::4096] = 1.0  # a few real rows
    x.flush()
    del x
    assert (tmp_path / "x.npy").stat().st_size > 1 << 30
    np.save(tmp_path / "y.npy", np.random.default_rng(0).normal(size=(ROWS, 1)).astype(np.float32))
    (tmp_path / "wide.nn").write_text(MODEL)
    report = tmp_path / "usage.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "JAX_PLATFORMS": "cpu",
        "NNDSL_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(report), "wide.nn", "--quiet", "--out", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "run" / "model.safetensors").exists()
    peak_mb = json.loads(report.read_text())["rss_kb"] / 1024
    assert peak_mb < BOUND_MB, f"peak RSS {peak_mb:.0f} MB streaming a 1024 MB file"
