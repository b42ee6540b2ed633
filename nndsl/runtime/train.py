"""The training loop: epochs of jitted steps, validation, a final test, all reported as events.

Determinism: init uses `fold_in(key(seed), 0)`, step `s` uses `fold_in(fold_in(key(seed), 1),
s)`, and the batch order of epoch `e` comes from `numpy.random.default_rng([seed, e])`, so the
same seed gives bit-identical weights on the same machine (GPU reductions may not be
deterministic; set `XLA_FLAGS=--xla_gpu_deterministic_ops=true` there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax

from nndsl.backend.jax.adapt import adapt_state
from nndsl.backend.jax.compile import Tree
from nndsl.backend.jax.training import Metrics, Steps, add_metric_stats, steps_for
from nndsl.ir import TrainConfig
from nndsl.runtime.data import (
    Dataset,
    Splits,
    eval_batches,
    load_data,
    steps_per_epoch,
    train_batches,
)


class TrainingError(Exception):
    """Training cannot go on (e.g. the loss stopped being finite); one line for the user."""


Logs = dict[str, float]


@dataclass(frozen=True)
class FitStart:
    model: str
    epochs: int
    steps_per_epoch: int
    train_size: int
    validation_size: int
    test_size: int


@dataclass(frozen=True)
class EpochStart:
    epoch: int  # 1-based
    epochs: int
    steps: int


@dataclass(frozen=True)
class StepEnd:
    epoch: int
    step: int  # 1-based within the epoch
    steps: int
    loss: float  # this step's loss
    logs: Logs  # running means over the epoch so far: loss and metrics


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train: Logs
    validation: Logs | None
    seconds: float


@dataclass(frozen=True)
class TestEnd:
    """The final evaluation on the held-out test split."""

    __test__ = False  # not a pytest test class
    logs: Logs


@dataclass(frozen=True)
class FitEnd:
    stopped: bool  # `stop()` asked to stop early
    seconds: float


Event = FitStart | EpochStart | StepEnd | EpochEnd | TestEnd | FitEnd


@dataclass
class FitResult:
    params: Tree
    state: Tree
    steps: Steps  # the compiled steps, for `predict` and further evaluation
    history: list[EpochEnd] = field(default_factory=list)
    test: Logs | None = None
    stopped: bool = False
    global_steps: int = 0
    opt_state: Any = None


def evaluate(steps: Steps, params: Tree, state: Tree, data: Dataset, batch: int) -> Logs:
    """The mean loss and the metrics over all of `data`, in inference mode."""
    loss_sum, count = 0.0, 0.0
    totals: Metrics | None = None
    for x, y, mask in eval_batches(data, batch):
        loss, metrics, n = steps.eval_step(params, state, x, y, mask)
        loss_sum += float(loss)
        totals = add_metric_stats(totals, metrics)
        count += float(n)
    return _logs(steps, loss_sum / max(count, 1.0), totals)


def fit(
    config: TrainConfig,
    *,
    on_event: Callable[[Event], None] | None = None,
    stop: Callable[[], bool] | None = None,
    base_dir: Path | None = None,
    data: Splits | None = None,
) -> FitResult:
    """Train `config.graph` as the train section says; raises `DataError` before any step
    when the data does not fit the model, `TrainingError` when the loss is not finite."""
    emit = on_event or (lambda _event: None)
    started = time.perf_counter()
    splits = data if data is not None else load_data(config, base_dir=base_dir)
    steps = steps_for(config)
    root = jax.random.key(config.seed)
    params, state = steps.model.init(jax.random.fold_in(root, 0))
    # Preprocessing layers that learn from the data (Normalization's mean and variance).
    state = adapt_state(steps.model, params, state, [splits.train.x], config.batch)
    opt_state = steps.init_opt_state(params)
    step_root = jax.random.fold_in(root, 1)
    n_steps = steps_per_epoch(len(splits.train), config.batch)
    emit(
        FitStart(
            config.graph.name,
            config.epochs,
            n_steps,
            len(splits.train),
            len(splits.validation),
            len(splits.test),
        )
    )
    result = FitResult(params, state, steps)
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        emit(EpochStart(epoch, config.epochs, n_steps))
        loss_sum = 0.0
        totals: Metrics | None = None
        done = 0
        for x, y in train_batches(
            splits.train, config.batch, seed=config.seed, epoch=epoch, shuffle=config.shuffle
        ):
            if stop is not None and stop():
                result.stopped = True
                break
            key = jax.random.fold_in(step_root, result.global_steps)
            params, state, opt_state, loss, metrics = steps.train_step(
                params, state, opt_state, x, y, key
            )
            loss_value = float(loss)
            if not math.isfinite(loss_value):
                raise TrainingError(
                    f"the loss became {loss_value} at epoch {epoch}, step "
                    f"{done + 1}; try a smaller learning rate"
                )
            result.global_steps += 1
            done += 1
            loss_sum += loss_value
            totals = add_metric_stats(totals, metrics)
            emit(StepEnd(epoch, done, n_steps, loss_value, _logs(steps, loss_sum / done, totals)))
        if done:
            validation = (
                evaluate(steps, params, state, splits.validation, config.batch)
                if len(splits.validation)
                else None
            )
            end = EpochEnd(
                epoch,
                config.epochs,
                _logs(steps, loss_sum / done, totals),
                validation,
                time.perf_counter() - epoch_started,
            )
            result.history.append(end)
            emit(end)
        if result.stopped:
            break
    params = steps.final_params(params, opt_state)  # the EMA under `use_ema`
    result.params, result.state, result.opt_state = params, state, opt_state
    if not result.stopped and len(splits.test):
        result.test = evaluate(steps, params, state, splits.test, config.batch)
        emit(TestEnd(result.test))
    emit(FitEnd(result.stopped, time.perf_counter() - started))
    return result


def _logs(steps: Steps, loss: float, totals: Metrics | None) -> Logs:
    """The mean loss and each metric's value from its statistics summed so far."""
    values = steps.metric_values(totals) if totals is not None else [0.0] * len(steps.metric_names)
    return {"loss": loss, **dict(zip(steps.metric_names, values, strict=True))}
