"""Builds one IR graph: value ids, unique stable paths, nodes in topological order.

Besides adding nodes one at a time, a builder hands out what was added since a `mark()` as a
`Delta` (value ids relative to the mark, paths relative to an instance) and `append`s such a
delta elsewhere, with fresh ids: the checker's memo (`nndsl.check.memo`) records block
instances and model bodies this way and replays them without reaching into the builder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from nndsl.ir import Graph, GraphInput, GraphOutput, Node, Weight
from nndsl.ir.graph import REPEAT, Repeat, numbered
from nndsl.ops import ArgValue, OpSpec
from nndsl.records import record
from nndsl.shapes import TensorType
from nndsl.source import SourceFile, Span


@lru_cache(maxsize=4096)  # once per op or block name, not per node (two regex passes)
def snake(name: str) -> str:
    """`Conv2D` -> `conv2d`, `MaxPool2D` -> `max_pool2d`, `MLPBlock` -> `mlp_block`."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)
    return s.lower()


class PendingNode:
    """A node under construction: `Node` without its id (its position) and tensor name (known
    once the graph is finished). Inside a `Delta`, value ids and paths are relative (see there).

    A plain slotted class: one is made per node of every analysis, replays included, and a
    hand-written `__init__` is the cheapest typed object Python builds."""

    __slots__ = (
        "attrs",
        "extra_outputs",
        "file",
        "inputs",
        "op",
        "output",
        "path",
        "repeat",
        "scope",
        "span",
        "type",
        "weights",
    )

    def __init__(
        self,
        op: OpSpec,
        attrs: dict[str, ArgValue],
        inputs: tuple[int, ...],
        output: int,
        type: TensorType,
        path: str,
        scope: tuple[str, ...],
        file: SourceFile,
        span: Span,
        weights: tuple[Weight, ...],
        extra_outputs: tuple[tuple[int, TensorType], ...],
        repeat: Repeat | None = None,
    ) -> None:
        self.op = op
        self.attrs = attrs
        self.inputs = inputs
        self.output = output
        self.type = type
        self.path = path
        self.scope = scope
        self.file = file
        self.span = span
        self.weights = weights
        self.extra_outputs = extra_outputs
        self.repeat = repeat

    def frozen(self) -> PendingNode:
        """A copy with its weights frozen (a repeat's: every weight of its body)."""
        weights, repeat = self.weights, self.repeat
        if repeat is not None:
            repeat = replace(repeat, body=_frozen(repeat.body))
        else:
            weights = tuple(replace(w, frozen=True) for w in weights)
        return PendingNode(
            self.op,
            self.attrs,
            self.inputs,
            self.output,
            self.type,
            self.path,
            self.scope,
            self.file,
            self.span,
            weights,
            self.extra_outputs,
            repeat,
        )


@record(frozen=True, slots=True)
class Mark:
    """How much a builder held at one moment (see `GraphBuilder.since`)."""

    values: int
    nodes: int
    names: int
    paths: int
    inputs: int


@record(frozen=True, slots=True)
class Delta:
    """What a builder added between a mark and a later moment, relative to both ends.

    Value ids >= 0 are the delta's own values (offsets from its first); an id < 0 stands for
    `outside[-1 - id]`, a value the delta used but did not make. Node paths, `paths` prefixes
    and scopes are relative to the `prefix` and `scope` given to `since`."""

    values: tuple[TensorType, ...]  # the types of its own values, in id order
    outside: tuple[int, ...]  # the absolute ids of the values it used but did not make
    inputs: tuple[GraphInput, ...]
    nodes: tuple[PendingNode, ...]
    names: tuple[tuple[int, str], ...]  # `name_value` calls
    paths: tuple[tuple[str, str, int], ...]  # `unique_path` calls: prefix suffix, base, count


def resolve(vid: int, first: int, outside: Sequence[int]) -> int:
    """The absolute id of a delta's relative id, appended with its own values from `first`."""
    return first + vid if vid >= 0 else outside[-1 - vid]


