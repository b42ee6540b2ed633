"""Convolutional models of the standard library against Keras 3.

Parameter counts (trainable and non-trainable) equal Keras's for the same configuration:
`keras.applications` models are built with `weights=None` (nothing is downloaded; variables
are created in a `StatelessScope`, so they are never initialized); ResNet-18/34 and the
U-Net, which Keras does not ship, are built here with the functional API. Key block output
shapes match Keras's layers, and tiny configurations run forward with Keras's weights copied
in and give Keras's outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from keras import layers

from nndsl.frontend import check_file, check_source
from nndsl.resources import stdlib_dir
from tests.stdlib.support import (
    Namer,
    block_outputs,
    dims,
    forward_parity,
    keras_counts,
    probe,
)

IMAGE = "f32[B, {size}, {size}, 3]"
# Building a keras.applications model takes seconds (one symbolic call per layer).
SLOW = pytest.mark.slow


def application(name: str, **kwargs: Any) -> Any:
    with keras.StatelessScope():
        return getattr(keras.applications, name)(weights=None, **kwargs)


def layer_shapes(model: Any, names: list[str]) -> list[tuple[int | None, ...]]:
    return [dims(model.get_layer(n).output.shape) for n in names]


@pytest.mark.parametrize("path", sorted(stdlib_dir().glob("*.nn")), ids=lambda p: p.stem)
def test_stdlib_file_checks_clean(path: Path) -> None:
    result = check_file(path)
    assert not result.diagnostics, "\n".join(f"{d.code} {d.message}" for d in result.diagnostics)


# == ResNet =================================================================================


@SLOW
def test_resnet50_matches_keras_application() -> None:
    graph = probe("resnet", "ResNet50", IMAGE.format(size=224))
    kmodel = application("ResNet50")
    assert graph.param_counts() == keras_counts(kmodel) == (25_583_592, 53_120)
    assert sum(graph.param_counts()) == 25_636_712
    stages = list(block_outputs(graph, 2).values())
    assert stages == layer_shapes(
        kmodel,
        [
            "pool1_pool",
            "conv2_block3_out",
            "conv3_block4_out",
            "conv4_block6_out",
            "conv5_block3_out",
            "predictions",
        ],
    )


def keras_resnet(
    blocks: list[int], bottleneck: bool, *, classes: int, size: int, width: int
) -> tuple[Any, list[Any]]:
    """ResNet as std.resnet builds it, in Keras layers: the model and each stage's output."""
    eps = 1.001e-5
    use_bias = bottleneck  # Keras's ResNet50 biases its convolutions; ResNet-18/34 do not
    name = Namer()
    inp = keras.Input((size, size, 3))
    x = layers.ZeroPadding2D(3)(inp)
    x = layers.Conv2D(width, 7, strides=2, use_bias=use_bias, name=name())(x)
    x = layers.ReLU()(layers.BatchNormalization(epsilon=eps, name=name())(x))
    x = layers.MaxPooling2D(3, strides=2)(layers.ZeroPadding2D(1)(x))
    outs = [x]
    for i, n in enumerate(blocks):
        filters = width * 2**i
        out_channels = 4 * filters if bottleneck else filters
        for j in range(n):
            stride = 2 if i > 0 and j == 0 else 1
            shortcut = x
            if stride != 1 or x.shape[-1] != out_channels:
                shortcut = layers.Conv2D(
                    out_channels, 1, strides=stride, use_bias=use_bias, name=name()
                )(x)
                shortcut = layers.BatchNormalization(epsilon=eps, name=name())(shortcut)
            if bottleneck:
                h = layers.Conv2D(filters, 1, strides=stride, use_bias=use_bias, name=name())(x)
                h = layers.ReLU()(layers.BatchNormalization(epsilon=eps, name=name())(h))
                h = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=name())(h)
                h = layers.ReLU()(layers.BatchNormalization(epsilon=eps, name=name())(h))
                h = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=name())(h)
            else:
                h = layers.Conv2D(
                    filters, 3, strides=stride, padding="same", use_bias=False, name=name()
                )(x)
                h = layers.ReLU()(layers.BatchNormalization(epsilon=eps, name=name())(h))
                h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name())(h)
            h = layers.BatchNormalization(epsilon=eps, name=name())(h)
            x = layers.ReLU()(layers.Add()([shortcut, h]))
        outs.append(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(classes, activation="softmax", name=name())(x)
    outs.append(x)
    return keras.Model(inp, x), outs


@pytest.mark.parametrize(
    ("model", "blocks", "trainable"),
    [("ResNet18", [2, 2, 2, 2], 11_689_512), ("ResNet34", [3, 4, 6, 3], 21_797_672)],
)
def test_basic_resnets_match_keras(model: str, blocks: list[int], trainable: int) -> None:
    graph = probe("resnet", model, IMAGE.format(size=224))
    with keras.StatelessScope():
        kmodel, outs = keras_resnet(blocks, False, classes=1000, size=224, width=64)
    assert graph.param_counts() == keras_counts(kmodel)
    assert graph.param_counts()[0] == trainable  # the paper's (and torchvision's) figure
    assert list(block_outputs(graph, 2).values()) == [dims(o.shape) for o in outs]


@pytest.mark.parametrize(
    ("model", "blocks"), [("ResNet18", [2, 2, 2, 2]), ("ResNet50", [3, 4, 6, 3])]
)
def test_tiny_resnet_forward_matches_keras(model: str, blocks: list[int]) -> None:
    bottleneck = model == "ResNet50"
    graph = probe("resnet", model, IMAGE.format(size=32), classes=3, size=32, width=4)
    kmodel, _ = keras_resnet(blocks, bottleneck, classes=3, size=32, width=4)
    assert graph.param_counts() == keras_counts(kmodel)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    out = forward_parity(graph, kmodel, x, by_name=True)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)  # softmax classifier


