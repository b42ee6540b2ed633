"""The model graph as a picture: one box per layer, one nested cluster per block instance.

Built from the checked IR (`nndsl.ir.Graph`, what `nnrun summary` reads), never from the
text. Each block instance (a node's `scope` after the model) becomes a `Cluster` laid out on
its own (`nndsl.plot.layout`), innermost first; one level up it is one box. An edge entering
or leaving a block goes through a port on the block's border, so a residual connection that
skips the block's layers is drawn inside the block, beside them. A collapsed `repeat` is one
box (`Res x 16`) unless `expand`, which draws every copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl.ir import Graph
from nndsl.plot.layout import Box, Layout, layout
from nndsl.shapes import TensorType, format_shape

CHAR_WIDTH = 6.6  # 11px monospace
LINE_HEIGHT = 14.0
BOX_PAD_X, BOX_PAD_Y = 10.0, 6.0
HEADER = 22.0  # a cluster's title strip
CLUSTER_PAD_X, CLUSTER_PAD_BOTTOM = 12.0, 10.0
MAX_LINE = 44  # characters; longer lines are cut with an ellipsis


@dataclass
class Leaf:
    """One box: a layer, an input, or a collapsed repeat."""

    id: str
    kind: str  # "layer", "input", "repeat"
    lines: list[str]
    family: str
    tooltip: str
    params: int
    width: float = 0.0
    height: float = 0.0

    def __post_init__(self) -> None:
        self.width, self.height = text_box(self.lines)


@dataclass(frozen=True)
class Edge:
    """An edge of one level: from an item (a cluster's out-port `port`) to an item (a
    cluster's in-port)."""

    source: str
    target: str
    source_port: str | None = None
    target_port: str | None = None


@dataclass
class Cluster:
    """A block instance (or the whole model, the root): its items and edges, laid out."""

    id: str
    title: str
    items: list[Leaf | Cluster] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    in_ports: list[str] = field(default_factory=list)  # port ids, "in:<value id>"
    out_ports: list[str] = field(default_factory=list)
    params: int = 0
    out_shapes: list[str] = field(default_factory=list)
    layout: Layout | None = None
    width: float = 0.0
    height: float = 0.0

    @property
    def collapsed_lines(self) -> list[str]:
        return [f"{self.title}: block", *self.out_shapes[:2], f"{self.params:,} params"]

    @property
    def collapsed_size(self) -> tuple[float, float]:
        return text_box(self.collapsed_lines)

    @property
    def content_x(self) -> float:
        """Where the contents start, left: centred in the cluster."""
        assert self.layout is not None
        return (self.width - self.layout.width) / 2

    def port_x(self, port: str) -> float:
        """The x of a port on the border, in the cluster's own coordinates."""
        assert self.layout is not None
        return self.content_x + self.layout.boxes[f"{self.id}|{port}"].x

    def leaves(self) -> list[Leaf]:
        out: list[Leaf] = []
        for item in self.items:
            out += item.leaves() if isinstance(item, Cluster) else [item]
        return out

    def clusters(self) -> list[Cluster]:
        out: list[Cluster] = []
        for item in self.items:
            if isinstance(item, Cluster):
                out += [item, *item.clusters()]
        return out


@dataclass
class ModelPicture:
    model: str
    root: Cluster
    trainable: int
    non_trainable: int

    @property
    def boxes(self) -> int:
        """Layer and input boxes drawn (clusters not counted)."""
        return len(self.root.leaves())


def text_box(lines: list[str]) -> tuple[float, float]:
    longest = max((len(line) for line in lines), default=0)
    return longest * CHAR_WIDTH + 2 * BOX_PAD_X, len(lines) * LINE_HEIGHT + 2 * BOX_PAD_Y


def clip(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def type_line(t: TensorType) -> str:
    return clip(f"{format_shape(t.shape)} {t.dtype.value}")


def picture(graph: Graph, *, expand: bool = False) -> ModelPicture:
    """The picture of `graph`, laid out; `expand` draws every copy of a collapsed `repeat`."""
    unrolled = getattr(graph, "unrolled", None)  # collapsed repeats (issue 17)
    if expand and unrolled is not None:
        graph = unrolled()
    root = Cluster("model", graph.name)
    clusters: dict[tuple[str, ...], Cluster] = {(): root}
    where: dict[str, tuple[str, ...]] = {}  # item id -> the scope of the cluster it is in
    producer: dict[int, str] = {}
    for k, gi in enumerate(graph.inputs):
        leaf = Leaf(
            f"i{k}",
            "input",
            [clip(f"{gi.name}: Input"), type_line(gi.type)],
            "input",
            f"input {gi.name}: {format_shape(gi.type.shape)} {gi.type.dtype.value}",
            0,
        )
        root.items.append(leaf)
        where[leaf.id] = ()
        producer[gi.value] = leaf.id
    for node in graph.nodes:
        if node.op.name == "constant":
            continue
        scope = tuple(node.scope[1:])
        cluster = _cluster(clusters, scope)
        leaf = _leaf(node)
        cluster.items.append(leaf)
        where[leaf.id] = scope
        for c in _chain(clusters, scope):
            c.params += leaf.params
        for vid in node.inputs:
            source = producer.get(vid)
            if source is not None:
                _connect(clusters, where, vid, source, leaf.id)
        for vid in node.output_ids:
            producer[vid] = leaf.id
    for c in [*root.clusters(), root]:
        c.out_shapes = [
            type_line(graph.values[int(p.split(":", 1)[1])])
            for p in c.out_ports
            if int(p.split(":", 1)[1]) in graph.values
        ]
    root.params = sum(graph.param_counts())
    _lay_out(root)
    trainable, frozen = graph.param_counts()
    return ModelPicture(graph.name, root, trainable, frozen)


def _leaf(node: object) -> Leaf:
    from nndsl.ir import Node

    assert isinstance(node, Node)
    name = node.path.rsplit("/", 1)[-1]
    repeat = getattr(node, "repeat", None)
    if repeat is not None:  # a collapsed repeat: its body's weights times its count
        body_params = sum(sum(w.size for w in n.weights) for n in repeat.body.walk())
        params = body_params * int(repeat.count)
        lines = [
            clip(f"{name}: {repeat.block} x {repeat.count}"),
            *(type_line(t) for t in node.output_types[:2]),
            f"{params:,} params",
        ]
        return Leaf(f"n{node.id}", "repeat", lines, "repeat", f"{node.path} (repeat)", params)
    params = sum(w.size for w in node.weights)
    frozen = " (frozen)" if any(w.frozen for w in node.weights) else ""
    lines = [
        clip(f"{name}: {node.op.name}"),
        *(type_line(t) for t in node.output_types[:2]),
        f"{params:,} params{frozen}",
    ]
    line = node.file.position(node.span.start).line
    tooltip = f"{node.path} ({node.op.name}) at {node.file.path}:{line}"
    return Leaf(f"n{node.id}", "layer", lines, node.op.family, tooltip, params)


def _cluster(clusters: dict[tuple[str, ...], Cluster], scope: tuple[str, ...]) -> Cluster:
    if scope in clusters:
        return clusters[scope]
    parent = _cluster(clusters, scope[:-1])
    c = Cluster("c:" + "/".join(scope), scope[-1])
    parent.items.append(c)
    clusters[scope] = c
    return c


def _chain(clusters: dict[tuple[str, ...], Cluster], scope: tuple[str, ...]) -> list[Cluster]:
    return [clusters[scope[:i]] for i in range(1, len(scope) + 1)]


def _connect(
    clusters: dict[tuple[str, ...], Cluster],
    where: dict[str, tuple[str, ...]],
    vid: int,
    source: str,
    target: str,
) -> None:
    """Add the edge source -> target at their common level, through the out-ports of the
    clusters around `source` and the in-ports of those around `target`."""
    src, tgt = where[source], where[target]
    k = 0
    while k < min(len(src), len(tgt)) and src[k] == tgt[k]:
        k += 1
    # the source side, innermost first: each cluster passes the value to its out-port
    item, port = source, None
    for depth in range(len(src), k, -1):
        c = clusters[src[:depth]]
        name = f"out:{vid}"
        if name not in c.out_ports:
            c.out_ports.append(name)
        _add_edge(c, Edge(item, f"{c.id}|{name}", port, None))
        item, port = c.id, name
    # the target side, outermost first
    tail: tuple[str, str | None] = (item, port)
    for depth in range(k + 1, len(tgt) + 1):
        c = clusters[tgt[:depth]]
        name = f"in:{vid}"
        if name not in c.in_ports:
            c.in_ports.append(name)
        _add_edge(clusters[tgt[: depth - 1]], Edge(tail[0], c.id, tail[1], name))
        tail = (f"{c.id}|{name}", None)
    _add_edge(clusters[tgt], Edge(tail[0], target, tail[1], None))


def _add_edge(c: Cluster, edge: Edge) -> None:
    if edge not in c.edges:
        c.edges.append(edge)


def _lay_out(c: Cluster) -> None:
    """Lay out the children first (their sizes), then this level."""
    boxes = [Box(f"{c.id}|{p}", 0.0, 0.0, "first") for p in c.in_ports]
    for item in c.items:
        if isinstance(item, Cluster):
            _lay_out(item)
        boxes.append(Box(item.id, item.width, item.height))
    boxes += [Box(f"{c.id}|{p}", 0.0, 0.0, "last") for p in c.out_ports]
    c.layout = layout(boxes, [(e.source, e.target) for e in c.edges])
    title = (len(c.title) + 4) * CHAR_WIDTH
    c.width = max(c.layout.width, title) + 2 * CLUSTER_PAD_X
    c.height = HEADER + c.layout.height + CLUSTER_PAD_BOTTOM
