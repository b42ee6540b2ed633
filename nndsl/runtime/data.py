"""Loading a `TrainConfig`'s data, checking it against the model before training, splitting
it, and batching it at a fixed batch size (so a step compiles once).

Batching policy:
- Training batches are always full. An epoch has `ceil(n / batch)` steps; the last batch is
  filled up with the first examples of the same epoch's order (wrap-around), so every example
  is seen at least once per epoch and BatchNorm never sees padding rows.
- Evaluation batches are zero-padded to the batch size with a 0/1 mask, so averages are exact.
  Under a `distribute` layout they are split over the batch axis as training batches are.
- Both are gathered on a background thread a couple of batches ahead (`_prefetched`).
- A streamed source's inputs are `nndsl.runtime.streaming.Rows`, read as they are indexed:
  everything here indexes rows, so the same code serves both, with the same batches.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from nndsl.backend import DataError
from nndsl.backend.jax import implementation
from nndsl.ir import Graph, OpCall, TrainConfig
from nndsl.ops.attrs import declared
from nndsl.ops.data import ZIP
from nndsl.ops.spec import Configured
from nndsl.runtime.loss_labels import expression_labels, without_unread_labels
from nndsl.runtime.sources import TextVectorizer
from nndsl.runtime.streaming import (
    PAD,
    Batch,
    Rows,
    open_csv_source,
    open_image_folder,
    open_npy_source,
    open_npz_source,
    open_text_folder,
    wants_stream,
)
from nndsl.shapes import TensorType, format_shape

_T = TypeVar("_T")

__all__ = [
    "Arrays",
    "DataError",
    "Dataset",
    "Splits",
    "eval_batches",
    "load_data",
    "train_batches",
    "train_calls",
]


# A model's inputs (or a trained model's labels): one array, or one per input (trained
# output) by name when there are several.
Arrays = np.ndarray | dict[str, np.ndarray]


def tree_map(f: Callable[[np.ndarray], np.ndarray], arrays: Arrays) -> Arrays:
    """`f` applied to the array, or to each array of a dict."""
    return {k: f(v) for k, v in arrays.items()} if isinstance(arrays, dict) else f(arrays)


def first_array(arrays: Arrays) -> np.ndarray:
    return next(iter(arrays.values())) if isinstance(arrays, dict) else arrays


def input_list(graph: Graph, x: Arrays) -> list[np.ndarray]:
    """The inputs in the model's input order."""
    return [x[i.name] for i in graph.inputs] if isinstance(x, dict) else [x]


@dataclass(frozen=True)
class Dataset:
    x: Arrays
    y: Arrays
    w: np.ndarray | None = None  # per-example loss weights `[N]` float32 (`sample_weight`)

    def __len__(self) -> int:
        return int(first_array(self.x).shape[0])

    def take(self, index: np.ndarray) -> Dataset:
        def pick(a: np.ndarray) -> np.ndarray:
            if isinstance(a, Rows):  # a view: nothing is read
                return a.take(index)
            return np.asarray(a[index])

        return Dataset(
            tree_map(pick, self.x),
            tree_map(pick, self.y),
            None if self.w is None else self.w[index],
        )


# What a step takes as `y`: the labels, or `(labels, weights)` with sample weights (the steps
# weight the loss when their `y` is a pair).
Labels = Arrays | tuple[Arrays, np.ndarray]


def step_labels(y: Arrays, w: np.ndarray | None) -> Labels:
    return y if w is None else (y, w)


@dataclass(frozen=True)
class Splits:
    train: Dataset
    validation: Dataset  # may be empty
    test: Dataset  # may be empty
    class_names: tuple[str, ...] = ()  # label order, for folder and named-label sources
    vectorizer: TextVectorizer | None = None  # text sources: the adapted vocabulary


@dataclass(frozen=True)
class _Names:
    """Where each array came from, in words, for the messages."""

    x_where: str
    x_what: str
    y_where: str
    y_what: str


def base_dir_of(config: TrainConfig) -> Path:
    return Path(config.file.path).resolve().parent if config.file is not None else Path.cwd()