# == VGG ====================================================================================


@SLOW
@pytest.mark.parametrize(("model", "total"), [("VGG16", 138_357_544), ("VGG19", 143_667_240)])
def test_vgg_matches_keras_application(model: str, total: int) -> None:
    graph = probe("vgg", model, IMAGE.format(size=224))
    kmodel = application(model)
    assert graph.param_counts() == keras_counts(kmodel) == (total, 0)
    pools = [f"block{i}_pool" for i in range(1, 6)]
    assert list(block_outputs(graph, 2).values()) == layer_shapes(kmodel, [*pools, "predictions"])


def test_tiny_vgg16_forward_matches_keras() -> None:
    graph = probe("vgg", "VGG16", IMAGE.format(size=32), classes=3, size=32, width=2, hidden=8)
    inp = keras.Input((32, 32, 3))
    x = inp
    for filters, convs in [(2, 2), (4, 2), (8, 3), (16, 3), (16, 3)]:
        for _ in range(convs):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2, strides=2)(x)
    x = layers.Dense(8, activation="relu")(layers.Flatten()(x))
    x = layers.Dense(3, activation="softmax")(layers.Dense(8, activation="relu")(x))
    kmodel = keras.Model(inp, x)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    forward_parity(graph, kmodel, x)


# == MobileNetV2 ============================================================================


@SLOW
def test_mobilenet_v2_matches_keras_application() -> None:
    graph = probe("mobilenet", "MobileNetV2", IMAGE.format(size=224))
    kmodel = application("MobileNetV2")
    assert graph.param_counts() == keras_counts(kmodel) == (3_504_872, 34_112)
    # the stem's BN-ReLU6, the seven stages, the last 1x1 conv's BN-ReLU6
    keras_blocks = [
        "Conv1_relu",
        "expanded_conv_project_BN",
        *[f"block_{i}_add" for i in (2, 5, 9, 12, 15)],
        "block_16_project_BN",
        "out_relu",
    ]
    assert list(block_outputs(graph, 2).values()) == layer_shapes(kmodel, keras_blocks)


@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.75, 1.0, 1.3, 1.4])
def test_mobilenet_v2_widths_follow_keras_make_divisible(alpha: float) -> None:
    from keras.src.applications.mobilenet_v2 import _make_divisible

    alpha_percent = round(alpha * 100)
    graph = probe(
        "mobilenet", "MobileNetV2", IMAGE.format(size=96), size=96, alpha_percent=alpha_percent
    )
    channels = [s[-1] for s in block_outputs(graph, 2).values()]
    stage_filters = [16, 24, 32, 64, 96, 160, 320]
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    expected = [
        _make_divisible(32 * alpha, 8),
        *[_make_divisible(int(f * alpha), 8) for f in stage_filters],
        last,
    ]
    assert channels[: len(expected)] == expected


@SLOW
def test_mobilenet_v2_alpha_035_matches_keras_application() -> None:
    graph = probe("mobilenet", "MobileNetV2", IMAGE.format(size=96), size=96, alpha_percent=35)
    kmodel = application("MobileNetV2", alpha=0.35, input_shape=(96, 96, 3))
    assert graph.param_counts() == keras_counts(kmodel)


@pytest.mark.parametrize("size", [32, 33])  # odd sizes pad differently before strided convs
def test_tiny_mobilenet_v2_forward_matches_keras(size: int) -> None:
    graph = probe(
        "mobilenet", "MobileNetV2", IMAGE.format(size=size), classes=3, size=size, alpha_percent=35
    )
    kmodel = keras.applications.MobileNetV2(
        weights=None, alpha=0.35, input_shape=(size, size, 3), classes=3
    )
    assert graph.param_counts() == keras_counts(kmodel)
    x = np.random.default_rng(2).normal(size=(2, size, size, 3)).astype(np.float32)
    forward_parity(graph, kmodel, x)