class GraphBuilder:
    def __init__(self, name: str, args: dict[str, ArgValue]) -> None:
        self.graph = Graph(name, args)
        self._next_value = 0
        self._counters: dict[tuple[str, str], int] = {}
        self._tensor_names: dict[int, str] = {}
        self._pending: list[PendingNode] = []
        self._prefixes: set[str] = set()  # every prefix given to `unique_path`
        # Logs of `unique_path` and `name_value` calls, for `since` (prefix, base, how many:
        # a collapsed `repeat` takes its count of names at once).
        self._path_log: list[tuple[str, str, int]] = []
        self._named: list[tuple[int, str]] = []

    def new_value(self, type: TensorType) -> int:
        vid = self._next_value
        self._next_value += 1
        self.graph.values[vid] = type
        return vid

    def unique_path(self, prefix: str, base: str) -> str:
        count = self._counters.get((prefix, base), 0)
        self._counters[(prefix, base)] = count + 1
        self._prefixes.add(prefix)
        self._path_log.append((prefix, base, 1))
        name = base if count == 0 else f"{base}_{count}"
        return f"{prefix}/{name}" if prefix else name

    def has_prefix(self, prefix: str) -> bool:
        """Whether a path was made under `prefix` (paths made under it again are numbered)."""
        return prefix in self._prefixes

    def add_input(self, name: str, type: TensorType, span: Span) -> int:
        vid = self.new_value(type)
        self.graph.inputs.append(GraphInput(name, vid, type, span))
        return vid

    def add_node(
        self,
        op: OpSpec,
        attrs: Mapping[str, ArgValue],
        inputs: tuple[int, ...],
        type: TensorType,
        path: str,
        scope: tuple[str, ...],
        file: SourceFile,
        span: Span,
        weights: tuple[Weight, ...],
        extra_types: tuple[TensorType, ...] = (),
    ) -> int:
        """Adds the node; returns its (first) output's value id, the rest follow in order."""
        vid = self.new_value(type)
        extra = tuple((self.new_value(t), t) for t in extra_types)
        self._pending.append(
            PendingNode(op, dict(attrs), inputs, vid, type, path, scope, file, span, weights, extra)
        )
        return vid

    def freeze_since(self, mark: Mark) -> None:
        """Freeze the weights of the nodes added since `mark` (`trainable = false` on the
        application that added them). The nodes are replaced, not changed: a memo's `Delta`
        may share their weights."""
        pending = self._pending
        for i in range(mark.nodes, len(pending)):
            p = pending[i]
            if p.repeat is not None or (p.weights and not all(w.frozen for w in p.weights)):
                pending[i] = p.frozen()

    @property
    def node_count(self) -> int:
        return len(self._pending)

    def parameter_count(self) -> int:
        """Elements of every weight added so far (each node's own: no sharing in the IR)."""
        total = 0
        for p in self._pending:
            if p.repeat is not None:
                total += sum(p.repeat.body.param_counts()) * p.repeat.count
            for w in p.weights:
                n = 1
                for d in w.shape:
                    n *= d
                total += n
        return total

    def name_value(self, vid: int, name: str) -> None:
        self._tensor_names.setdefault(vid, name)
        self._named.append((vid, name))

    def add_output(self, name: str, vid: int) -> None:
        self.graph.outputs.append(GraphOutput(name, vid, self.graph.values[vid]))

    # == deltas =============================================================================
    def mark(self) -> Mark:
        return Mark(
            self._next_value,
            len(self._pending),
            len(self._named),
            len(self._path_log),
            len(self.graph.inputs),
        )

    def since(
        self,
        mark: Mark,
        until: Mark | None = None,
        *,
        inputs: Sequence[int] | None = None,
        prefix: str = "",
        scope: tuple[str, ...] = (),
        below: bool = False,
    ) -> Delta | None:
        """What was added since `mark` (until `until`, or now), relative to it, to `prefix`
        (paths) and to `scope`. `below`: paths may be made anywhere below `prefix`, the top
        level included when it is "" (otherwise only `prefix` itself is allowed there).

        With `inputs`, the values it may use but not make are those (an id < 0 is an index
        into them, the first of equal ids); without, whichever it uses. None when it uses
        another value, or names a path or scope outside `prefix` and `scope`."""
        v0 = mark.values
        end = self.mark() if until is None else until
        outside: dict[int, int] = {}
        if inputs is not None:
            for i, vid in enumerate(inputs):
                outside.setdefault(vid, -1 - i)
        closed = inputs is not None

        def rel(vid: int) -> int:
            if vid >= v0:
                return vid - v0
            r = outside.get(vid)
            if r is None:
                if closed:
                    raise KeyError(vid)
                r = outside[vid] = -1 - len(outside)
            return r

        cut = len(prefix) + 1 if prefix else 0
        under = prefix + "/" if prefix else ""
        depth = len(scope)
        try:
            nodes = []
            for p in self._pending[mark.nodes : end.nodes]:
                path = p.path
                if not path.startswith(under) or p.scope[:depth] != scope:
                    return None
                nodes.append(
                    PendingNode(
                        p.op,
                        p.attrs,
                        tuple(rel(v) for v in p.inputs),
                        rel(p.output),
                        p.type,
                        path[cut:],
                        p.scope[depth:],
                        p.file,
                        p.span,
                        p.weights,
                        tuple((rel(v), t) for v, t in p.extra_outputs),
                        p.repeat,
                    )
                )
            names = tuple((rel(v), n) for v, n in self._named[mark.names : end.names])
            graph_inputs = tuple(
                GraphInput(i.name, rel(i.value), i.type, i.span)
                for i in self.graph.inputs[mark.inputs : end.inputs]
            )
        except KeyError:
            return None
        counts: dict[tuple[str, str], int] = {}
        for used, base, n in self._path_log[mark.paths : end.paths]:
            if used != prefix and not used.startswith(prefix + "/") and not (below and not prefix):
                return None
            key = (used[len(prefix) :], base)
            counts[key] = counts.get(key, 0) + n
        values = self.graph.values
        return Delta(
            tuple(values[v] for v in range(v0, end.values)),
            tuple(inputs) if inputs is not None else tuple(outside),
            graph_inputs,
            tuple(nodes),
            names,
            tuple((p, b, n) for (p, b), n in counts.items()),
        )

    def append(
        self,
        delta: Delta,
        outside: Sequence[int],
        *,
        prefix: str = "",
        scope: tuple[str, ...] = (),
        files: Mapping[str, SourceFile] | None = None,
        move: Callable[[SourceFile | None, Span], Span] | None = None,
    ) -> int:
        """Add `delta` as if its work were done again at `prefix` and `scope`: its own values
        get fresh ids, `outside` gives the ids of the values it used (`Delta.outside`'s
        counterparts). `files` maps a path to its current text; `move` maps a span of a file
        (None: the graph's own, for its inputs) to where an edit has moved it. Returns the id
        of its first own value (see `resolve`)."""
        v0 = self._next_value
        values = self.graph.values
        for i, t in enumerate(delta.values):
            values[v0 + i] = t
        self._next_value = v0 + len(delta.values)
        for gi in delta.inputs:
            span = gi.span if move is None else move(None, gi.span)
            self.graph.inputs.append(
                GraphInput(gi.name, resolve(gi.value, v0, outside), gi.type, span)
            )
        pending = self._pending
        head = prefix + "/" if prefix else ""
        for n in delta.nodes:
            file = n.file if files is None else files.get(n.file.path, n.file)
            pending.append(
                PendingNode(
                    n.op,
                    dict(n.attrs),
                    tuple(v0 + v if v >= 0 else outside[-1 - v] for v in n.inputs),
                    v0 + n.output,
                    n.type,
                    head + n.path,
                    scope + n.scope if scope else n.scope,
                    file,
                    n.span if move is None else move(n.file, n.span),
                    n.weights,
                    tuple((v0 + v, t) for v, t in n.extra_outputs) if n.extra_outputs else (),
                    n.repeat,
                )
            )
        for r, name in delta.names:
            self.name_value(v0 + r if r >= 0 else outside[-1 - r], name)
        counters = self._counters
        log = self._path_log
        for suffix, base, count in delta.paths:
            p = prefix + suffix
            counters[(p, base)] = counters.get((p, base), 0) + count
            self._prefixes.add(p)
            log.append((p, base, count))
        return v0

    def finish(self) -> Graph:
        # `Node` is frozen: its `__init__` sets each field through `object.__setattr__`, which
        # costs more than the rest of building a graph replayed from memoized instances.
        # Filling its `__dict__` gives the same object (all fields set, no `__post_init__`).
        names = self._tensor_names
        nodes = []
        for i, p in enumerate(self._pending):
            node = object.__new__(Node)
            node.__dict__.update(
                id=i,
                op=p.op,
                attrs=p.attrs,
                inputs=p.inputs,
                output=p.output,
                type=p.type,
                path=p.path,
                scope=p.scope,
                tensor_name=names.get(p.output),
                file=p.file,
                span=p.span,
                weights=p.weights,
                extra_outputs=p.extra_outputs,
                repeat=p.repeat,
            )
            nodes.append(node)
        self.graph.nodes = nodes
        return self.graph

    # == collapsed repeats ==================================================================
    def collapse_repeat(
        self,
        mark: Mark,
        inp: int,
        out: int,
        count: int,
        scope: tuple[str, ...],
        block: str,
        remat: bool = False,
    ) -> int | None:
        """Replace the one block instance added since `mark` (from `inp` to `out`, of equal
        types) by a repeat node of `count` instances, and number names as if the other
        `count - 1` had been made. Returns the node's output value; None, changing nothing,
        when what was added is not exactly one instance closed over `inp`."""
        log = self._path_log
        if mark.paths >= len(log) or log[mark.paths][2] != 1:
            return None
        prefix, base, _ = log[mark.paths]
        number = self._counters[(prefix, base)] - 1
        name = base if number == 0 else f"{base}_{number}"
        path = f"{prefix}/{name}" if prefix else name
        after = replace(mark, paths=mark.paths + 1)
        delta = self.since(after, inputs=[inp], prefix=path, scope=(*scope, name))
        if (
            delta is None
            or delta.inputs
            or not delta.nodes
            or out < mark.values
            or (count != 1 and self.graph.values[out] != self.graph.values[inp])
        ):
            return None
        first = delta.nodes[0]
        t_in, t = self.graph.values[inp], self.graph.values[out]
        body = _body_graph(name, delta, out - mark.values, t_in, t, first)
        # Forget the instance: its values, nodes and names now live in the body.
        for vid in range(mark.values, self._next_value):
            self.graph.values.pop(vid, None)
            self._tensor_names.pop(vid, None)
        self._next_value = mark.values
        del self._pending[mark.nodes :]
        del self._named[mark.names :]
        self._counters[(prefix, base)] += count - 1
        if count > 1:
            log.append((prefix, base, count - 1))
        repeat = Repeat(body, count, base, number, block, remat)
        vid = self.new_value(t)
        self._pending.append(
            PendingNode(
                REPEAT, {}, (inp,), vid, t, path, scope, first.file, first.span, (), (), repeat
            )
        )
        return vid

    def collapse_flat(
        self,
        mark: Mark,
        inp: int,
        out: int,
        count: int,
        prefix: str,
        scope: tuple[str, ...],
        block: str,
    ) -> int | None:
        """Replace the first copy of a flat repeat, what was added since `mark` at `prefix`
        (a layer, or a `repeat { ... }` body, from `inp` to `out` of the same type), by a
        repeat node of `count` copies (`Repeat.flat`), and number names as if the other
        `count - 1` copies had been made after it: each base at `prefix` on by as many
        numbers as the first copy took. None, changing nothing, when what was added is not
        closed over `inp`, makes no node, or names something elsewhere."""
        if count < 2 or out < mark.values or self.graph.values[out] != self.graph.values[inp]:
            return None
        under = prefix + "/" if prefix else ""
        entries = self._path_log[mark.paths :]
        per: dict[str, int] = {}
        for used, base, n in entries:
            if used == prefix:
                per[base] = per.get(base, 0) + n
            elif not used.startswith(under):
                return None
        if not per:
            return None
        numbers = {b: self._counters[(prefix, b)] - n for b, n in per.items()}
        names: dict[str, tuple[str, int]] = {}
        first: tuple[str, int] | None = None
        for used, base, n in entries:
            if used == prefix:
                names.setdefault(numbered(base, numbers[base]), (base, numbers[base]))
                first = first or (base, numbers[base])
                numbers[base] += n
        delta = self.since(mark, inputs=[inp], prefix=prefix, scope=scope, below=True)
        if (
            delta is None
            or delta.inputs
            or not delta.nodes
            or any(n.path.partition("/")[0] not in names for n in delta.nodes)
        ):
            return None
        assert first is not None
        base, start = first
        name = numbered(base, start)
        t = self.graph.values[out]
        body = _body_graph(name, delta, out - mark.values, t, t, delta.nodes[0])
        for vid in range(mark.values, self._next_value):
            self.graph.values.pop(vid, None)
            self._tensor_names.pop(vid, None)
        self._next_value = mark.values
        del self._pending[mark.nodes :]
        del self._named[mark.names :]
        for b, n in per.items():
            self._counters[(prefix, b)] += n * (count - 1)
            self._path_log.append((prefix, b, n * (count - 1)))
        repeat = Repeat(
            body,
            count,
            base,
            start,
            block,
            names=tuple((k, b, n) for k, (b, n) in names.items()),
            per=tuple(per.items()),
        )
        vid = self.new_value(t)
        path = f"{under}{name}"
        span = delta.nodes[0].span
        self._pending.append(
            PendingNode(
                REPEAT, {}, (inp,), vid, t, path, scope, delta.nodes[0].file, span, (), (), repeat
            )
        )
        return vid