def load_data(config: TrainConfig, *, base_dir: Path | None = None) -> Splits:
    """Read, validate, cast and split the data; every problem is a `DataError` raised here.

    Text is split before it is vectorized, so the vocabulary comes from the training rows only
    (as adapting Keras's `TextVectorization` on the training set does)."""
    base = base_dir if base_dir is not None else base_dir_of(config)
    attrs = config.data.attrs
    if config.loss_expr is not None and config.data.op.name == "npz":
        attrs = without_unread_labels(config, attrs)
    arrays = _read_source(config.data.op.name, attrs, base)
    names = _names_of(config.data.op.name, attrs, base)
    if any(k.startswith(("x/", "y/")) for k in arrays):  # arrays named by input and output
        return _split_named(config, arrays, names)
    raw_x = arrays["x"]
    classes = tuple(str(c) for c in arrays.get("class_names", ()))
    _check_class_count(config, classes, names)
    if config.loss_expr is not None:
        y: Arrays = expression_labels(config, arrays, len(raw_x), names.y_where)
    else:
        y = check_labels(
            config.graph, config.loss, arrays["y"], len(raw_x), names.y_where, "", what=names.y_what
        )
    test_split = float(attrs["test_split"])  # type: ignore[arg-type]
    text = raw_x.dtype == object
    x = raw_x if text else check_inputs(config.graph, raw_x, names.x_where, "", what=names.x_what)
    w = None
    if "sample_weight" in arrays:
        w = check_sample_weights(arrays["sample_weight"], len(raw_x), names.x_where, attrs)
        if config.class_weight is not None:
            raise DataError(
                f"{names.x_where}: `class_weight` and `sample_weight` cannot be used together "
                "(as in Keras's `fit`)",
            )
    splits = split(
        Dataset(x, y, w),
        test_split=test_split,
        validation_split=config.validation_split,
        seed=config.seed,
        where=names.x_where,
    )
    if not text:
        return Splits(splits.train, splits.validation, splits.test, classes)
    vectorizer = TextVectorizer.from_attrs(attrs)
    train_x = splits.train.x
    vectorizer.adapt(train_x.texts() if isinstance(train_x, Rows) else [str(t) for t in train_x])

    def encode(part: Dataset) -> Dataset:
        if isinstance(part.x, Rows):  # vectorized batch by batch
            ids: np.ndarray = part.x.vectorized(vectorizer)
        else:
            ids = vectorizer([str(t) for t in part.x])
        return Dataset(
            check_inputs(config.graph, ids, names.x_where, "", what=names.x_what), part.y, part.w
        )

    return Splits(
        encode(splits.train),
        encode(splits.validation),
        encode(splits.test),
        classes,
        vectorizer,
    )


# Sources that can be read batch by batch from disk (`stream = true`).
_STREAMED: dict[str, Callable[[Mapping[str, Any], Path], dict[str, Any]]] = {
    "npy": open_npy_source,
    "npz": open_npz_source,
    "csv": open_csv_source,
    "image_folder": open_image_folder,
    "text_folder": open_text_folder,
}


