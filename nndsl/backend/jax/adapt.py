"""Adapting preprocessing state from the training data before training (Keras's `adapt()`).

A spec that declares `adapts = True` and has state (e.g. `Normalization` without `mean` and
`variance`) gets that state computed here: the graph runs up to the layer on the training
inputs (batched, jitted, in inference mode) and the values reaching the layer feed its
statistics. Layers are adapted in graph order, so a layer after another adapted one sees the
adapted output. `nndsl.runtime.train.fit` calls `adapt_state` once before the first step, and
checkpoints save the result with the rest of the state, so `nnrun predict` and
`load_weights(...)` users get it back. Code that builds state with `model.init` and applies the
model itself must call `adapt_state` first: until then adapted statistics are NaN, never a
silent identity (`unadapted` lists such layers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import jax
import numpy as np

from nndsl.backend.jax.compile import CompiledModel, Tree
from nndsl.ir import Graph, GraphOutput, Node
from nndsl.ops.preprocessing import kept_axes


class MomentStats:
    """Mean and variance over the reduced axes, merged batch by batch in float64 (Chan et
    al.'s update), equal to `numpy.mean`/`numpy.var` over all the data at once."""

    def __init__(self, node: Node) -> None:
        rank = node.type.rank
        self.kept = kept_axes(node.attrs["axis"], rank)
        self.reduce = tuple(d for d in range(rank) if d not in self.kept)
        self.count = 0
        self.mean: np.ndarray | float = 0.0
        self.m2: np.ndarray | float = 0.0

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        n = int(np.prod([x.shape[d] for d in self.reduce])) if self.reduce else 1
        if n == 0:
            return
        mean = x.mean(axis=self.reduce)
        m2 = ((x - np.expand_dims(mean, self.reduce)) ** 2).sum(axis=self.reduce)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def result(self) -> dict[str, np.ndarray]:
        if self.count == 0:
            raise ValueError("no training data reached the layer")
        return {
            "mean": np.asarray(self.mean, np.float32),
            "variance": np.asarray(np.asarray(self.m2) / self.count, np.float32),
            "count": np.asarray(min(self.count, np.iinfo(np.int32).max), np.int32),
        }


# Statistics per adapting spec name.
ADAPTERS: dict[str, Callable[[Node], MomentStats]] = {"Normalization": MomentStats}


def adapting_nodes(graph: Graph) -> list[Node]:
    """The nodes whose state comes from the data: specs that adapt, with state to fill."""
    return [
        n
        for n in graph.nodes
        if getattr(n.op, "adapts", False) and any(not w.trainable for w in n.weights)
    ]


def _prefix(graph: Graph, node: Node) -> CompiledModel:
    """The graph up to `node`, returning the value that `node` receives."""
    index = graph.nodes.index(node)
    value = node.inputs[0]
    out = GraphOutput("adapt_input", value, graph.values[value])
    return CompiledModel(replace(graph, nodes=graph.nodes[:index], outputs=[out]))


def _batches(inputs: Sequence[np.ndarray], batch: int) -> Iterator[tuple[list[np.ndarray], int]]:
    """Fixed-size batches (one compile), the last one zero-padded; with the count of real rows."""
    n = len(inputs[0])
    for start in range(0, n, batch):
        part = [x[start : start + batch] for x in inputs]
        real = len(part[0])
        if real < batch:
            part = [
                np.concatenate([p, np.zeros((batch - real, *p.shape[1:]), p.dtype)]) for p in part
            ]
        yield part, real


def adapt_state(
    model: CompiledModel, params: Tree, state: Tree, inputs: Sequence[np.ndarray], batch: int = 256
) -> Tree:
    """`state` with every adapting layer's statistics computed from `inputs` (the training
    inputs, in the model's input order); layers with nothing to adapt are left alone."""
    nodes = adapting_nodes(model.graph)
    if not nodes:
        return state
    if not inputs or len(inputs[0]) == 0:
        raise ValueError("adapting preprocessing layers needs training data, found none")
    state = {path: dict(ws) for path, ws in state.items()}
    batch = max(1, min(batch, len(inputs[0])))
    for node in nodes:
        prefix = _prefix(model.graph, node)
        run = jax.jit(lambda p, s, xs, m=prefix: m.apply(p, s, xs, training=False)[0][0])
        stats = ADAPTERS[node.op.name](node)
        for part, real in _batches(inputs, batch):
            stats.update(np.asarray(run(params, state, part))[:real])
        state[node.path] = {
            **state.get(node.path, {}),
            **{k: jax.numpy.asarray(v) for k, v in stats.result().items()},
        }
    return state


def unadapted(graph: Graph, state: Tree) -> list[str]:
    """Paths of adapting layers whose statistics were never computed (still NaN)."""
    out = []
    for node in adapting_nodes(graph):
        mean = state.get(node.path, {}).get("mean")
        if mean is not None and bool(np.isnan(np.asarray(mean)).any()):
            out.append(node.path)
    return out
