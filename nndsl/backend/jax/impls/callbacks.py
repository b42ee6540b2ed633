"""Callbacks declared in a `train` section: each spec's implementation builds a `Callback`.

A callback sees the training run through the `Run` protocol (the runtime's loop state) at a
few hooks and may change it: stop training, put back weights, scale the learning rate, save.
Whatever a callback has to remember across epochs is returned by `state()` (JSON) and
`tensors()` (arrays), so checkpoints carry it and a resumed run decides exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from nndsl.backend.jax.registry import Attrs, impl
from nndsl.backend.jax.training import lr_factor, with_lr_factor
from nndsl.ops.callbacks import monitor_mode

Logs = dict[str, float]


class Run(Protocol):
    """The loop state a callback may read and change (`nndsl.runtime.callbacks.RunState`)."""

    params: Any
    state: Any
    opt_state: Any
    epoch: int  # epochs completed
    global_step: int  # steps completed
    stop_training: bool
    run_dir: Path

    def save_checkpoint(self, keep: int) -> Path: ...

    def save_weights(self, path: Path, metrics: Logs) -> Path: ...

    def note(self, message: str) -> None: ...


class OutsideRunDir(Exception):
    """A path a callback writes leads outside the run directory (through a symlink: the
    checker refuses absolute paths and `..`). One line for the user."""


def inside_run_dir(run_dir: Path, path: str) -> Path:
    """`run_dir / path` with symlinks resolved, or `OutsideRunDir` if that leaves `run_dir`.
    Callers write to the returned (real) path, so a link swapped in later is not followed."""
    root = run_dir.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise OutsideRunDir(
            f"`{path}` in the run directory {run_dir} leads to {target}, outside it "
            "(a symlink?); nothing was written"
        )
    return target


class Callback:
    """No-op hooks; subclasses override what they need."""

    name = "callback"

    def writes(self) -> tuple[str, ...]:
        """The paths, relative to the run directory, this callback writes (checked, symlinks
        resolved, before training starts)."""
        return ()

    def on_train_begin(self, run: Run, resumed: bool) -> None:
        """Called once; `resumed` when the loop continues from a checkpoint."""

    def on_steps_end(self, run: Run, steps: int, loss: float) -> None:
        """After an execution of `steps` train steps (1, or N with `steps_per_execution`)."""

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        """After validation; `logs` holds `loss`, the metrics and their `val_` forms."""

    def on_train_end(self, run: Run) -> None:
        """After the last epoch (or an early stop), before the final test."""

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `state()` returned."""

    def tensors(self) -> Any:
        """Arrays to checkpoint (a pytree), or None."""
        return None

    def load_tensors(self, tree: Any) -> None:
        """Restore what `tensors()` returned."""


class _Watcher:
    """The monitored value's best so far, by Keras 3's rule (`MonitorCallback`): a value
    improves on a reference when it beats it by more than `min_delta` in the right direction;
    the first value is the first best. One difference: a value that is not finite (NaN, inf)
    never improves (Keras takes a NaN first value as its best, and nothing beats it later)."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor = monitor
        self.sign = 1.0 if monitor_mode(monitor, mode) == "min" else -1.0
        self.min_delta = abs(min_delta)
        self.best: float | None = None  # as logged (not signed)
        self.wait = 0

    def value(self, logs: Logs) -> float | None:
        """The monitored value in `logs`, or None when it is not logged."""
        value = logs.get(self.monitor)
        return None if value is None else float(value)

    def beats(self, value: float, reference: float | None) -> bool:
        """Keras's `_is_improvement(value, reference)`."""
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        return self.sign * value + self.min_delta < self.sign * reference

    def improved(self, logs: Logs) -> bool:
        """Whether `logs` holds a new best (which then becomes the best)."""
        value = self.value(logs)
        if value is None or not self.beats(value, self.best):
            return False
        self.best = value
        return True

    @property
    def best_value(self) -> float:
        return math.nan if self.best is None else self.best

    def state(self) -> dict[str, Any]:
        # stored signed (smaller is better), as checkpoints have always held it
        return {"best": None if self.best is None else self.sign * self.best, "wait": self.wait}

    def load_state(self, state: dict[str, Any]) -> None:
        best = state.get("best")
        self.best = None if best is None else self.sign * float(best)
        self.wait = int(state.get("wait", 0))


def _copy(tree: Any) -> Any:
    """A copy that survives the train step donating the original buffers."""
    return jax.tree.map(jnp.copy, tree)


