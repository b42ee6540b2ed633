"""Keras 3 parity: the same layer in nndsl and in Keras, Keras's weights copied over.

`parity(stage, keras_layer, shapes)` writes a one-layer nndsl model around `stage` (a layer
expression such as `Conv2D(4, 3, padding = "same")`), checks and compiles it through the
normal front end, copies the Keras layer's weights into the nndsl parameters by name, and
asserts: same parameter counts, same output shapes, outputs within `atol` (and the updated
non-trainable state, for layers that have one, in training mode), and the gradients of one
backward pass: d(sum of each float output times a fixed random cotangent) with respect to the
float inputs and the trainable weights, within `grad_atol`. The backward pass runs once per
Keras layer class and mode in a process (the forward cases vary arguments; a backward pass per
case doubled the parity suite's time); `grads=True` forces it, `grads=False` skips it for the
few layers whose outputs are not differentiable the same way in both.

Weight names: a Keras variable `"<layer>/query/kernel"` is nndsl weight `"query.kernel"`
(`/` is the checkpoint key separator); `rename` maps Keras relative paths when they differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
import numpy as np

from nndsl.backend.jax import compile_graph
from nndsl.frontend import check_source
from nndsl.ir import Graph

assert keras.backend.backend() == "jax", "parity tests need KERAS_BACKEND=jax"

DTYPES = {np.dtype("float32"): "f32", np.dtype("int32"): "i32", np.dtype("bool"): "bool"}


@dataclass
class ParityResult:
    graph: Graph
    nn_outputs: list[np.ndarray]
    keras_outputs: list[np.ndarray]
    params: dict[str, np.ndarray]
    state: dict[str, np.ndarray]


def random_inputs(shapes: Sequence[tuple[int, ...]], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(np.float32) for s in shapes]


def model_source(
    stage: str,
    inputs: Sequence[np.ndarray],
    n_outputs: int = 1,
    *,
    symbolic_batch: bool = True,
    prelude: str = "",
) -> str:
    lines = [prelude, "model Parity() {"] if prelude else ["model Parity() {"]
    for i, x in enumerate(inputs):
        dims = [str(d) for d in x.shape]
        if symbolic_batch and dims:
            dims[0] = "B"
        lines.append(f"    input x{i}: {DTYPES[x.dtype]}[{', '.join(dims)}]")
    outs = ", ".join(f"y{i}" for i in range(n_outputs))
    args = ", ".join(f"x{i}" for i in range(len(inputs)))
    lines.append(f"    {outs} = {stage}({args})")
    lines.append(f"    return {outs}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def nn_graph(source: str) -> Graph:
    result = check_source(source, "parity.nn")
    assert not result.has_errors, "\n".join(str(d) for d in result.diagnostics) + "\n" + source
    graph = result.graph("Parity")
    assert graph is not None
    _log_coverage(graph)
    return graph


def _log_coverage(graph: Graph) -> None:
    """With NNDSL_PARITY_LOG set, note which specs a parity test ran (tools/catalogue.py)."""
    log = os.environ.get("NNDSL_PARITY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.writelines(f"{node.op.name}\n" for node in graph.nodes)


def _default_keras_call(layer: Any, xs: list[np.ndarray], training: bool) -> Any:
    if len(xs) == 1:
        return layer(xs[0], training=training)
    return layer(xs, training=training)


def _as_list(out: Any) -> list[np.ndarray]:
    if isinstance(out, list | tuple):
        return [np.asarray(o) for o in out]
    return [np.asarray(out)]


def keras_weights(layer: Any, rename: Mapping[str, str]) -> dict[str, tuple[np.ndarray, bool]]:
    """Keras variables by nndsl weight name: name -> (value, trainable)."""
    out: dict[str, tuple[np.ndarray, bool]] = {}
    for v in layer.weights:
        rel = v.path.split("/", 1)[1] if "/" in v.path else v.path
        name = rename.get(rel, rel).replace("/", ".")
        assert name not in out, f"two Keras variables map to {name!r}"
        out[name] = (np.asarray(v.value), bool(v.trainable))
    return out


# Layer classes (and training modes) whose backward pass this process has compared already.
_GRADIENTS_CHECKED: set[tuple[str, bool]] = set()


def parity(
    stage: str,
    keras_layer: Any,
    shapes: Sequence[tuple[int, ...]] = (),
    *,
    inputs: Sequence[np.ndarray] | None = None,
    n_outputs: int = 1,
    training: bool = False,
    rename: Mapping[str, str] | None = None,
    keras_call: Callable[[Any, list[np.ndarray], bool], Any] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    prelude: str = "",
    check_state: bool = True,
    grads: bool | None = None,
    grad_atol: float = 1e-4,
    grad_rtol: float = 1e-4,
) -> ParityResult:
    xs = list(inputs) if inputs is not None else random_inputs(shapes)
    graph = nn_graph(model_source(stage, xs, n_outputs, prelude=prelude))
    weighted = [n for n in graph.nodes if n.weights]
    assert len(weighted) <= 1, (
        f"expected one layer with weights, found {[n.path for n in weighted]}"
    )

    with jax.default_matmul_precision("highest"):
        call = keras_call or _default_keras_call
        if not keras_layer.built:  # build by a call in inference mode, which changes no state
            call(keras_layer, [np.array(x) for x in xs], False)
        kw = keras_weights(keras_layer, rename or {})  # before a training call updates state
        keras_out = _as_list(call(keras_layer, [np.array(x) for x in xs], training))

        model = compile_graph(graph)
        params, state = model.init(jax.random.key(0))
        nn_names: dict[str, bool] = {}
        if weighted:
            node = weighted[0]
            nn_names = {w.name: w.trainable for w in node.weights}
            expected = {w.name: w for w in node.weights}
            assert set(nn_names) == set(kw), (
                f"weights differ: nndsl {sorted(nn_names)} vs keras {sorted(kw)}"
            )
            for name, (value, trainable) in kw.items():
                w = expected[name]
                assert tuple(w.shape) == value.shape, (
                    f"{name}: nndsl {w.shape} vs keras {value.shape}"
                )
                assert w.trainable == trainable, f"{name}: trainable differs"
                tree = params if trainable else state
                tree.setdefault(node.path, {})[name] = jax.numpy.asarray(value)
        else:
            assert not kw, f"keras has weights {sorted(kw)}, nndsl none"

        trainable, frozen = graph.param_counts()
        k_train = sum(int(np.prod(v.shape)) for v in keras_layer.trainable_weights)
        k_frozen = sum(int(np.prod(v.shape)) for v in keras_layer.non_trainable_weights)
        assert (trainable, frozen) == (k_train, k_frozen), (
            f"parameter counts: nndsl {(trainable, frozen)} vs keras {(k_train, k_frozen)}"
        )

        outs, new_state = model.apply(
            params, state, xs, training=training, key=jax.random.key(1) if training else None
        )
    nn_out = [np.asarray(o) for o in outs]
    assert len(nn_out) == len(keras_out), f"{len(nn_out)} outputs vs keras {len(keras_out)}"
    for i, (a, b) in enumerate(zip(nn_out, keras_out, strict=True)):
        assert a.shape == b.shape, f"output {i}: nndsl shape {a.shape} vs keras {b.shape}"
        declared = graph.outputs[i].type
        for d, n in zip(declared.shape, a.shape, strict=True):
            k = d.as_int()
            assert k is None or k == n, f"output {i}: checker said {declared}, got {a.shape}"
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=f"output {i} of {stage}")
    if training and check_state and weighted:
        node = weighted[0]
        after = keras_weights(keras_layer, rename or {})
        for name, (value, trainable) in after.items():
            if not trainable:
                np.testing.assert_allclose(
                    np.asarray(new_state[node.path][name]),
                    value,
                    atol=atol,
                    rtol=rtol,
                    err_msg=f"state {name} after a training step",
                )
    if grads is None:  # one backward pass per layer class and mode: the forward cases vary args
        key = (type(keras_layer).__name__, training)
        grads = key not in _GRADIENTS_CHECKED
        _GRADIENTS_CHECKED.add(key)
    if grads:
        check_gradients(
            graph,
            model,
            params,
            state,
            xs,
            keras_layer,
            kw,
            rename or {},
            call,
            training,
            atol=grad_atol,
            rtol=grad_rtol,
        )
    flat_params = (
        {k: np.asarray(v) for k, v in params.get(weighted[0].path, {}).items()} if weighted else {}
    )
    flat_state = (
        {k: np.asarray(v) for k, v in new_state.get(weighted[0].path, {}).items()}
        if weighted
        else {}
    )
    return ParityResult(graph, nn_out, keras_out, flat_params, flat_state)


def _is_float(x: Any) -> bool:
    return bool(np.issubdtype(np.asarray(x).dtype, np.floating))


def check_gradients(
    graph: Graph,
    model: Any,
    params: dict[str, dict[str, jax.Array]],
    state: dict[str, dict[str, jax.Array]],
    xs: Sequence[np.ndarray],
    keras_layer: Any,
    kw: Mapping[str, tuple[np.ndarray, bool]],
    rename: Mapping[str, str],
    call: Callable[[Any, list[Any], bool], Any],
    training: bool,
    *,
    atol: float,
    rtol: float,
) -> None:
    """One backward pass on each side: the gradient of `sum(output * cotangent)` over the float
    outputs, with respect to the float inputs and the trainable weights, Keras's through
    `StatelessScope` (its variables read as the traced values, its state as before the call)."""
    float_in = [i for i, x in enumerate(xs) if _is_float(x)]
    weighted = [n for n in graph.nodes if n.weights]
    path = weighted[0].path if weighted else None
    trainable = {name: v for name, (v, t) in kw.items() if t}
    if not float_in and not trainable:
        return
    key = jax.random.key(1) if training else None
    with jax.default_matmul_precision("highest"):
        probe, _ = model.apply(params, state, list(xs), training=training, key=key)
        float_out = [i for i, o in enumerate(probe) if _is_float(o)]
        if not float_out:
            return
        rng = np.random.default_rng(7)
        cotangents = {i: rng.normal(size=np.shape(probe[i])).astype(np.float32) for i in float_out}

        def with_inputs(values: Sequence[Any]) -> list[Any]:
            out: list[Any] = list(xs)
            for i, v in zip(float_in, values, strict=True):
                out[i] = v
            return out

        def objective(outs: Sequence[Any]) -> jax.Array:
            return sum(
                (jax.numpy.sum(outs[i] * cotangents[i]) for i in float_out), jax.numpy.zeros(())
            )

        def nn_loss(weights: dict[str, jax.Array], inputs: list[jax.Array]) -> jax.Array:
            p = {**params, path: {**params[path], **weights}} if weights and path else params
            outs, _ = model.apply(p, state, with_inputs(inputs), training=training, key=key)
            return objective(outs)

        variables = {
            rename.get(rel, rel).replace("/", "."): v
            for v in keras_layer.weights
            for rel in [v.path.split("/", 1)[1] if "/" in v.path else v.path]
        }
        frozen = [(variables[n], jax.numpy.asarray(v)) for n, (v, t) in kw.items() if not t]

        def keras_loss(weights: dict[str, jax.Array], inputs: list[jax.Array]) -> jax.Array:
            mapping = [(variables[n], w) for n, w in weights.items()] + frozen
            with keras.StatelessScope(state_mapping=mapping):
                out = call(keras_layer, with_inputs(inputs), training)
            return objective(list(out) if isinstance(out, list | tuple) else [out])

        start_w = {n: jax.numpy.asarray(v) for n, v in trainable.items()}
        start_x = [jax.numpy.asarray(xs[i]) for i in float_in]
        nn_w, nn_x = jax.grad(nn_loss, argnums=(0, 1))(start_w, start_x)
        k_w, k_x = jax.grad(keras_loss, argnums=(0, 1))(start_w, start_x)
    for i, a, b in zip(float_in, nn_x, k_x, strict=True):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), atol=atol, rtol=rtol, err_msg=f"d/d input {i}"
        )
    for name in trainable:
        np.testing.assert_allclose(
            np.asarray(nn_w[name]),
            np.asarray(k_w[name]),
            atol=atol,
            rtol=rtol,
            err_msg=f"d/d weight {name}",
        )
