"""Compares an exported ONNX model, run by ONNX Runtime, with nndsl's JAX `apply`.

`op_graph` builds a one-node graph for an op spec (the batch axis symbolic where the spec
allows it); `random_weights` gives every weight values that would expose a layout mistake (no
zero biases, positive variances); `assert_onnx_matches` exports, runs `onnx.checker` with
`full_check`, runs ONNX Runtime and compares every output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import onnx
import onnxruntime as ort

from nndsl.backend.jax.compile import Tree, compile_graph
from nndsl.backend.onnx import export_onnx
from nndsl.ir import Graph
from nndsl.ops import ArgValue, ShapeError
from nndsl.shapes import DType
from tests.backend.graphs import GraphMaker, spec, tensor, with_defaults

RTOL = 1e-5
ATOL = 1e-5


def op_graph(
    name: str,
    attrs: Mapping[str, ArgValue],
    shapes: Sequence[tuple[int, ...]],
    dtypes: Sequence[DType] | DType = DType.F32,
    *,
    symbolic_batch: bool = True,
) -> Graph:
    """`inputs x0, x1, ...` -> `name(**attrs)` -> output `y`. With `symbolic_batch`, axis 0 of
    every input is `B` when the spec accepts that; else the sizes are all constant."""
    kinds = [dtypes] * len(shapes) if isinstance(dtypes, DType) else list(dtypes)
    full = with_defaults(spec(name), dict(attrs))
    for symbolic in (True, False) if symbolic_batch else (False,):
        g = GraphMaker("Op")
        ids = []
        for i, (s, dt) in enumerate(zip(shapes, kinds, strict=True)):
            dims: list[int | str] = list(s)
            if symbolic and dims:
                dims[0] = "B"
            ids.append(g.input(f"x{i}", tensor(*dims, dtype=dt)))
        try:
            return g.output("y", g.op(name, *ids, **full))
        except (ShapeError, AssertionError, TypeError):
            if not symbolic:
                raise
    raise AssertionError("unreachable")


_RANDOM_INITS = ("glorot", "he_", "lecun", "variance", "orthogonal", "normal", "uniform")


def _fast_init(graph: Graph, seed: int) -> tuple[Tree, Tree]:
    """The weights' initial values: the common initializers drawn with numpy on the same
    scale (`zeros`, `ones`, and random ones as normal(0, 1/sqrt(fan_in))), any other through
    the JAX initializer. JAX's eager init compiles every draw for every shape: ~7 s for
    DenseNet-121, and a jitted one ~17 s."""
    from nndsl.backend.jax.compile import weight_key
    from nndsl.backend.jax.initializers import initialize
    from nndsl.ops import Configured

    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    params: Tree = {}
    state: Tree = {}
    for node, w in graph.weights():
        name = w.init.name if isinstance(w.init, Configured) else str(w.init)
        dtype = np.dtype(w.dtype.numpy_name)
        if name in ("zeros", "ones"):
            value = np.full(w.shape, 1 if name == "ones" else 0, dtype)
        elif dtype.kind == "f" and any(k in name for k in _RANDOM_INITS) and w.shape:
            fan_in = max(1, int(np.prod(w.shape[:-1])))
            value = rng.normal(0.0, 1.0 / np.sqrt(fan_in), w.shape).astype(dtype)
        else:
            value = np.asarray(
                initialize(w.init, weight_key(key, node.path, w.name), w.shape, dtype)
            )
        (params if w.trainable else state).setdefault(node.path, {})[w.name] = value
    return params, state


def random_weights(graph: Graph, seed: int = 0) -> tuple[Tree, Tree]:
    """The initialised weights, each moved off its init values (so a zero bias or a unit
    scale cannot hide a layout mistake): trainable ones get noise added, state (moving means,
    variances, counts) positive noise."""
    params, state = _fast_init(graph, seed)
    rng = np.random.default_rng(seed)

    def jitter(tree: Tree, positive: bool) -> Tree:
        out: Tree = {}
        for path, ws in tree.items():
            out[path] = {}
            for k, v in ws.items():
                a = np.asarray(v)
                if a.dtype.kind == "f":
                    # on the weight's own scale (a kernel's init spread), so activations
                    # keep their size through deep nets instead of growing per layer
                    spread = float(np.std(a)) if a.size > 1 and np.std(a) > 0 else 0.1
                    noise = rng.normal(0.0, 0.5 * spread, a.shape).astype(a.dtype)
                    a = a + (np.abs(noise) if positive else noise)
                out[path][k] = a
        return out

    return jitter(params, False), jitter(state, True)


def random_inputs(
    graph: Graph, batch: int, seed: int = 0, *, ids: int = 2, **sizes: int
) -> dict[str, np.ndarray]:
    """Inputs for every graph input; symbolic dims take `sizes` (batch for `B`, else 3).
    Integer inputs draw ids in `0..ids-1` (2: valid for any table of 2 rows), booleans half
    true."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for i in graph.inputs:
        shape = []
        for d in i.type.shape:
            n = d.as_int()
            sym = d.as_symbol()
            shape.append(n if n is not None else batch if sym == "B" else sizes.get(sym or "", 3))
        dtype = np.dtype(i.type.dtype.numpy_name)
        if i.type.dtype is DType.BOOL:
            out[i.name] = np.asarray(rng.random(shape) < 0.5)
        elif dtype.kind in "iu":
            out[i.name] = np.asarray(rng.integers(0, ids, shape), dtype=dtype)
        else:
            out[i.name] = np.asarray(rng.normal(0.0, 1.0, shape), dtype=dtype)
    return out


def run_onnx(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(y) for y in session.run(None, dict(inputs))]


def assert_onnx_matches(
    graph: Graph,
    inputs: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
    weights: tuple[Tree, Tree] | None = None,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    batches: Sequence[int] = (),
) -> onnx.ModelProto:
    """Export `graph`, check the model, and compare ONNX Runtime's outputs with JAX's for each
    input set; returns the model. With `batches`, ONNX Runtime also runs the first `n` rows of
    each input set for each `n`, against the same rows of JAX's result (inference is row by
    row: one JAX compilation serves every batch size)."""
    params, state = weights if weights is not None else random_weights(graph)
    model = export_onnx(graph, params, state)
    onnx.checker.check_model(model, full_check=True)
    compiled = compile_graph(graph)
    # jitted: one compilation per input shape (eager dispatch compiles every op for every
    # shape, ~20 s a batch for DenseNet-121)
    reference = jax.jit(lambda p, s, f: compiled.apply(p, s, f, training=False)[0])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for feed in [inputs] if isinstance(inputs, Mapping) else inputs:
        expected = [np.asarray(y) for y in reference(params, state, dict(feed))]
        assert [o.name for o in graph.outputs] == [o.name for o in model.graph.output], (
            "output names"
        )
        for n in batches or [None]:
            part = dict(feed) if n is None else {k: v[:n] for k, v in feed.items()}
            actual = [np.asarray(y) for y in session.run(None, part)]
            names = [o.name for o in graph.outputs]
            for name, want, got in zip(names, expected, actual, strict=True):
                want = want if n is None else want[:n]
                assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
                assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
    return model


def describe(attrs: Mapping[str, Any], shapes: Sequence[tuple[int, ...]]) -> str:
    return f"attrs={dict(attrs)} shapes={list(shapes)}"