def _body_graph(
    name: str, delta: Delta, out: int, t_in: TensorType, t: TensorType, first: PendingNode
) -> Graph:
    """One instance's `Delta` as a graph: its own values keep their relative ids, its one
    outside value (the input) takes the next."""
    inp = len(delta.values)

    def fix(v: int) -> int:
        return v if v >= 0 else inp

    graph = Graph(name, {})
    graph.values = dict(enumerate(delta.values))
    graph.values[inp] = t_in
    graph.inputs = [GraphInput("x", inp, t_in, first.span)]
    graph.outputs = [GraphOutput("y", out, t)]
    names = dict(reversed([(fix(v), n) for v, n in delta.names]))
    nodes = []
    for i, p in enumerate(delta.nodes):
        nodes.append(
            Node(
                i,
                p.op,
                p.attrs,
                tuple(fix(v) for v in p.inputs),
                p.output,
                p.type,
                p.path,
                p.scope,
                names.get(p.output),
                p.file,
                p.span,
                p.weights,
                p.extra_outputs,
                p.repeat,
            )
        )
    graph.nodes = nodes
    return graph


def _frozen(graph: Graph) -> Graph:
    """The graph with every weight frozen (`trainable = false` on a repeated block)."""
    nodes = []
    for n in graph.nodes:
        if n.repeat is not None:
            n = replace(n, repeat=replace(n.repeat, body=_frozen(n.repeat.body)))
        elif n.weights:
            n = replace(n, weights=tuple(replace(w, frozen=True) for w in n.weights))
        nodes.append(n)
    return replace(graph, nodes=nodes)
