"""Keras 3 parity of the convolution layers: 1-3 D, transposed, depthwise, separable.

Each case is written once (`Case("Conv2D", 4, 3, strides=2)`) and becomes both the nndsl stage
`Conv2D(4, 3, strides = 2)` and the Keras layer; Keras's biases start random (not zero) so the
bias is really compared. These layers behave the same in training and inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from tests.parity.harness import nn_graph, parity, random_inputs


def nn_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple | list):
        return "[" + ", ".join(nn_value(x) for x in v) + "]"
    return str(v)


@dataclass
class Case:
    """One layer configuration, shared by nndsl and Keras."""

    layer: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    shape: tuple[int, ...]

    def stage(self) -> str:
        parts = [nn_value(a) for a in self.args]
        parts += [f"{k} = {nn_value(v)}" for k, v in self.kwargs.items()]
        return f"{self.layer}({', '.join(parts)})"

    def keras(self) -> Any:
        kw = dict(self.kwargs)
        if "Conv" in self.layer and kw.get("use_bias", True):
            kw["bias_initializer"] = "random_normal"
        return getattr(keras.layers, self.layer)(*self.args, **kw)

    def __str__(self) -> str:
        return f"{self.stage()}@{'x'.join(map(str, self.shape))}"


def case(layer: str, *args: Any, shape: tuple[int, ...], **kwargs: Any) -> Case:
    return Case(layer, args, kwargs, shape)


CF = {"data_format": "channels_first"}
SEQ, SEQ_CF = (2, 9, 4), (2, 4, 9)
IMG, IMG_CF = (2, 7, 6, 4), (2, 4, 7, 6)
VOL, VOL_CF = (1, 5, 4, 6, 2), (1, 2, 5, 4, 6)

CONV = [
    case("Conv1D", 3, 3, shape=SEQ),
    case("Conv1D", 3, 3, strides=2, padding="same", activation="relu", shape=SEQ),
    case("Conv1D", 3, 3, padding="causal", dilation_rate=2, shape=SEQ),
    case("Conv1D", 3, 2, strides=2, padding="causal", shape=SEQ),
    case("Conv1D", 6, 3, groups=2, use_bias=False, shape=SEQ),
    case("Conv1D", 3, 3, padding="same", shape=SEQ_CF, **CF),
    case("Conv1D", 4, 3, padding="causal", groups=2, shape=SEQ_CF, **CF),
    case("Convolution1D", 3, 4, shape=SEQ),
    case("Conv2D", 5, (2, 3), shape=IMG),
    case("Conv2D", 5, 3, strides=(2, 1), padding="same", shape=IMG),
    case("Conv2D", 5, 3, padding="same", dilation_rate=2, activation="tanh", shape=IMG),
    case("Conv2D", 4, 3, groups=4, padding="same", shape=IMG),
    case("Conv2D", 6, 3, groups=2, strides=2, shape=IMG_CF, **CF),
    case("Conv2D", 3, 2, use_bias=False, shape=IMG),
    case("Conv3D", 3, 2, shape=VOL),
    case("Conv3D", 3, 3, strides=2, padding="same", shape=VOL),
    case("Conv3D", 2, (2, 1, 3), dilation_rate=(1, 2, 1), shape=VOL_CF, **CF),
]

TRANSPOSE = [
    case("Conv1DTranspose", 3, 3, shape=SEQ),
    case("Conv1DTranspose", 3, 3, strides=2, shape=SEQ),
    case("Conv1DTranspose", 3, 4, strides=2, padding="same", shape=SEQ),
    case("Conv1DTranspose", 3, 3, strides=3, output_padding=2, shape=SEQ),
    case("Conv1DTranspose", 3, 3, padding="same", dilation_rate=2, shape=SEQ_CF, **CF),
    case("Conv2DTranspose", 4, 3, shape=IMG),
    case("Conv2DTranspose", 4, 3, strides=2, padding="same", activation="relu", shape=IMG),
    case("Conv2DTranspose", 4, 2, strides=2, padding="same", shape=IMG),
    case("Conv2DTranspose", 4, 3, strides=2, output_padding=1, shape=IMG),
    case("Conv2DTranspose", 4, 4, strides=(2, 3), padding="same", output_padding=(1, 0), shape=IMG),
    case("Conv2DTranspose", 2, 3, dilation_rate=2, use_bias=False, shape=IMG_CF, **CF),
    case("Conv2DTranspose", 2, 1, strides=3, shape=IMG),
    case("Conv3DTranspose", 2, 2, strides=2, shape=VOL),
    case("Conv3DTranspose", 2, 3, strides=(1, 2, 2), padding="same", shape=VOL_CF, **CF),
]

DEPTHWISE = [
    case("DepthwiseConv1D", 3, shape=SEQ),
    case("DepthwiseConv1D", 3, depth_multiplier=2, strides=2, padding="same", shape=SEQ),
    case("DepthwiseConv1D", 2, dilation_rate=3, use_bias=False, shape=SEQ_CF, **CF),
    case("DepthwiseConv2D", 3, shape=IMG),
    case("DepthwiseConv2D", 3, depth_multiplier=3, padding="same", activation="relu", shape=IMG),
    case("DepthwiseConv2D", (2, 3), strides=2, depth_multiplier=2, shape=IMG_CF, **CF),
    case("DepthwiseConv2D", 3, dilation_rate=2, padding="same", shape=IMG),
    case("SeparableConv1D", 5, 3, shape=SEQ),
    case("SeparableConv1D", 5, 3, depth_multiplier=2, strides=2, padding="same", shape=SEQ),
    case("SeparableConv1D", 2, 2, dilation_rate=2, shape=SEQ_CF, **CF),
    case("SeparableConv2D", 5, 3, shape=IMG),
    case("SeparableConv2D", 5, 3, depth_multiplier=2, padding="same", strides=2, shape=IMG),
    case("SeparableConv2D", 3, 2, use_bias=False, activation="relu", shape=IMG_CF, **CF),
    case("SeparableConvolution2D", 3, 3, dilation_rate=2, padding="same", shape=IMG),
]


@pytest.mark.parametrize("c", CONV + TRANSPOSE + DEPTHWISE, ids=str)
def test_parity(c: Case) -> None:
    parity(c.stage(), c.keras(), [c.shape])


@pytest.mark.parametrize(
    "c",
    [
        case("Conv2D", 4, 3, padding="same", shape=IMG),
        case("Conv1DTranspose", 3, 3, strides=2, shape=SEQ),
        case("SeparableConv1D", 5, 3, shape=SEQ),
    ],
    ids=str,
)
def test_training_mode_is_the_same(c: Case) -> None:
    parity(c.stage(), c.keras(), [c.shape], training=True)


def test_parity_notices_a_wrong_padding() -> None:
    """`"causal"` and `"same"` give the same shape but different values: the test can tell."""
    with pytest.raises(AssertionError, match="output 0"):
        parity(
            'Conv1D(3, 3, padding = "causal")',
            keras.layers.Conv1D(3, 3, padding="same"),
            [SEQ],
        )


GRADIENT_MODELS = {
    "1d": (
        (2, 12, 4),
        'Conv1D(4, 3, padding = "causal") |> SeparableConv1D(4, 3) |> DepthwiseConv1D(2)'
        " |> Conv1DTranspose(4, 3, strides = 2) |> MaxPooling1D(2)"
        ' |> AveragePooling1D(3, padding = "same") |> GlobalAveragePooling1D()',
    ),
    "2d": (
        (2, 8, 8, 4),
        'SeparableConv2D(4, 3, padding = "same") |> DepthwiseConv2D(3)'
        " |> Conv2DTranspose(4, 3, strides = 2) |> MaxPooling2D(2)"
        ' |> AveragePooling2D(2, padding = "same") |> Conv2D(4, 3, groups = 2)'
        " |> GlobalMaxPooling2D()",
    ),
    "3d": (  # channels first throughout
        (1, 2, 4, 4, 4),
        'Conv3D(2, 2, padding = "same", {cf}) |> Conv3DTranspose(2, 2, strides = 2, {cf})'
        ' |> MaxPooling3D(2, {cf}) |> AveragePooling3D(3, strides = 2, padding = "same", {cf})'
        " |> GlobalAveragePooling3D({cf})",
    ),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_MODELS))
def test_gradients_reach_every_weight(name: str) -> None:
    """Every convolution and pooling is differentiable end to end: each weight gets a finite,
    non-zero gradient through a chain of all the layers of one dimensionality."""
    shape, chain = GRADIENT_MODELS[name]
    chain = chain.format(cf='data_format = "channels_first"')
    (x,) = random_inputs([shape])
    dims = ", ".join(map(str, shape[1:]))
    graph = nn_graph(
        f"model Parity() {{\n    input x: f32[B, {dims}]\n    return x |> {chain}\n}}\n"
    )
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))

    def total(p: Any) -> jax.Array:
        outs, _ = model.apply(p, state, [x])
        return sum(jnp.sum(o**2) for o in outs)  # type: ignore[return-value]

    grads = jax.jit(jax.grad(total))(params)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    assert len(leaves) >= 4
    for path, g in leaves:
        assert np.all(np.isfinite(g)), path
        assert np.any(g != 0), f"no gradient reaches {jax.tree_util.keystr(path)}"


@pytest.mark.parametrize(
    ("stage", "layer", "penalties"),
    [
        (
            "SeparableConv2D(3, 2, depthwise_regularizer = l1(0.02), pointwise_regularizer ="
            " l2(0.01), bias_regularizer = l2(0.03), activity_regularizer = l2(0.05))",
            keras.layers.SeparableConv2D(
                3,
                2,
                bias_initializer="random_normal",
                depthwise_regularizer=keras.regularizers.L1(0.02),
                pointwise_regularizer=keras.regularizers.L2(0.01),
                bias_regularizer=keras.regularizers.L2(0.03),
                activity_regularizer=keras.regularizers.L2(0.05),
            ),
            {"depthwise_kernel": ("l1", 0.02), "pointwise_kernel": ("l2", 0.01)},
        ),
        (
            "DepthwiseConv2D(2, depthwise_regularizer = l2(0.02), activity_regularizer = l1(0.01))",
            keras.layers.DepthwiseConv2D(
                2,
                depthwise_regularizer=keras.regularizers.L2(0.02),
                activity_regularizer=keras.regularizers.L1(0.01),
            ),
            {"kernel": ("l2", 0.02)},
        ),
        (
            "Conv1DTranspose(3, 3, strides = 2, kernel_regularizer = l1(0.04))",
            keras.layers.Conv1DTranspose(
                3, 3, strides=2, kernel_regularizer=keras.regularizers.L1(0.04)
            ),
            {"kernel": ("l1", 0.04)},
        ),
    ],
    ids=["separable", "depthwise", "transpose"],
)
def test_regularizers_match_keras_losses(
    stage: str, layer: Any, penalties: dict[str, tuple[str, float]]
) -> None:
    """Keras's `depthwise_*`/`pointwise_*` arguments reach the right weights, and the activity
    penalty matches: the total equals Keras's `layer.losses`."""
    shape = SEQ if "1D" in stage else IMG
    x = random_inputs([shape])
    result = parity(stage, layer, inputs=x)
    model = compile_graph(result.graph)
    path = next(n.path for n in result.graph.nodes if n.weights)
    params = {path: {k: jnp.asarray(v) for k, v in result.params.items()}}
    with jax.default_matmul_precision("highest"):
        _, _, activity = model.apply_with_losses(params, {}, x)
        penalty = model.penalty(params)
        layer(x[0])  # Keras collects its losses during the call
    np.testing.assert_allclose(
        float(activity + penalty), sum(float(v) for v in layer.losses), rtol=1e-5
    )
    expected = 0.0
    for name, (kind, factor) in penalties.items():
        w = result.params[name]
        expected += factor * float(np.abs(w).sum() if kind == "l1" else np.square(w).sum())
    if "bias_regularizer" in stage:
        expected += 0.03 * float(np.square(result.params["bias"]).sum())
    np.testing.assert_allclose(float(penalty), expected, rtol=1e-5)
