"""The loop reads step results back late (it dispatches the next call first): the guarantees
that must survive that, a non-finite step stopping at the exact step with the weights it
started from above all."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import nndsl.runtime.train as train_module
from nndsl.backend.jax.training import APPLIED, NONFINITE, NOT_RUN, steps_for
from nndsl.ir import TrainConfig
from nndsl.runtime import StepEnd, TrainingError, fit
from tests.backend.graphs import call, mlp
from tests.runtime.helpers import blobs, config_for, write_npz

BAD_STEP = 13  # 1-based, of 20 steps per epoch; 12 steps are 3 calls of 4


def _with(cfg: TrainConfig, **changes: object) -> TrainConfig:
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def _leaves(tree: object) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def _late_bad_batch(tmp_path: Path, per_call: int = 1) -> TrainConfig:
    """20 steps per epoch, unshuffled; only batch BAD_STEP overflows the first Dense."""
    x, y = blobs(n=480, features=64)
    order = np.random.default_rng(0).permutation(480)  # the split's row order (seed 0)
    x[order[(BAD_STEP - 1) * 24 : BAD_STEP * 24]] = 3e38
    write_npz(tmp_path, "bad.npz", x=x, y=y)
    cfg = config_for(tmp_path, "bad.npz", graph=mlp(inputs=64), epochs=2, batch=24)
    return _with(
        cfg,
        data=call("npz", path="bad.npz", test_split=0.0),
        validation_split=0.0,
        shuffle=False,
        steps_per_execution=per_call,
    )


@pytest.mark.parametrize("per_call", [1, 4])
def test_stop_names_the_exact_step_and_keeps_the_weights_it_started_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_call: int
) -> None:
    cfg = _late_bad_batch(tmp_path, per_call)
    # the loop settles calls late: make sure several calls are in flight when the bad one runs
    monkeypatch.setattr(train_module, "SETTLE_SECONDS", 3600.0)
    seen: dict[str, Any] = {}
    diagnose = train_module.first_nonfinite

    def spy(steps: Any, params: Any, state: Any, x: Any, key: Any) -> str | None:
        seen["params"] = _leaves(params)
        return diagnose(steps, params, state, x, key)

    monkeypatch.setattr(train_module, "first_nonfinite", spy)
    events: list[Any] = []
    with pytest.raises(TrainingError) as err:
        fit(cfg, run_dir=tmp_path / "r", on_event=events.append)
    assert f"epoch 1, step {BAD_STEP} (step {BAD_STEP} overall)" in str(err.value)
    assert "first non-finite output is of `MLP/dense" in str(err.value)
    assert [e.step for e in events if isinstance(e, StepEnd)] == list(range(1, BAD_STEP))

    # the same run stopped by `stop()` before the bad step: the weights it started from
    calls, stop_after = iter(range(10**6)), (BAD_STEP - 1) // per_call  # calls, not steps
    before = fit(cfg, run_dir=tmp_path / "s", stop=lambda: next(calls) >= stop_after)
    assert before.global_steps == BAD_STEP - 1
    for a, b in zip(seen["params"], _leaves(before.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_skip_counts_late_bad_steps(tmp_path: Path) -> None:
    cfg = _with(_late_bad_batch(tmp_path), on_nonfinite="skip")
    events: list[Any] = []
    result = fit(cfg, run_dir=tmp_path / "r", on_event=events.append)
    assert result.skipped_steps == 2 and result.global_steps == 40
    assert [e.step for e in events if isinstance(e, StepEnd)] == list(range(1, 21)) * 2
    assert all(np.isfinite(a).all() for a in _leaves(result.params))


def test_a_step_after_a_bad_one_is_a_no_op(tmp_path: Path) -> None:
    x, y = blobs(n=48, features=4)
    steps = steps_for(config_for(tmp_path))
    params, state = steps.model.init(jax.random.key(0))
    before = _leaves(params)
    root, step = jax.random.key(1), np.int32(0)
    for after in (NONFINITE, NOT_RUN):
        out = steps.train_step(
            params, state, steps.init_opt_state(params), steps.init_aux(),
            x[:16].astype(np.float32), y[:16], root, step, np.int32(after),
        )  # fmt: skip
        assert int(out[6]) == NOT_RUN
        params, state = out[0], out[1]
        for a, b in zip(_leaves(params), before, strict=True):
            np.testing.assert_array_equal(a, b)
    xs = x[:48].astype(np.float32).reshape(3, 16, 4)
    out = steps.train_steps(
        params, state, steps.init_opt_state(params), steps.init_aux(),
        xs, y[:48].reshape(3, 16), root, step, True, np.int32(NONFINITE),
    )  # fmt: skip
    assert np.asarray(out[6]).tolist() == [NOT_RUN] * 3
    out = steps.train_steps(
        out[0], out[1], out[2], out[3],
        xs, y[:48].reshape(3, 16), root, step, True, np.int32(APPLIED),
    )  # fmt: skip
    assert np.asarray(out[6]).tolist() == [APPLIED] * 3


def test_step_logs_are_written_late_but_right(tmp_path: Path) -> None:
    """`jsonl_log(every_steps = 1)` is called when calls are read back, not after each one:
    it still gets every step's number and loss, the same as an eagerly read run."""
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    cfg = _with(
        config_for(tmp_path, epochs=2),
        callbacks=[call("jsonl_log", path="log.jsonl", every_steps=1)],
    )
    events: list[Any] = []
    fit(cfg, run_dir=tmp_path / "r", on_event=events.append)
    lines = [json.loads(s) for s in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    per_step = [e for e in lines if "epoch" not in e]
    losses = [e.loss for e in events if isinstance(e, StepEnd)]
    assert [e["step"] for e in per_step] == list(range(1, len(losses) + 1))
    assert [e["loss"] for e in per_step] == pytest.approx(losses, rel=0, abs=0)
