"""Loading a `TrainConfig`'s data, checking it against the model before training, splitting
it, and batching it at a fixed batch size (so a step compiles once).

Batching policy:
- Training batches are always full. An epoch has `ceil(n / batch)` steps; the last batch is
  filled up with the first examples of the same epoch's order (wrap-around), so every example
  is seen at least once per epoch and BatchNorm never sees padding rows.
- Evaluation batches are zero-padded to the batch size with a 0/1 mask, so averages are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndsl.backend import DataError
from nndsl.backend.jax import implementation
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.shapes import TensorType, format_shape

__all__ = ["DataError", "Dataset", "Splits", "eval_batches", "load_data", "train_batches"]


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: np.ndarray) -> Dataset:
        return Dataset(self.x[index], self.y[index])


@dataclass(frozen=True)
class Splits:
    train: Dataset
    validation: Dataset  # may be empty
    test: Dataset  # may be empty


def base_dir_of(config: TrainConfig) -> Path:
    return Path(config.file.path).resolve().parent if config.file is not None else Path.cwd()


def load_data(config: TrainConfig, *, base_dir: Path | None = None) -> Splits:
    """Read, validate, cast and split the data; every problem is a `DataError` raised here."""
    base = base_dir if base_dir is not None else base_dir_of(config)
    arrays = implementation(config.data.op)(config.data.attrs, base)
    where = str(base / str(config.data.attrs.get("path", config.data_name)))
    keys = (str(config.data.attrs.get("x", "x")), str(config.data.attrs.get("y", "y")))
    x = check_inputs(config.graph, arrays["x"], where, keys[0])
    y = check_labels(config.graph, config.loss, arrays["y"], len(x), where, keys[1])
    test_split = float(config.data.attrs.get("test_split", 0.0))  # type: ignore[arg-type]
    return split(
        Dataset(x, y),
        test_split=test_split,
        validation_split=config.validation_split,
        seed=config.seed,
        where=where,
    )


def _dims_match(expected: TensorType, found: tuple[int, ...]) -> bool:
    if len(found) != expected.rank:
        return False
    return all(d.as_int() in (None, n) for d, n in zip(expected.shape, found, strict=True))


def check_inputs(graph: Graph, x: np.ndarray, where: str, key: str) -> np.ndarray:
    if len(graph.inputs) != 1:
        raise DataError(
            f"{where}: model {graph.name} has {len(graph.inputs)} inputs; "
            "npz data feeds exactly one"
        )
    expected = graph.inputs[0].type
    if not _dims_match(expected, x.shape):
        raise DataError(
            f"{where}: array {key!r} has shape {list(x.shape)}, but input "
            f"`{graph.inputs[0].name}` of {graph.name} expects "
            f"{format_shape(expected.shape)}"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: array {key!r} has dtype {x.dtype}, not numeric")
    x = np.ascontiguousarray(x.astype(expected.dtype.numpy_name, copy=False))
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DataError(f"{where}: array {key!r} contains NaN or infinite values")
    return x


def check_labels(
    graph: Graph, loss: OpCall, y: np.ndarray, n: int, where: str, key: str
) -> np.ndarray:
    if y.ndim == 0 or y.shape[0] != n:
        raise DataError(
            f"{where}: array {key!r} has {y.shape[0] if y.ndim else 0} rows "
            f"(shape {list(y.shape)}), but the inputs have {n}"
        )
    if y.dtype.kind not in "biuf":
        raise DataError(f"{where}: array {key!r} has dtype {y.dtype}, not numeric")
    pred = graph.outputs[0].type
    rule = _LABEL_RULES[getattr(loss.op, "labels", "same")]
    return np.ascontiguousarray(
        rule(pred, y, f"{where}: array {key!r} (labels for {loss.op.name})")
    )


def _per_example(shape: tuple[int | None, ...]) -> int | None:
    return None if any(d is None for d in shape) else math.prod(d for d in shape if d)


def _pred_dims(pred: TensorType) -> tuple[int | None, ...]:
    return tuple(d.as_int() for d in pred.shape[1:])


def _class_labels(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    dims = _pred_dims(pred)
    classes = dims[-1] if dims else None
    shown = format_shape(pred.shape)
    if y.ndim == pred.rank - 1:  # class ids
        if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
            raise DataError(
                f"{what}: expected integer class ids for predictions {shown}, "
                f"found non-integer values of dtype {y.dtype}"
            )
        if y.size and (y.min() < 0 or (classes is not None and y.max() >= classes)):
            bad = int(y.max()) if y.max() >= 0 else int(y.min())
            raise DataError(
                f"{what}: class id {bad} is outside [0, {classes}) for predictions {shown}"
            )
        return y.astype(np.int32)
    if y.ndim == pred.rank and all(e in (None, f) for e, f in zip(dims, y.shape[1:], strict=True)):
        return y.astype(np.float32)
    raise DataError(
        f"{what}: expected class ids [{pred.shape[0]}] or one-hot {shown}, "
        f"found shape {list(y.shape)}"
    )


def _same_size(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    size = _per_example(_pred_dims(pred))
    found = math.prod(y.shape[1:])
    if size is not None and size != found:
        raise DataError(
            f"{what}: expected labels shaped like the prediction "
            f"{format_shape(pred.shape)}, found shape {list(y.shape)}"
        )
    return y.astype(np.float32)


def _binary_labels(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    out = _same_size(pred, y, what)
    if out.size and (out.min() < 0 or out.max() > 1):
        raise DataError(
            f"{what}: expected 0/1 labels, found values in [{out.min():g}, {out.max():g}]"
        )
    return out


def _sparse_labels(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim == pred.rank and y.shape[-1] == 1 and pred.shape[-1].as_int() != 1:
        y = y[..., 0]  # ids with a trailing 1 axis, as Keras accepts
    if y.ndim != pred.rank - 1:
        raise DataError(
            f"{what}: expected integer class ids {format_shape(pred.shape[:-1])} for predictions "
            f"{format_shape(pred.shape)}, found shape {list(y.shape)}"
        )
    return _class_labels(pred, y, what)


def _onehot_labels(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim != pred.rank:
        raise DataError(
            f"{what}: expected one-hot labels {format_shape(pred.shape)}, "
            f"found shape {list(y.shape)}"
        )
    return _class_labels(pred, y, what)


def _sequence_labels(pred: TensorType, y: np.ndarray, what: str) -> np.ndarray:
    classes = pred.shape[-1].as_int()
    if y.ndim != 2:
        raise DataError(f"{what}: expected label sequences [B, L], found shape {list(y.shape)}")
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{what}: expected integer class ids, found non-integer values")
    if y.size and (y.min() < 0 or (classes is not None and y.max() >= classes)):
        raise DataError(f"{what}: class ids must lie in [0, {classes}), 0 being the blank")
    return y.astype(np.int32)


# Keyed by the loss spec's declared label kind (`Loss.labels`), not by loss name.
_LABEL_RULES: dict[str, Callable[[TensorType, np.ndarray, str], np.ndarray]] = {
    "classes": _class_labels,
    "sparse": _sparse_labels,
    "onehot": _onehot_labels,
    "binary": _binary_labels,
    "same": _same_size,
    "sequence": _sequence_labels,
}


def split(
    data: Dataset, *, test_split: float, validation_split: float, seed: int, where: str = "data"
) -> Splits:
    """Shuffle rows with `seed`, hold out `test_split` for testing, then `validation_split`
    of the rest for validation; the remainder trains."""
    n = len(data)
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_split)
    n_val = round((n - n_test) * validation_split)
    if n - n_test - n_val < 1:
        raise DataError(
            f"{where}: {n} rows leave nothing to train on after test_split="
            f"{test_split} and validation_split={validation_split}"
        )
    return Splits(
        train=data.take(order[n_test + n_val :]),
        validation=data.take(order[n_test : n_test + n_val]),
        test=data.take(order[:n_test]),
    )


def steps_per_epoch(n: int, batch: int) -> int:
    return max(1, math.ceil(n / batch))


def train_batches(
    data: Dataset, batch: int, *, seed: int, epoch: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Full batches in a per-epoch order drawn from `(seed, epoch)`; see the module doc."""
    n = len(data)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    order = np.resize(order, steps_per_epoch(n, batch) * batch)  # wrap-around fill
    for start in range(0, len(order), batch):
        index = order[start : start + batch]
        yield data.x[index], data.y[index]


def eval_batches(data: Dataset, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches in order, the last zero-padded to `batch`, with a 0/1 mask of real rows."""
    for start in range(0, len(data), batch):
        x, y = data.x[start : start + batch], data.y[start : start + batch]
        real = len(x)
        mask = np.ones(batch, np.float32)
        if real < batch:
            mask[real:] = 0.0
            x = _pad(x, batch)
            y = _pad(y, batch)
        yield x, y, mask


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out
