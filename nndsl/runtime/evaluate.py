"""Evaluating saved weights on labelled data, as Keras's `model.evaluate`: the loss and the
metrics of the `train` section, and for a classifier the confusion matrix.

The data is the test split the training run held out (same source, same seed, so the same
rows), or every row of another file or folder read by the same source with the same
settings (`--data`: the declared source's `path` replaced, as `image_folder`'s size and
colour mode, a CSV's columns, stay what training used).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from nndsl.backend import DataError
from nndsl.backend.jax.training import steps_for
from nndsl.ir import OpCall, TrainConfig
from nndsl.runtime.checkpoint import load_weights, read_metadata
from nndsl.runtime.data import Dataset, base_dir_of, eval_batches, first_array, load_data
from nndsl.runtime.predict import packed_weights
from nndsl.runtime.report import CLASSIFIER_LOSSES
from nndsl.runtime.train import Logs, evaluate

MAX_CONFUSION_CLASSES = 60  # a larger confusion matrix is not computed


@dataclass(frozen=True)
class Evaluation:
    logs: Logs  # loss and metrics, as training's test line
    rows: int
    where: str  # what was evaluated, in words
    class_names: tuple[str, ...]  # () unless the weights or the source name the classes
    confusion: np.ndarray | None  # [true class, predicted class] counts, for a classifier


def evaluate_weights(
    config: TrainConfig, weights: str | Path, data_path: str | None = None
) -> Evaluation:
    """Evaluate `weights` (checked against the model) on the test split, or on all of
    `data_path`; `DataError` (one line) when there is nothing to evaluate."""
    # saved per copy; a scanned repeat's copies stacked once here, as `predict` does
    params, state = packed_weights(config.graph, *load_weights(weights, config.graph))
    if data_path is not None:
        config = _with_path(config, data_path)
        splits = load_data(config)
        data, where = splits.train, f"all {len(splits.train)} rows of {data_path}"
    else:
        splits = load_data(config)
        data, where = splits.test, f"the test split of `{config.data_name}`"
        if not len(data):
            raise DataError(
                f"`{config.data_name}` holds out no test split (test_split = 0); give the "
                "labelled data to evaluate on with --data"
            )
    steps = steps_for(config)
    logs = evaluate(steps, params, state, data, config.batch)
    saved = read_metadata(weights).get("class_names")
    names = tuple(str(n) for n in saved) if saved else splits.class_names
    confusion = _confusion(config, steps, params, state, data)
    if confusion is not None and len(names) != len(confusion):
        names = ()
    return Evaluation(logs, len(data), where, names, confusion)


def _with_path(config: TrainConfig, data_path: str) -> TrainConfig:
    """The section with its data source reading `data_path` instead, every row (no split)."""
    attrs = dict(config.data.attrs)
    if "path" not in attrs:
        raise DataError(
            f"--data replaces the path of `{config.data_name}`, but its source "
            f"`{config.data.op.name}` reads no single path; declare the data in the file"
        )
    if not Path(data_path).exists():
        raise DataError(f"no such file or folder: {data_path}")
    base = base_dir_of(config)
    attrs["path"] = os.path.relpath(Path(data_path).resolve(), base.resolve())
    if "test_split" in attrs:
        attrs["test_split"] = 0.0
    data = OpCall(config.data.op, attrs, config.data.span)
    return dataclasses.replace(config, data=data, validation_split=0.0)


def _confusion(
    config: TrainConfig, steps: object, params: object, state: object, data: Dataset
) -> np.ndarray | None:
    """Counts of (true class, predicted class) for a one-output classifier, else None."""
    if config.loss_expr is not None or config.losses or len(config.graph.outputs) != 1:
        return None
    if config.loss.op.name not in CLASSIFIER_LOSSES or not isinstance(data.y, np.ndarray):
        return None
    shape = config.graph.outputs[0].type.shape
    width = shape[-1].as_int() if shape else None
    if width is None or width > MAX_CONFUSION_CLASSES:
        return None
    classes = max(width, 2)
    y = np.asarray(data.y)
    if y.ndim == 2 and y.shape[1] == width and width > 1:
        truth = np.argmax(y, axis=-1)
    elif y.reshape(len(y), -1).shape[1] == 1:
        flat = y.reshape(len(y))
        truth = (flat > 0.5) if flat.dtype.kind == "f" and width == 1 else flat
    else:
        return None
    truth = truth.astype(np.int64)
    parts = []
    for x, _y, mask in eval_batches(data, config.batch):
        out = np.asarray(jax.device_get(steps.predict(params, state, x)))  # type: ignore[attr-defined]
        parts.append(out[mask > 0])
    pred = np.concatenate(parts).reshape(len(first_array(data.x)), -1)
    if pred.shape[1] == 1:
        logits = bool(config.loss.attrs.get("from_logits", False))
        chosen = (pred[:, 0] > (0.0 if logits else 0.5)).astype(np.int64)
    else:
        chosen = np.argmax(pred, axis=-1).astype(np.int64)
    if truth.size and (truth.min() < 0 or truth.max() >= classes):
        return None
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (truth, chosen), 1)
    return matrix
