"""Two processes on 127.0.0.1 as one JAX program (`nnrun train --coordinator`), each with two
simulated CPU devices: the weights process 0 writes, training on the data streamed (each
process reading only its devices' rows of each batch, from an `.npy`, an `np.savez` or a CSV
file), equal a one-process run on four devices from the same data in memory, and so do the
validation and test figures it logs (history.json; the last batch of each split padded: the
test split's last has its 6 rows on process 0's first device, process 1 holds only padding),
and so does the report's confusion matrix of the test split, and when one process
dies the other stops with one clear line within a bounded time (in memory)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
SOURCE = """
model Net() {
    input x: f32[B, 64]
    return x |> Dense(8) |> relu |> Dense(10)
}
data digits = npz("digits.npz", x = "images", y = "labels", test_split = 0.15)
train Net on digits {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(0.01)
    metrics = [accuracy]
    batch = 32
    epochs = EPOCHS
    validation_split = 0.2
    distribute {
        devices = "all"
    }
}
"""
NNRUN = [sys.executable, "-c", "import sys; from nndsl.cli.main import main; sys.exit(main())"]


STREAMED = {
    "npy": 'npy(x = "images.npy", y = "labels.npy", test_split = 0.15, stream = true)',
    "npz": 'npz("digits.npz", x = "images", y = "labels", test_split = 0.15, stream = true)',
    "csv": 'csv("digits.csv", label = "label", test_split = 0.15, stream = true)',
}


def _project(tmp_path: Path, epochs: int, streamed: str = "npy") -> Path:
    with np.load(ROOT / "examples/data/digits.npz") as d:  # 6 steps an epoch, 44 + 38 evaluate
        images, labels = d["images"][:256], d["labels"][:256]
    np.savez(tmp_path / "digits.npz", images=images, labels=labels)
    np.save(tmp_path / "images.npy", images)  # the same data, streamed
    np.save(tmp_path / "labels.npy", labels)
    header = ",".join([*(f"p{i}" for i in range(images.shape[1])), "label"])
    rows = (",".join([*map(repr, r.tolist()), str(k)]) for r, k in zip(images, labels, strict=True))
    (tmp_path / "digits.csv").write_text("\n".join([header, *rows]) + "\n")  # exact floats
    (tmp_path / "pyproject.toml").write_text("")
    text = SOURCE.replace("EPOCHS", str(epochs))
    source = 'npz("digits.npz", x = "images", y = "labels", test_split = 0.15)'
    assert source in text
    (tmp_path / "streamed.nn").write_text(text.replace(source, STREAMED[streamed]))
    path = tmp_path / "net.nn"
    path.write_text(text)
    return path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(devices: int) -> dict[str, str]:
    return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One compilation cache for the module: later runs of the same programs skip compiling."""
    return str(tmp_path_factory.mktemp("jax-cache"))


def _start(
    path: Path, port: int, i: int, out: str, cache: str, *extra: str
) -> subprocess.Popen[str]:
    cmd = [*NNRUN, str(path), "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    return subprocess.Popen(
        [*cmd, "--process-id", str(i), "--out", out, "--cache-dir", cache, *extra],
        cwd=path.parent,
        env=_env(2),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the test can kill a process with its child
    )


@pytest.mark.slow
@pytest.mark.parametrize("streamed", ["npy", "npz", "csv"])
def test_two_processes_train_as_one(tmp_path: Path, cache: str, streamed: str) -> None:
    path = _project(tmp_path, 1, streamed)
    port = _port()
    streamed = path.with_name("streamed.nn")  # the same batches as `path`'s in-memory ones
    procs = [_start(streamed, port, i, "runs/multi", cache) for i in (0, 1)]
    single = subprocess.run(
        [*NNRUN, str(path), "--out", "runs/single", "--cache-dir", cache, "--quiet"],
        cwd=tmp_path,
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=300,
    )
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    assert single.returncode == 0, single.stderr[-2000:]
    assert not (tmp_path / "runs/multi/model.safetensors").with_suffix(".tmp").exists()
    multi = load_file(tmp_path / "runs/multi/model.safetensors")
    one = load_file(tmp_path / "runs/single/model.safetensors")
    assert multi.keys() == one.keys()
    for k in one:
        np.testing.assert_allclose(multi[k], one[k], atol=1e-5, err_msg=k)
    assert "Weights saved" in outs[0][0] and "Weights saved" not in outs[1][0]  # process 0 writes
    logged = json.loads((tmp_path / "runs/multi/history.json").read_text())
    ref = json.loads((tmp_path / "runs/single/history.json").read_text())
    assert logged["sizes"] == ref["sizes"] == {"train": 174, "validation": 44, "test": 38}
    for mine, theirs in zip(logged["epochs"], ref["epochs"], strict=True):
        assert mine["validation"] == pytest.approx(theirs["validation"], abs=1e-5)
    assert logged["test"] == pytest.approx(ref["test"], abs=1e-5)
    assert set(ref["test"]) == {"loss", "accuracy"}
    # the report's confusion matrix: the test split predicted split over both processes
    assert ref["confusion"] is not None and logged["confusion"] == ref["confusion"]


@pytest.mark.slow
def test_a_dead_peer_stops_the_other(tmp_path: Path, cache: str) -> None:
    path = _project(tmp_path, 500)
    port = _port()
    procs = [_start(path, port, i, "runs/k", cache, "--peer-timeout", "3") for i in (0, 1)]
    try:
        assert procs[0].stdout is not None
        deadline = time.monotonic() + 240
        for line in procs[0].stdout:  # wait until the processes have joined and train
            if line.startswith("Training") or time.monotonic() > deadline:
                break
        os.killpg(procs[1].pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = procs[0].communicate(timeout=90)
        took = time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.communicate()  # closes the pipes
    assert procs[0].returncode == 1, err[-2000:]
    assert "nnrun: error: process 1 of the distributed run stopped responding" in err, err[-2000:]
    assert "Check failure" not in err and "0x" not in err  # no C++ stack trace shown
    assert took < 60
