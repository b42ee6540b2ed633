"""The `tensorboard` callback: event files read back with a TFRecord reader of the test's own,
compared with the CSV log and the returned history; the checker's error without tensorboardX."""

from __future__ import annotations

import dataclasses
import importlib.util
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tensorboardX.proto.event_pb2 import Event  # a dev dependency, as the extra's package

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import fit
from tests.backend.graphs import call
from tests.runtime.helpers import blobs, config_for, write_npz

Scalars = dict[str, list[tuple[int, float]]]


def _events(directory: Path) -> Scalars:
    """tag -> [(step, value)] over every event file in `directory`, in file order."""
    out: Scalars = {}
    files = sorted(directory.glob("events.out.tfevents.*"))
    assert files, f"no event file in {directory}"
    for path in files:
        data, at = path.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            event = Event.FromString(data[at + 12 : at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, value.simple_value))
    return out


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    return tmp_path


def _with_callbacks(cfg: TrainConfig, *callbacks: Any) -> TrainConfig:
    return dataclasses.replace(cfg, callbacks=list(callbacks))


def _f32(x: float) -> float:
    return float(np.float32(x))


def test_epoch_scalars_match_the_csv_log_and_the_history(data_dir: Path) -> None:
    cfg = _with_callbacks(
        config_for(data_dir, epochs=2),
        call("tensorboard", path="tb"),
        call("csv_log", path="log.csv"),
    )
    result = fit(cfg, run_dir=data_dir / "run")
    train, validation = _events(data_dir / "run/tb/train"), _events(data_dir / "run/tb/validation")
    assert set(train) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert set(validation) == {"epoch_loss", "epoch_accuracy"}
    rows = (data_dir / "run/log.csv").read_text().splitlines()
    header = rows[0].split(",")
    for row in rows[1:]:
        values = dict(zip(header, row.split(","), strict=True))
        epoch = int(values.pop("epoch"))
        for key, text in values.items():
            tag = "epoch_" + key.removeprefix("val_")
            logged = dict((validation if key.startswith("val_") else train)[tag])
            assert logged[epoch] == _f32(float(text)), (key, epoch)
    for end in result.history:
        assert dict(train["epoch_loss"])[end.epoch] == _f32(end.train["loss"])
        assert end.validation is not None
        assert dict(validation["epoch_accuracy"])[end.epoch] == _f32(end.validation["accuracy"])
    assert train["epoch_learning_rate"] == [(1, _f32(0.01)), (2, _f32(0.01))]


def test_update_freq_logs_the_loss_every_n_steps(data_dir: Path) -> None:
    cfg = _with_callbacks(
        config_for(data_dir, epochs=2),
        call("tensorboard", path="tb", update_freq=5),
        call("jsonl_log", path="log.jsonl", every_steps=5),
    )
    fit(cfg, run_dir=data_dir / "run")
    batch = _events(data_dir / "run/tb/train")["batch_loss"]
    import json

    lines = (data_dir / "run/log.jsonl").read_text().splitlines()
    expected = [(e["step"], _f32(e["loss"])) for e in map(json.loads, lines) if "epoch" not in e]
    assert batch == expected and [s for s, _ in batch] == [5, 10, 15, 20]


def test_learning_rate_follows_the_schedule_and_the_plateau_factor(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, "d.npz", x=x, y=y)
    source = _SOURCE.replace(
        "optimizer = adam", "optimizer = sgd(lr = exponential_decay(0.1, 10, 0.5))"
    )
    # `min_delta` so large that only the first epoch counts as an improvement: the factor
    # halves after epochs 2 and 3, before `tensorboard` (declared after it) logs the rate.
    source = source.replace(
        'callbacks = [tensorboard("logs")]',
        'epochs = 3\n    batch = 16\n    callbacks = [reduce_lr_on_plateau(monitor = "loss", '
        'factor = 0.5, patience = 0, min_delta = 100), tensorboard("logs")]',
    )
    checked = check_source(source, str(tmp_path / "m.nn"))
    assert checked.program is not None and checked.program.train is not None, render_plain(
        checked.diagnostics
    )
    result = fit(checked.program.train, run_dir=tmp_path / "run")
    per_epoch = result.global_steps // 3
    logged = _events(tmp_path / "run/logs/train")["epoch_learning_rate"]
    expected = [
        (e, _f32(0.1 * 0.5 ** (e * per_epoch / 10) * factor))
        for e, factor in [(1, 1.0), (2, 0.5), (3, 0.25)]
    ]
    assert [s for s, _ in logged] == [1, 2, 3]
    np.testing.assert_allclose([v for _, v in logged], [v for _, v in expected], rtol=1e-5)


def test_a_fresh_run_replaces_the_logs_and_a_resumed_one_drops_repeated_steps(
    data_dir: Path,
) -> None:
    from nndsl.runtime.checkpoint import latest_training_state

    tb = call("tensorboard", path="tb", update_freq=5)
    cfg = _with_callbacks(config_for(data_dir, epochs=3), tb, call("checkpoint", every=1, keep=5))
    fit(cfg, run_dir=data_dir / "run")
    full = _events(data_dir / "run/tb/train")
    fit(cfg, run_dir=data_dir / "run")  # again, afresh: one run's points, not two
    assert _events(data_dir / "run/tb/train") == full
    # Resume from the checkpoint of epoch 2, as if the run had died during epoch 3.
    import shutil

    latest = latest_training_state(data_dir / "run")
    assert latest is not None
    shutil.rmtree(latest)
    [event_file] = (data_dir / "run/tb/train").glob("events.out.tfevents.*")
    with event_file.open("ab") as f:  # a record torn by the kill
        f.write(struct.pack("<Q", 100) + b"\0\0")
    fit(cfg, run_dir=data_dir / "run", resume=True)
    assert _events(data_dir / "run/tb/train") == full
    assert [s for s, _ in _events(data_dir / "run/tb/validation")["epoch_loss"]] == [1, 2, 3]


_SOURCE = """
model M() {
    input x: f32[B, 4]
    return x |> Dense(3)
}
data d = npz("d.npz")
train M on d {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
    callbacks = [tensorboard("logs")]
}
"""


def test_the_checker_names_the_extra_when_tensorboardx_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not check_source(_SOURCE, "m.nn").diagnostics
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboardX" else real(name, *a),
    )
    text = render_plain(check_source(_SOURCE, "m.nn").diagnostics)
    assert "error[E0404]: `tensorboard`: writing TensorBoard logs needs the package" in text
    assert "pip install 'nndsl[tensorboard]'" in text


def test_no_validation_no_validation_run(data_dir: Path) -> None:
    cfg = _with_callbacks(config_for(data_dir, epochs=1, validation_split=0.0), call("tensorboard"))
    fit(cfg, run_dir=data_dir / "run")
    assert set(_events(data_dir / "run/logs/train")) == {
        "epoch_loss",
        "epoch_accuracy",
        "epoch_learning_rate",
    }
    assert not (data_dir / "run/logs/validation").exists()
