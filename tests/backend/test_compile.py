"""compile_graph: init matches the IR's weights, keys are path-stable, apply is pure/jittable."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.compile import stable_hash
from nndsl.backend.jax.initializers import initialize
from nndsl.ir import Graph
from tests.backend.graphs import GraphMaker, mlp, tensor


def cnn() -> Graph:
    g = GraphMaker("CNN")
    h = g.op(
        "Conv2D",
        g.input("image", tensor("B", 8, 8, 1)),
        filters=4,
        kernel_size=3,
        padding="same",
        activation="relu",
    )
    h = g.op("BatchNorm", h)
    h = g.op("MaxPool2D", h)
    h = g.op("Conv2D", h, filters=6, kernel_size=(2, 2), use_bias=False)
    h = g.op("LayerNorm", g.op("Flatten", h))
    h = g.op("Dropout", h, rate=0.5)
    logits = g.op("Dense", h, units=3)
    return g.output("logits", g.op("mul", logits, g.op("constant", value=0.5)))


def test_init_creates_exactly_the_weights_the_ir_lists() -> None:
    graph = cnn()
    params, state = compile_graph(graph).init(jax.random.key(0))
    listed = {(n.path, w.name): (w.shape, w.trainable) for n, w in graph.weights()}
    created = {(p, n): (v.shape, True) for p, ws in params.items() for n, v in ws.items()}
    created |= {(p, n): (v.shape, False) for p, ws in state.items() for n, v in ws.items()}
    assert created == listed
    assert all(v.dtype == jnp.float32 for ws in params.values() for v in ws.values())
    np.testing.assert_array_equal(state["batchnorm"]["moving_variance"], np.ones(4))


def test_init_is_eval_shape_friendly_and_deterministic() -> None:
    model = compile_graph(cnn())
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    assert shapes[0]["dense"]["kernel"].shape == (54, 3)
    a, b = model.init(jax.random.key(3)), model.init(jax.random.key(3))
    assert jax.tree.all(jax.tree.map(lambda u, v: bool(jnp.array_equal(u, v)), a, b))


def test_weight_keys_depend_only_on_paths() -> None:
    """Adding a layer elsewhere leaves the other layers' initial values unchanged."""
    small, big = mlp(), mlp(batch_norm=True, dropout=0.1)
    p1, _ = compile_graph(small).init(jax.random.key(7))
    p2, _ = compile_graph(big).init(jax.random.key(7))
    for path in ("dense", "dense_1"):
        np.testing.assert_array_equal(p1[path]["kernel"], p2[path]["kernel"])
    assert not np.array_equal(p1["dense"]["kernel"][:, :3], p1["dense_1"]["kernel"][:4])
    assert stable_hash("dense/kernel") == stable_hash("dense/kernel") != stable_hash("x")


def test_apply_is_jittable_and_state_updates_only_in_training() -> None:
    model = compile_graph(cnn())
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 8, 8, 1))
    apply = jax.jit(model.apply, static_argnames="training")
    (out,), same = apply(params, state, {"image": x}, training=False)
    assert out.shape == (5, 3)
    np.testing.assert_array_equal(
        same["batchnorm"]["moving_mean"], state["batchnorm"]["moving_mean"]
    )
    (t1,), new = apply(params, state, [x], training=True, key=jax.random.key(2))
    (t2,), _ = apply(params, state, [x], training=True, key=jax.random.key(3))
    assert not np.array_equal(new["batchnorm"]["moving_mean"], state["batchnorm"]["moving_mean"])
    assert not np.array_equal(t1, t2)  # dropout draws differ per key


def test_apply_rejects_wrong_inputs() -> None:
    model = compile_graph(mlp())
    params, state = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="takes inputs"):
        model.apply(params, state, {"image": jnp.ones((1, 4))})
    with pytest.raises(ValueError, match="takes 1 input"):
        model.apply(params, state, [])


def test_named_scopes_reach_the_lowered_program() -> None:
    model = compile_graph(cnn())
    params, state = model.init(jax.random.key(0))
    lowered = jax.jit(lambda p, s, x: model.apply(p, s, [x])[0]).lower(
        params, state, jnp.ones((2, 8, 8, 1))
    )
    text = lowered.as_text(debug_info=True)
    assert "CNN/conv2d@L1" in text


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "lecun_uniform"])
def test_initializer_variance_follows_keras_fans(name: str) -> None:
    shape = (3, 3, 16, 32)  # HWIO: fan_in = 144, fan_out = 288
    fan = {"glorot_uniform": (144 + 288) / 2, "he_normal": 144 / 2, "lecun_uniform": 144}[name]
    w = np.asarray(initialize(name, jax.random.key(0), shape, jnp.float32))
    assert abs(w.var() - 1 / fan) < 0.1 / fan
    bias = np.asarray(initialize(name, jax.random.key(0), (4000,), jnp.float32))
    scale = {"glorot_uniform": 1, "he_normal": 2, "lecun_uniform": 1}[name]
    assert abs(bias.var() - scale / 4000) < 0.1 * scale / 4000


def test_gradients_flow_through_every_layer() -> None:
    g = GraphMaker("Grad")
    h = g.op(
        "Conv2D",
        g.input("x", tensor("B", 6, 6, 2)),
        filters=3,
        kernel_size=3,
        padding="same",
        activation="gelu",
    )
    h = g.op(
        "AvgPool2D",
        g.op("MaxPool2D", g.op("BatchNorm", h), padding="same"),
        pool_size=2,
        strides=1,
        padding="same",
    )
    h = g.op("Reshape", g.op("GlobalAvgPool2D", h, keepdims=True), target_shape=(3,))
    h = g.op("LayerNorm", g.op("Dense", h, units=4, activation="silu"))
    model = compile_graph(g.output("y", g.op("softmax", h)))
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 6, 6, 2))

    def loss(p: dict[str, dict[str, jax.Array]]) -> jax.Array:
        (y,), _ = model.apply(p, state, [x], training=True)
        return jnp.sum(y * jnp.arange(4.0))

    grads = jax.jit(jax.grad(loss))(params)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["conv2d"]["kernel"]).sum()) > 0
