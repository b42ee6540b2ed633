"""StableHLO artefacts with `jax.export`: the model's inference function, serialized.

The batch axis and every other symbolic dim (`B`, `T`) stay symbolic (shape polymorphism),
named after the `.nn` symbols. Weights are either baked into the artefact as constants, or
kept outside it: then the function takes a flat `{"path/weight": array}` dict first, which
is exactly what `safetensors.numpy.load_file` returns for the checkpoint written beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax import export as jax_export

from nndsl.backend.jax.compile import Tree, compile_graph
from nndsl.ir import Graph

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


@dataclass(frozen=True)
class StableHLO:
    """The serialized artefact and what a consumer needs to call it."""

    blob: bytes
    platforms: tuple[str, ...]
    weights: dict[str, np.ndarray] | None  # the separate weights, flat, or None when baked
    exported: jax_export.Exported


def flat_weights(params: Tree, state: Tree) -> dict[str, np.ndarray]:
    """`{"path/weight": array}`, the checkpoint's own keys."""
    return {
        f"{path}/{name}": np.asarray(value)
        for tree in (params, state)
        for path, ws in tree.items()
        for name, value in ws.items()
    }


def _split(flat: dict[str, Any], params: Tree) -> tuple[Tree, Tree]:
    p: Tree = {}
    s: Tree = {}
    for key, value in flat.items():
        path, name = key.rsplit("/", 1)
        (p if name in params.get(path, {}) else s).setdefault(path, {})[name] = value
    return p, s


def input_specs(graph: Graph) -> list[jax.ShapeDtypeStruct]:
    """One spec per input; symbolic dims share one scope, so `B` is the same everywhere."""
    scope = jax_export.SymbolicScope()
    specs = []
    for i in graph.inputs:
        text = ", ".join(str(d) for d in i.type.shape)
        shape = jax_export.symbolic_shape(f"({text},)" if text else "()", scope=scope)
        specs.append(jax.ShapeDtypeStruct(shape, np.dtype(i.type.dtype.numpy_name)))  # type: ignore[no-untyped-call]
    return specs


def export_stablehlo(
    graph: Graph,
    params: Tree,
    state: Tree,
    *,
    platforms: Sequence[str] = ("cpu",),
    separate_weights: bool = False,
) -> StableHLO:
    """Export the inference function; raises `ValueError` (one line) for an unknown platform
    and lets `jax.export`'s own errors through for the caller to report."""
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform {unknown[0]!r}; choose from {', '.join(PLATFORMS)}")
    model = compile_graph(graph)
    specs = input_specs(graph)
    if separate_weights:
        flat = flat_weights(params, state)

        def with_weights(weights: dict[str, jax.Array], *xs: jax.Array) -> tuple[jax.Array, ...]:
            p, s = _split(weights, params)
            return tuple(model.apply(p, s, list(xs), training=False)[0])

        weight_specs = {
            k: jax.ShapeDtypeStruct(v.shape, v.dtype)  # type: ignore[no-untyped-call]
            for k, v in flat.items()
        }
        exported = jax_export.export(jax.jit(with_weights), platforms=tuple(platforms))(
            weight_specs, *specs
        )
        return StableHLO(bytes(exported.serialize()), tuple(platforms), flat, exported)

    def baked(*xs: jax.Array) -> tuple[jax.Array, ...]:
        return tuple(model.apply(params, state, list(xs), training=False)[0])

    exported = jax_export.export(jax.jit(baked), platforms=tuple(platforms))(*specs)
    return StableHLO(bytes(exported.serialize()), tuple(platforms), None, exported)
