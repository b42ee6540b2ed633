"""Helpers for the stdlib tests: check a stdlib model in a wrapper, count Keras parameters,
read block output shapes from a graph, and compare a forward pass with Keras's.

Weights are copied from Keras in creation order (layer by layer, each layer's variables in
order), checking that every pair has the same shape and the same variable name; the stdlib
models build their layers in Keras's order so that this lines up.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
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
    jit: bool = False,
) -> np.ndarray:
    """Copy `kmodel`'s weights into the compiled graph in order; compare outputs.

    The order is `kmodel.layers` (topological), or with `by_name` the layers' names: the
    references built here name their layers with `Namer` in creation order. `jit` compiles
    both sides (XLA at its lowest optimization level) instead of running them op by op, which
    is faster for deep models."""
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
        if jit:
            out, expected = _jitted(model, params, state, kmodel, x, training)
        else:
            (out,), _ = model.apply(params, state, [x], training=training, key=None)
            expected = np.asarray(kmodel(x, training=training))
    got = np.asarray(out)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-4)
    return got


def randomize_statistics(model: Any, seed: int = 1) -> None:
    """Give a fresh Keras model's batch-norm and `Normalization` statistics, gammas and biases
    values other than zeros and ones, so that a swapped pair (mean and variance, gamma and
    beta) or a skipped layer cannot pass a forward comparison."""
    import keras

    rng = np.random.default_rng(seed)
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        shape = tuple(v.shape)
        if name in ("gamma", "moving_variance", "variance"):
            v.assign(rng.uniform(0.5, 1.5, size=shape).astype("float32"))
        elif name in ("beta", "moving_mean", "bias", "mean"):
            v.assign(rng.normal(0.0, 0.1, size=shape).astype("float32"))
    for layer in model.layers:  # Normalization computes with a copy made when it was built
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()


# XLA's CPU compiler at its lowest optimization level: compiling is most of a deep model's time
# in these tests, and the level does not change what float32 computes beyond rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _jitted(
    model: Any, params: Any, state: Any, kmodel: Any, x: np.ndarray, training: bool
) -> tuple[np.ndarray, np.ndarray]:
    def ours(p: Any, s: Any, x: Any) -> Any:
        return model.apply(p, s, [x], training=training, key=None)[0][0]

    def theirs(trainable: Any, frozen: Any, x: Any) -> Any:
        return kmodel.stateless_call(trainable, frozen, x, training=training)[0]

    trainable = [v.value for v in kmodel.trainable_variables]
    frozen = [v.value for v in kmodel.non_trainable_variables]
    run = jax.jit(ours).lower(params, state, x).compile(FAST_COMPILE)
    krun = jax.jit(theirs).lower(trainable, frozen, x).compile(FAST_COMPILE)
    return np.asarray(run(params, state, x)), np.asarray(krun(trainable, frozen, x))


@contextlib.contextmanager
def numpy_initializers(seed: int = 0) -> Iterator[None]:
    """Keras's initializers drawn with NumPy while a model is built: JAX's random numbers
    compile once per variable shape, which is most of the time a Keras application takes to
    build. Same distributions."""
    from keras.src.backend import random as backend_random

    rng = np.random.default_rng(seed)

    def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, **_: Any) -> np.ndarray:
        return rng.uniform(minval, maxval, size=shape).astype("float32")

    def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, **_: Any) -> np.ndarray:
        return rng.normal(mean, stddev, size=shape).astype("float32")

    def truncated(shape: Any, mean: float = 0.0, stddev: float = 1.0, **_: Any) -> np.ndarray:
        return (mean + stddev * np.clip(rng.normal(size=shape), -2, 2)).astype("float32")

    saved = (backend_random.uniform, backend_random.normal, backend_random.truncated_normal)
    backend_random.uniform = uniform
    backend_random.normal = normal
    backend_random.truncated_normal = truncated
    try:
        yield
    finally:
        (backend_random.uniform, backend_random.normal, backend_random.truncated_normal) = saved
