"""Helpers for the stdlib tests: check a stdlib model in a wrapper, count Keras parameters,
read block output shapes from a graph, and compare a forward pass with Keras's.

Weights are copied from Keras in creation order (layer by layer, each layer's variables in
order), checking that every pair has the same shape and the same variable name; the stdlib
models build their layers in Keras's order so that this lines up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import numpy as np

from nndsl.backend.jax import compile_graph
from nndsl.frontend import check_source
from nndsl.ir import Graph

Shape = tuple[int | None, ...]


def _literal(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def probe(module: str, call: str, input_type: str, **params: object) -> Graph:
    """`import std.<module>` and apply `call(params)` to one input: the checked graph.

    The source must check without any diagnostic (warnings included)."""
    args = ", ".join(f"{k} = {_literal(v)}" for k, v in params.items())
    source = (
        f"import std.{module}\n\n"
        "model Probe() {\n"
        f"    input x: {input_type}\n"
        f"    return x |> {call}({args})\n"
        "}\n"
    )
    result = check_source(source, "probe.nn")
    assert not result.diagnostics, (
        "\n".join(f"{d.code} {d.message}" for d in result.diagnostics) + "\n" + source
    )
    graph = result.graph("Probe")
    assert graph is not None
    return graph


def keras_counts(model: Any) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts of a Keras model."""
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    frozen = sum(math.prod(v.shape) for v in model.non_trainable_weights)
    return trainable, frozen


def dims(shape: Any) -> Shape:
    """A shape as ints, symbolic dims (the checker's `B`, Keras's batch) as None."""
    return tuple(d if d is None or isinstance(d, int) else d.as_int() for d in shape)


def block_outputs(graph: Graph, depth: int) -> dict[str, Shape]:
    """Output shape of each block instance `depth` levels down (0: the model), in order.

    A block's output is the last node built in its scope."""
    out: dict[str, Shape] = {}
    for node in graph.nodes:
        if len(node.scope) > depth:
            out[node.scope[depth]] = dims(node.type.shape)
    return out


# Turns a Keras variable (path, value) into the nndsl weight it stands for: (name, value).
Convert = Callable[[str, np.ndarray], tuple[str, np.ndarray]]


class Namer:
    """Layer names in creation order (`w0000`, `w0001`, ...), for `forward_parity(by_name)`."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"w{self.count:04d}"


def forward_parity(
    graph: Graph,
    kmodel: Any,
    x: np.ndarray,
    *,
    atol: float = 1e-4,
    training: bool = False,
    convert: Convert | None = None,
    by_name: bool = False,
) -> np.ndarray:
    """Copy `kmodel`'s weights into the compiled graph in order; compare outputs.

    The order is `kmodel.layers` (topological), or with `by_name` the layers' names: the
    references built here name their layers with `Namer` in creation order."""
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    nn_weights = list(graph.weights())  # a repeat's per copy, in order
    k_layers = [layer for layer in kmodel.layers if layer.weights]
    if by_name:
        k_layers.sort(key=lambda layer: layer.name)
    k_vars = [v for layer in k_layers for v in layer.weights]
    assert len(nn_weights) == len(k_vars), f"{len(nn_weights)} nndsl vs {len(k_vars)} Keras"
    for (node, w), v in zip(nn_weights, k_vars, strict=True):
        kname, value = v.path.rsplit("/", 1)[-1], np.asarray(v.value)
        if convert is not None:
            kname, value = convert(v.path, value)
        assert w.name.rsplit(".", 1)[-1] == kname, f"{node.path}.{w.name} vs {v.path}"
        assert tuple(w.shape) == value.shape, f"{node.path}.{w.name} {w.shape} vs {v.path}"
        assert w.trainable == v.trainable, f"{node.path}.{w.name} trainable differs"
        tree = params if w.trainable else state
        tree[node.path][w.name] = jax.numpy.asarray(value)
    with jax.default_matmul_precision("highest"):
        (out,), _ = model.apply(params, state, [x], training=training, key=None)
        expected = np.asarray(kmodel(x, training=training))
    got = np.asarray(out)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-4)
    return got
