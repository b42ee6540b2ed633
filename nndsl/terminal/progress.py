"""Training events as a rich progress bar and one line per epoch, for `nnrun train` and the
REPL's `:train` alike. rich.progress is slow to import: consumers import this module when
training starts, not before."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


def _logs(logs: dict[str, float], prefix: str = "") -> str:
    return "  ".join(f"{prefix}{k} {v:.4f}" for k, v in logs.items())


class ProgressView:
    """Turns training events into a rich progress bar and one line per epoch; one view per
    run (it keeps its bar's task)."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, event: object) -> None:
        from nndsl.runtime import EpochEnd, EpochStart, FitEnd, FitStart, Note, StepEnd, TestEnd

        c = self.console
        if isinstance(event, Note):
            c.print(event.message, highlight=False, soft_wrap=True)
        elif isinstance(event, FitStart):
            c.print(
                f"[bold]Training[/] {event.model}: {event.train_size} train, "
                f"{event.validation_size} validation, {event.test_size} test examples; "
                f"{event.epochs} epochs of {event.steps_per_epoch} steps"
            )
            if not self.quiet:
                self.progress = Progress(
                    TextColumn("[bold blue]epoch {task.fields[epoch]}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[logs]}"),
                    TimeElapsedColumn(),
                    console=c,
                    transient=True,
                )
                self.progress.start()
        elif isinstance(event, EpochStart) and self.progress is not None:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task(
                "", total=event.steps, epoch=f"{event.epoch}/{event.epochs}", logs=""
            )
        elif isinstance(event, StepEnd) and self.progress is not None and self.task is not None:
            self.progress.update(
                self.task,
                completed=event.step,
                logs=_logs(event.logs),
            )
        elif isinstance(event, EpochEnd):
            line = f"epoch {event.epoch:>3}/{event.epochs}  {_logs(event.train)}"
            if event.validation:
                line += "  " + _logs(event.validation, "val_")
            line += f"  ({event.seconds:.2f}s)"
            c.print(line, highlight=False, soft_wrap=True)
        elif isinstance(event, TestEnd):
            self.stop_bar()
            table = Table(title="Test", title_justify="left")
            table.add_column("metric")
            table.add_column("value", justify="right")
            for k, v in event.logs.items():
                table.add_row(k, f"{v:.4f}")
            c.print(table)
        elif isinstance(event, FitEnd):
            self.stop_bar()
            c.print(f"{'Stopped' if event.stopped else 'Finished'} in {event.seconds:.1f}s")

    def stop_bar(self) -> None:
        """Takes the bar off the screen (before an error message, at the end of a run)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
