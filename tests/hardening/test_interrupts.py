"""Kills during checkpoint writes (not only between them), Ctrl-C, and a full disk.

The kills are real SIGKILLs at exact moments inside `save_training_state` (a wrapper process
patches the write, the rename of a same-step checkpoint, and the prune to kill itself there);
one run directory goes through all of them and through Ctrl-C (once, then twice), and the last
`--resume` must end with the weights of an uninterrupted run, bit for bit. A full disk is an
injected `OSError(ENOSPC)`."""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nndsl.runtime import CheckpointError, fit, load_weights, save_checkpoint
from nndsl.runtime.checkpoint import latest_training_state
from tests.backend.graphs import call, mlp
from tests.runtime.helpers import blobs, config_for, write_npz

ROOT = Path(__file__).resolve().parents[2]

MODEL = """
model Tiny(hidden: int = 16) {
    input x: f32[B, 4]
    h = x |> Dense(hidden, activation = "relu") |> BatchNorm() |> Dropout(0.2)
    return h |> Dense(3)
}
data blobs = npz("blobs.npz", x = "features", y = "labels", test_split = 0.2)
train Tiny on blobs {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.01)
    metrics = [accuracy]
    epochs = 4
    batch = 8
    validation_split = 0
    seed = 7
    callbacks = [
        checkpoint(every = 1, every_steps = 5, keep = 2),
        reduce_lr_on_plateau(monitor = "loss", factor = 0.5, patience = 1),
    ]
}
"""

# Runs `nnrun` with the hooks named by $HOOK: `write` (a half-written state file, then
# SIGKILL, at the 3rd checkpoint), `swap` (SIGKILL between moving a same-step checkpoint
# aside and renaming the new one in), `prune` (SIGKILL with a pruned checkpoint half
# deleted). $STEP_DELAY slows each step so that a signal can arrive mid-run. (A full disk is
# tested in process, below.)
WRAPPER = """
import os, shutil, signal, sys, time
from pathlib import Path
import nndsl.runtime.checkpoint as ck
import nndsl.runtime.train as tr
from nndsl.cli.main import main

hook, delay, writes = os.environ.get("HOOK", ""), float(os.environ.get("STEP_DELAY", "0")), []
def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
if delay:
    dispatch = tr._dispatch
    def slow(*args, **kwargs):
        time.sleep(delay)
        return dispatch(*args, **kwargs)
    tr._dispatch = slow
write = ck._write_synced
def hooked_write(path, data):
    if path.name == "state.safetensors":
        writes.append(path)
        if len(writes) == 3 and hook == "write":
            path.write_bytes(data[: len(data) // 2])
            die()
    write(path, data)
ck._write_synced = hooked_write
replace = os.replace
def hooked_replace(src, dst, *args, **kwargs):
    replace(src, dst, *args, **kwargs)
    if hook == "swap" and ".old-" in Path(dst).name:
        die()
ck.os.replace = hooked_replace
rmtree = shutil.rmtree
def hooked_rmtree(path, *args, **kwargs):
    if hook == "prune" and ".del-" in Path(path).name:
        (Path(path) / "state.safetensors").unlink()
        die()
    rmtree(path, *args, **kwargs)
ck.shutil.rmtree = hooked_rmtree
sys.exit(main(sys.argv[1:]))
"""


def _setup(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 2]], dtype=np.float32)
    labels = rng.integers(0, 3, size=100).astype(np.int32)
    features = centers[labels] + rng.normal(0, 0.8, size=(100, 4)).astype(np.float32)
    np.savez(tmp / "blobs.npz", features=features, labels=labels)
    (tmp / "tiny.nn").write_text(MODEL)
    (tmp / "wrapper.py").write_text(WRAPPER)