def _read_source(source: str, attrs: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """A source's arrays, its inputs streamed (`Rows`) where `wants_stream` says so, else read
    into memory. A `zip` reads each of its sources through here, so a zipped source streams
    exactly when it would alone (`stream` written on it, or the default's rule)."""
    if source == ZIP:

        def member(called: Configured, folder: Path) -> dict[str, Any]:
            return _read_source(called.name, called.options, folder)

        arrays: dict[str, Any] = implementation(ZIP)(attrs, base, read=member)
        return arrays
    streamed = _STREAMED.get(source)
    if streamed is not None and wants_stream(source, attrs, base):
        return streamed(attrs, base)
    arrays = implementation(source)(attrs, base)
    return arrays


def _split_named(config: TrainConfig, arrays: Mapping[str, np.ndarray], names: _Names) -> Splits:
    """Arrays keyed by the names of the inputs and trained outputs they feed (an `npz` with
    lists of keys), each checked against its input or output; one input (output) gets a plain
    array, as a source of one array gives it."""
    graph, where = config.graph, names.x_where
    xs = {k[2:]: v for k, v in arrays.items() if k.startswith("x/")}
    if not xs:
        xs = {graph.inputs[0].name: arrays["x"]}
    n = len(first_array(xs))
    for key, a in xs.items():
        if a.ndim == 0 or a.shape[0] != n:
            first = next(iter(xs))
            raise DataError(
                f"{where}: array {key!r} has {a.shape[0] if a.ndim else 0} rows, but array "
                f"{first!r} has {n}"
            )
    x: Arrays = {
        k: check_inputs(graph, _column_fit(graph, k, a), where, k, name=k) for k, a in xs.items()
    }
    if len(graph.inputs) == 1:
        x = first_array(x)
    ys = {k[2:]: v for k, v in arrays.items() if k.startswith("y/")}
    if config.loss_expr is not None:
        y: Arrays = expression_labels(config, arrays, n, where)
    elif not config.losses:  # one output, labelled by `y = "key"` or `y = ["name"]`
        label = ys[graph.outputs[0].name] if ys else arrays["y"]
        y = check_labels(graph, config.loss, label, n, where, graph.outputs[0].name)
    else:
        y = {
            name: check_labels(graph, loss, ys[name], n, where, name, output=name)
            for name, loss in config.losses.items()
        }
    w = None
    if "sample_weight" in arrays:
        if config.losses:
            raise DataError(
                f"{where}: `sample_weight` is not supported yet for a model with several "
                "outputs; weigh the outputs with `loss_weights`"
            )
        w = check_sample_weights(arrays["sample_weight"], n, where, config.data.attrs)
        if config.class_weight is not None:
            raise DataError(
                f"{where}: `class_weight` and `sample_weight` cannot be used together "
                "(as in Keras's `fit`)",
            )
    return split(
        Dataset(x, y, w),
        test_split=float(config.data.attrs["test_split"]),  # type: ignore[arg-type]
        validation_split=config.validation_split,
        seed=config.seed,
        where=where,
    )


def _column_fit(graph: Graph, name: str, a: np.ndarray) -> np.ndarray:
    """One value per example (a CSV column) `[N]` fed to an input declared `[B, 1]`."""
    declared_input = next((i for i in graph.inputs if i.name == name), None)
    t = declared_input.type if declared_input is not None else None
    if a.ndim == 1 and t is not None and t.rank == 2 and t.shape[1].as_int() == 1:
        return a.as_column() if isinstance(a, Rows) else np.asarray(a)[:, None]
    return a


def _names_of(source: str, attrs: Mapping[str, object], base: Path) -> _Names:
    path = str(base / str(declared(attrs, "path", "")))
    if source == "npy":
        return _Names(str(base / str(attrs["x"])), "array", str(base / str(attrs["y"])), "array")
    if source == ZIP:
        names = ", ".join(f"`{n}`" for n in attrs["names"])  # type: ignore[attr-defined]
        return _Names(f"zip({names})", "the inputs", f"zip({names})", "the labels")
    if source == "csv":
        label = f"label column {str(attrs['label'])!r}"
        return _Names(path, "the input columns", path, f"the {label}")
    if source == "image_folder":
        return _Names(path, "the images", path, "the class ids")
    if source in ("text_folder", "text_file"):
        return _Names(path, "the vectorized texts", path, "the labels")
    x, y = attrs["x"], attrs["y"]
    return _Names(path, f"array {str(x)!r}", path, f"array {str(y)!r}")


def _check_class_count(config: TrainConfig, classes: tuple[str, ...], names: _Names) -> None:
    """More classes than the model predicts is a mistake worth naming the folders for."""
    if not classes or getattr(config.loss.op, "labels", "same") not in _CLASS_RULES:
        return
    predicted = config.graph.outputs[0].type.shape[-1].as_int()
    if predicted is not None and predicted > 1 and len(classes) > predicted:
        shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
        raise DataError(
            f"{names.y_where}: {len(classes)} classes ({shown}), but {config.graph.name} "
            f"predicts {predicted}; widen its output to {len(classes)} or choose the classes "
            "with `class_names = [...]`"
        )


def _dims_match(expected: TensorType, found: tuple[int, ...]) -> bool:
    if len(found) != expected.rank:
        return False
    return all(d.as_int() in (None, n) for d, n in zip(expected.shape, found, strict=True))


def check_inputs(
    graph: Graph,
    x: np.ndarray,
    where: str,
    key: str,
    *,
    what: str | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Shape and dtype against the model's input `name` (default: its one input); cast to its
    dtype. `what` names the data in messages (default: `array 'key'`)."""
    what = what or f"array {key!r}"
    if name is None and len(graph.inputs) != 1:
        names = ", ".join(f"`{i.name}`" for i in graph.inputs)
        raise DataError(
            f"{where}: model {graph.name} has {len(graph.inputs)} inputs ({names}); "
            "give one array per input, by name"
        )
    graph_input = next(i for i in graph.inputs if name is None or i.name == name)
    expected = graph_input.type
    if not _dims_match(expected, x.shape):
        raise DataError(
            f"{where}: {what} has shape {list(x.shape)}, but input "
            f"`{graph_input.name}` of {graph.name} expects "
            f"{format_shape(expected.shape)}"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: {what} has dtype {x.dtype}, not numeric")
    if isinstance(x, Rows):  # cast and checked for NaN batch by batch, as they are read
        return x.cast(expected.dtype.numpy_name)
    x = np.ascontiguousarray(x.astype(expected.dtype.numpy_name, copy=False))
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DataError(f"{where}: {what} contains NaN or infinite values")
    return x


def check_sample_weights(
    w: np.ndarray, n: int, where: str, attrs: Mapping[str, object]
) -> np.ndarray:
    """One finite, non-negative number per example, as float32."""
    named = attrs.get("sample_weight")  # a zip's come from one of its sources
    what = f"sample weights {str(named)!r}" if named is not None else "the sample weights"
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]  # `[N, 1]`, as Keras accepts
    if w.ndim != 1 or w.shape[0] != n:
        raise DataError(
            f"{where}: {what} have shape {list(w.shape)}, expected one weight per example [{n}]"
        )
    if w.dtype.kind not in "biuf":
        raise DataError(f"{where}: {what} have dtype {w.dtype}, not numeric")
    w = w.astype(np.float32)
    if not np.all(np.isfinite(w)):
        raise DataError(f"{where}: {what} contain NaN or infinite values")
    if w.size and w.min() < 0:
        raise DataError(f"{where}: {what} contain a negative weight ({w.min():g})")
    return np.ascontiguousarray(w)


def check_labels(
    graph: Graph,
    loss: OpCall,
    y: np.ndarray,
    n: int,
    where: str,
    key: str,
    *,
    what: str | None = None,
    output: str | None = None,
) -> np.ndarray:
    """Labels against the loss's label kind and the model's output `output` (default: the
    first); `what` as for inputs."""
    what = what or f"array {key!r}"
    if y.ndim == 0 or y.shape[0] != n:
        raise DataError(
            f"{where}: {what} has {y.shape[0] if y.ndim else 0} rows "
            f"(shape {list(y.shape)}), but the inputs have {n}"
        )
    if y.dtype.kind not in "biuf":
        raise DataError(f"{where}: {what} has dtype {y.dtype}, not numeric")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DataError(f"{where}: {what} contains NaN or infinite values")
    pred = next(o for o in graph.outputs if output is None or o.name == output).type
    rule = _LABEL_RULES[getattr(loss.op, "labels", "same")]
    of = f" of output `{output}`" if output is not None else ""
    try:
        checked = rule(pred, y, f"{where}: {what} (labels{of} for {loss.op.name})")
    except DataError as err:
        if "found shape" not in str(err):
            raise
        raise DataError(f"{err}; {_output_hint(pred, y, output)}") from None
    return np.ascontiguousarray(checked)


def _output_hint(pred: TensorType, y: np.ndarray, output: str | None) -> str:
    """What the model returns, and the likely slip when it keeps spatial axes the labels lack
    (`the model returns [B, 8, 8, 10]; did you forget Flatten?`)."""
    what = f"output `{output}`" if output is not None else "the model"
    hint = f"{what} returns {format_shape(pred.shape)}"
    if pred.rank > 2 and y.ndim <= 2:
        hint += (
            "; did you forget `Flatten()` (or `GlobalAveragePooling2D()`) before the last layer?"
        )
    return hint


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
        f"{what}: expected class ids {format_shape(pred.shape[:-1])} or one-hot {shown}, "
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


_CLASS_RULES = ("classes", "sparse", "onehot")

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
    data: Dataset,
    batch: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    prefetch: int = 2,
    start: int = 0,
) -> Iterator[tuple[Arrays, Arrays]]:
    """Full batches in a per-epoch order drawn from `(seed, epoch)`; see the module doc.

    Gathered `prefetch` batches ahead on a background thread (0: on the caller's). `start`
    skips that many batches of the epoch without gathering them (resuming mid-epoch)."""
    return _prefetched(_train_batches(data, batch, seed, epoch, shuffle, start), prefetch)


def _train_batches(
    data: Dataset, batch: int, seed: int, epoch: int, shuffle: bool, start: int
) -> Iterator[tuple[Arrays, Arrays]]:
    n = len(data)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    order = np.resize(order, steps_per_epoch(n, batch) * batch)  # wrap-around fill
    for first in range(start * batch, len(order), batch):
        index = order[first : first + batch]
        yield _rows(data.x, index), _rows(data.y, index)


# Single-step calls are gathered this many batches at a time: one NumPy gather and one queue
# hand-off between the threads per group instead of per batch (each hand-off can cost a GIL
# switch, which dominated the loop of small models).
SINGLE_GROUP = 16
# ... and at most this many bytes of inputs at a time, so that large examples (images of a
# streamed folder) are not gathered 16 batches ahead.
GROUP_BYTES = 16 << 20

# What moves calls' arrays (each an `(x, y)`, or an evaluation batch's `(x, y, mask)`) to the
# devices ahead of the step, on the prefetch thread (e.g. `jax.device_put`, or a sharded put).
Put = Callable[[list[Any]], list[Any]]


def group_size(data: Dataset, batch: int) -> int:
    """Single-step batches gathered per group: `SINGLE_GROUP`, fewer for large examples."""
    arrays = data.x.values() if isinstance(data.x, dict) else [data.x]
    row = sum(a.dtype.itemsize * math.prod(a.shape[1:]) for a in arrays)
    return max(1, min(SINGLE_GROUP, GROUP_BYTES // max(1, row * batch)))


def train_calls(
    data: Dataset,
    batch: int,
    *,
    seed: int,
    epoch: int,
    per_call: int = 1,
    shuffle: bool = True,
    prefetch: int = 2,
    start: int = 0,
    put: Put | None = None,
    lazy: bool = False,
) -> Generator[tuple[int, Arrays, Labels], None, None]:
    """The inputs of each call of an epoch from batch `start`, as `(steps, x, y)`: batches
    stacked `[per_call, batch, ...]` while at least `per_call` remain (when `per_call > 1`),
    then single batches `[batch, ...]`. The same batches, in the same order, as
    `train_batches`; each stack is one gather (no per-batch copies, no `np.stack`). With sample
    weights, `y` is `(labels, weights)` (`step_labels`). With `put`, each group is also moved
    to the device on the prefetch thread, overlapping the transfer with the running step.

    `lazy` (with a sharded `put` over several processes): streamed inputs (`Rows`) are not
    gathered; each call's is a `streaming.Batch` of its row indices, which `put` reads only
    the rows of its process's devices from. In-memory arrays are gathered as without it."""
    groups = _train_calls(data, batch, seed, epoch, shuffle, start, per_call, lazy)
    if put is not None:
        groups = _put_groups(groups, put)
    return _flattened(_prefetched(groups, prefetch))


def _put_groups(
    groups: Iterator[list[tuple[int, Arrays, Labels]]], put: Put
) -> Iterator[list[tuple[int, Arrays, Labels]]]:
    for group in groups:
        moved = put([(x, y) for _, x, y in group])  # one call per group
        yield [(k, x, y) for (k, _, _), (x, y) in zip(group, moved, strict=True)]


def _train_calls(
    data: Dataset,
    batch: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    start: int,
    per_call: int,
    lazy: bool = False,
) -> Iterator[list[tuple[int, Arrays, Labels]]]:
    n = len(data)
    steps = steps_per_epoch(n, batch)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    order = np.resize(order, steps * batch)  # wrap-around fill
    at = start
    single_group = group_size(data, batch)
    while at < steps:
        stacked = per_call > 1 and steps - at >= per_call
        k = per_call if stacked else min(single_group, steps - at)
        index = order[at * batch : (at + k) * batch]

        def stack(a: np.ndarray, index: np.ndarray = index, k: int = k) -> np.ndarray:
            if lazy and isinstance(a, Rows):
                return Batch(a, index, (k, batch))
            return np.asarray(a[index]).reshape(k, batch, *a.shape[1:])

        x = tree_map(stack, data.x)
        y = tree_map(stack, data.y)
        w = None if data.w is None else data.w[index].reshape(k, batch)
        at += k
        if stacked:
            yield [(k, x, step_labels(y, w))]
        else:
            yield [
                (1, _row(x, i), step_labels(_row(y, i), None if w is None else w[i]))
                for i in range(k)
            ]


def _flattened(groups: Iterator[list[_T]]) -> Generator[_T, None, None]:
    try:
        for group in groups:
            yield from group
    finally:  # stops the producer thread when the loop breaks early
        close = getattr(groups, "close", None)
        if close is not None:
            close()


def eval_batches(
    data: Dataset, batch: int, *, prefetch: int = 2, put: Put | None = None, lazy: bool = False
) -> Iterator[tuple[Arrays, Labels, np.ndarray]]:
    """Batches in order, the last padded to `batch` with zero rows, with a 0/1 mask of real
    rows; `y` as `step_labels` gives it. `put` and `lazy` as for `train_calls`: each batch is
    moved to the devices on the prefetch thread, and a lazy streamed input is a
    `streaming.Batch` whose padding rows (`streaming.PAD`) read as zeros, so each process
    reads only the real rows its devices hold."""
    batches = _eval_batches(data, batch, lazy)
    if put is not None:
        batches = (moved for b in batches for moved in put([b]))
    return _prefetched(batches, prefetch)


def _eval_batches(
    data: Dataset, batch: int, lazy: bool = False
) -> Iterator[tuple[Arrays, Labels, np.ndarray]]:
    n = len(data)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        mask = np.zeros(batch, np.float32)
        mask[: stop - start] = 1.0
        index = np.full(batch, PAD)
        index[: stop - start] = np.arange(start, stop)

        def part(
            a: np.ndarray, start: int = start, stop: int = stop, index: np.ndarray = index
        ) -> np.ndarray:
            if lazy and isinstance(a, Rows):
                return Batch(a, index, (batch,))
            rows = a[start:stop]
            return rows if len(rows) == batch else _pad(rows, batch)

        x, y = tree_map(part, data.x), tree_map(part, data.y)
        w = None if data.w is None else part(data.w)
        yield x, step_labels(y, w), mask


_DONE = object()


def _prefetched(items: Iterable[_T], depth: int) -> Generator[_T, None, None]:
    """`items`, produced up to `depth` ahead by a daemon thread through a bounded queue, so
    gathering the next batch (NumPy copies, which release the GIL) overlaps the device step.

    The producer's exceptions re-raise in the consumer; closing the iterator early (a `break`
    in the training loop) stops the producer at its next item."""
    if depth <= 0:
        yield from items
        return
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            buffer.put(_Raised(exc))

    worker = threading.Thread(target=produce, name="nndsl-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=1.0)


@dataclass(frozen=True)
class _Raised:
    exc: BaseException


def _rows(arrays: Arrays, index: np.ndarray) -> Arrays:
    return {k: v[index] for k, v in arrays.items()} if isinstance(arrays, dict) else arrays[index]


def _row(arrays: Arrays, i: int) -> Arrays:
    return {k: v[i] for k, v in arrays.items()} if isinstance(arrays, dict) else arrays[i]


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out
