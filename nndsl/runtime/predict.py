"""Batched inference with a fixed batch size (one compile, zero-padded last batch)."""

from __future__ import annotations

import weakref
from collections.abc import Callable

import jax
import numpy as np

from nndsl.backend.jax.compile import CompiledModel, Tree, compile_graph
from nndsl.ir import Graph

_JITTED: weakref.WeakKeyDictionary[CompiledModel, Callable[..., jax.Array]] = (
    weakref.WeakKeyDictionary()
)


def _inference(model: CompiledModel) -> Callable[..., jax.Array]:
    """One jitted inference function per compiled model, so repeated calls reuse it."""
    if model not in _JITTED:
        _JITTED[model] = jax.jit(lambda p, s, xb: model.apply(p, s, [xb], training=False)[0][0])
    return _JITTED[model]


def predict(
    model: Graph | CompiledModel, params: Tree, state: Tree, x: np.ndarray, *, batch: int = 32
) -> np.ndarray:
    """The first output for every row of `x`, cast to the input dtype, in inference mode."""
    compiled = model if isinstance(model, CompiledModel) else compile_graph(model)
    dtype = compiled.graph.inputs[0].type.dtype.numpy_name
    x = np.asarray(x).astype(dtype, copy=False)
    run = _inference(compiled)
    parts = []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch]
        real = len(xb)
        if real < batch:
            xb = np.concatenate([xb, np.zeros((batch - real, *xb.shape[1:]), xb.dtype)])
        parts.append(np.asarray(run(params, state, xb))[:real])
    if not parts:
        out = jax.eval_shape(run, params, state, np.zeros((batch, *x.shape[1:]), dtype))
        return np.zeros((0, *out.shape[1:]), out.dtype)
    return np.concatenate(parts)
