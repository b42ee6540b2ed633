"""The training loop: epochs of jitted steps, validation, a final test, all reported as events.

Determinism: init uses `fold_in(key(seed), 0)`, step `s` uses `fold_in(fold_in(key(seed), 1),
s)`, and the batch order of epoch `e` comes from `numpy.random.default_rng([seed, e])`, so the
same seed gives bit-identical weights on the same machine (GPU reductions may not be
deterministic; set `XLA_FLAGS=--xla_gpu_deterministic_ops=true` there). A run resumed from a
checkpoint (`resume=True`) continues the same sequence: the checkpoint holds the step count,
the epoch and the position in its batch order, so it ends with the same weights.

With `steps_per_execution = N`, each epoch runs in calls of N steps (`lax.scan`) from its
start and single steps for the remainder; checkpoints fall on call boundaries.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndsl.backend.jax.adapt import adapt_state
from nndsl.backend.jax.compile import Tree
from nndsl.backend.jax.training import (
    APPLIED,
    NONFINITE,
    Metrics,
    Steps,
    add_metric_stats,
    first_nonfinite,
    steps_for,
)
from nndsl.ir import TrainConfig
from nndsl.runtime.callbacks import RunState, build_callbacks
from nndsl.runtime.checkpoint import latest_training_state
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


@dataclass(frozen=True)
class Note:
    """Something the user should know: a resume, a callback's decision, a skipped step."""

    message: str


Event = FitStart | EpochStart | StepEnd | EpochEnd | TestEnd | FitEnd | Note


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
    early_stopped: bool = False  # a callback (early_stopping) ended training
    resumed_from: Path | None = None
    steps_per_execution: int = 1
    skipped_steps: int = 0


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


