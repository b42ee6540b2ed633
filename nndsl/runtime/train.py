"""The training loop: epochs of jitted steps, validation, a final test, all reported as events.

Determinism: init uses `fold_in(key(seed), 0)`, step `s` uses `fold_in(fold_in(key(seed), 1),
s)`, and the batch order of epoch `e` comes from `numpy.random.default_rng([seed, e])`, so the
same seed gives bit-identical weights on the same machine (GPU reductions may not be
deterministic; set `XLA_FLAGS=--xla_gpu_deterministic_ops=true` there). A run resumed from a
checkpoint (`resume=True`) continues the same sequence: the checkpoint holds the step count,
the epoch and the position in its batch order, so it ends with the same weights.

With `steps_per_execution = N`, each epoch runs in calls of N steps (`lax.scan`) from its
start and single steps for the remainder; checkpoints fall on call boundaries.

The loop dispatches the next call before reading the last one back (see `_Feed`), so the
device is not left waiting on the host; `StepEnd` events and step callbacks come in step order
when results are read back, and under `on_nonfinite = "stop"` every step after a non-finite
one is a no-op on the device, so the loop still stops at that step with its starting weights.
"""

from __future__ import annotations

import functools
import operator
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndsl.backend.jax.adapt import adapt_state
from nndsl.backend.jax.compile import Tree
from nndsl.backend.jax.impls.callbacks import Callback
from nndsl.backend.jax.impls.optimizers import PER_COPY_OPTIMIZERS
from nndsl.backend.jax.registry import implementation
from nndsl.backend.jax.stacking import pack, plan, unpack_all
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
from nndsl.runtime.budget import check_fits
from nndsl.runtime.callbacks import RunState, build_callbacks
from nndsl.runtime.checkpoint import (
    CheckpointError,
    clean_training_debris,
    latest_training_state,
)
from nndsl.runtime.data import (
    Arrays,
    Dataset,
    Labels,
    Splits,
    base_dir_of,
    eval_batches,
    input_list,
    load_data,
    step_labels,
    steps_per_epoch,
    train_calls,
    tree_map,
)
from nndsl.runtime.distribute import Layout, placement, put
from nndsl.runtime.pretrained import load_init
from nndsl.runtime.streaming import Rows


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