# == DenseNet ===============================================================================


@SLOW
def test_densenet121_matches_keras_application() -> None:
    graph = probe("densenet", "DenseNet121", IMAGE.format(size=224))
    kmodel = application("DenseNet121")
    assert graph.param_counts() == keras_counts(kmodel) == (7_978_856, 83_648)
    # the DenseNet body's blocks: stem BN-ReLU, max pool, then dense blocks and transitions
    body = block_outputs(graph, 3)
    transitions = [s for name, s in body.items() if name.startswith("transition")]
    assert transitions == layer_shapes(kmodel, ["pool2_pool", "pool3_pool", "pool4_pool"])
    assert dims(graph.outputs[0].type.shape) == dims(kmodel.output.shape)


@pytest.mark.parametrize(
    ("model", "total"), [("DenseNet169", 14_307_880), ("DenseNet201", 20_242_984)]
)
def test_deeper_densenets_match_keras_figures(model: str, total: int) -> None:
    # Keras's published counts; building these in Keras takes a minute, so they are literals.
    assert sum(probe("densenet", model, IMAGE.format(size=224)).param_counts()) == total


def test_tiny_densenet_forward_matches_keras() -> None:
    from keras.src.applications.densenet import DenseNet

    graph = probe(
        "densenet", "DenseNet", IMAGE.format(size=32), b1=1, b2=2, b3=1, b4=1, classes=3, size=32
    )
    kmodel = DenseNet([1, 2, 1, 1], weights=None, input_shape=(32, 32, 3), classes=3)
    assert graph.param_counts() == keras_counts(kmodel)
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype(np.float32)
    forward_parity(graph, kmodel, x)


# == U-Net ==================================================================================


def keras_unet(*, classes: int, size: int, channels: int, width: int) -> Any:
    """std.unet's UNet in Keras layers, built in the same order."""

    name = Namer()

    def double_conv(x: Any, filters: int) -> Any:
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name())(x)
            x = layers.ReLU()(layers.BatchNormalization(name=name())(x))
        return x

    inp = keras.Input((size, size, channels))
    e1 = double_conv(inp, width)
    e2 = double_conv(layers.MaxPooling2D(2)(e1), 2 * width)
    e3 = double_conv(layers.MaxPooling2D(2)(e2), 4 * width)
    x = double_conv(layers.MaxPooling2D(2)(e3), 8 * width)
    for skip, filters in [(e3, 4 * width), (e2, 2 * width), (e1, width)]:
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=name())(x)
        x = double_conv(layers.Concatenate()([skip, x]), filters)
    x = layers.Conv2D(classes, 1, activation="softmax", name=name())(x)
    return keras.Model(inp, x)


def test_unet_matches_keras() -> None:
    graph = probe("unet", "UNet", "f32[B, 64, 64, 3]")
    with keras.StatelessScope():
        kmodel = keras_unet(classes=2, size=64, channels=3, width=16)
    assert graph.param_counts() == keras_counts(kmodel)
    assert dims(graph.outputs[0].type.shape) == (None, 64, 64, 2)


def test_tiny_unet_forward_matches_keras() -> None:
    graph = probe("unet", "UNet", "f32[B, 16, 16, 1]", classes=3, size=16, channels=1, width=2)
    kmodel = keras_unet(classes=3, size=16, channels=1, width=2)
    x = np.random.default_rng(4).normal(size=(2, 16, 16, 1)).astype(np.float32)
    out = forward_parity(graph, kmodel, x, by_name=True)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_unet_size_not_multiple_of_8_is_reported_at_the_skip_connection() -> None:
    source = "import std.unet\nmodel M() {\n    input x: f32[B, 60, 60, 3]\n"
    result = check_source(source + "    return x |> UNet(size = 60)\n}\n")
    [error] = result.errors
    assert error.code == "E0201"
    assert "`Up` expects input `skip` of type `f32[B, 14, 14, 64]`" in error.message


# == EfficientNet ===========================================================================

# keras.applications.EfficientNetB0..B7 (Keras 3.15, weights=None), (trainable,
# non-trainable): literals, because building B1..B7 in Keras takes minutes on CI's cores
# (B0 is built in Keras by tests/runtime/test_keras_import.py, whose output parity covers it).
# Regenerate: `keras_counts(getattr(keras.applications, name)(weights=None))` per name.
EFFICIENTNET_COUNTS = {
    "EfficientNetB0": (5_288_548, 42_023),
    "EfficientNetB1": (7_794_184, 62_055),
    "EfficientNetB2": (9_109_994, 67_575),
    "EfficientNetB3": (12_233_232, 87_303),
    "EfficientNetB4": (19_341_616, 125_207),
    "EfficientNetB5": (30_389_784, 172_743),
    "EfficientNetB6": (43_040_704, 224_439),
    "EfficientNetB7": (66_347_960, 310_727),
}


