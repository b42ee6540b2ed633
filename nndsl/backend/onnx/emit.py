"""Checked IR graph -> ONNX model, and the exportability check that runs before any weight.

Graph inputs and outputs keep the `.nn` names; symbolic dims (`B`, `T`) stay dynamic, named
after their symbols. Weights are converted to ONNX's layouts by the lowerings, at export time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

import nndsl
from nndsl.backend.onnx.builder import IR_VERSION, OPSET, OnnxGraph, value_info
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering_of
from nndsl.backend.onnx.repeat import form, lower_scan
from nndsl.diagnostics import Diagnostic, Label
from nndsl.ir import Graph, Node
from nndsl.limits import MAX_GRAPH_NODES

Weights = Mapping[str, Mapping[str, Any]]  # node path -> weight name -> array


class ExportError(Exception):
    """The graph cannot be exported; `diagnostics` say where and why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


@dataclass
class _Emitted:
    model: onnx.ModelProto | None
    problems: list[Diagnostic]


def _problem(node: Node, message: str) -> Diagnostic:
    return Diagnostic(
        code="E0701",
        message=message,
        primary=Label(node.span, "cannot be exported to ONNX"),
        file=node.file,
        help="`nnrun explain E0701` lists what ONNX export supports",
    )


def _placeholders(graph: Graph) -> dict[str, dict[str, np.ndarray]]:
    """Every weight as a read-only zero view of its shape: no memory, no file read."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for node, w in graph.weights():
        zero = np.zeros((), dtype=w.dtype.numpy_name)
        out.setdefault(node.path, {})[w.name] = np.broadcast_to(zero, w.shape)
    return out


def _lower_nodes(
    g: OnnxGraph,
    graph: Graph,
    nodes: list[Node],
    env: dict[int, str],
    weights: Weights,
    prefix: str = "",
) -> list[Diagnostic]:
    """Lower `nodes` (of `graph`) into `g`, naming each result in `env`; the problems. Node
    paths are relative to `prefix` (a repeat's copy, for its body's nodes)."""
    problems: list[Diagnostic] = []
    for node in nodes:
        path = f"{prefix}/{node.path}" if prefix and node.path else prefix or node.path
        if any(v not in env for v in node.inputs):
            continue  # an input failed to lower: reported there already
        if node.repeat is not None:  # kept collapsed by `repeat.form`: one `Scan`
            try:
                out, inner = lower_scan(g, node, env[node.inputs[0]], weights, _lower_nodes)
            except Unsupported as why:
                problems.append(_problem(node, f"`repeat` cannot be exported to ONNX: {why}"))
                continue
            problems += inner
            if not inner:
                env[node.output] = out
            continue
        lower = lowering_of(node.op)
        if lower is None:
            problems.append(_problem(node, f"`{node.op.name}` has no ONNX lowering"))
            continue
        call = LowerCall(
            g=g,
            attrs=node.attrs,
            inputs=[env[v] for v in node.inputs],
            types=[graph.values[v] for v in node.inputs],
            outputs=list(node.output_types),
            weights=weights.get(path, {}),
            path=path,
        )
        try:
            result = lower(call)
        except Unsupported as why:
            problems.append(_problem(node, f"`{node.op.name}` cannot be exported to ONNX: {why}"))
            continue
        names = (result,) if isinstance(result, str) else result
        for vid, name in zip(node.output_ids, names, strict=True):
            env[vid] = name
    return problems


def _emit(graph: Graph, weights: Weights, *, dry_run: bool = False) -> _Emitted:
    # A repeat is exported as its copies, one after the other (what ONNX Runtime runs
    # fastest), or as one `Scan` over their stacked weights (`NNDSL_ONNX_REPEAT=scan`: faster
    # to load), as `repeat.form` says (figures in bench/README.md, "onnx_repeat.py"); the
    # checker's budgets bound the number of copies.
    if graph.node_total() > MAX_GRAPH_NODES:
        node = next(n for n in graph.nodes if n.repeat is not None)
        message = f"the model unrolls to {graph.node_total():,} layers, over {MAX_GRAPH_NODES:,}"
        return _Emitted(None, [_problem(node, message)])
    unroll = [n.id for n in graph.nodes if n.repeat is not None and form(n.repeat) == "unroll"]
    graph = graph.unrolled(only=unroll)
    g = OnnxGraph(dry_run=dry_run)
    env: dict[int, str] = {}
    for i in graph.inputs:
        g.reserve(i.name)
        env[i.value] = i.name
    for o in graph.outputs:
        if o.name not in {i.name for i in graph.inputs}:
            g.reserve(o.name)
    problems: list[Diagnostic] = _shadowed_inputs(graph)
    problems += _lower_nodes(g, graph, graph.nodes, env, weights)
    if problems or dry_run:
        return _Emitted(None, problems)
    outputs = []
    for o in graph.outputs:
        if env[o.value] != o.name:  # an input returned as it is is already named so
            g.nodes.append(helper.make_node("Identity", [env[o.value]], [o.name], name=o.name))
        outputs.append(value_info(o.name, o.type))
    onnx_graph = helper.make_graph(
        g.nodes,
        graph.name,
        [value_info(i.name, i.type) for i in graph.inputs],
        outputs,
        initializer=g.initializers,
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="nndsl",
        producer_version=nndsl.__version__,
        ir_version=IR_VERSION,
    )
    return _Emitted(model, [])


def _shadowed_inputs(graph: Graph) -> list[Diagnostic]:
    """An output named as an input but holding another value (`a = a |> Dense(4)`, then
    `return a`): ONNX names every value once, so the two cannot both keep the `.nn` name."""
    inputs = {i.name: i.value for i in graph.inputs}
    producer = {vid: node for node in graph.nodes for vid in node.output_ids}
    out = []
    for o in graph.outputs:
        if o.name in inputs and inputs[o.name] != o.value and o.value in producer:
            node = producer[o.value]
            out.append(
                Diagnostic(
                    code="E0701",
                    message=f"output `{o.name}` has the name of an input but another value; "
                    "ONNX gives each name one value",
                    primary=Label(node.span, f"the returned `{o.name}` is computed here"),
                    file=node.file,
                    help=f"bind the result to a new name (`{o.name}_out = ...`) and return that",
                )
            )
    return out


def check_exportable(graph: Graph) -> list[Diagnostic]:
    """Diagnostics for every layer that ONNX cannot express; reads no weight."""
    return _emit(graph, _placeholders(graph), dry_run=True).problems


def export_onnx(
    graph: Graph,
    params: Weights,
    state: Weights,
    *,
    metadata: Mapping[str, str] | None = None,
) -> onnx.ModelProto:
    """The ONNX model of `graph` with these weights; `ExportError` if a layer cannot be
    expressed. `metadata` goes into `metadata_props` (class names, vocabulary, ...)."""
    weights: dict[str, dict[str, np.ndarray]] = {}
    for tree in (params, state):
        for path, ws in tree.items():
            weights.setdefault(path, {}).update({k: np.asarray(v) for k, v in ws.items()})
    emitted = _emit(graph, weights)
    if emitted.model is None:
        raise ExportError(emitted.problems)
    if metadata:
        helper.set_model_props(emitted.model, dict(metadata))
    return emitted.model