def enable_compile_cache(path: str | Path | None = None) -> Path:
    """Turn on JAX's persistent compilation cache, so a second run of the same model skips
    most compilation. The directory: `path`, else `$NNDSL_CACHE_DIR`, else
    `$XDG_CACHE_HOME/nndsl/jax` (`~/.cache/nndsl/jax`). Every program is cached, however fast
    it compiled: the small models nndsl trains compile in well under JAX's default threshold
    of one second, and they are the ones whose start-up the cache shortens most."""
    if path is None:
        path = os.environ.get("NNDSL_CACHE_DIR") or None
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "nndsl" / "jax"
    directory = Path(path).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    update: Callable[[str, Any], None] = jax.config.update  # untyped in jax
    update("jax_compilation_cache_dir", str(directory))
    update("jax_persistent_cache_min_compile_time_secs", 0.0)
    update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def fit(
    config: TrainConfig,
    *,
    on_event: Callable[[Event], None] | None = None,
    stop: Callable[[], bool] | None = None,
    base_dir: Path | None = None,
    data: Splits | None = None,
    run_dir: Path | None = None,
    resume: bool = False,
) -> FitResult:
    """Train `config.graph` as the train section says; raises `DataError` before any step
    when the data does not fit the model, `TrainingError` when a step is not finite (under
    `on_nonfinite = "stop"`), `CheckpointError` when `resume` finds an unusable checkpoint.

    `run_dir` holds checkpoints and logs (default `runs/<model>`); with `resume`, training
    continues from its latest checkpoint (or starts afresh when there is none)."""
    emit = on_event or (lambda _event: None)
    started = time.perf_counter()
    splits = data if data is not None else load_data(config, base_dir=base_dir)
    steps = steps_for(config)
    root = jax.random.key(config.seed)
    params, state = steps.model.init(jax.random.fold_in(root, 0))
    # Preprocessing layers that learn from the data (Normalization's mean and variance).
    state = adapt_state(steps.model, params, state, [splits.train.x], config.batch)
    run = RunState(
        config,
        steps,
        params,
        state,
        steps.init_opt_state(params),
        steps.init_aux(),
        jax.random.fold_in(root, 1),
        Path(run_dir) if run_dir is not None else Path("runs") / config.graph.name,
        build_callbacks(config),
        note=lambda message: emit(Note(message)),
    )
    result = FitResult(params, state, steps)
    if resume:
        latest = latest_training_state(run.run_dir)
        if latest is None:
            emit(Note(f"no checkpoint in {run.run_dir / 'checkpoints'}; starting afresh"))
        else:
            run.restore(latest)
            result.resumed_from = latest
            emit(
                Note(
                    f"resuming from {latest} (epoch {run.epoch + 1}, "
                    f"{run.position} steps in, step {run.global_step} overall)"
                )
            )
    n_steps = steps_per_epoch(len(splits.train), config.batch)
    per_call = config.steps_per_execution
    if per_call == 0:
        per_call = choose_steps_per_execution(run, splits.train, n_steps)
        emit(Note(f"steps_per_execution = auto: {per_call} on {jax.default_backend()}"))
    result.steps_per_execution = per_call
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
    for cb in run.callbacks:
        cb.on_train_begin(run, result.resumed_from is not None)
    logs_due = 0.0
    while run.epoch < config.epochs and not run.stop_training and not result.stopped:
        epoch = run.epoch + 1
        epoch_started = time.perf_counter()
        emit(EpochStart(epoch, config.epochs, n_steps))
        if run.position == 0:
            run.loss_sum, run.applied, run.totals = 0.0, 0, None
        batches = train_batches(
            splits.train, config.batch, seed=config.seed, epoch=epoch, shuffle=config.shuffle
        )
        batches = itertools.islice(batches, run.position, None)
        running: Logs = {}
        while run.position < n_steps:
            if stop is not None and stop():
                result.stopped = True
                break
            take = per_call if per_call > 1 and n_steps - run.position >= per_call else 1
            losses, statuses, metrics = _execute(run, batches, take, stop_mode=_stops(config))
            for i, (loss_value, status) in enumerate(zip(losses, statuses, strict=True)):
                if status == NONFINITE and config.on_nonfinite == "stop":
                    raise TrainingError(_nonfinite_message(run, epoch, float(loss_value), i))
                run.global_step += 1
                run.position += 1
                if status == APPLIED:
                    run.loss_sum += float(loss_value)
                    run.applied += 1
                else:
                    run.skipped += 1
                    if status == NONFINITE:
                        emit(Note(f"skipped step {run.global_step}: loss {float(loss_value)}"))
                if on_event is not None:
                    now = time.perf_counter()
                    if now >= logs_due or run.position == n_steps:  # metrics cost a sync
                        running = _logs(steps, _mean(run), add_metric_stats(run.totals, metrics))
                        logs_due = now + 0.25
                    emit(StepEnd(epoch, run.position, n_steps, float(loss_value), running))
            if any(int(s) == APPLIED for s in statuses):
                run.totals = add_metric_stats(run.totals, metrics)
            for cb in run.callbacks:
                cb.on_steps_end(run, take, float(losses[-1]))
        interrupted = run.position < n_steps
        if interrupted and run.applied == 0:
            break
        if not interrupted:
            run.epoch, run.position = epoch, 0
        validation = (
            evaluate(steps, run.params, run.state, splits.validation, config.batch)
            if len(splits.validation)
            else None
        )
        end = EpochEnd(
            epoch,
            config.epochs,
            _logs(steps, _mean(run), run.totals),
            validation,
            time.perf_counter() - epoch_started,
        )
        result.history.append(end)
        emit(end)
        if interrupted:  # a partial epoch is reported, but callbacks wait for whole ones
            break
        logs = {**end.train, **{f"val_{k}": v for k, v in (validation or {}).items()}}
        for cb in run.callbacks:
            cb.on_epoch_end(run, logs)
    result.early_stopped = run.stop_training
    for cb in run.callbacks:
        cb.on_train_end(run)
    result.global_steps, result.skipped_steps = run.global_step, run.skipped
    params = steps.final_params(run.params, run.opt_state)  # the EMA under `use_ema`
    result.params, result.state, result.opt_state = params, run.state, run.opt_state
    if not result.stopped and len(splits.test):
        result.test = evaluate(steps, params, run.state, splits.test, config.batch)
        emit(TestEnd(result.test))
    emit(FitEnd(result.stopped, time.perf_counter() - started))
    return result


def _stops(config: TrainConfig) -> bool:
    return config.on_nonfinite == "stop"


def _mean(run: RunState) -> float:
    return run.loss_sum / run.applied if run.applied else float("nan")