class EarlyStopping(Callback):
    """Keras 3's `EarlyStopping.on_epoch_end`, decision for decision: every watched epoch
    counts toward `patience` unless it improves on the best (and on `baseline`, when given);
    training stops at the epoch where the count reaches `patience`."""

    name = "early_stopping"

    def __init__(self, attrs: Attrs) -> None:
        self.watch = _Watcher(
            str(attrs["monitor"]),
            str(attrs["mode"]),
            float(attrs["min_delta"]),  # type: ignore[arg-type]
        )
        self.patience = int(attrs["patience"])  # type: ignore[arg-type]
        self.restore_best = bool(attrs["restore_best"])
        self.start_from_epoch = int(attrs["start_from_epoch"])  # type: ignore[arg-type]
        baseline = attrs.get("baseline")
        self.baseline = None if baseline is None else float(baseline)  # type: ignore[arg-type]
        self.best_weights: Any = None
        self.best_epoch = 0
        self.stopped_epoch = 0

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        value = self.watch.value(logs)
        if value is None or run.epoch <= self.start_from_epoch:
            return
        if self.restore_best and self.best_weights is None:
            self.best_weights = _copy((run.params, run.state))
            self.best_epoch = run.epoch
        self.watch.wait += 1
        if self.watch.beats(value, self.watch.best):
            self.watch.best, self.best_epoch = value, run.epoch
            if self.restore_best:
                self.best_weights = _copy((run.params, run.state))
            if self.baseline is None or self.watch.beats(value, self.baseline):
                self.watch.wait = 0
            return
        if self.watch.wait >= self.patience and run.epoch > 1:
            run.stop_training = True
            self.stopped_epoch = run.epoch
            what = (
                f"has not improved for {self.watch.wait} epochs "
                f"(best {self.watch.best_value:.4f} at epoch {self.best_epoch})"
                if self.baseline is None
                else f"has not beaten the baseline {self.baseline:g} in {self.watch.wait} epochs"
            )
            run.note(f"early stopping at epoch {run.epoch}: `{self.watch.monitor}` {what}")

    def on_train_end(self, run: Run) -> None:
        if self.restore_best and self.best_weights is not None:
            run.params, run.state = _copy(self.best_weights)
            run.note(
                f"restored the weights of epoch {self.best_epoch}, the best `{self.watch.monitor}`"
            )

    def state(self) -> dict[str, Any]:
        return {**self.watch.state(), "best_epoch": self.best_epoch}

    def load_state(self, state: dict[str, Any]) -> None:
        self.watch.load_state(state)
        self.best_epoch = int(state.get("best_epoch", 0))

    def tensors(self) -> Any:
        return self.best_weights

    def load_tensors(self, tree: Any) -> None:
        self.best_weights = tree


class ReduceLrOnPlateau(Callback):
    """Scales the optimizer's learning rate through its `inject_hyperparams` factor, deciding
    as Keras 3's `ReduceLROnPlateau.on_epoch_end`: epochs in cooldown neither count nor
    reset the best; a reduction needs `patience` epochs without improvement and a rate above
    `min_lr` (else nothing changes and the next epoch tries again)."""

    name = "reduce_lr_on_plateau"

    def __init__(self, attrs: Attrs) -> None:
        self.watch = _Watcher(
            str(attrs["monitor"]),
            str(attrs["mode"]),
            float(attrs["min_delta"]),  # type: ignore[arg-type]
        )
        self.factor = float(attrs["factor"])  # type: ignore[arg-type]
        self.patience = int(attrs["patience"])  # type: ignore[arg-type]
        self.cooldown = int(attrs["cooldown"])  # type: ignore[arg-type]
        self.min_lr = float(attrs["min_lr"])  # type: ignore[arg-type]
        self.cooling = 0
        self.base_lr: float | None = None  # the declared rate, to apply `min_lr`

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        value = self.watch.value(logs)
        if value is None:
            return
        if self.cooling > 0:
            self.cooling -= 1
            self.watch.wait = 0
        if self.watch.beats(value, self.watch.best):
            self.watch.best = value
            self.watch.wait = 0
            return
        if self.cooling > 0:
            return
        self.watch.wait += 1
        if self.watch.wait < self.patience:
            return
        old = lr_factor(run.opt_state)
        if self.base_lr and old * self.base_lr <= float(np.float32(self.min_lr)):
            return  # at `min_lr` already (Keras compares with float32(min_lr) too)
        new = old * self.factor
        if self.base_lr and self.min_lr:
            new = max(new, self.min_lr / self.base_lr)
        run.opt_state = with_lr_factor(run.opt_state, new)
        rate = f"{new * self.base_lr:g}" if self.base_lr else f"x{new:g} of the declared one"
        run.note(
            f"epoch {run.epoch}: `{self.watch.monitor}` has not improved for "
            f"{self.watch.wait} epochs; learning rate {rate}"
        )
        self.cooling = self.cooldown
        self.watch.wait = 0

    def state(self) -> dict[str, Any]:
        return {**self.watch.state(), "cooling": self.cooling}

    def load_state(self, state: dict[str, Any]) -> None:
        self.watch.load_state(state)
        self.cooling = int(state.get("cooling", 0))


