"""Lowering a collapsed `repeat` node: `jax.lax.scan` over stacked weights, or unrolled.

Weights are named per instance (`res_3/dense/kernel`), as the checker, checkpoints, `init`,
`freeze` and exports address them. Training keeps a scanned repeat's weights *packed* instead,
stacked `[N, ...]` under one key per body layer (`res[64]/dense`, `backend.jax.stacking`),
params, state and optimizer state alike, and converts at its boundaries only; `run_repeat`
takes either form: a packed entry is scanned over as it is (its gradient comes back stacked),
per-instance entries are stacked inside the traced step (their gradients split back into N),
as exports still pass them (predict and evaluate pack saved weights first). A scan traces
and compiles the body once; with packed weights the whole train step is then flat in N
(compile 5.6 s at `repeat 8`, 5.2 s at 64, against 8.8 s and 16.2 s per instance;
bench/README.md, "compile_depth.py").
Unrolled, XLA optimises across copies, which on XLA:CPU runs convolutions much faster.

The rule (`lowering`), overridden by `NNDSL_REPEAT_LOWERING=scan|unroll`:
- unroll a single copy (`remat = true` on one block application);
- scan when unrolling would trace more than `UNROLL_LIMIT` nodes (whatever the platform);
- on XLA:CPU, unroll a body with a convolution (a scanned convolution is several times
  slower there), scan any other body;
- on other platforms (GPU, TPU), scan: the usual choice for deep stacks there.
Random draws are keyed per instance the same way in both lowerings, so they agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from nndsl.ir import Graph, Node
from nndsl.ir.graph import Repeat
from nndsl.shapes import Dim

Tree = dict[str, dict[str, jax.Array]]
Run = Callable[
    [Graph, Tree, Tree, dict[int, jax.Array], Mapping[str, Dim], bool, "jax.Array | None"],
    tuple[list[jax.Array], Tree, jax.Array],
]

LOWERING_ENV = "NNDSL_REPEAT_LOWERING"
UNROLL_LIMIT = 4096  # nodes an unrolled repeat may trace; beyond, it is scanned
_CONV_FAMILIES = frozenset({"conv"})


def lowering(rep: Repeat, platform: str | None = None) -> str:
    """ "scan" or "unroll" for this repeat on `platform` (default: JAX's default backend)."""
    if rep.count == 1:
        return "unroll"
    if rep.count * rep.body.node_total() > UNROLL_LIMIT:
        return "scan"
    forced = os.environ.get(LOWERING_ENV, "").strip().lower()
    if forced in ("scan", "unroll"):
        return forced
    platform = platform or jax.default_backend()
    if platform == "cpu" and any(n.op.family in _CONV_FAMILIES for n in rep.body.walk()):
        return "unroll"
    return "scan"


def _keys(body: Graph) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(params, state) entries of one instance: (path relative to it, weight name)."""
    params: list[tuple[str, str]] = []
    state: list[tuple[str, str]] = []
    for n, w in body.weights():
        (params if w.trainable else state).append((n.path, w.name))
    return params, state


def packed_key(node: Node, rel: str) -> str:
    """The key of a repeat's body layer `rel` with its copies' weights stacked on a leading
    axis (`backend.jax.stacking`): `res[64]/dense`. No node path holds `[`."""
    assert node.repeat is not None
    return f"{node.path}[{node.repeat.count}]/{rel}"


_PACKED = re.compile(r"\[\d+\]/")


def is_packed(path: Any) -> bool:
    """Whether a pytree key path runs through a packed key (`res[64]/dense`): its leaf holds
    a repeat's copies on axis 0, for transforms that treat each weight on its own."""
    return any(isinstance(k, jax.tree_util.DictKey) and _PACKED.search(str(k.key)) for k in path)


def _packed(tree: Tree, node: Node, rel: str, name: str) -> jax.Array | None:
    return tree.get(packed_key(node, rel), {}).get(name)


def _stacked(
    tree: Tree, node: Node, paths: list[dict[str, str]], keys: list[tuple[str, str]]
) -> Tree:
    """The body's weights on a leading axis of copies: a packed entry as it is, else the
    per-copy entries stacked (inside the traced step)."""
    out: Tree = {}
    for rel, name in keys:
        packed = _packed(tree, node, rel, name)
        out.setdefault(rel, {})[name] = (
            packed if packed is not None else jnp.stack([tree[p[rel]][name] for p in paths])
        )
    return out


def _sub(
    tree: Tree, node: Node, i: int, where: dict[str, str], keys: list[tuple[str, str]]
) -> Tree:
    """Copy `i`'s weights, relative to it: from a packed entry (its row `i`) or per copy.
    `where`: copy `i`'s path of each body path (`Node.instance_weight_paths`)."""
    out: Tree = {}
    for rel, name in keys:
        packed = _packed(tree, node, rel, name)
        out.setdefault(rel, {})[name] = packed[i] if packed is not None else tree[where[rel]][name]
    return out


def run_repeat(
    node: Node,
    params: Tree,
    state: Tree,
    new_state: Tree,
    env: Mapping[int, jax.Array],
    sizes: Mapping[str, Dim],
    training: bool,
    key: jax.Array | None,
    run: Run,
) -> tuple[jax.Array, list[jax.Array]]:
    """The repeat's output and added losses; its instances' state updates go to `new_state`."""
    rep = node.repeat
    assert rep is not None
    body = rep.body
    x = env[node.inputs[0]]
    p_keys, s_keys = _keys(body)
    paths = [node.instance_weight_paths(i) for i in range(rep.count)] if p_keys or s_keys else []
    root = None if key is None else jax.random.fold_in(key, node.id)
    first = body.inputs[0].value

    def one(h: jax.Array, p: Tree, s: Tree, i: Any) -> tuple[jax.Array, Tree, jax.Array]:
        k = None if root is None else jax.random.fold_in(root, i)
        outs, ns, loss = run(body, p, s, {first: h}, sizes, training, k)
        return outs[0], ns, loss

    if rep.remat:
        one = jax.checkpoint(one)

    if lowering(rep) == "unroll":
        losses = []
        updates: list[Tree] = []
        for i in range(rep.count):
            p = _sub(params, node, i, paths[i], p_keys) if paths else {}
            s = _sub(state, node, i, paths[i], s_keys) if paths else {}
            x, ns, loss = one(x, p, s, jnp.uint32(i))
            updates.append(ns)
            losses.append(loss)
        for rel, ws in updates[0].items() if updates else ():
            for name in ws:
                if _packed(state, node, rel, name) is not None:  # packed state stays packed
                    stacked = jnp.stack([u[rel][name] for u in updates])
                    new_state.setdefault(packed_key(node, rel), {})[name] = stacked
                else:
                    for i, u in enumerate(updates):
                        new_state.setdefault(paths[i][rel], {})[name] = u[rel][name]
        return x, losses

    def step(carry: tuple[jax.Array, jax.Array], xs: Any) -> tuple[Any, Any]:
        h, i = carry
        p, s = xs if xs is not None else ({}, {})
        h, ns, loss = one(h, p, s, i)
        return (h, i + 1), (ns, loss)

    xs = (
        (_stacked(params, node, paths, p_keys), _stacked(state, node, paths, s_keys))
        if paths
        else None
    )
    (x, _), (ns, scanned) = jax.lax.scan(step, (x, jnp.uint32(0)), xs, length=rep.count)
    for rel, ws in ns.items():
        for name, stacked in ws.items():
            if _packed(state, node, rel, name) is not None:  # packed state stays packed
                new_state.setdefault(packed_key(node, rel), {})[name] = stacked
                continue
            for i, path in enumerate(paths):
                new_state.setdefault(path[rel], {})[name] = stacked[i]
    return x, [jnp.sum(scanned)]
