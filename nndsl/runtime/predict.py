"""Batched inference with a fixed batch size (one compile, zero-padded last batch), and the
raw text inputs of a model trained on a text source."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import numpy as np

from nndsl.backend import DataError
from nndsl.backend.jax.compile import CompiledModel, Tree, compile_graph
from nndsl.backend.jax.impls.data import read_text
from nndsl.backend.jax.stacking import pack, plan
from nndsl.ir import Graph
from nndsl.runtime.budget import check_fits
from nndsl.runtime.sources import TextVectorizer

_JITTED: weakref.WeakKeyDictionary[CompiledModel, Callable[..., jax.Array]] = (
    weakref.WeakKeyDictionary()
)


def _inference(model: CompiledModel) -> Callable[..., jax.Array]:
    """One jitted inference function per compiled model, so repeated calls reuse it."""
    if model not in _JITTED:
        _JITTED[model] = jax.jit(
            lambda p, s, xb, key: model.apply(p, s, [xb], training=False, key=key)[0][0]
        )
    return _JITTED[model]


_ALL_OUTPUTS: weakref.WeakKeyDictionary[CompiledModel, Callable[..., list[jax.Array]]] = (
    weakref.WeakKeyDictionary()
)


def _all_outputs(model: CompiledModel) -> Callable[..., list[jax.Array]]:
    """One jitted function per compiled model giving every output, as `_inference` the first."""
    if model not in _ALL_OUTPUTS:
        _ALL_OUTPUTS[model] = jax.jit(
            lambda p, s, xb, key: model.apply(p, s, xb, training=False, key=key)[0]
        )
    return _ALL_OUTPUTS[model]


def packed_weights(graph: Graph, params: Tree, state: Tree) -> tuple[Tree, Tree]:
    """`params` and `state` with each scanned repeat's copies stacked `[N, ...]` once, on the
    host (`backend.jax.stacking`), as training keeps them: the jitted inference then takes one
    leaf per body weight instead of N leaves it would stack on every call, so its inputs and
    its compile time do not grow with N. Exact; a tree already packed is returned as it is."""
    nodes = plan(graph)
    return pack(graph, params, nodes), pack(graph, state, nodes)


def batch_key(seed: int | None, index: int) -> jax.Array | None:
    """The key of the `index`th batch under `predict --seed`: a sampling layer kept on at
    inference (`inference = "sample"`) draws from it (folded with the layer's node id), so
    the same seed gives the same output and every batch draws afresh. None without a seed:
    each such layer draws from its own `seed` argument, as `evaluate` and ONNX do."""
    if seed is None:
        return None
    return jax.random.fold_in(jax.random.key(seed), index)


def predict_outputs(
    model: Graph | CompiledModel,
    params: Tree,
    state: Tree,
    inputs: Mapping[str, np.ndarray],
    *,
    batch: int = 32,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Every output, by name, for every row of the inputs (given by input name, each cast to
    its input's dtype), in inference mode; the last batch zero-padded as `predict` does;
    `seed`: the draws of sampling layers kept on at inference (`batch_key`)."""
    compiled = model if isinstance(model, CompiledModel) else compile_graph(model)
    graph = compiled.graph
    xs = [np.asarray(inputs[i.name]).astype(i.type.dtype.numpy_name) for i in graph.inputs]
    check_fits(graph, [a.shape for a in xs], batch, "inference")
    params, state = packed_weights(graph, params, state)
    run = _all_outputs(compiled)
    n = len(xs[0]) if xs else 0
    parts: list[list[np.ndarray]] = []
    for start in range(0, n, batch):
        xb = [a[start : start + batch] for a in xs]
        real = len(xb[0])
        if real < batch:
            xb = [np.concatenate([a, np.zeros((batch - real, *a.shape[1:]), a.dtype)]) for a in xb]
        key = batch_key(seed, start // batch)
        parts.append([np.asarray(o)[:real] for o in run(params, state, xb, key)])
    names = [o.name for o in graph.outputs]
    if not parts:
        shapes = jax.eval_shape(
            run, params, state, [np.zeros((batch, *a.shape[1:]), a.dtype) for a in xs], None
        )
        return {k: np.zeros((0, *o.shape[1:]), o.dtype) for k, o in zip(names, shapes, strict=True)}
    return {k: np.concatenate([p[i] for p in parts]) for i, k in enumerate(names)}


def predict(
    model: Graph | CompiledModel,
    params: Tree,
    state: Tree,
    x: np.ndarray,
    *,
    batch: int = 32,
    seed: int | None = None,
) -> np.ndarray:
    """The first output for every row of `x`, cast to the input dtype, in inference mode;
    `seed`: the draws of sampling layers kept on at inference (`batch_key`)."""
    compiled = model if isinstance(model, CompiledModel) else compile_graph(model)
    dtype = compiled.graph.inputs[0].type.dtype.numpy_name
    x = np.asarray(x).astype(dtype, copy=False)
    check_fits(compiled.graph, [x.shape], batch, "inference")
    params, state = packed_weights(compiled.graph, params, state)
    run = _inference(compiled)
    parts = []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch]
        real = len(xb)
        if real < batch:
            xb = np.concatenate([xb, np.zeros((batch - real, *xb.shape[1:]), xb.dtype)])
        parts.append(np.asarray(run(params, state, xb, batch_key(seed, start // batch)))[:real])
    if not parts:
        out = jax.eval_shape(run, params, state, np.zeros((batch, *x.shape[1:]), dtype), None)
        return np.zeros((0, *out.shape[1:]), out.dtype)
    return np.concatenate(parts)


def is_text_input(path: str | Path) -> bool:
    """A `.txt` file or a folder: raw text for a model trained on a text source."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() == ".txt"


def read_texts(path: str | Path) -> list[str]:
    """The examples of a text input: each non-blank line of a `.txt` file (as `text_file`
    skips blank lines), or each `.txt` file under a folder, in sorted path order (as
    `text_folder` reads them), whole. `DataError` when there is nothing to read."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() == ".txt" and f.is_file())
        if not files:
            raise DataError(f"{p}: no .txt files in this folder")
        return [read_text(f) for f in files]
    texts = [line for line in read_text(p).splitlines() if line.strip()]
    if not texts:
        raise DataError(f"{p}: no lines of text")
    return texts


def check_token_ids(x: np.ndarray, vectorizer: TextVectorizer, where: str) -> None:
    """Arrays given to a model trained on "int" text must be ids of its vocabulary: an id past
    it would be clamped silently by the embedding lookup, a fraction truncated."""
    if vectorizer.output_mode != "int" or x.dtype.kind not in "biuf" or x.size == 0:
        return
    if x.dtype.kind == "f" and not np.all(np.isfinite(x) & (x == np.round(x))):
        raise DataError(f"{where}: token ids must be whole numbers; this array has fractions")
    size = len(vectorizer.vocabulary)
    low, high = x.min(), x.max()
    if low < 0 or high >= size:
        raise DataError(
            f"{where}: token ids must lie in 0..{size - 1} (the saved vocabulary has {size} "
            f"entries); this array holds {low:g}..{high:g}"
        )
