"""Forward FLOPs of a checked graph, summed from the ops' own rules (`OpSpec.flops`).

What is counted (see `nndsl.ops.flops` for the per-op conventions): one forward pass in
inference mode, per example, a multiply-add as 2 FLOPs. Per example: the batch (the symbol
on the leading axis of each graph input, `B`) is set to 1, so a graph input with a constant
leading axis (`f32[32, 10]`) is counted for that whole batch. Any other symbolic dim (`T`)
stays symbolic: the total is then a polynomial (`total` is None) unless `sizes` gives it a
value. A repeat counts its body once, times its count, in Python integers: `repeat 10**9`
costs no more to count than `repeat 2`. Ops without a rule count 0 and are listed in
`not_counted`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from nndsl.ir.graph import Graph, Node, TrainConfig
from nndsl.records import record
from nndsl.shapes import Dim, DimRangeError

_ZERO = Dim.const(0)


@record(frozen=True, slots=True)
class FlopCount:
    """A FLOPs total: a number plus, where symbolic dims remain, a polynomial in them."""

    known: int = 0  # the nodes whose count is a number
    symbolic: Dim = _ZERO  # the rest (zero when every count is a number)
    not_counted: tuple[str, ...] = ()  # ops without a FLOPs rule, sorted, once each
    overflow: bool = False  # a symbolic part over 2^63: left out of `symbolic`

    @property
    def total(self) -> int | None:
        """The count, or None while it depends on a symbolic dim."""
        if self.overflow or self.symbolic != _ZERO:
            return None
        return self.known

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbolic dims the count still depends on."""
        return tuple(sorted(self.symbolic.symbols()))

    def __add__(self, other: FlopCount) -> FlopCount:
        symbolic, overflow = _ZERO, self.overflow or other.overflow
        try:
            symbolic = self.symbolic + other.symbolic
        except DimRangeError:
            overflow = True
        return FlopCount(
            self.known + other.known,
            symbolic,
            tuple(sorted({*self.not_counted, *other.not_counted})),
            overflow,
        )

    def times(self, n: int) -> FlopCount:
        symbolic, overflow = _ZERO, self.overflow
        try:
            symbolic = self.symbolic * n
        except DimRangeError:
            overflow = True
        return FlopCount(self.known * n, symbolic, self.not_counted, overflow)

    def text(self) -> str:
        """`7.76 G`; while symbolic dims remain, the polynomial in exact integers (`13092*T +
        66`); `?` when a symbolic part overflowed."""
        if self.overflow:
            return "?"
        if self.symbolic == _ZERO:
            return readable_flops(self.known)
        try:
            return str(self.symbolic + self.known)
        except DimRangeError:
            return "?"

    def line(self, how_to_set: Callable[[str], str]) -> str:
        """The count as a summary's total line gives it: `7,785,396,080 (7.79 G)`; while
        symbolic dims remain, the polynomial and how to set the first (`how_to_set(symbol)`,
        worded for the CLI or the REPL); with the ops it could not count."""
        total = self.total
        if total is not None:
            text = f"{total:,} ({readable_flops(total)})" if total >= 1000 else f"{total:,}"
        elif self.overflow:
            text = "? (over 2^63 while symbolic)"
        else:
            text = f"{self.text()} ({how_to_set(self.symbols[0])})"
        if self.not_counted:
            text += f"; not counted: {', '.join(self.not_counted)}"
        return text


def readable_flops(n: int) -> str:
    """1000-based units with two decimals (`1.82 G`), as FLOPs are quoted; below 1000 exact."""
    if n < 1000:
        return str(n)
    value, units = float(n) / 1000, ["K", "M", "G", "T", "P", "E"]
    while value >= 999.995 and len(units) > 1:  # what would print as 1000.00
        value /= 1000
        units.pop(0)
    return f"{value:.2f} {units[0]}"


def batch_symbols(graph: Graph) -> frozenset[str]:
    """The symbols on the leading axis of the graph's inputs (`B`)."""
    out = set()
    for i in graph.inputs:
        if i.type.shape:
            name = i.type.shape[0].as_symbol()
            if name is not None:
                out.add(name)
    return frozenset(out)


def bindings(graph: Graph, sizes: Mapping[str, int] | None = None) -> dict[str, Dim]:
    """What `graph_flops` substitutes: the batch symbols 1, then `sizes` (which may set the
    batch too: `{"B": 32}` counts a batch of 32)."""
    out = {name: Dim.const(1) for name in batch_symbols(graph)}
    out.update({name: Dim.const(n) for name, n in (sizes or {}).items()})
    return out


def data_sizes(train: TrainConfig) -> dict[str, int]:
    """The symbolic dims of the trained model's inputs that its data source fixes by
    declaration (`text_folder(..., output_sequence_length = 200)` feeding `i32[B, T]`: T is
    200); the batch is not one of them (FLOPs stay per example)."""
    from nndsl.ops.data import DataSource  # here: the op families load in the registry's order

    data = train.data
    if not isinstance(data.op, DataSource):
        return {}
    graph = train.graph
    elements = data.op.elements(data.attrs)
    single = data.op.element(data.attrs) if len(graph.inputs) == 1 else None
    out: dict[str, int] = {}
    for i in graph.inputs:
        el = elements.get(i.name, single)
        if el is None or el.dims is None or len(el.dims) != i.type.rank - 1:
            continue
        for d, n in zip(i.type.shape[1:], el.dims, strict=True):
            name = d.as_symbol()
            if name is not None and n is not None:
                out.setdefault(name, n)
    return out


def node_flops(graph: Graph, node: Node, mapping: Mapping[str, Dim]) -> FlopCount:
    """One node of `graph` (a repeat: its body's count times its count)."""
    if node.repeat is not None:
        return _count(node.repeat.body, mapping).times(node.repeat.count)
    try:
        inputs = [graph.values[v].subst(mapping) for v in node.inputs]
        outputs = [t.subst(mapping) for t in node.output_types]
        n = node.op.flops(node.attrs, inputs, outputs)
    except DimRangeError:
        return FlopCount(overflow=True)
    if n is None:
        return FlopCount(not_counted=(node.op.name,))
    value = n.as_int()
    return FlopCount(known=value) if value is not None else FlopCount(symbolic=n)


def _count(graph: Graph, mapping: Mapping[str, Dim]) -> FlopCount:
    total = FlopCount()
    for node in graph.nodes:
        total = total + node_flops(graph, node, mapping)
    return total


def graph_flops(graph: Graph, sizes: Mapping[str, int] | None = None) -> FlopCount:
    """Forward FLOPs per example of `graph`, with the symbolic dims `sizes` gives fixed."""
    return _count(graph, bindings(graph, sizes))


def flops(graph: Graph, sizes: Mapping[str, int] | None = None) -> int | None:
    """Forward FLOPs per example (None while a symbolic dim other than the batch is left):
    what a benchmark multiplies by examples per second (and by 3 for a training step's
    forward and backward passes) for its model FLOPs utilisation."""
    return graph_flops(graph, sizes).total
