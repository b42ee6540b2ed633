"""Rows of a Keras-style model summary, computed statically from the IR."""

from __future__ import annotations

from collections.abc import Mapping

from nndsl.ir.flops import FlopCount, bindings, graph_flops, node_flops
from nndsl.ir.graph import Graph
from nndsl.records import record
from nndsl.shapes import format_shape


@record(frozen=True, slots=True)
class SummaryRow:
    name: str
    type: str
    output_shape: str
    params: int
    connected_to: str
    flops: FlopCount | None = None  # forward, per example (None: a graph input)


@record(frozen=True, slots=True)
class Summary:
    model: str
    rows: tuple[SummaryRow, ...]
    trainable: int
    non_trainable: int
    trainable_bytes: int
    non_trainable_bytes: int
    flops: FlopCount = FlopCount()  # forward, per example: `nndsl.ir.flops`

    @property
    def is_chain(self) -> bool:
        """True when each layer feeds only the next: Keras then omits "Connected to"."""
        previous = None
        for row in self.rows:
            if previous is not None and row.connected_to != previous:
                return False
            previous = row.name
        return True

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def total_bytes(self) -> int:
        return self.trainable_bytes + self.non_trainable_bytes


def summarize(
    graph: Graph, expand: bool = False, sizes: Mapping[str, int] | None = None
) -> Summary:
    """The rows of `graph`; a repeat is one row ("Res x 64", its instances' parameters and
    FLOPs together) unless `expand`, which lists every copy's layers (the caller bounds the
    size: `Graph.node_total`). FLOPs are per example, with the symbolic dims in `sizes` set."""
    totals = graph  # counted as declared: a repeat's parameters arithmetically
    mapping = bindings(graph, sizes)
    if expand:
        graph = graph.unrolled()
    producer: dict[int, str] = {i.value: i.name for i in graph.inputs}
    rows = [SummaryRow(i.name, "Input", format_shape(i.type.shape), 0, "") for i in graph.inputs]
    for node in graph.nodes:
        name, kind, params = node.path, node.op.name, sum(w.size for w in node.weights)
        rep = node.repeat
        if rep is not None:
            if rep.count > 1:
                last = node.instance_path(rep.count - 1).rpartition("/")[2]
                name = f"{node.path} … {last}"
            kind = f"{rep.block} × {rep.count:,}" + (", remat" if rep.remat else "")  # noqa: RUF001
            params = sum(rep.body.param_counts()) * rep.count
        for i, vid in enumerate(node.output_ids):  # `lstm[1]`: the second result of `lstm`
            producer[vid] = name if i == 0 else f"{name}[{i}]"
        if node.op.name == "constant":
            continue
        sources = [producer.get(v, "") for v in node.inputs]
        shapes = ", ".join(format_shape(t.shape) for t in node.output_types)
        rows.append(
            SummaryRow(
                name,
                kind,
                shapes if len(node.output_types) == 1 else f"({shapes})",
                params,
                ", ".join(s for s in sources if s),
                node_flops(graph, node, mapping),
            )
        )
    graph = totals
    trainable, frozen = graph.param_counts()
    tb, fb = graph.param_bytes()
    return Summary(graph.name, tuple(rows), trainable, frozen, tb, fb, graph_flops(graph, sizes))


def readable_bytes(n: int) -> str:
    """Keras's format: 1024-based units with two decimals (`329.04 KB`)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"
