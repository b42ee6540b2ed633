"""A scanned `repeat`'s weights kept stacked `[N, ...]` in the runtime trees (issue 17).

The checker, checkpoint files, `init`, `freeze`, exports and summaries name a repeat's weights
per copy (`res_3/dense` -> `kernel`). Training keeps them so only at its boundaries: inside
the loop each scanned repeat's weights are *packed*, one entry per body layer holding the N
copies on a leading axis, under the key `packed_key(node, rel)`:

    res[64]/dense -> {"kernel": f32[64, 64, 64], "bias": f32[64, 64]}

(`[`, `]` never occur in a node path, so a packed key cannot name a real layer). The train
step then scans over those arrays as they are, their gradients come back stacked and the
optimizer updates one leaf per body weight, so the compiled step no longer grows with N (the
per-copy layout stacked N leaves and split N gradients back in every step).

`pack` and `unpack` convert a weight tree (`dict[path] -> dict[name] -> leaf`); `pack_all`
and `unpack_all` every weight tree inside any pytree (the optimizer state's moments and EMA,
`(params, state)` pairs). Both are exact (stacking and indexing copy bits; on the host when every
piece of the arrays is here, else on the device), so a checkpoint
written from a packed run holds what an unpacked run would have written, and an old
checkpoint restores into a packed run unchanged. `CompiledModel.apply` takes either form
(`repeat.run_repeat` reads packed entries when present), so exports keep working on per-copy
trees; `predict` and `evaluate` pack the saved per-copy weights once on the host
(`runtime.predict.packed_weights`), so their jitted inference is flat in N as well.

What is packed (`plan`): a repeat node at the graph's top level, of more than one copy, whose
body has weights and which `repeat.lowering` scans. Unrolled repeats (XLA:CPU, a body with a
convolution) stay per copy: their program has a node per copy anyway, and slicing a stacked
array per copy would only add work. A repeat whose copies a `freeze` pattern matches was
already unrolled by the checker (`check.finetune`), so the copies of a packed repeat are
always frozen alike (`trainable = false` in the block: the stacked weight takes its body
weight's label, `training.frozen_masked`). A `distribute` layout that gives the copies
different specs keeps that repeat per copy (`exclude`, `runtime.distribute.Layout.unstacked`);
otherwise a stacked weight's spec is a copy's behind `None`. Under Adafactor, whose moments
are factored by each weight's shape, the runtime packs nothing (`PER_COPY_OPTIMIZERS`); the
norms taken per weight elsewhere (`clipnorm`, LAMB's trust ratio: `impls.optimizers.per_copy`;
regularizers and constraints: `CompiledModel.penalty`, `constrain`) are taken per copy of a
stacked weight (`repeat.is_packed` tells its key path). A repeat inside a repeated block is
stacked per step inside the scan body, as before (the outer scan traces that body once).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndsl.backend.jax.repeat import lowering, packed_key
from nndsl.ir import Graph, Node
from nndsl.ir.graph import Weight

Tree = dict[str, dict[str, Any]]


def _body_layers(node: Node) -> list[tuple[str, list[Weight]]]:
    """(relative path, weights) of each body layer with weights, in the body's order."""
    assert node.repeat is not None
    layers: dict[str, list[Weight]] = {}
    for inner, w in node.repeat.body.weights():
        layers.setdefault(inner.path, []).append(w)
    return list(layers.items())


def copy_paths(node: Node) -> list[dict[str, str]]:
    """Each copy's path of each body layer with weights (`Node.instance_weight_paths`): a
    block repeat's copies sit in folders (`res_3/dense`), a flat one's are numbered on
    (`dense_3`)."""
    assert node.repeat is not None
    return [node.instance_weight_paths(i) for i in range(node.repeat.count)]


def repeats(graph: Graph) -> Iterator[Node]:
    """The top-level repeat nodes whose copies have weights."""
    for node in graph.nodes:
        rep = node.repeat
        if rep is not None and rep.count > 1 and rep.body.has_weights():
            yield node


def plan(graph: Graph, exclude: Collection[int] = ()) -> list[Node]:
    """The repeat nodes `pack` packs: scanned ones, less those of `exclude` (node ids)."""
    return [
        n
        for n in repeats(graph)
        if n.id not in exclude and n.repeat is not None and lowering(n.repeat) == "scan"
    ]


def _on_host(leaf: Any) -> bool:
    """Whether `leaf` can be read whole into host memory here (numpy, or a jax array every
    piece of which this process holds): then stacking and splitting are numpy's, a copy or
    a view, with no XLA program (an eager `jnp.stack` of 64 arrays compiles one)."""
    if isinstance(leaf, np.ndarray):
        return True
    if isinstance(leaf, jax.core.Tracer) or not isinstance(leaf, jax.Array):
        return False
    return bool(leaf.is_fully_addressable)


def _stack(leaves: list[Any]) -> Any:
    if all(isinstance(v, optax.MaskedNode) for v in leaves):
        return leaves[0]  # a frozen weight's empty optimizer state, the same for every copy
    if all(_on_host(v) for v in leaves):
        return jnp.asarray(np.stack([np.asarray(v) for v in leaves]))
    return jnp.stack(leaves)


