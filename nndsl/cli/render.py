"""Diagnostics and summaries through rich: colour on a terminal, plain text in a pipe."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nndsl.diagnostics import Diagnostic
from nndsl.diagnostics.render import render_segments
from nndsl.ir.summary import Summary, readable_bytes

STYLES = {
    "error": "bold red",
    "warning": "bold yellow",
    "bold": "bold",
    "gutter": "bold blue",
    "secondary": "bold blue",
    "help": "bold cyan",
    "": "",
}


def diagnostic_text(diag: Diagnostic) -> Text:
    text = Text()
    for chunk, style in render_segments(diag):
        text.append(chunk, style=STYLES.get(style, ""))
    return text


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    for i, diag in enumerate(diagnostics):
        if i:
            console.print()
        console.print(diagnostic_text(diag), end="", soft_wrap=True, highlight=False)


def summary_table(summary: Summary) -> Table:
    table = Table(title=f'Model: "{summary.model}"', title_justify="left", show_lines=False)
    # Long paths (`conv5_block3/conv2d_2`) fold onto several lines; counts never do.
    table.add_column("Layer (type)", overflow="fold", ratio=3)
    table.add_column("Output Shape", overflow="fold", ratio=2)
    table.add_column("Param #", justify="right", no_wrap=True, min_width=9)
    chain = summary.is_chain
    if not chain:
        table.add_column("Connected to", style="dim", overflow="fold", ratio=2)
    for row in summary.rows:
        cells = [f"{row.name} ({row.type})", row.output_shape, f"{row.params:,}"]
        if not chain:
            cells.append(row.connected_to)
        table.add_row(*cells)
    return table


def summary_totals(summary: Summary) -> Text:
    text = Text()
    for label, count, size in (
        ("Total params", summary.total, summary.total_bytes),
        ("Trainable params", summary.trainable, summary.trainable_bytes),
        ("Non-trainable params", summary.non_trainable, summary.non_trainable_bytes),
    ):
        text.append(f" {label}: ", style="bold")
        text.append(f"{count:,} ({readable_bytes(size)})\n")
    return text
