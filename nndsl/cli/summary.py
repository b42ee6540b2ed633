"""`nnrun summary` through rich: the layer table and the parameter totals."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nndsl.ir import TrainConfig
from nndsl.ir.distribute import (
    optimizer_state,
    per_device,
    split_factor,
    weight_path,
    weight_spec,
)
from nndsl.ir.flops import FlopCount
from nndsl.ir.summary import Summary, readable_bytes


def summary_table(summary: Summary) -> Table:
    table = Table(title=f'Model: "{summary.model}"', title_justify="left", show_lines=False)
    # Long paths (`conv5_block3/conv2d_2`) fold onto several lines; counts never do.
    table.add_column("Layer (type)", overflow="fold", ratio=3)
    table.add_column("Output Shape", overflow="fold", ratio=2)
    table.add_column("Param #", justify="right", no_wrap=True, min_width=9)
    table.add_column("FLOPs", justify="right", overflow="fold", min_width=9)
    chain = summary.is_chain
    if not chain:
        table.add_column("Connected to", style="dim", overflow="fold", ratio=2)
    for row in summary.rows:
        cells = [
            f"{row.name} ({row.type})",
            row.output_shape,
            f"{row.params:,}",
            _row_flops(row.flops),
        ]
        if not chain:
            cells.append(row.connected_to)
        table.add_row(*cells)
    return table


def _row_flops(count: FlopCount | None) -> str:
    """A row's FLOPs: empty for an input, `-` for an op without a FLOPs rule."""
    if count is None:
        return ""
    if count.not_counted and count.total == 0:
        return "-"
    return count.text()


def summary_totals(summary: Summary) -> Text:
    text = Text()
    for label, count, size in (
        ("Total params", summary.total, summary.total_bytes),
        ("Trainable params", summary.trainable, summary.trainable_bytes),
        ("Non-trainable params", summary.non_trainable, summary.non_trainable_bytes),
    ):
        text.append(f" {label}: ", style="bold")
        text.append(f"{count:,} ({readable_bytes(size)})\n")
    text.append(" Forward FLOPs per example: ", style="bold")
    text.append(flops_text(summary.flops) + "\n")
    return text


def flops_text(count: FlopCount) -> str:
    """The total line's value (`FlopCount.line`), a symbolic count naming `--size`."""
    names = ", ".join(count.symbols)
    return count.line(lambda first: f"depends on {names}; fix with --size {first}=N")


def distribute_report(train: TrainConfig, devices: int | None) -> Group:
    """Each weight's layout and what one device holds (`nnrun summary --distribute`)."""
    dist = train.distribute
    assert dist is not None
    sizes = dist.sizes(devices)
    mesh = ", ".join(f"{a}: {n}" for a, n in sizes.items())
    table = Table(
        title=escape(f"Layout: mesh [{mesh}], batch over `{dist.batch_axis}`, {dist.preset}"),
        title_justify="left",
    )
    table.add_column("Weight", overflow="fold", ratio=3)
    table.add_column("Shape", overflow="fold", ratio=1)
    table.add_column("Split over", overflow="fold", ratio=2)
    table.add_column("Per device", justify="right", no_wrap=True)
    for node, w in train.graph.weights():
        path = weight_path(node, w)
        spec = weight_spec(dist, path, w.shape, sizes)
        n = 1
        for d in w.shape:
            n *= d
        share = -(-n * w.dtype.itemsize // split_factor(spec, sizes))
        where = ", ".join(a or "_" for a in spec) if spec else "replicated"
        table.add_row(
            escape(path),
            escape(str(list(w.shape))),
            escape(f"[{where}]" if spec else where),
            readable_bytes(share),
        )
    opt = train.optimizer
    state = optimizer_state(opt.op.name, opt.attrs)
    need = per_device(train.graph, dist, train.batch, state, devices)
    largest = (
        f"{readable_bytes(need.largest[2])} (`{need.largest[0]}`, {need.largest[1]} "
        f"at {max(1, train.batch // sizes[dist.batch_axis])} examples)"
        if need.largest
        else "unknown"
    )
    lines = [
        f"Devices: {need.n_devices}",
        f"Parameters per device: {readable_bytes(need.params)}",
        f"Optimizer state per device: {readable_bytes(need.optimizer)} ({state.describe()})",
        f"Largest activation per device: {largest}",
        f"At least per device: {readable_bytes(need.total)}"
        + (
            f" of the declared {readable_bytes(dist.device_memory)}"
            if dist.device_memory is not None
            else ""
        ),
    ]
    return Group(table, Text("\n".join(f" {line}" for line in lines)))