def _split(leaf: Any, n: int) -> list[Any]:
    """The `n` copies of a stacked leaf: numpy views of it read once onto the host (a
    boundary: checkpoints and saved weights go there anyway), else indexed on the device."""
    if isinstance(leaf, optax.MaskedNode):
        return [leaf] * n
    if _on_host(leaf):
        host = np.asarray(leaf)
        return [host[i] for i in range(n)]
    return [leaf[i] for i in range(n)]


def pack(graph: Graph, tree: Tree, nodes: Collection[Node] | None = None) -> Tree:
    """`tree` with the per-copy entries of the repeats `nodes` (default: `plan(graph)`)
    stacked under their packed keys. A body weight not present for every copy (the state
    tree has no parameters) stays as it is."""
    nodes = plan(graph) if nodes is None else nodes
    if not nodes:
        return tree
    out: Tree = {path: dict(ws) for path, ws in tree.items()}
    for node in nodes:
        where = copy_paths(node)
        for rel, weights in _body_layers(node):
            rows = [w[rel] for w in where]
            for w in weights:
                if not all(w.name in tree.get(r, {}) for r in rows):
                    continue
                out.setdefault(packed_key(node, rel), {})[w.name] = _stack(
                    [tree[r][w.name] for r in rows]
                )
                for r in rows:
                    del out[r][w.name]
            for r in rows:
                if r in out and not out[r]:
                    del out[r]
    return out


def packed_nodes(graph: Graph, tree: Tree) -> list[Node]:
    """The repeat nodes with a packed entry in `tree`."""
    return [
        n for n in repeats(graph) if any(packed_key(n, rel) in tree for rel, _ in _body_layers(n))
    ]


def unpack(graph: Graph, tree: Tree) -> Tree:
    """`tree` with every packed entry split back into per-copy entries (exact)."""
    nodes = packed_nodes(graph, tree)
    if not nodes:
        return tree
    out: Tree = {path: dict(ws) for path, ws in tree.items()}
    for node in nodes:
        where = copy_paths(node)
        for rel, _ in _body_layers(node):
            key = packed_key(node, rel)
            stacked = out.pop(key, None)
            if stacked is None:
                continue
            for name, leaf in stacked.items():
                for w, copy in zip(where, _split(leaf, len(where)), strict=True):
                    out.setdefault(w[rel], {})[name] = copy
    return out


def _is_weight_tree(keys: Collection[str]) -> Callable[[Any], bool]:
    def check(x: Any) -> bool:
        return (
            isinstance(x, dict)
            and bool(x)
            and all(isinstance(v, dict) for v in x.values())
            and any(k in keys for k in x)
        )

    return check


def _copy_paths(nodes: Collection[Node]) -> set[str]:
    return {path for n in nodes for where in copy_paths(n) for path in where.values()}


def _packed_paths(nodes: Collection[Node]) -> set[str]:
    return {packed_key(n, rel) for n in nodes for rel, _ in _body_layers(n)}


def pack_all(graph: Graph, tree: Any, nodes: Collection[Node] | None = None) -> Any:
    """`pack` applied to every weight tree inside `tree` (optimizer state, tuples of trees)."""
    nodes = plan(graph) if nodes is None else nodes
    if not nodes:
        return tree
    found = _is_weight_tree(_copy_paths(nodes))
    return jax.tree.map(lambda t: pack(graph, t, nodes) if found(t) else t, tree, is_leaf=found)


def unpack_all(graph: Graph, tree: Any) -> Any:
    """`unpack` applied to every weight tree inside `tree`."""
    every = list(repeats(graph))
    if not every:
        return tree
    found = _is_weight_tree(_packed_paths(every))
    return jax.tree.map(lambda t: unpack(graph, t) if found(t) else t, tree, is_leaf=found)


def packed_like(graph: Graph, template: Any) -> list[Node]:
    """The repeats packed in the first weight tree of `template` that has any (none if
    `template` has none): to pack a restored tree as the run it continues."""
    every = list(repeats(graph))
    found = _is_weight_tree(_packed_paths(every))
    for t in jax.tree.leaves(template, is_leaf=found):
        if found(t):
            return packed_nodes(graph, t)
    return []


def weight_index(graph: Graph) -> dict[tuple[str, str], tuple[Weight, bool]]:
    """(path, name) -> (weight, stacked) for every per-copy entry and every packed one: what
    a params tree of either form holds. Linear in the copies, as `Graph.weights`."""
    index: dict[tuple[str, str], tuple[Weight, bool]] = {
        (node.path, w.name): (w, False) for node, w in graph.weights()
    }
    for node in repeats(graph):
        for rel, weights in _body_layers(node):
            for w in weights:
                index[(packed_key(node, rel), w.name)] = (w, True)
    return index


__all__ = [
    "pack",
    "pack_all",
    "packed_key",
    "packed_like",
    "packed_nodes",
    "plan",
    "repeats",
    "unpack",
    "unpack_all",
    "weight_index",
]
