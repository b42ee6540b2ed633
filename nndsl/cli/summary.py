"""`nnrun summary` through rich: the layer table and the parameter totals."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from nndsl.ir.summary import Summary, readable_bytes


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
