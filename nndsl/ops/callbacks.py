"""Callbacks: what happens around the training steps, declared in the `train` section.

`callbacks = [early_stopping(monitor = "val_loss", patience = 3), checkpoint(every = 1)]`.
Each is a spec of kind CALLBACK, so the checker validates names and arguments and the docs and
the editor read the same declarations; the runtime builds each from its JAX implementation
(`nndsl/backend/jax/impls/callbacks.py`).

A `monitor` names a value the loop logs after every epoch: `loss` and each metric (training
means), `val_loss` and `val_<metric>` (validation). Metrics are named as Keras logs them:
`accuracy`, `auc`, whatever their arguments (see `metric_labels` for two of one name).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, ArgValue, Attrs, OpKind, OpSpec


class Callback(OpSpec):
    kind = OpKind.CALLBACK
    inputs = ()
    # Arguments naming a logged value, checked against the section's metrics.
    monitors: tuple[str, ...] = ()
    # Arguments naming a path the run writes: relative, inside the run directory (E0801).
    writes: tuple[str, ...] = ()


_MODE = Arg(
    "mode",
    "str",
    "auto",
    'whether the monitored value should go "min" (down) or "max" (up); "auto": "max" for '
    "accuracies, AUC, precision, recall, F-scores and R², else min",
    choices=("auto", "min", "max"),
)


def _monitor(default: str | None, doc: str) -> Arg:
    return Arg("monitor", "str", default, doc, nullable=default is None)


def _patience(default: int) -> Arg:
    return Arg("patience", "int", default, "epochs without improvement before acting", min=0)


_MIN_DELTA = Arg("min_delta", "float", 0.0, "smaller changes do not count as improvement", min=0.0)


@register
class EarlyStopping(Callback):
    """Stop training when the monitored value has not improved for `patience` epochs
    (Keras's EarlyStopping, stopping at the same epoch); `restore_best` puts back the weights
    of the best epoch; with `baseline`, only epochs better than it reset the count."""

    name = "early_stopping"
    args = (
        _monitor("val_loss", "the logged value to watch"),
        _patience(0),
        _MIN_DELTA,
        _MODE,
        Arg("restore_best", "bool", False, "end with the weights of the best epoch"),
        Arg("start_from_epoch", "int", 0, "epochs to wait before watching", min=0),
        Arg(
            "baseline",
            "float",
            None,
            "a value to beat: stop after `patience` epochs that do not",
            nullable=True,
        ),
    )
    monitors = ("monitor",)
    example = 'callbacks = [early_stopping(monitor = "loss", patience = 3, restore_best = true)]'


@register
class Checkpoint(Callback):
    """Save full training state (weights, optimizer, PRNG, position) into the run directory's
    `checkpoints/`, every `every` epochs or `every_steps` steps, keeping the last `keep`;
    `nnrun model.nn --resume` continues from the latest. With `best`, also write the weights of
    the best epoch so far to `best.safetensors` (as Keras's ModelCheckpoint with
    `save_best_only`)."""

    name = "checkpoint"
    args = (
        Arg("every", "int", 1, "save at the end of every this many epochs (0: never)", min=0),
        Arg("every_steps", "int", 0, "also save every this many steps (0: never)", min=0),
        Arg("keep", "int", 3, "how many of the latest checkpoints to keep", min=1),
        _monitor(None, "ignored; see `best`"),
        Arg(
            "best", "str", None, "a logged value; keep the weights where it was best", nullable=True
        ),
        _MODE,
    )
    monitors = ("best",)
    example = 'callbacks = [checkpoint(every = 1, keep = 3, best = "loss")]'

    def validate(self, attrs: Attrs) -> None:
        if attrs["monitor"] is not None:
            raise ArgError("monitor", "`checkpoint` takes its monitored value as `best`")
        if attrs["every"] == 0 and attrs["every_steps"] == 0 and not attrs["best"]:
            raise ArgError(
                "every",
                "this checkpoint never saves anything",
                help="set `every`, `every_steps` or `best`",
            )


@register
class ReduceLrOnPlateau(Callback):
    """Multiply the learning rate by `factor` when the monitored value has not improved for
    `patience` epochs (Keras's ReduceLROnPlateau); works with schedules too (it scales them)."""

    name = "reduce_lr_on_plateau"
    args = (
        _monitor("val_loss", "the logged value to watch"),
        Arg(
            "factor",
            "float",
            0.1,
            "multiplies the rate",
            min=0.0,
            max=1.0,
            min_exclusive=True,
            max_exclusive=True,
        ),
        _patience(10),
        _MIN_DELTA,
        _MODE,
        Arg("cooldown", "int", 0, "epochs to wait after a reduction", min=0),
        Arg("min_lr", "float", 0.0, "the rate never goes below this", min=0.0),
    )
    monitors = ("monitor",)
    example = 'callbacks = [reduce_lr_on_plateau(monitor = "loss", factor = 0.5, patience = 2)]'


@register
class CsvLog(Callback):
    """One CSV row per epoch: `epoch`, then every logged value (Keras's CSVLogger). The path
    is relative to the run directory (`--out`, default `runs/<model>/`)."""

    name = "csv_log"
    args = (
        Arg("path", "str", "log.csv", "the file, relative to the run directory"),
        Arg("append", "bool", False, "append to an existing file instead of replacing it"),
    )
    writes = ("path",)
    example = 'callbacks = [csv_log("log.csv")]'


@register
class JsonlLog(Callback):
    """One JSON object per line and epoch: `{"epoch": 1, "loss": ..., "val_loss": ...}`;
    with `every_steps`, also one line per that many steps (`{"step": ..., "loss": ...}`)."""

    name = "jsonl_log"
    args = (
        Arg("path", "str", "log.jsonl", "the file, relative to the run directory"),
        Arg("every_steps", "int", 0, "also log every this many steps (0: epochs only)", min=0),
        Arg("append", "bool", False, "append to an existing file instead of replacing it"),
    )
    writes = ("path",)
    example = 'callbacks = [jsonl_log("log.jsonl")]'


# The optional package `tensorboard` writes with, and the extra that installs it.
TENSORBOARD_PACKAGE = "tensorboardX"
TENSORBOARD_EXTRA = "nndsl[tensorboard]"


@register
class TensorBoard(Callback):
    """TensorBoard event files (Keras's TensorBoard callback): after every epoch the training
    values and the learning rate as scalars `epoch_<name>` in `<path>/train`, the validation
    values in `<path>/validation`, at step = the epoch (1, 2, ..., as the CSV log numbers
    them); with `update_freq`, also `batch_loss` every that many steps (at step = the global
    step). Watch with `tensorboard --logdir <run dir>/<path>`. Needs the optional package
    tensorboardX (`pip install 'nndsl[tensorboard]'`). A new run replaces the event files
    there (as `csv_log` its file); a resumed one keeps the points its checkpoint covers."""

    name = "tensorboard"
    args = (
        Arg("path", "str", "logs", "the log directory, relative to the run directory"),
        Arg(
            "update_freq",
            "int",
            0,
            "also write the training loss every this many steps (0: once per epoch)",
            min=0,
        ),
    )
    writes = ("path",)
    example = 'callbacks = [tensorboard("logs", update_freq = 100)]'

    def validate(self, attrs: Attrs) -> None:
        # Checked here, without importing it, so the error comes before any training.
        if importlib.util.find_spec(TENSORBOARD_PACKAGE) is None:
            raise ArgError(
                "",
                f"writing TensorBoard logs needs the package {TENSORBOARD_PACKAGE}, "
                "which is not installed",
                help=f"install it with `pip install '{TENSORBOARD_EXTRA}'`",
            )


# Metric names whose better direction is up; anything else (losses, errors) goes down.
_MAX_WORDS = ("accuracy", "auc", "precision", "recall", "f1", "fbeta", "r2", "iou", "score")


def monitor_mode(monitor: str, mode: ArgValue = "auto") -> str:
    """ "min" or "max" for `monitor` under `mode` ("auto" guesses from the name, as Keras)."""
    if mode in ("min", "max"):
        return str(mode)
    name = monitor.removeprefix("val_")
    return "max" if any(w in name for w in _MAX_WORDS) and "loss" not in name else "min"


def metric_label(name: str, attrs: Attrs, args: Sequence[Arg]) -> str:
    """How one metric is logged when no other of its name is listed: its name (Keras's
    spelling, without arguments). A list of metrics goes through `metric_labels`."""
    return name


def _label_with_args(name: str, attrs: Attrs, args: Sequence[Arg]) -> str:
    """`top_k_accuracy_k3`: the metric's name with the arguments that differ from their
    defaults, how a metric is logged when another of the same name is listed too."""
    changed = [
        f"{a.name}{_plain(attrs[a.name])}"
        for a in args
        if a.name in attrs and attrs[a.name] != a.default
    ]
    return "_".join([name, *changed])


def _plain(value: ArgValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "-".join(_plain(v) for v in value)
    return str(value)


def metric_labels(calls: Iterable[tuple[str, Attrs, Sequence[Arg]]]) -> list[str]:
    """How the runtime names each metric in its logs, and so what a `monitor` says: the
    metric's own name, as Keras logs it (`auc`, `top_k_accuracy`; an alias such as `acc` is
    logged under the name it stands for); when two metrics share a name, each with its
    arguments that differ from the defaults (`top_k_accuracy_k3`, `top_k_accuracy_k5`), then
    numbered if that is still not enough (`auc`, `auc_1`)."""
    listed = list(calls)
    names = [name for name, _, _ in listed]
    labels = [
        _label_with_args(name, attrs, args) if names.count(name) > 1 else name
        for name, attrs, args in listed
    ]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label}_{n}")
    return out


def monitor_spelling(monitor: str, logged: Iterable[str], aliases: dict[str, str]) -> str | None:
    """The logged name `monitor` means when it spells a metric by an alias (`val_acc` for
    `val_accuracy`) or by its old logged form with arguments (`auc(from_logits=True)`), or
    None."""
    base = monitor.split("(", 1)[0]
    for name in logged:
        if base == name:
            return name
        for alias, target in aliases.items():
            if name.endswith(target) and base == name[: len(name) - len(target)] + alias:
                return name
    return None


def logged_names(metrics: Iterable[str], validation: bool) -> list[str]:
    """Every value a monitor may name: `loss`, the metrics, and their `val_` forms."""
    train = ["loss", *metrics]
    return train + ([f"val_{m}" for m in train] if validation else [])