def _start(tmp: Path, hook: str = "", delay: float = 0.0) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "NNDSL_CACHE_DIR": str(tmp / "cache"),
        "JAX_PLATFORMS": "cpu",
        "HOOK": hook,
        "STEP_DELAY": str(delay),
    }
    cmd = [sys.executable, "wrapper.py", "train", "tiny.nn", "--quiet", "--out", "run"]
    return subprocess.Popen(
        [*cmd, "--resume"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(tmp: Path, hook: str = "") -> tuple[int, str, str]:
    proc = _start(tmp, hook)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _debris(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "run/checkpoints").iterdir() if p.name.startswith("."))


def _interrupt(tmp: Path, times: int) -> tuple[int, str, str]:
    """A slowed run, sent SIGINT `times` times once it has written a checkpoint of its own."""
    before = latest_training_state(tmp / "run")
    proc = _start(tmp, delay=0.05)
    deadline = time.monotonic() + 120
    while latest_training_state(tmp / "run") == before and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    for _ in range(times):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.slow
def test_kills_during_writes_and_ctrl_c_then_resume(tmp_path: Path) -> None:
    _setup(tmp_path)
    clean = "removed what an interrupted run left"

    rc, out, err = _run(tmp_path, "write")  # killed with a half-written state file
    assert rc == -signal.SIGKILL, out + err
    assert len(_debris(tmp_path)) == 1 and ".tmp-" in _debris(tmp_path)[0]

    rc, out, err = _run(tmp_path, "swap")  # killed with a same-step checkpoint moved aside
    assert clean in out and rc == -signal.SIGKILL, out + err
    assert any(".old-" in name for name in _debris(tmp_path)), _debris(tmp_path)

    rc, out, err = _run(tmp_path, "prune")  # killed with a pruned checkpoint half deleted
    assert clean in out and rc == -signal.SIGKILL, out + err
    assert any(".del-" in name for name in _debris(tmp_path)), _debris(tmp_path)

    before = latest_training_state(tmp_path / "run")
    rc, out, err = _interrupt(tmp_path, 1)  # Ctrl-C: a checkpoint where it stopped, exit 130
    assert rc == 130, out + err
    assert "checkpoint written to" in out and "Traceback" not in err, out + err
    assert latest_training_state(tmp_path / "run") != before

    rc, out, err = _interrupt(tmp_path, 2)  # Ctrl-C twice: stops at once, quietly
    assert rc == 130, out + err
    assert "Traceback" not in err and "Exception ignored" not in err, err

    rc, out, err = _run(tmp_path)
    assert rc == 0 and "resuming from" in out, out + err

    ref = _reference(tmp_path)
    got = load_weights(tmp_path / "run/model.safetensors")
    for node, weights in ref.items():
        for name, value in weights.items():
            assert np.asarray(got[0][node][name]).tobytes() == value.tobytes(), (node, name)


def _reference(tmp: Path) -> dict[str, dict[str, np.ndarray]]:
    """An uninterrupted run of the same file, in this process."""
    from nndsl.frontend import check_file

    result = check_file(tmp / "tiny.nn")
    assert result.program is not None and result.program.train is not None
    fitted = fit(result.program.train, base_dir=tmp, run_dir=tmp / "ref")
    return {n: {k: np.asarray(v) for k, v in w.items()} for n, w in fitted.params.items()}


# -- a full disk, in process ------------------------------------------------------------------
def test_full_disk_during_a_checkpoint_keeps_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nndsl.runtime.checkpoint as ck

    x, y = blobs(n=60)
    write_npz(tmp_path, x=x, y=y)
    cfg = dataclasses.replace(
        config_for(tmp_path, epochs=2),
        callbacks=[call("checkpoint", every=1, every_steps=2, keep=3)],
    )
    written: list[Path] = []
    real = ck._write_synced

    def full(path: Path, data: bytes) -> None:
        written.append(path)
        if len(written) == 3:  # the second checkpoint's state file
            path.write_bytes(data[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(ck, "_write_synced", full)
    with pytest.raises(CheckpointError) as err:
        fit(cfg, run_dir=tmp_path / "run")
    text = str(err.value)
    assert (
        "\n" not in text and "No space left on device" in text and "cannot write checkpoint" in text
    )
    names = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())
    assert names == ["step-000000002"]  # the complete one, and no temporary folder


def test_full_disk_when_saving_weights_keeps_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jax

    from nndsl.backend.jax import compile_graph

    graph = mlp()
    params, state = compile_graph(graph).init(jax.random.key(0))
    path = save_checkpoint(tmp_path / "model.safetensors", graph, params, state)
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CheckpointError, match="No space left on device") as err:
        save_checkpoint(path, graph, jax.tree.map(lambda v: v + 1, params), state)
    monkeypatch.undo()
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]