def evaluate(
    steps: Steps, params: Tree, state: Tree, data: Dataset, batch: int, layout: Layout | None = None
) -> Logs:
    """The mean loss and the metrics over all of `data`, in inference mode. Under `layout`
    the batches are split over the batch axis as training's are (`distribute.placement`):
    each device computes its rows, and the step's masked sums reduce over the global batch."""
    loss_sum, count = 0.0, 0.0
    totals: Metrics | None = None
    move, lazy = placement(layout, batch)
    for x, y, mask in eval_batches(data, batch, put=move, lazy=lazy):
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
    checkpoint_on_stop: bool = False,
    report: bool = False,
) -> FitResult:
    """Train `config.graph` as the train section says; raises `DataError` before any step
    when the data does not fit the model, `TrainingError` when a step is not finite (under
    `on_nonfinite = "stop"`), `CheckpointError` when `resume` finds an unusable checkpoint.

    `run_dir` holds checkpoints and logs (default `runs/<model>`); with `resume`, training
    continues from its latest checkpoint (or starts afresh when there is none), after removing
    the debris of a killed run. With `checkpoint_on_stop`, a `stop()` request (Ctrl-C) writes
    a training checkpoint where the run stopped, so `resume` loses nothing. With `report`,
    the run directory gets history.json after each epoch and report.html at the end."""
    emit = on_event or (lambda _event: None)
    started = time.perf_counter()
    root = jax.random.key(config.seed)
    implementation(config.data.op)  # the data reader; fails early on a broken install
    layout = Layout(config.graph, config.distribute) if config.distribute is not None else None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nndsl-init") as pool:
        # The weights do not depend on the data: they are initialised (mostly small XLA
        # compilations, which release the GIL) while the data loads. A data error still
        # comes first.
        built = pool.submit(_build_and_init, config, jax.random.fold_in(root, 0), layout)
        splits = data if data is not None else load_data(config, base_dir=base_dir)
        inputs = input_list(config.graph, splits.train.x)
        if layout is None:
            check_fits(config.graph, [a.shape for a in inputs], config.batch, "training")
        else:  # what one device holds under the layout
            layout.check_fits(config)
        steps, params, state = built.result()
    given: list[object] = list(inputs)
    for streamed in (a for a in given if isinstance(a, Rows)):  # said: the default may choose it
        emit(Note(f"streaming {streamed.where}: {len(streamed):,} training rows read as needed"))
    # Preprocessing layers that learn from the data (Normalization's mean and variance).
    state = adapt_state(steps.model, params, state, inputs, config.batch)
    if config.init is not None:  # saved weights win over fresh and adapted ones
        base = base_dir if base_dir is not None else base_dir_of(config)
        params, state, loaded = load_init(config.init, config.graph, params, state, base)
        emit(Note(loaded.message(sum(1 for _ in config.graph.weights()))))
    # A scanned repeat's weights stacked [N, ...] from here to the end of the run
    # (`backend.jax.stacking`): checkpoints and the result get them per copy again.
    # (Not under an optimizer whose state is shaped per weight, Adafactor's.)
    packed = plan(config.graph, layout.unstacked if layout is not None else ())
    if config.optimizer.op.name in PER_COPY_OPTIMIZERS:
        packed = []
    params, state = pack(config.graph, params, packed), pack(config.graph, state, packed)
    if layout is not None:  # weights on the mesh, before the optimizer state follows them
        params, state = layout.place(params), layout.place(state)
        emit(Note(layout.describe()))
    run = RunState(
        config,
        steps,
        params,
        state,
        _init_opt_state(steps, params, layout),
        steps.init_aux(),
        jax.random.fold_in(root, 1),
        Path(run_dir) if run_dir is not None else Path("runs") / config.graph.name,
        build_callbacks(config),
        note=lambda message: emit(Note(message)),
        vectorizer=splits.vectorizer,  # saved with checkpoints, for predicting from raw text
        class_names=splits.class_names,  # saved with weights, for predict and evaluate
    )
    if layout is not None:  # `after` on the mesh from the first step on: one compile, not two
        run.after = put(_APPLIED, layout.replicated)
    if report:  # the run's log and training report (nndsl.runtime.report), from the events
        from nndsl.runtime.report import RunLog

        emit = RunLog(run, splits, layout).listen(emit)
    result = FitResult(params, state, steps)
    n_steps = steps_per_epoch(len(splits.train), config.batch)
    if resume:
        _resume(run, result, n_steps, emit)
        if layout is not None:  # a checkpoint's arrays, whatever device count wrote them
            run.params, run.state = layout.place(run.params), layout.place(run.state)
            run.opt_state = layout.place(run.opt_state)
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
    feed = _Feed(run, on_event, emit, n_steps)
    move, lazy = placement(layout, config.batch, per_call)
    while run.epoch < config.epochs and not run.stop_training and not result.stopped:
        epoch = run.epoch + 1
        epoch_started = time.perf_counter()
        emit(EpochStart(epoch, config.epochs, n_steps))
        if run.position == 0:
            run.loss_sum, run.applied, run.totals = 0.0, 0, None
        calls = train_calls(
            splits.train,
            config.batch,
            seed=config.seed,
            epoch=epoch,
            per_call=per_call,
            shuffle=config.shuffle,
            start=run.position,
            put=move,
            lazy=lazy,
        )
        dispatched = run.position  # steps handed to the device this epoch
        for take, x, y in calls:
            if stop is not None and stop():
                result.stopped = True
                break
            feed.add(_dispatch(run, x, y, take, epoch, stop_mode=_stops(config)))
            dispatched += take
            feed.settle_if_due(dispatched == n_steps)
        calls.close()
        feed.settle(len(feed.pending))
        interrupted = run.position < n_steps
        if interrupted and run.applied == 0:
            break
        if not interrupted:
            run.epoch, run.position = epoch, 0
        validation = (
            evaluate(steps, run.params, run.state, splits.validation, config.batch, layout)
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
    if result.stopped and checkpoint_on_stop and run.global_step > 0:
        # before `on_train_end`: early stopping's may swap in the best weights
        saved = run.save_checkpoint(_keep(run))
        emit(Note(f"checkpoint written to {saved}; continue with --resume"))
    result.early_stopped = run.stop_training
    for cb in run.callbacks:
        cb.on_train_end(run)
    result.global_steps, result.skipped_steps = run.global_step, run.skipped
    params = steps.final_params(run.params, run.opt_state)  # the EMA under `use_ema`
    if not result.stopped and len(splits.test):
        result.test = evaluate(steps, params, run.state, splits.test, config.batch, layout)
        emit(TestEnd(result.test))
    # per copy again, as checkpoints, `predict` and exports name them
    result.params, result.state, result.opt_state = unpack_all(
        config.graph, (params, run.state, run.opt_state)
    )
    emit(FitEnd(result.stopped, time.perf_counter() - started))
    return result


def _resume(run: RunState, result: FitResult, n_steps: int, emit: Callable[[Event], None]) -> None:
    """Continue `run` from the latest checkpoint in its run directory. The checkpoint's files
    are checked field by field when read (`load_training_state`); here, what only the
    section and the data can tell: the position lies inside an epoch, the metric sums fit
    the metrics."""
    cleaned = clean_training_debris(run.run_dir)
    if cleaned:
        emit(
            Note(
                f"removed what an interrupted run left in {run.run_dir / 'checkpoints'}: "
                + ", ".join(cleaned)
            )
        )
    latest = latest_training_state(run.run_dir)
    if latest is None:
        emit(Note(f"no checkpoint in {run.run_dir / 'checkpoints'}; starting afresh"))
        return
    try:
        run.restore(latest)
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # a field no schema covers
        raise CheckpointError(f"{latest}: unusable checkpoint ({exc})") from None
    meta = latest / "meta.json"
    if run.position > n_steps:  # == n_steps: saved after the last step, before the epoch's end
        raise CheckpointError(
            f"{meta}: position: {run.position} is past the end of an epoch of {n_steps} steps "
            "(the checkpoint is of other data or was changed)"
        )
    names = run.steps.metric_names
    try:
        if run.totals is not None and len(run.totals) != len(names):
            raise ValueError("count")
        run.steps.metric_values(run.totals or ())
    except (KeyError, TypeError, ValueError, IndexError):
        raise CheckpointError(
            f"{meta}: metric_stats: do not fit the metrics {list(names)}"
        ) from None
    result.resumed_from = latest
    emit(
        Note(
            f"resuming from {latest} (epoch {run.epoch + 1}, "
            f"{run.position} steps in, step {run.global_step} overall)"
        )
    )
    if run.stop_training:
        emit(Note("that run had stopped early (early_stopping); nothing is left to train"))
    elif run.epoch >= run.config.epochs:
        emit(
            Note(
                f"that run had completed {run.epoch} epochs of {run.config.epochs}; "
                "nothing is left to train"
            )
        )


def _keep(run: RunState) -> int:
    """How many training checkpoints the section's `checkpoint(...)` keeps (1 without one)."""
    return max(
        (int(getattr(cb, "keep", 1)) for cb in run.callbacks if cb.name == "checkpoint"), default=1
    )


def _build_and_init(
    config: TrainConfig, key: jax.Array, layout: Layout | None = None
) -> tuple[Steps, Tree, Tree]:
    steps = steps_for(config, layout.constrain if layout is not None else None)
    params, state = steps.model.init(key)
    return steps, params, state


def _init_opt_state(steps: Steps, params: Tree, layout: Layout | None = None) -> Any:
    """The optimizer's initial state in one compiled program (zeros, counters): eagerly, each
    distinct weight shape compiled its own `zeros_like`. Under a layout, each moment is born
    sharded as its weight (`fsdp`: never whole on one device)."""
    if layout is None:
        return jax.jit(steps.init_opt_state)(params)
    shapes = jax.eval_shape(steps.init_opt_state, params)
    return jax.jit(steps.init_opt_state, out_shardings=layout.shardings(shapes))(params)


def _stops(config: TrainConfig) -> bool:
    return config.on_nonfinite == "stop"


def _mean(run: RunState) -> float:
    return run.loss_sum / run.applied if run.applied else float("nan")


@dataclass
class _Call:
    """One dispatched call of `take` steps whose results are still on the device."""

    epoch: int
    take: int
    x: Arrays  # its inputs (stacked under `take > 1`), to diagnose a non-finite step
    loss: jax.Array
    status: jax.Array
    metrics: Metrics


# A call's results are read back late, so the host dispatches the next call while the device
# runs this one: at most every SETTLE_SECONDS (and at an epoch's end), keeping at most
# MAX_PENDING_STEPS steps in flight (their input batches stay referenced for the diagnosis).
SETTLE_SECONDS, MAX_PENDING_STEPS = 0.1, 128


class _Feed:
    """Reads back dispatched calls and does the host's part of each step, in step order: the
    running sums, `StepEnd` events, `on_steps_end` callbacks, the non-finite checks.

    A callback that acts on the weights at step boundaries (`checkpoint(every_steps = N)`)
    needs `run` to be current after each call, so then every call is read back at once."""

    def __init__(
        self, run: RunState, on_event: Callable[[Event], None] | None, emit: Any, n_steps: int
    ) -> None:
        self.run, self.on_event, self.emit, self.n_steps = run, on_event, emit, n_steps
        self.pending: list[_Call] = []
        self.pending_steps = 0
        self.eager = any(_needs_current_run(cb) for cb in run.callbacks)
        self.first = True
        self.due = 0.0
        self.logs_due = 0.0
        self.running: Logs = {}

    def add(self, call: _Call) -> None:
        self.pending.append(call)
        self.pending_steps += call.take

    def settle_if_due(self, epoch_done: bool) -> None:
        if self.eager or self.first:  # the first call: compilation done, shown at once
            self.first = False
            self.settle(len(self.pending))
            return
        if epoch_done:
            return  # settled after the loop
        now = time.perf_counter()
        if now >= self.due or self.pending_steps >= MAX_PENDING_STEPS:
            self.settle(len(self.pending) - 1)  # the newest call keeps the device busy
            self.due = time.perf_counter() + SETTLE_SECONDS

    def settle(self, n: int) -> None:
        if n <= 0:
            return
        calls, self.pending = self.pending[:n], self.pending[n:]
        self.pending_steps = sum(c.take for c in self.pending)
        fetched = jax.device_get([(c.loss, c.status, c.metrics) for c in calls])
        for call, (loss, status, metrics) in zip(calls, fetched, strict=True):
            self._steps(call, np.atleast_1d(loss), np.atleast_1d(status), metrics)

    def _steps(
        self, call: _Call, losses: np.ndarray, statuses: np.ndarray, metrics: Metrics
    ) -> None:
        run, config, emit = self.run, self.run.config, self.emit
        n_steps, epoch = self.n_steps, call.epoch
        for i, (loss_value, status) in enumerate(zip(losses, statuses, strict=True)):
            if status == NONFINITE and config.on_nonfinite == "stop":
                # later calls were no-ops (NOT_RUN), so `run` holds the weights the bad step
                # started from
                run.last_x, run.last_stacked = call.x, call.take > 1
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
            if self.on_event is not None:
                now = time.perf_counter()
                if now >= self.logs_due or run.position == n_steps:  # metrics cost a sync
                    totals = add_metric_stats(run.totals, metrics)
                    self.running = _logs(run.steps, _mean(run), totals)
                    self.logs_due = now + 0.25
                emit(StepEnd(epoch, run.position, n_steps, float(loss_value), self.running))
        if any(int(s) == APPLIED for s in statuses):
            run.totals = add_metric_stats(run.totals, metrics)
        for cb in run.callbacks:
            cb.on_steps_end(run, call.take, float(losses[-1]))


def _needs_current_run(cb: Any) -> bool:
    """Whether `cb.on_steps_end` may look at more of `run` than the step counts (the loss
    logs only write the step and the loss, so they can be called late)."""
    late_ok = ("jsonl_log", "csv_log", "tensorboard")
    if type(cb).on_steps_end is Callback.on_steps_end or cb.name in late_ok:
        return False
    return not (cb.name == "checkpoint" and not getattr(cb, "every_steps", 1))


_APPLIED = np.int32(APPLIED)


@functools.cache
def _applied_on_device() -> jax.Array:
    """`APPLIED` as a device array, made once: a host scalar is copied over on every call."""
    return jnp.asarray(_APPLIED)


def _dispatch(
    run: RunState, x: Arrays, y: Labels, take: int, epoch: int, *, stop_mode: bool
) -> _Call:
    """Start `take` steps in one call (`run` gets the new weights, still being computed).

    The step keeps the weights of a non-finite step unchanged and, under "stop", every later
    step (in this call or a later one, through `run.after`) is NOT_RUN, so `run` then holds
    the weights the bad step started from, for `_nonfinite_message` to re-run."""
    step = np.int32(run.global_step)
    after = run.after if stop_mode and run.after is not None else _applied_on_device()
    if take == 1:
        out = run.steps.train_step(
            run.params, run.state, run.opt_state, run.aux, x, y, run.step_root, step, after
        )
    else:  # x, y: the call's batches, stacked
        out = run.steps.train_steps(
            run.params,
            run.state,
            run.opt_state,
            run.aux,
            x,
            y,
            run.step_root,
            step,
            stop_mode,
            after,
        )
    run.params, run.state, run.opt_state, run.aux, loss, metrics, status = out
    if stop_mode:
        run.after = status if take == 1 else status[-1]
    return _Call(epoch, take, x, loss, status, metrics)


def _nonfinite_message(run: RunState, epoch: int, loss: float, index: int) -> str:
    """Name the step, and the first layer whose output went non-finite (re-run un-jitted on
    the weights the step started from), or the weights whose gradients did."""
    step = run.global_step + 1 + index
    assert run.last_x is not None
    x = jax.tree.map(lambda a: a[index], run.last_x) if run.last_stacked else run.last_x
    key = jax.random.fold_in(run.step_root, step - 1)
    where = ""
    try:
        params, state = unpack_all(run.config.graph, (run.params, run.state))
        layer = first_nonfinite(run.steps, params, state, jax.tree.map(jnp.asarray, x), key)
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
    ones whose steps XLA optimises better on their own (a small CNN on XLA:CPU: figure in
    bench/README.md)."""
    n = min(n, n_steps)
    if n < 2:
        return 1
    batch = run.config.batch

    def stacked(a: np.ndarray) -> np.ndarray:
        rows = np.arange(n * batch) % len(a)  # as np.resize, reading only these rows
        return np.asarray(a[rows]).reshape(n, batch, *a.shape[1:])

    x = tree_map(stacked, data.x)
    labels = tree_map(stacked, data.y)
    weights = None if data.w is None else np.resize(data.w, n * batch).reshape(n, batch)
    y = step_labels(labels, weights)
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
            x_i = jax.tree.map(operator.itemgetter(i), x)
            y_i = jax.tree.map(operator.itemgetter(i), y)
            p, s, o, a, loss, _, _ = steps.train_step(
                p, s, o, a, x_i, y_i, run.step_root, zero, _APPLIED
            )
        np.asarray(loss)  # waits for the steps

    def scanned() -> None:
        p, s, o, a = fresh()
        out = steps.train_steps(p, s, o, a, x, y, run.step_root, zero, _stops(run.config), _APPLIED)
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