class CheckpointSaver(Callback):
    name = "checkpoint"

    def __init__(self, attrs: Attrs) -> None:
        self.every = int(attrs["every"])  # type: ignore[arg-type]
        self.every_steps = int(attrs["every_steps"])  # type: ignore[arg-type]
        self.keep = int(attrs["keep"])  # type: ignore[arg-type]
        best = attrs["best"]
        self.watch = None if best is None else _Watcher(str(best), str(attrs["mode"]), 0.0)

    def writes(self) -> tuple[str, ...]:
        return ("checkpoints", "best.safetensors") if self.watch else ("checkpoints",)

    def on_steps_end(self, run: Run, steps: int, loss: float) -> None:
        n = self.every_steps
        if n and run.global_step // n > (run.global_step - steps) // n:
            run.save_checkpoint(self.keep)

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        if self.watch is not None and self.watch.improved(logs):
            run.save_weights(run.run_dir / "best.safetensors", {**logs, "epoch": run.epoch})
        if self.every and run.epoch % self.every == 0:
            run.save_checkpoint(self.keep)

    def state(self) -> dict[str, Any]:
        return self.watch.state() if self.watch is not None else {}

    def load_state(self, state: dict[str, Any]) -> None:
        if self.watch is not None:
            self.watch.load_state(state)


def _open_log(path: Path, append: bool, resumed: bool, keep: Any) -> io.TextIOWrapper:
    """A log file; a resumed run keeps the lines `keep(line)` accepts (those the checkpoint
    already covers) and drops lines from the steps it will repeat."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if resumed and path.exists():
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for i, line in enumerate(lines) if keep(i, line)))
        return path.open("a", encoding="utf-8")
    return path.open("a" if append else "w", encoding="utf-8")


class CsvLog(Callback):
    name = "csv_log"

    def __init__(self, attrs: Attrs) -> None:
        self.path = str(attrs["path"])
        self.append = bool(attrs["append"])
        self.file: io.TextIOWrapper | None = None
        self.columns: list[str] | None = None

    def writes(self) -> tuple[str, ...]:
        return (self.path,)

    def on_train_begin(self, run: Run, resumed: bool) -> None:
        path = inside_run_dir(run.run_dir, self.path)
        done = run.epoch

        def keep(i: int, line: str) -> bool:
            head = line.split(",", 1)[0]
            if i == 0 and head == "epoch":
                self.columns = next(csv.reader([line]))[1:]
                return True
            return not head.isdigit() or int(head) <= done

        self.file = _open_log(path, self.append, resumed, keep)
        if self.file.tell() and self.columns is None and path.stat().st_size:
            self.columns = []  # appending to a file whose header we did not write

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        assert self.file is not None
        if self.columns is None:
            self.columns = list(logs)
            self.file.write(",".join(["epoch", *self.columns]) + "\n")
        columns = self.columns or list(logs)
        row = [str(run.epoch), *(repr(logs[c]) if c in logs else "" for c in columns)]
        self.file.write(",".join(row) + "\n")
        self.file.flush()

    def on_train_end(self, run: Run) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class JsonlLog(Callback):
    name = "jsonl_log"

    def __init__(self, attrs: Attrs) -> None:
        self.path = str(attrs["path"])
        self.every_steps = int(attrs["every_steps"])  # type: ignore[arg-type]
        self.append = bool(attrs["append"])
        self.file: io.TextIOWrapper | None = None

    def writes(self) -> tuple[str, ...]:
        return (self.path,)

    def on_train_begin(self, run: Run, resumed: bool) -> None:
        epoch, step = run.epoch, run.global_step

        def keep(_i: int, line: str) -> bool:
            try:
                entry = json.loads(line)
            except ValueError:
                return False
            if "epoch" in entry:
                return int(entry["epoch"]) <= epoch
            return int(entry.get("step", 0)) <= step

        self.file = _open_log(inside_run_dir(run.run_dir, self.path), self.append, resumed, keep)

    def _write(self, entry: dict[str, Any]) -> None:
        assert self.file is not None
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()

    def on_steps_end(self, run: Run, steps: int, loss: float) -> None:
        n = self.every_steps
        if n and run.global_step // n > (run.global_step - steps) // n:
            self._write({"step": run.global_step, "loss": loss})

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        self._write({"epoch": run.epoch, "step": run.global_step, **logs})

    def on_train_end(self, run: Run) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


impl("early_stopping")(EarlyStopping)
impl("reduce_lr_on_plateau")(ReduceLrOnPlateau)
impl("checkpoint")(CheckpointSaver)
impl("csv_log")(CsvLog)
impl("jsonl_log")(JsonlLog)
