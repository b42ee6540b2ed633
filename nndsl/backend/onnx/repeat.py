"""Exporting a collapsed `repeat` to ONNX: unrolled copies (the default), or one `Scan` over
stacked weights.

A scanned repeat is one `Scan` node: its state is the block's input, its scan inputs are each
weight of the block stacked over the copies (`[N, ...]` initializers, copy `i` in row `i`, in
ONNX's layout), and its body is the block lowered once. It computes the same as the copies one
after the other (same ops on the same values).

The rule (`form`), overridden by `NNDSL_ONNX_REPEAT=scan|unroll`, from bench/onnx_repeat.py
on ONNX Runtime 1.32, CPU (figures in bench/README.md, "onnx_repeat.py"): **unroll**. Against
the unrolled copies, in two to four runs on a loaded 2-core machine, the `Scan` of a residual dense
block took 1.24-1.40x the time at batch 1 with 8 or 16 copies and 0.8-2.1x (median 1.3x)
with 64, and that of a residual conv block 1.9-13x (batch 1) and 2.7-3x (batch 32): inside a
`Scan` the weights are inputs, not constants, so ONNX Runtime neither prepacks them nor folds
BatchNorm into the Conv before it. A `Loop` that `Gather`s copy `i`'s weights was slower still
(1.6-3.2x at batch 1). What the `Scan` wins is load time: the session was created 2.5-6x
faster with 8-16 copies and 11-43x with 64, and the `.ort` file was smaller (the weights are
the same bytes either way; 312 KB against 659 KB for 64 conv blocks). Inference speed decides
the default; the `Scan` is there for deep stacks whose load time matters more
(`NNDSL_ONNX_REPEAT=scan`).
Never scanned, whatever the setting: a single copy, a block without weights (nothing to stack;
`Scan` needs a scan input to know its length) and a block with a recurrent layer (its lowering
is a `Scan` of its own, whose per-copy tensors could not be stacked). The `.ort` converter
takes the `Scan` and ONNX Runtime runs the `.ort` file (`nnrun export --format ort`;
tests/export/test_repeat.py). Not tested here: ONNX Runtime Mobile and onnxruntime-web (wasm)
ship the CPU `Scan` kernel, but a reduced-operator Mobile build must include it, and GPU
backends (WebGPU) run a control-flow body iteration by iteration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from onnx import helper

from nndsl.backend.onnx.builder import OnnxGraph, value_info
from nndsl.backend.onnx.registry import Unsupported
from nndsl.ir import Graph, Node
from nndsl.ir.graph import Repeat

FORM_ENV = "NNDSL_ONNX_REPEAT"

Weights = Mapping[str, Mapping[str, Any]]
# Lowers nodes into a builder: (builder, graph of the nodes' values, nodes, value id -> ONNX
# name (updated), weights by node path, the prefix of the nodes' paths) -> problems.
LowerNodes = Callable[[OnnxGraph, Graph, list[Node], dict[int, str], Weights, str], list[Any]]


# Ops whose lowering builds its own subgraph (a recurrent layer's `Scan` over time): their
# per-copy tensors would sit inside that subgraph, so a block holding one is unrolled.
_SUBGRAPH_FAMILIES = frozenset({"recurrent"})


def form(rep: Repeat) -> str:
    """ "scan" or "unroll" for this repeat in an ONNX export."""
    if rep.count == 1 or not rep.body.has_weights():
        return "unroll"
    if rep.flat:  # copies numbered on (`dense_3`), not in folders: the scan's prefixes do not apply
        return "unroll"
    if any(n.op.family in _SUBGRAPH_FAMILIES for n in rep.body.walk()):
        return "unroll"
    forced = os.environ.get(FORM_ENV, "").strip().lower()
    return "scan" if forced == "scan" else "unroll"


class _Body(OnnxGraph):
    """A repeat's body under construction. Every `initializer` a lowering asks for is per copy
    (a weight, or a table derived from one): it is recorded here and becomes a scan input.
    Shared constants (`const`, `ints`, `scalar`) go to the outer graph, which the body reads
    by name. With `names_of` another builder's name set, it lowers a copy only to collect
    its tensors (its nodes are dropped; its names never reach the model)."""

    def __init__(self, outer: OnnxGraph, *, collect_only: bool) -> None:
        super().__init__(dry_run=outer.dry_run)
        self.outer = outer
        self._taken = set(outer._taken) if collect_only else outer._taken
        self.tensors: list[tuple[str, np.ndarray]] = []

    def initializer(self, array: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.tensors.append((name, array))
        return name

    def const(self, value: Any, dtype: str | np.dtype[Any] = "float32") -> str:
        return self.outer.const(value, dtype)

    def subgraph(self) -> OnnxGraph:
        # a nested body would store its per-copy tensors where no copy could stack them
        raise Unsupported("a layer with its own ONNX subgraph cannot sit in a scanned repeat")


def lower_scan(
    g: OnnxGraph,
    node: Node,
    carry: str,
    weights: Weights,
    lower_nodes: LowerNodes,
) -> tuple[str, list[Any]]:
    """The repeat `node` as one `Scan` on `carry` (the ONNX name of its input): (the name of
    its result, problems). Problems are the body's (reported once, not per copy)."""
    rep = node.repeat
    assert rep is not None
    body_graph = rep.body.unrolled()  # a nested repeat is unrolled inside the body
    head = node.path.rpartition("/")[0]

    def lower_copy(b: _Body, i: int) -> tuple[str | None, list[Any]]:
        prefix = f"{head}/{rep.name(i)}" if head else rep.name(i)
        env = {body_graph.inputs[0].value: state}
        problems = lower_nodes(b, body_graph, body_graph.nodes, env, weights, prefix)
        return env.get(body_graph.outputs[0].value), problems

    body = _Body(g, collect_only=False)
    state = body.fresh(f"{node.path}/state")
    out, problems = lower_copy(body, 0)
    if problems or out is None:
        return carry, problems
    per_copy = [[a for _, a in body.tensors]]
    if not g.dry_run:  # the other copies' tensors, in the same order (placeholders: skip)
        for i in range(1, rep.count):
            other = _Body(g, collect_only=True)
            lower_copy(other, i)
            arrays = [a for _, a in other.tensors]
            shapes = [np.shape(a) for a in arrays]
            if shapes != [np.shape(a) for a in per_copy[0]]:
                raise Unsupported(f"copy {i} of the repeat lowers to other weight shapes")
            per_copy.append(arrays)
    out = body.op("Identity", [out], f"{node.path}/out")  # never the state's own name
    in_type = body_graph.inputs[0].type
    scan_inputs = []
    slices = []
    for k, (name, first) in enumerate(body.tensors):
        stacked = first if g.dry_run else np.stack([np.asarray(c[k]) for c in per_copy])
        scan_inputs.append(g.initializer(stacked, f"{node.path}/stacked/{name}"))
        array = np.asarray(first)
        slices.append(helper.make_tensor_value_info(name, _onnx_type(array), list(array.shape)))
    graph = helper.make_graph(
        body.nodes,
        f"{node.path}/body",
        [value_info(state, in_type), *slices],
        [value_info(out, body_graph.outputs[0].type)],
    )
    result = g.op(
        "Scan", [carry, *scan_inputs], node.path, body=graph, num_scan_inputs=len(scan_inputs)
    )
    return result, []


def _onnx_type(array: np.ndarray) -> int:
    return int(helper.np_dtype_to_tensor_dtype(array.dtype))