@pytest.mark.parametrize("model", list(EFFICIENTNET_COUNTS))
def test_efficientnet_counts_equal_keras(model: str) -> None:
    # the size does not change the count (global pooling): 224 keeps the check fast
    graph = probe("efficientnet", model, IMAGE.format(size=224), size=224)
    assert graph.param_counts() == EFFICIENTNET_COUNTS[model]


def test_efficientnet_b0_blocks_follow_keras() -> None:
    graph = probe("efficientnet", "EfficientNetB0", IMAGE.format(size=224))
    assert sum(graph.param_counts()) == 5_330_571  # Keras's published figure
    stages = list(block_outputs(graph, 3).values())
    # the seven stages' outputs (Keras's block1a_project_bn, block2b_add, block3b_add,
    # block4c_add, block5c_add, block6d_add, block7a_project_bn)
    assert stages == [
        (None, 112, 112, 16),
        (None, 56, 56, 24),
        (None, 28, 28, 40),
        (None, 14, 14, 80),
        (None, 14, 14, 112),
        (None, 7, 7, 192),
        (None, 7, 7, 320),
    ]
    drops = [n.attrs["rate"] for n in graph.nodes if n.op.name == "Dropout"]
    # drop-connect at 0.2 * b / 16 on the 9 blocks with a skip connection, then the top's 0.2
    assert drops == pytest.approx([0.2 * b / 16 for b in (2, 4, 6, 7, 9, 10, 12, 13, 14)] + [0.2])


@pytest.mark.parametrize(("pooling", "spatial"), [("none", (2, 2)), ("avg", ()), ("max", ())])
def test_applications_without_top_pool_as_keras(pooling: str, spatial: tuple[int, ...]) -> None:
    # keras.applications' include_top=False: the last feature map, or its global pooling
    for module, model, channels in [
        ("efficientnet", "EfficientNetB0", 1280),
        ("mobilenet", "MobileNetV2", 1280),
        ("resnet", "ResNet50", 2048),
        ("densenet", "DenseNet121", 1024),
    ]:
        graph = probe(
            module, model, IMAGE.format(size=64), size=64, include_top=False, pooling=pooling
        )
        assert dims(graph.outputs[0].type.shape) == (None, *spatial, channels), model
        assert not any(n.op.name == "Dense" for n in graph.nodes), model


@pytest.mark.parametrize("size", [32, 33, 35])  # odd sizes pad differently before strides
def test_efficientnet_pads_strided_convs_as_keras_correct_pad(size: int) -> None:
    # Output equality with Keras is tested at 32 (tests/runtime/test_keras_import.py); the
    # paddings before each stride-2 conv (3x3 and 5x5) are Keras's at odd sizes too
    from keras.src.applications.imagenet_utils import correct_pad

    graph = probe("efficientnet", "EfficientNetB0", IMAGE.format(size=size), size=size)
    pads = [n for n in graph.nodes if n.op.name == "ZeroPadding2D"]
    kernels = [3, 3, 5, 3, 5]  # the stem, then the stride-2 stages' depthwise kernels
    assert len(pads) == len(kernels)
    for node, kernel in zip(pads, kernels, strict=True):
        shape = dims(graph.values[node.inputs[0]].shape)
        expected = correct_pad(keras.KerasTensor(shape), kernel)
        assert node.attrs["padding"] == expected, (shape, kernel)


def test_efficientnet_imagenet_rescaling_is_keras_extra_layer() -> None:
    # Keras adds Rescaling([1 / sqrt(s) for s in IMAGENET_STDDEV_RGB]) after the Normalization
    # only for weights="imagenet"; it has no weights, so only the values tell
    import math

    from keras.src.applications.efficientnet import IMAGENET_STDDEV_RGB

    graph = probe("efficientnet", "EfficientNetB0", IMAGE.format(size=32), size=32)
    plain = [n.op.name for n in graph.nodes[:4]]
    assert plain == ["Rescaling", "Normalization", "ZeroPadding2D", "Conv2D"]
    graph = probe(
        "efficientnet", "EfficientNetB0", IMAGE.format(size=32), size=32, imagenet_rescaling=True
    )
    extra = graph.nodes[2]
    assert extra.op.name == "Rescaling"
    expected = [1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB]
    assert list(extra.attrs["scale"]) == pytest.approx(expected, rel=1e-12)  # type: ignore[arg-type]
