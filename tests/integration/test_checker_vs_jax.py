"""The checker's shapes must equal `jax.eval_shape` of the generated code.

Hypothesis builds random valid models (chains of layers whose arguments fit the current shape),
the checker infers every tensor's type, and JAX traces the compiled graph abstractly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nndsl.backend.jax.compile import compile_graph
from nndsl.frontend import check_source

BATCH = 3


@st.composite
def image_models(draw: st.DrawFn) -> str:
    h = draw(st.integers(4, 12))
    w = draw(st.integers(4, 12))
    c = draw(st.integers(1, 3))
    lines = [f"    input x: f32[B, {h}, {w}, {c}]", "    t = x"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "pool", "bn", "act", "avg"]))
        if kind == "conv":
            k = draw(st.integers(1, 3))
            s = draw(st.integers(1, 2))
            pad = draw(st.sampled_from(["valid", "same"]))
            if pad == "valid" and (k > h or k > w):
                continue
            f = draw(st.integers(1, 4))
            lines.append(f'    t = t |> Conv2D({f}, {k}, strides = {s}, padding = "{pad}")')
            if pad == "same":
                h, w = -(-h // s), -(-w // s)
            else:
                h, w = (h - k) // s + 1, (w - k) // s + 1
        elif kind in ("pool", "avg"):
            p = draw(st.integers(1, 2))
            if p > h or p > w:
                continue
            layer = "MaxPool2D" if kind == "pool" else "AvgPool2D"
            lines.append(f"    t = t |> {layer}({p})")
            h, w = (h - p) // p + 1, (w - p) // p + 1
        elif kind == "bn":
            lines.append("    t = t |> BatchNorm()")
        else:
            act = draw(st.sampled_from(["relu", "gelu", "tanh", "silu", "sigmoid"]))
            lines.append(f"    t = t |> {act}")
    tail = draw(st.sampled_from(["flatten", "gap", "none"]))
    if tail == "flatten":
        lines.append(f"    t = t |> Flatten() |> Dense({draw(st.integers(1, 5))})")
    elif tail == "gap":
        lines.append("    t = t |> GlobalAvgPool2D() |> LayerNorm()")
    lines.append("    return t")
    return "model M() {\n" + "\n".join(lines) + "\n}\n"


@st.composite
def vector_models(draw: st.DrawFn) -> str:
    d = draw(st.integers(1, 16))
    lines = [f"    input x: f32[B, {d}]", "    t = x"]
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["dense", "res", "scale", "matmul", "drop", "reshape"]))
        if kind == "dense":
            d = draw(st.integers(1, 16))
            lines.append(f"    t = t |> Dense({d})")
        elif kind == "res":
            lines.append("    t = relu(t + (t |> Dense(" + str(d) + ")))")
        elif kind == "scale":
            lines.append("    t = 0.5 * t - 1")
        elif kind == "drop":
            lines.append("    t = t |> Dropout(0.25)")
        elif kind == "reshape" and d % 2 == 0:
            lines.append("    t = t |> Reshape([2, -1]) |> Flatten()")
        else:
            lines.append("    g = (t |> Reshape([1, -1])) @ (t |> Reshape([-1, 1]))")
            lines.append(f"    t = softmax(t * (g |> Flatten())) |> Dense({d})")
    lines.append("    return t")
    return "model M() {\n" + "\n".join(lines) + "\n}\n"


def _assert_shapes_agree(src: str) -> None:
    result = check_source(src, "generated.nn")
    assert not result.has_errors, src + "\n" + "\n".join(d.message for d in result.diagnostics)
    graph = result.program.graphs["M"]
    model = compile_graph(graph)
    params, state = jax.eval_shape(model.init, jax.random.key(0))

    def concrete(t):
        return tuple(BATCH if d.as_int() is None else d.as_int() for d in t.shape)

    inputs = [jax.ShapeDtypeStruct(concrete(i.type), jnp.float32) for i in graph.inputs]
    for training in (False, True):
        outs, _ = jax.eval_shape(
            lambda p, s, xs, training=training: model.apply(
                p, s, xs, training=training, key=jax.random.key(1)
            ),
            params,
            state,
            inputs,
        )
        for out, declared in zip(outs, graph.outputs, strict=True):
            assert out.shape == concrete(declared.type), src
    # Every intermediate value too: the node's declared type against a traced prefix.
    for node in graph.nodes:
        for w in node.weights:
            tree = params if w.trainable else state
            assert tree[node.path][w.name].shape == w.shape


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image_models())
def test_image_models_agree_with_eval_shape(src: str) -> None:
    _assert_shapes_agree(src)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vector_models())
def test_vector_models_agree_with_eval_shape(src: str) -> None:
    _assert_shapes_agree(src)


@pytest.mark.parametrize(
    "path", ["examples/digits_mlp.nn", "examples/digits_cnn.nn", "examples/residual_mlp.nn"]
)
def test_examples_agree_with_eval_shape(path: str) -> None:
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        pytest.skip(f"{path} not written yet")
    text = p.read_text()
    result = check_source(text, path)
    assert not result.has_errors
    for graph in result.program.graphs.values():
        model = compile_graph(graph)
        params, state = jax.eval_shape(model.init, jax.random.key(0))
        inputs = [
            jax.ShapeDtypeStruct(
                tuple(BATCH if d.as_int() is None else d.as_int() for d in i.type.shape),
                jnp.dtype(i.type.dtype.numpy_name),
            )
            for i in graph.inputs
        ]
        outs, _ = jax.eval_shape(model.apply, params, state, inputs)
        for out, declared in zip(outs, graph.outputs, strict=True):
            assert out.shape == tuple(
                BATCH if d.as_int() is None else d.as_int() for d in declared.type.shape
            )
