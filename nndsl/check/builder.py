"""Builds one IR graph: value ids, unique stable paths, nodes in topological order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from nndsl.ir import Graph, GraphInput, GraphOutput, Node, Weight
from nndsl.ops import ArgValue, OpSpec
from nndsl.shapes import TensorType
from nndsl.source import SourceFile, Span


@lru_cache(maxsize=4096)  # once per op or block name, not per node (two regex passes)
def snake(name: str) -> str:
    """`Conv2D` -> `conv2d`, `MaxPool2D` -> `max_pool2d`, `MLPBlock` -> `mlp_block`."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)
    return s.lower()


class GraphBuilder:
    def __init__(self, name: str, args: dict[str, ArgValue]) -> None:
        self.graph = Graph(name, args)
        self._next_value = 0
        self._counters: dict[tuple[str, str], int] = {}
        self._tensor_names: dict[int, str] = {}
        self._pending: list[dict[str, object]] = []
        # Logs for recording block instances (`nndsl.check.memo`): every prefix given to
        # `unique_path`, its calls in order, and every `name_value` call.
        self.prefixes: set[str] = set()
        self.path_log: list[tuple[str, str]] = []
        self.named: list[tuple[int, str]] = []

    def new_value(self, type: TensorType) -> int:
        vid = self._next_value
        self._next_value += 1
        self.graph.values[vid] = type
        return vid

    def unique_path(self, prefix: str, base: str) -> str:
        count = self._counters.get((prefix, base), 0)
        self._counters[(prefix, base)] = count + 1
        self.prefixes.add(prefix)
        self.path_log.append((prefix, base))
        name = base if count == 0 else f"{base}_{count}"
        return f"{prefix}/{name}" if prefix else name

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
            dict(
                id=len(self._pending),
                op=op,
                attrs=dict(attrs),
                inputs=inputs,
                output=vid,
                type=type,
                path=path,
                scope=scope,
                file=file,
                span=span,
                weights=weights,
                extra_outputs=extra,
            )
        )
        return vid

    @property
    def node_count(self) -> int:
        return len(self._pending)

    def parameter_count(self) -> int:
        """Elements of every weight added so far (each node's own: no sharing in the IR)."""
        total = 0
        for p in self._pending:
            for w in p["weights"]:  # type: ignore[attr-defined]
                n = 1
                for d in w.shape:
                    n *= d
                total += n
        return total

    def name_value(self, vid: int, name: str) -> None:
        self._tensor_names.setdefault(vid, name)
        self.named.append((vid, name))

    def add_output(self, name: str, vid: int) -> None:
        self.graph.outputs.append(GraphOutput(name, vid, self.graph.values[vid]))

    def finish(self) -> Graph:
        # `Node` is frozen: its `__init__` sets each field through `object.__setattr__`, which
        # costs more than the rest of building a graph replayed from memoized instances.
        # Filling its `__dict__` gives the same object (all fields set, no `__post_init__`).
        names = self._tensor_names
        nodes = []
        for p in self._pending:
            node = object.__new__(Node)
            fields = node.__dict__
            fields.update(p)
            fields["tensor_name"] = names.get(p["output"])  # type: ignore[call-overload]
            nodes.append(node)
        self.graph.nodes = nodes
        return self.graph