def _execute(
    run: RunState,
    batches: Iterator[tuple[np.ndarray, np.ndarray]],
    take: int,
    *,
    stop_mode: bool,
) -> tuple[np.ndarray, np.ndarray, Metrics]:
    """Run `take` steps in one call; (losses, statuses, metric stats over applied steps).

    The step keeps the weights of a non-finite step unchanged (and, in one call of several
    steps under "stop", of every later one), so `run` then holds the weights the bad step
    started from, for `_nonfinite_message` to re-run."""
    step = np.int32(run.global_step)
    if take == 1:
        x, y = next(batches)
        run.last_x, run.last_stacked = x, False
        out = run.steps.train_step(
            run.params, run.state, run.opt_state, run.aux, x, y, run.step_root, step
        )
    else:
        chunk = list(itertools.islice(batches, take))
        xs = np.stack([b[0] for b in chunk])
        ys = np.stack([b[1] for b in chunk])
        run.last_x, run.last_stacked = xs, True
        out = run.steps.train_steps(
            run.params, run.state, run.opt_state, run.aux, xs, ys, run.step_root, step, stop_mode
        )
    run.params, run.state, run.opt_state, run.aux, loss, metrics, status = out
    losses, statuses, host_metrics = jax.device_get((loss, status, metrics))
    return np.atleast_1d(losses), np.atleast_1d(statuses), host_metrics


def _nonfinite_message(run: RunState, epoch: int, loss: float, index: int) -> str:
    """Name the step, and the first layer whose output went non-finite (re-run un-jitted on
    the weights the step started from), or the weights whose gradients did."""
    step = run.global_step + 1 + index
    assert run.last_x is not None
    x = run.last_x[index] if run.last_stacked else run.last_x
    key = jax.random.fold_in(run.step_root, step - 1)
    where = ""
    try:
        layer = first_nonfinite(run.steps, run.params, run.state, jnp.asarray(x), key)
        if layer is not None:
            where = f"; the first non-finite output is of `{layer}`"
        elif bool(jnp.isfinite(loss)):
            where = "; every layer's output is finite, the gradients are not"
        else:
            where = "; every layer's output is finite, the loss itself overflowed"
    except Exception as exc:  # the diagnosis must not hide the error itself
        where = f" (could not locate the layer: {exc})"
    what = f"the loss became {loss}" if not np.isfinite(loss) else "the gradients became non-finite"
    epoch_step = run.position + index + 1
    return (
        f"{what} at epoch {epoch}, step {epoch_step} (step {step} overall){where}; "
        'try a smaller learning rate, or `on_nonfinite = "skip"`'
    )


def choose_steps_per_execution(run: RunState, data: Dataset, n_steps: int, n: int = 32) -> int:
    """`steps_per_execution = "auto"`: time `n` single steps against one call of `n` steps on
    copies of the weights (nothing of the run changes), after compiling both; the faster
    wins. A scan helps models whose steps are short (Python dispatch dominates) and can hurt
    ones whose steps XLA optimises better on their own (on XLA:CPU, a small CNN ran 4.8x
    slower under a scan)."""
    n = min(n, n_steps)
    if n < 2:
        return 1
    batch = run.config.batch
    x = np.resize(data.x, (n * batch, *data.x.shape[1:])).reshape(n, batch, *data.x.shape[1:])
    y = np.resize(data.y, (n * batch, *data.y.shape[1:])).reshape(n, batch, *data.y.shape[1:])
    steps = run.steps
    zero = np.int32(0)

    def fresh() -> tuple[Any, ...]:
        copied: tuple[Any, ...] = jax.tree.map(
            jnp.copy, (run.params, run.state, run.opt_state, run.aux)
        )
        return copied

    def single() -> None:
        p, s, o, a = fresh()
        for i in range(n):
            p, s, o, a, loss, _, _ = steps.train_step(p, s, o, a, x[i], y[i], run.step_root, zero)
        np.asarray(loss)  # waits for the steps

    def scanned() -> None:
        p, s, o, a = fresh()
        out = steps.train_steps(p, s, o, a, x, y, run.step_root, zero, _stops(run.config))
        np.asarray(out[4])

    timings = {}
    for k, fn in ((1, single), (n, scanned)):
        fn()  # compile
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        timings[k] = best
    return n if timings[n] < timings[1] * 0.9 else 1


def _logs(steps: Steps, loss: float, totals: Metrics | None) -> Logs:
    """The mean loss and each metric's value from its statistics summed so far."""
    values = steps.metric_values(totals) if totals is not None else [0.0] * len(steps.metric_names)
    return {"loss": loss, **dict(zip(steps.metric_names, values, strict=True))}
