"""Callbacks, class weights, non-finite steps, precision, multi-step calls, in-process resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax.training import lr_factor
from nndsl.ir import TrainConfig
from nndsl.runtime import Note, TrainingError, enable_compile_cache, fit, load_data
from nndsl.runtime.checkpoint import latest_training_state, load_training_state
from tests.backend.graphs import call, mlp
from tests.runtime.helpers import blobs, config_for, write_npz


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    return tmp_path


def _with(cfg: TrainConfig, **changes: object) -> TrainConfig:
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def _leaves(tree: object) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def test_early_stopping_stops_and_restores_the_best_weights(data_dir: Path) -> None:
    # A rate so large the validation loss cannot keep improving.
    cfg = config_for(
        data_dir,
        epochs=30,
        optimizer=call("sgd", learning_rate=3.0),
    )
    cfg = _with(cfg, callbacks=[call("early_stopping", patience=1, restore_best=True)])
    notes: list[str] = []
    result = fit(cfg, run_dir=data_dir / "run", on_event=lambda e: _note(e, notes))
    assert result.early_stopped and len(result.history) < 30
    assert any("early stopping" in n for n in notes)
    best = min(e.validation["loss"] for e in result.history if e.validation)
    from nndsl.runtime import evaluate, load_data

    again = evaluate(result.steps, result.params, result.state, load_data(cfg).validation, 16)
    assert again["loss"] == pytest.approx(best, rel=1e-6)


def _note(event: object, notes: list[str]) -> None:
    if isinstance(event, Note):
        notes.append(event.message)


def test_reduce_lr_on_plateau_scales_the_rate(data_dir: Path) -> None:
    cfg = config_for(data_dir, epochs=6, optimizer=call("sgd", learning_rate=3.0))
    cb = call("reduce_lr_on_plateau", monitor="val_loss", factor=0.5, patience=0)
    result = fit(_with(cfg, callbacks=[cb]), run_dir=data_dir / "run")
    assert lr_factor(result.opt_state) < 1.0
    assert lr_factor(result.opt_state) in (0.5, 0.25, 0.125, 0.0625, 0.03125)


def test_csv_and_jsonl_logs(data_dir: Path) -> None:
    cbs = [call("csv_log", path="log.csv"), call("jsonl_log", path="log.jsonl", every_steps=5)]
    result = fit(_with(config_for(data_dir, epochs=2), callbacks=cbs), run_dir=data_dir / "r")
    rows = (data_dir / "r/log.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy"
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    assert float(rows[2].split(",")[1]) == result.history[1].train["loss"]
    entries = [json.loads(line) for line in (data_dir / "r/log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries if "epoch" not in e] == [5, 10, 15, 20]
    assert [e["epoch"] for e in entries if "epoch" in e] == [1, 2]


def test_checkpoints_keep_the_last_k_and_the_best_weights(data_dir: Path) -> None:
    cb = call("checkpoint", every=1, every_steps=4, keep=2, best="val_accuracy")
    cfg = _with(config_for(data_dir, epochs=3), callbacks=[cb])
    named = dataclasses.replace(load_data(cfg), class_names=("ant", "bee", "cow"))
    fit(cfg, data=named, run_dir=data_dir / "r")
    # the best weights carry the class names, as the final ones do (issue 18)
    assert json.loads((data_dir / "r/best.json").read_text())["class_names"] == [
        "ant",
        "bee",
        "cow",
    ]
    dirs = sorted(p.name for p in (data_dir / "r/checkpoints").iterdir())
    assert dirs == ["step-000000032", "step-000000033"]  # 11 steps an epoch
    assert (data_dir / "r/best.safetensors").exists()
    arrays, meta = load_training_state(data_dir / "r/checkpoints" / dirs[-1])
    assert meta["epoch"] == 3 and meta["step"] == 33 and meta["position"] == 0
    assert "rng/step_root" in arrays and any(k.startswith("opt/") for k in arrays)


def test_resume_in_process_is_bit_identical(data_dir: Path) -> None:
    graph = mlp(dropout=0.3, batch_norm=True)
    cfg = config_for(data_dir, graph=graph, epochs=4, seed=3)
    cfg = _with(cfg, callbacks=[call("checkpoint", every=1, every_steps=5, keep=10)])
    full = fit(cfg, run_dir=data_dir / "full")
    calls = 0

    def stop() -> bool:  # a stop request mid-epoch 2
        nonlocal calls
        calls += 1
        return calls > 17

    part = fit(cfg, run_dir=data_dir / "part", stop=stop)
    assert part.stopped
    latest = latest_training_state(data_dir / "part")
    assert latest is not None and latest.name == "step-000000015"  # mid-epoch
    resumed = fit(cfg, run_dir=data_dir / "part", resume=True)
    assert resumed.resumed_from == latest
    for a, b in zip(_leaves(full.params), _leaves(resumed.params), strict=True):
        assert a.tobytes() == b.tobytes()
    assert full.history[-1].train == resumed.history[-1].train


def test_class_weight_changes_the_objective(data_dir: Path) -> None:
    cfg = config_for(data_dir, epochs=1)
    plain = fit(cfg, run_dir=data_dir / "a")
    weighted = fit(_with(cfg, class_weight=(1.0, 1.0, 10.0)), run_dir=data_dir / "b")
    assert weighted.history[0].train["loss"] > plain.history[0].train["loss"] * 1.5


def _exploding(data_dir: Path) -> TrainConfig:
    x, y = blobs(features=64)
    x[:] = 3e38  # finite inputs, but the first Dense overflows on them
    write_npz(data_dir, "bad.npz", x=x, y=y)
    return config_for(
        data_dir, "bad.npz", graph=mlp(inputs=64), epochs=2, validation_split=0.0, batch=240
    )


def test_nonfinite_step_names_the_step_and_the_layer(data_dir: Path) -> None:
    cfg = _with(_exploding(data_dir), data=call("npz", path="bad.npz", test_split=0.0))
    with pytest.raises(TrainingError) as err:
        fit(cfg, run_dir=data_dir / "r")
    message = str(err.value)
    assert "epoch 1, step 1 (step 1 overall)" in message
    assert "first non-finite output is of `MLP/dense" in message


def test_nonfinite_steps_can_be_skipped(data_dir: Path) -> None:
    cfg = _with(
        _exploding(data_dir),
        data=call("npz", path="bad.npz", test_split=0.0),
        on_nonfinite="skip",
    )
    result = fit(cfg, run_dir=data_dir / "r")
    assert result.skipped_steps == 2 and result.global_steps == 2
    assert all(np.isfinite(a).all() for a in _leaves(result.params))


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_trains_with_float32_weights(data_dir: Path, precision: str) -> None:
    result = fit(_with(config_for(data_dir, epochs=4), precision=precision), run_dir=data_dir)
    assert all(a.dtype == np.float32 for a in _leaves(result.params))
    assert result.test is not None and result.test["accuracy"] > 0.8
    if precision == "float16":
        assert "loss_scale" in result.steps.init_aux()


def test_steps_per_execution_matches_single_steps(data_dir: Path) -> None:
    cfg = config_for(data_dir, epochs=2)
    one = fit(cfg, run_dir=data_dir)
    many = fit(_with(cfg, steps_per_execution=4), run_dir=data_dir)  # 11 steps: 4 + 4 + 1+1+1
    assert many.global_steps == one.global_steps == 22
    for a, b in zip(_leaves(one.params), _leaves(many.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    auto = fit(_with(cfg, steps_per_execution=0), run_dir=data_dir)
    assert auto.steps_per_execution in (1, 11)


def test_compile_cache_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.setenv("NNDSL_CACHE_DIR", str(tmp_path / "c"))
        assert enable_compile_cache() == tmp_path / "c"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
        assert enable_compile_cache(tmp_path / "d") == tmp_path / "d"
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
