"""The training progress view: Keras-like bar on a terminal, plain unwrapped lines elsewhere."""

from __future__ import annotations

import io
import re

from rich.console import Console

from nndsl.runtime import EpochEnd, EpochStart, FitEnd, FitStart, Note, StepEnd, TestEnd
from nndsl.terminal.progress import ProgressView, format_rate, format_seconds

TRAIN = {"loss": 0.5, "accuracy": 0.7, "auc(long_name)": 0.8}
VALIDATION = {"loss": 0.6, "accuracy": 0.6, "auc(long_name)": 0.7}


def _run(view: ProgressView, steps: int = 8) -> None:
    view(FitStart("M", 2, steps, 640, 64, 64))
    for epoch in (1, 2):
        view(EpochStart(epoch, 2, steps))
        logs: dict[str, float] = {}
        for step in range(1, steps + 1):
            if step % 3 == 1:  # the runtime hands a new dict when the means change
                logs = {"loss": 1.0 / step, "accuracy": 0.5}
            view(StepEnd(epoch, step, steps, 9.0, logs))
        view(EpochEnd(epoch, 2, TRAIN, VALIDATION, 1.5))
    view(Note("a note " + "x" * 100))
    view(TestEnd({"loss": 0.6}))
    view(FitEnd(False, 3.2))


def test_plain_output_is_one_unwrapped_line_per_epoch() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=80)
    _run(ProgressView(console, quiet=False))
    lines = out.getvalue().splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2, lines
    first = epochs[0]
    assert len(first) > 80  # longer than the width, still on one line
    assert first.startswith("epoch 1/2  8/8  1.50s  5.3 steps/s  loss 0.5000")
    assert first.endswith("val_auc(long_name) 0.7000")
    assert any(line.startswith("compiled in ") for line in lines)
    assert lines[0].startswith("Training M: 640 train") and lines[0].endswith("8 steps")
    assert any(line == "a note " + "x" * 100 for line in lines)
    assert "\x1b" not in out.getvalue()  # no bar, no cursor movement


def test_terminal_bar_shows_running_means_eta_and_rate() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    view = ProgressView(console, quiet=False)
    view(FitStart("M", 1, 10, 640, 0, 0))
    assert view.progress is not None
    view.progress.refresh()
    assert "compiling…" in out.getvalue()
    view(EpochStart(1, 1, 10))
    view(StepEnd(1, 1, 10, 9.0, {"loss": 0.25, "accuracy": 0.5}))
    view(StepEnd(1, 4, 10, 9.0, {"loss": 0.125, "accuracy": 0.75}))
    view.progress.refresh()
    text = out.getvalue()
    assert "compiled in" in text
    bar = [line for line in re.split(r"[\r\n]|\x1b\[[0-9;?]*[A-Za-z]", text) if "4/10" in line]
    assert bar, text
    assert re.search(r"epoch 1/1 ━+ 4/10  [0-9.]+s  ETA [0-9.]+s  [0-9.,]+ steps/s", bar[-1])
    assert "loss 0.1250  accuracy 0.7500" in bar[-1]  # the running means the runtime sent
    view.stop_bar()


def test_quiet_shows_no_bar() -> None:
    out = io.StringIO()
    view = ProgressView(Console(file=out, force_terminal=True, width=100), quiet=True)
    _run(view)
    assert view.progress is None and "epoch 2/2" in out.getvalue()


def test_formats() -> None:
    assert format_seconds(0.4) == "0.40s" and format_seconds(75) == "1:15"
    assert format_seconds(3725) == "1:02:05"
    assert format_rate(10, 2) == "5.0 steps/s" and format_rate(1000, 2) == "500 steps/s"
    assert format_rate(1, 4) == "4.0 s/step" and format_rate(0, 1) == "- steps/s"
