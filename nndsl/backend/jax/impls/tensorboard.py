"""The `tensorboard` callback: scalar event files TensorBoard reads, written with tensorboardX.

tensorboardX (pure Python over protobuf) is optional and imported only when a run starts; the
checker reports a missing install before that (`nndsl.ops.callbacks.TensorBoard.validate`).
Layout and tags follow Keras's TensorBoard callback: `<path>/train` holds `epoch_<name>` for
the training values and `epoch_learning_rate`, `<path>/validation` the validation values
under the same tags (so TensorBoard draws both runs on one chart), and with `update_freq`
`<path>/train` also holds `batch_loss` at the global step. Epoch points use step = epoch
number, 1-based as in the CSV log.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import optax

from nndsl.backend.jax.impls.callbacks import Callback, Logs, Run, inside_run_dir
from nndsl.backend.jax.impls.schedules import learning_rate
from nndsl.backend.jax.registry import Attrs, impl
from nndsl.backend.jax.training import lr_factor
from nndsl.ops.callbacks import TENSORBOARD_EXTRA, TENSORBOARD_PACKAGE

EVENT_FILE = "events.out.tfevents."


class TensorBoard(Callback):
    name = "tensorboard"

    def __init__(self, attrs: Attrs) -> None:
        self.path = str(attrs["path"])
        self.update_freq = int(attrs["update_freq"])  # type: ignore[arg-type]
        # The declared rate or schedule; set by the runtime (`build_callbacks`).
        self.optimizer: Attrs | None = None
        self.writers: dict[str, Any] = {}
        self.root = Path(self.path)
        self.summary_writer: Any = None

    def writes(self) -> tuple[str, ...]:
        return (self.path,)

    def on_train_begin(self, run: Run, resumed: bool) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:  # the checker says so first; this is for configs built in code
            raise ModuleNotFoundError(
                f"the tensorboard callback needs {TENSORBOARD_PACKAGE}: "
                f"pip install '{TENSORBOARD_EXTRA}'"
            ) from None
        self.root = inside_run_dir(run.run_dir, self.path)
        self.summary_writer = SummaryWriter
        for part in ("train", "validation"):
            directory = self.root / part
            if resumed:  # keep what the checkpoint covers, drop the steps to be repeated
                drop_events_after(directory, epoch=run.epoch, step=run.global_step)
            else:  # a fresh run replaces its logs, as `csv_log` does
                for old in directory.glob(f"{EVENT_FILE}*"):
                    old.unlink()

    def writer(self, part: str) -> Any:
        """The writer of `<path>/<part>`, opened at its first value (no validation, no
        validation run in TensorBoard)."""
        if part not in self.writers:
            directory = self.root / part
            directory.mkdir(parents=True, exist_ok=True)
            # tensorboardX names files by the second and the host only, so a run resumed in
            # the same second would truncate the file it continues; the nanoseconds keep the
            # names distinct and sorted in writing order (the order TensorBoard reads them).
            suffix = f".{time.time_ns()}.{os.getpid()}"
            self.writers[part] = self.summary_writer(
                str(directory), flush_secs=10, filename_suffix=suffix
            )
        return self.writers[part]

    def on_epoch_end(self, run: Run, logs: Logs) -> None:
        for key, value in logs.items():
            if key.startswith("val_"):
                self.writer("validation").add_scalar(f"epoch_{key[4:]}", value, run.epoch)
            else:
                self.writer("train").add_scalar(f"epoch_{key}", value, run.epoch)
        rate = self.learning_rate(run.opt_state)
        if rate is not None:
            self.writer("train").add_scalar("epoch_learning_rate", rate, run.epoch)
        for writer in self.writers.values():
            writer.flush()

    def learning_rate(self, opt_state: Any) -> float | None:
        """The rate of the next update: the declared rate, or the schedule at the optimizer's
        update count, times the factor `reduce_lr_on_plateau` set."""
        if self.optimizer is None:
            return None
        rate = learning_rate(self.optimizer["learning_rate"])
        if callable(rate):
            counts = [
                s.count
                for s in jax.tree.leaves(
                    opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByScheduleState)
                )
                if isinstance(s, optax.ScaleByScheduleState)
            ]
            rate = float(rate(counts[0] if counts else 0))
        return float(rate) * lr_factor(opt_state)

    def on_train_end(self, run: Run) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class TensorBoardSteps(TensorBoard):
    """With `update_freq`: also the loss every that many steps. A separate class, so the
    loop knows a plain `tensorboard` leaves the per-step hook alone."""

    def on_steps_end(self, run: Run, steps: int, loss: float) -> None:
        n = self.update_freq
        if run.global_step // n > (run.global_step - steps) // n:
            self.writer("train").add_scalar("batch_loss", loss, run.global_step)


@impl("tensorboard")
def tensorboard(attrs: Attrs) -> TensorBoard:
    return TensorBoardSteps(attrs) if int(attrs["update_freq"]) else TensorBoard(attrs)  # type: ignore[arg-type]


# -- event files ------------------------------------------------------------------------------
# An event file is a TFRecord file: records of (u64 length, u32 masked CRC of the length,
# data, u32 masked CRC of the data), each data an `Event` protobuf.


def read_records(path: Path) -> list[bytes]:
    """Every complete record of a TFRecord file, framing included (a torn tail is left)."""
    data = path.read_bytes()
    out, at = [], 0
    while at + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, at)
        end = at + 12 + length + 4
        if end > len(data):
            break
        out.append(data[at:end])
        at = end
    return out


def drop_events_after(directory: Path, *, epoch: int, step: int) -> None:
    """Rewrite each event file in `directory` without the scalars of epochs after `epoch`
    (`epoch_*` tags) and of steps after `step` (`batch_*`), atomically."""
    from google.protobuf.message import DecodeError
    from tensorboardX.proto.event_pb2 import Event

    for path in sorted(directory.glob(f"{EVENT_FILE}*")):
        records = read_records(path)
        kept = []
        for record in records:
            try:
                event = Event.FromString(record[12:-4])
            except DecodeError:  # a damaged record: what follows cannot be trusted either
                break
            tags = [v.tag for v in event.summary.value]
            limit = step if any(t.startswith("batch_") for t in tags) else epoch
            if not tags or event.step <= limit:
                kept.append(record)
        if len(kept) == len(records) and path.stat().st_size == sum(map(len, records)):
            continue
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(kept))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
