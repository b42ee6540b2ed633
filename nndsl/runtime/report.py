"""The run's own log: `runs/<Model>/history.json`, written after every epoch, and the training
report `report.html` rendered from it when training ends (`nnrun report` re-renders it).

`RunLog` listens to `fit`'s events, so the loop needs no other hook. It records what the
events say (each epoch's train and validation logs, the test metrics, notes) and what only the
run state knows: the learning rate each epoch used (the declared rate or schedule times the
factor `reduce_lr_on_plateau` set) and, for a classifier, the confusion matrix on the test
split. A report that cannot be written is a note, never a failed run.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import optax

from nndsl.backend.jax.impls.schedules import learning_rate
from nndsl.backend.jax.training import lr_factor
from nndsl.ir.summary import summarize
from nndsl.runtime.data import Dataset, eval_batches, first_array
from nndsl.runtime.distribute import Layout, placement, to_host

if TYPE_CHECKING:
    from nndsl.runtime.callbacks import RunState
    from nndsl.runtime.data import Splits
    from nndsl.runtime.train import Event

HISTORY = "history.json"
REPORT = "report.html"
VERSION = 1
CLASSIFIER_LOSSES = frozenset(
    {
        "cross_entropy",
        "sparse_categorical_crossentropy",
        "categorical_crossentropy",
        "binary_crossentropy",
        "categorical_focal_crossentropy",
        "binary_focal_crossentropy",
        "categorical_hinge",
        "hinge",
        "squared_hinge",
    }
)
MAX_CLASSES = 60  # a bigger confusion matrix is not drawn
LR_POINTS = 16  # learning-rate samples per epoch when it follows a schedule


class RunLog:
    """Collects the run's history from `fit`'s events; see the module doc."""

    def __init__(self, run: RunState, splits: Splits, layout: Layout | None = None) -> None:
        self.run = run
        self.splits = splits
        self.layout = layout  # the test split is predicted as it was evaluated
        self.dir = Path(run.run_dir)
        config = run.config
        s = summarize(config.graph)
        self.doc: dict[str, Any] = {
            "version": VERSION,
            "model": config.graph.name,
            "source": str(config.file.path) if config.file is not None else "",
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "epochs_planned": config.epochs,
            "batch": config.batch,
            "optimizer": config.optimizer.op.name,
            "loss": config.loss.op.name if config.loss_expr is None else "expression",
            "sizes": {
                "train": len(splits.train),
                "validation": len(splits.validation),
                "test": len(splits.test),
            },
            "epochs": [],
            "learning_rate": [],  # [global step, rate]
            "test": None,
            "confusion": None,
            "notes": [],
            "stopped": False,
            "seconds": None,
            "summary": {
                "rows": [
                    [r.name, r.type, r.output_shape, r.params, r.connected_to] for r in s.rows
                ],
                "trainable": s.trainable,
                "non_trainable": s.non_trainable,
            },
        }
        self._epoch_start_step = 0
        earlier = _read(self.dir / HISTORY)  # a resumed run keeps the epochs before it
        if earlier and earlier.get("model") == config.graph.name:
            self.doc["epochs"] = list(earlier.get("epochs") or [])
            self.doc["learning_rate"] = list(earlier.get("learning_rate") or [])
        rate = config.optimizer.attrs.get("learning_rate")
        self._rate = None if rate is None else learning_rate(rate)

    def listen(self, emit: Callable[[Event], None]) -> Callable[[Event], None]:
        """`emit` followed by this log."""

        def both(event: Event) -> None:
            emit(event)
            self.on_event(event)

        return both

    def on_event(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception as err:  # the report is a by-product: training goes on without it
            self.run.note(f"training report not written: {type(err).__name__}: {err}")

    def _on_event(self, event: Event) -> None:
        from nndsl.runtime.train import EpochEnd, EpochStart, FitEnd, Note, TestEnd

        if isinstance(event, EpochStart):
            self._epoch_start_step = self.run.global_step
        elif isinstance(event, EpochEnd):
            self._epoch(event)
        elif isinstance(event, TestEnd):
            self.doc["test"] = _clean(event.logs)
        elif isinstance(event, Note):
            self.doc["notes"].append(event.message)
        elif isinstance(event, FitEnd):
            self.doc["stopped"] = event.stopped
            self.doc["seconds"] = round(event.seconds, 3)
            if self.doc["test"] is not None:  # every process predicts: collectives
                self.doc["confusion"] = self._confusion()
            self.finish()

    def _epoch(self, end: Any) -> None:
        epochs = [e for e in self.doc["epochs"] if e["epoch"] < end.epoch]
        rates = self._rates(self._epoch_start_step, self.run.global_step)
        first = rates[0][0] if rates else self.run.global_step
        self.doc["learning_rate"] = [r for r in self.doc["learning_rate"] if r[0] < first] + rates
        epochs.append(
            {
                "epoch": end.epoch,
                "train": _clean(end.train),
                "validation": None if end.validation is None else _clean(end.validation),
                "seconds": round(end.seconds, 3),
                "learning_rate": rates[-1][1] if rates else None,
                "step": self.run.global_step,
            }
        )
        self.doc["epochs"] = epochs
        self._write(HISTORY, json.dumps(self.doc, indent=1))

    def _rates(self, start: int, stop: int) -> list[list[float]]:
        """(step, rate) over the updates `start..stop-1` of one epoch."""
        if self._rate is None or stop <= start:
            return []
        factor = lr_factor(self.run.opt_state)
        if not callable(self._rate):
            return [[start, self._rate * factor], [stop - 1, self._rate * factor]]
        n = min(LR_POINTS, stop - start)
        steps = sorted({start + round(i * (stop - 1 - start) / max(n - 1, 1)) for i in range(n)})
        schedule: optax.Schedule = self._rate
        return [[s, float(schedule(s)) * factor] for s in steps]

    def _confusion(self) -> dict[str, Any] | None:
        """Counts of (true class, predicted class) on the test split, for a classifier with one
        output; None for anything else."""
        config = self.run.config
        if config.loss_expr is not None or config.losses or len(config.graph.outputs) != 1:
            return None
        if config.loss.op.name not in CLASSIFIER_LOSSES:
            return None
        test = self.splits.test
        if not len(test) or not isinstance(test.y, np.ndarray):
            return None
        shape = config.graph.outputs[0].type.shape
        width = shape[-1].as_int() if shape else None
        if width is None:
            return None
        classes = width if width > 1 else 2
        if classes > MAX_CLASSES:
            return None
        logits = bool(config.loss.attrs.get("from_logits", False))
        truth = _labels(np.asarray(test.y), classes)
        if truth is None:
            return None
        predicted = _predicted(self.run, test, config.batch, classes, logits, self.layout)
        matrix = np.zeros((classes, classes), np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        names = list(self.splits.class_names)
        if len(names) != classes:
            names = [str(i) for i in range(classes)]
        return {"labels": names, "matrix": matrix.tolist()}

    def finish(self) -> None:
        """history.json, then report.html from it (the same rendering as `nnrun report`)."""
        from nndsl.plot.report import report_html

        self._write(HISTORY, json.dumps(self.doc, indent=1))
        self._write(REPORT, report_html(self.doc))

    def _write(self, name: str, text: str) -> None:
        """Atomically; a failure becomes one note (the weights matter more than the log)."""
        if jax.process_index() != 0:  # in a multi-process run only process 0 writes files
            return
        path = self.dir / name
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as err:
            self.run.note(f"could not write {path}: {err}")


def _clean(logs: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN or infinity: they become null."""
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in logs.items()}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _labels(y: np.ndarray, classes: int) -> np.ndarray | None:
    """Class indices from sparse, one-hot or 0/1 labels."""
    if y.ndim >= 2 and y.shape[-1] == classes and classes > 1 and y.ndim == 2:
        out = np.argmax(y, axis=-1)
    else:
        flat = y.reshape(len(y), -1)
        if flat.shape[1] != 1:
            return None
        out = flat[:, 0]
        out = (out > 0.5).astype(np.int64) if out.dtype.kind == "f" else out.astype(np.int64)
    if out.size and (out.min() < 0 or out.max() >= classes):
        return None
    result: np.ndarray = out.astype(np.int64)
    return result


def _predicted(
    run: RunState, data: Dataset, batch: int, classes: int, logits: bool, layout: Layout | None
) -> np.ndarray:
    """The predicted class of each row of `data`, its batches placed as `evaluate` places
    them (split over the mesh under `layout`, each process reading its rows) and the
    predictions gathered whole in every process."""
    params = run.steps.final_params(run.params, run.opt_state)
    move, lazy = placement(layout, batch)
    parts = []
    for x, _y, mask in eval_batches(data, batch, put=move, lazy=lazy):
        out = np.asarray(to_host(run.steps.predict(params, run.state, x)))
        parts.append(out[np.asarray(to_host(mask)) > 0])
    pred = np.concatenate(parts).reshape(len(first_array(data.x)), -1)
    chosen: np.ndarray
    if pred.shape[1] == 1:
        chosen = (pred[:, 0] > (0.0 if logits else 0.5)).astype(np.int64)
    else:
        chosen = np.argmax(pred, axis=-1).astype(np.int64)
    return chosen
