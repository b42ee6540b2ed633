"""Keras 3 parity of the preprocessing and augmentation layers.

Deterministic layers match Keras's outputs. Augmentations match Keras exactly in inference
(the identity) and, where a factor range of width zero makes Keras's draw deterministic, in
training too (rotation, zoom, translation: the same affine resampling); otherwise their
training outputs are checked by properties (a flip is the image or its mirror, contrast keeps
the per-image means, a crop is a window of the image, ...). Normalization's adapted
statistics are compared with Keras's `adapt()` on the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.adapt import adapt_state, unadapted
from nndsl.frontend import check_source
from nndsl.runtime.train import fit
from tests.parity.harness import model_source, nn_graph, parity, random_inputs

IMAGES = (3, 6, 7, 2)  # [B, H, W, C], H != W so axis mix-ups show


def _images(shape: tuple[int, ...] = IMAGES, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype(np.float32)


def _pipeline(stages: str, x: np.ndarray) -> str:
    """A one-input model applying `x0 |> stages`."""
    dims = ", ".join(["B", *(str(d) for d in x.shape[1:])])
    return f"model Parity() {{\n    input x0: f32[{dims}]\n    return x0 |> {stages}\n}}\n"


def _run(stage: str, x: np.ndarray, *, training: bool, key: int = 1) -> np.ndarray:
    """The nndsl layer on `x` (its own compile), in training or inference mode."""
    model = compile_graph(nn_graph(model_source(stage, [x])))
    params, state = model.init(jax.random.key(0))
    outs, _ = model.apply(
        params, state, [x], training=training, key=jax.random.key(key) if training else None
    )
    return np.asarray(outs[0])


# -- Normalization ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stage", "kwargs", "shape"),
    [
        ("Normalization(mean = 3.0, variance = 2.0)", {"mean": 3.0, "variance": 2.0}, (4, 5)),
        (
            "Normalization(mean = [1.0, 2.0, 3.0], variance = [1.0, 4.0, 0.25])",
            {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 0.25]},
            (2, 4, 3),
        ),
        (
            "Normalization(axis = [], mean = 0.5, variance = 0.0)",  # floor of the std
            {"axis": None, "mean": 0.5, "variance": 0.0},
            (3, 4),
        ),
        (
            "Normalization(mean = [1.0, 2.0], variance = [2.0, 3.0], invert = true)",
            {"mean": [1.0, 2.0], "variance": [2.0, 3.0], "invert": True},
            (3, 2),
        ),
    ],
)
def test_normalization_fixed(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, keras.layers.Normalization(**kwargs), [shape])


ADAPT_CASES = [
    ("Normalization()", {}, (4, 5)),
    ("Normalization(axis = [])", {"axis": None}, (4, 3, 2)),
    ("Normalization(axis = [1, 2])", {"axis": (1, 2)}, (4, 3, 2)),
    ("Normalization(axis = 1, invert = true)", {"axis": 1, "invert": True}, (4, 3, 2)),
]


@pytest.mark.parametrize(("stage", "kwargs", "shape"), ADAPT_CASES)
def test_normalization_adapted_state(
    stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    """Keras's adapted `mean`, `variance`, `count` copy over and give Keras's outputs."""
    layer = keras.layers.Normalization(**kwargs)
    layer.adapt(random_inputs([(10, *shape[1:])], seed=3)[0] * 3.0 + 1.0)
    parity(stage, layer, [shape])


@pytest.mark.parametrize(("stage", "kwargs", "shape"), ADAPT_CASES)
def test_adapt_matches_keras(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    """`adapt_state` over batches (the last one partial) gives Keras's `adapt()` statistics;
    the layer sees the data after the layers before it (here a Rescaling)."""
    data = random_inputs([(23, *shape[1:])], seed=5)[0] * 4.0 + 2.0
    graph = nn_graph(_pipeline(f"Rescaling(0.5, offset = 1.0) |> {stage}", data))
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    assert unadapted(graph, state) == ["normalization"]
    state = adapt_state(model, params, state, [data], batch=5)
    assert unadapted(graph, state) == []
    layer = keras.layers.Normalization(**kwargs)
    layer.adapt(data * 0.5 + 1.0)
    for name in ("mean", "variance"):
        np.testing.assert_allclose(
            np.asarray(state["normalization"][name]),
            np.asarray(getattr(layer, f"adapt_{name}").value),
            rtol=1e-5,
            atol=1e-6,
            err_msg=name,
        )
    assert int(state["normalization"]["count"]) == data.size // np.asarray(layer.adapt_mean).size
    outs, _ = model.apply(params, state, [data])
    np.testing.assert_allclose(np.asarray(outs[0]), np.asarray(layer(data * 0.5 + 1.0)), atol=1e-4)


def test_adapt_stacked_layers_see_adapted_inputs() -> None:
    """A second Normalization is adapted on the first one's (adapted) output: mean 0, var 1."""
    data = random_inputs([(40, 3)], seed=7)[0] * 5.0 - 2.0
    graph = nn_graph(_pipeline("Normalization() |> Dense(3) |> Normalization()", data))
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    state = adapt_state(model, params, state, [data], batch=16)
    np.testing.assert_allclose(np.asarray(state["normalization"]["mean"]), data.mean(0), rtol=1e-5)
    outs, _ = model.apply(params, state, [data])
    np.testing.assert_allclose(np.asarray(outs[0]).mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(outs[0]).var(0), 1.0, atol=1e-4)


def test_unadapted_normalization_is_nan_not_identity() -> None:
    x = random_inputs([(2, 3)])[0]
    assert np.isnan(_run("Normalization()", x, training=False)).all()


def test_fit_adapts_before_training(tmp_path: Path) -> None:
    """`fit` adapts on the training split: the saved state is the training inputs' statistics."""
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(60, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 5).astype(np.int64))
    src = (
        "model M() {\n    input x: f32[B, 4]\n    return x |> Normalization() |> Dense(2)\n}\n"
        'data d = npz("d.npz", test_split = 0.0)\n'
        "train M on d {\n    loss = cross_entropy(from_logits = true)\n"
        "    optimizer = sgd\n    epochs = 1\n    batch = 8\n    validation_split = 0.0\n}\n"
    )
    result = check_source(src, str(tmp_path / "m.nn"))
    assert not result.has_errors and result.program is not None
    config = result.program.train
    assert config is not None
    out = fit(config, base_dir=tmp_path)
    stats = out.state["normalization"]
    np.testing.assert_allclose(np.asarray(stats["mean"]), x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(stats["variance"]), x.var(0), rtol=1e-4)
    assert int(stats["count"]) == 60


# -- deterministic image layers ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("stage", "kwargs"),
    [
        ("Rescaling(1.0 / 255)", {"scale": 1.0 / 255}),
        ("Rescaling(2.0, offset = -1.0)", {"scale": 2.0, "offset": -1.0}),
        ("Rescaling([0.5, 2.0], offset = [1.0, 0.0])", {"scale": [0.5, 2.0], "offset": [1.0, 0.0]}),
    ],
)
def test_rescaling(stage: str, kwargs: dict[str, Any]) -> None:
    parity(stage, keras.layers.Rescaling(**kwargs), inputs=[_images()])


def test_rescaling_integer_pixels() -> None:
    x = np.random.default_rng(1).integers(0, 256, size=IMAGES).astype(np.int32)
    result = parity("Rescaling(1.0 / 255)", keras.layers.Rescaling(1.0 / 255), inputs=[x])
    assert result.nn_outputs[0].dtype == np.float32


@pytest.mark.parametrize(
    ("stage", "kwargs", "shape"),
    [
        ("CenterCrop(4, 3)", {"height": 4, "width": 3}, IMAGES),
        ("CenterCrop(6, 7)", {"height": 6, "width": 7}, IMAGES),  # the whole image
        ("CenterCrop(8, 5)", {"height": 8, "width": 5}, IMAGES),  # taller than the input
        (
            'CenterCrop(2, 5, data_format = "channels_first")',
            {"height": 2, "width": 5, "data_format": "channels_first"},
            (2, 3, 6, 7),
        ),
    ],
)
def test_center_crop(stage: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    parity(stage, keras.layers.CenterCrop(**kwargs), inputs=[_images(shape)], atol=1e-3)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ("4, 5", {}),
        ('9, 11, interpolation = "nearest"', {"interpolation": "nearest"}),
        ('4, 9, interpolation = "bicubic"', {"interpolation": "bicubic"}),
        ('5, 5, interpolation = "lanczos3"', {"interpolation": "lanczos3"}),
        ("3, 4, antialias = true", {"antialias": True}),
        ("4, 4, crop_to_aspect_ratio = true", {"crop_to_aspect_ratio": True}),
        (
            "8, 4, pad_to_aspect_ratio = true, fill_value = 7.0",
            {"pad_to_aspect_ratio": True, "fill_value": 7.0},
        ),
        ("5, 9, pad_to_aspect_ratio = true", {"pad_to_aspect_ratio": True}),
        ('4, 5, data_format = "channels_first"', {"data_format": "channels_first"}),
    ],
)
def test_resizing(args: str, kwargs: dict[str, Any]) -> None:
    h, w = (int(v) for v in args.split(",")[:2])
    parity(
        f"Resizing({args})", keras.layers.Resizing(h, w, **kwargs), inputs=[_images()], atol=1e-3
    )


# -- augmentation: inference is the identity --------------------------------------------------
AUGMENTATIONS = [
    ("RandomFlip()", keras.layers.RandomFlip),
    ("RandomContrast(0.5)", lambda: keras.layers.RandomContrast(0.5)),
    ("RandomRotation(0.2)", lambda: keras.layers.RandomRotation(0.2)),
    ("RandomZoom(0.3, 0.2)", lambda: keras.layers.RandomZoom(0.3, 0.2)),
    ("RandomTranslation(0.2, 0.3)", lambda: keras.layers.RandomTranslation(0.2, 0.3)),
]


@pytest.mark.parametrize(("stage", "make"), AUGMENTATIONS, ids=[s for s, _ in AUGMENTATIONS])
def test_augmentation_inference_is_identity(stage: str, make: Any) -> None:
    result = parity(stage, make(), inputs=[_images()])
    np.testing.assert_array_equal(result.nn_outputs[0], _images())


@pytest.mark.parametrize(
    "stage",
    [
        "RandomFlip()",
        "RandomContrast(0.0)",
        "RandomRotation(0.0)",
        "RandomZoom(0.0)",
        "RandomTranslation(0.0, 0.0)",
    ],
)
def test_augmentation_zero_factor_is_identity_in_training(stage: str) -> None:
    x = _images()
    out = _run(stage, x, training=True)
    if stage == "RandomFlip()":  # no zero factor: each image is itself or fully mirrored
        for o, i in zip(out, x, strict=True):
            assert np.array_equal(o, i) or np.array_equal(o, i[::-1, ::-1])
    else:
        np.testing.assert_allclose(out, x, atol=1e-3)


# -- augmentation: deterministic draws match Keras in training --------------------------------
@pytest.mark.parametrize(
    ("fill_mode", "interpolation"),
    [
        ("reflect", "bilinear"),
        ("wrap", "nearest"),
        ("constant", "bilinear"),
        ("nearest", "nearest"),
    ],
)
def test_random_rotation_fixed_angle(fill_mode: str, interpolation: str) -> None:
    opts = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 3.0}
    parity(
        f'RandomRotation([0.1, 0.1], fill_mode = "{fill_mode}", '
        f'interpolation = "{interpolation}", fill_value = 3.0)',
        keras.layers.RandomRotation((0.1, 0.1), **opts),
        inputs=[_images()],
        training=True,
        atol=1e-3,
    )


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ("[0.5, 0.5]", {"height_factor": (0.5, 0.5)}),
        (
            '[-0.3, -0.3], [0.2, 0.2], fill_mode = "constant"',
            {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), "fill_mode": "constant"},
        ),
        (
            '[0.4, 0.4], data_format = "channels_first"',
            {"height_factor": (0.4, 0.4), "data_format": "channels_first"},
        ),
    ],
)
def test_random_zoom_fixed(args: str, kwargs: dict[str, Any]) -> None:
    parity(
        f"RandomZoom({args})",
        keras.layers.RandomZoom(**kwargs),
        inputs=[_images()],
        training=True,
        atol=1e-3,
    )


@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
def test_random_translation_fixed(fill_mode: str) -> None:
    parity(
        f'RandomTranslation([0.25, 0.25], [-0.5, -0.5], fill_mode = "{fill_mode}")',
        keras.layers.RandomTranslation((0.25, 0.25), (-0.5, -0.5), fill_mode=fill_mode),
        inputs=[_images()],
        training=True,
        atol=1e-3,
    )


def test_random_contrast_unit_factor_clips_like_keras() -> None:
    """A factor range [0, 0] draws 1: only the clip to `value_range` acts, as in Keras."""
    x = _images() - 60.0  # some values below 0 and above 100
    parity(
        "RandomContrast([0.0, 0.0], value_range = [0.0, 100.0])",
        keras.layers.RandomContrast((0.0, 0.0), value_range=(0, 100)),
        inputs=[x],
        training=True,
        atol=1e-3,
    )


# -- augmentation: properties of the random draws ---------------------------------------------
@pytest.mark.parametrize(
    ("mode", "flip"),
    [
        ("horizontal", lambda i: i[:, ::-1]),
        ("vertical", lambda i: i[::-1]),
        ("horizontal_and_vertical", lambda i: i[::-1, ::-1]),
    ],
)
def test_random_flip_flips_whole_examples(mode: str, flip: Any) -> None:
    x = _images((16, 4, 5, 2))
    out = _run(f'RandomFlip("{mode}")', x, training=True)
    same = [np.array_equal(o, i) for o, i in zip(out, x, strict=True)]
    mirrored = [np.array_equal(o, flip(i)) for o, i in zip(out, x, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert any(same) and any(mirrored)  # each example draws its own flip


def test_random_flip_seed_changes_the_draw() -> None:
    x = _images((16, 4, 5, 2))
    a = _run("RandomFlip(seed = 1)", x, training=True)
    b = _run("RandomFlip(seed = 2)", x, training=True)
    assert not np.array_equal(a, b)


def test_random_contrast_keeps_means_and_range() -> None:
    x = np.random.default_rng(2).uniform(0.3, 0.7, size=(12, 5, 6, 3)).astype(np.float32)
    out = _run("RandomContrast([0.4, 0.6], value_range = [0.0, 10.0])", x, training=True)
    axes = (1, 2)
    np.testing.assert_allclose(out.mean(axes), x.mean(axes), atol=1e-5)  # no clipping here
    centred_in = x - x.mean(axes, keepdims=True)
    ratio = (out - out.mean(axes, keepdims=True))[..., 0, 0, 0] / centred_in[..., 0, 0, 0]
    assert np.all((ratio > 0.6 - 1e-4) & (ratio < 1.6 + 1e-4))  # factor in [1 - 0.4, 1 + 0.6]
    assert np.ptp(ratio) > 0.05  # one factor per image


def test_random_crop_training_takes_windows() -> None:
    x = _images((10, 6, 7, 2))
    out = _run("RandomCrop(3, 4)", x, training=True)
    assert out.shape == (10, 3, 4, 2)
    offsets = set()
    for o, i in zip(out, x, strict=True):
        found = [
            (t, le)
            for t in range(4)
            for le in range(4)
            if np.array_equal(o, i[t : t + 3, le : le + 4])
        ]
        assert found, "a crop must be a window of its image"
        offsets.add(found[0])
    assert len(offsets) > 1  # each example draws its own window


def test_random_crop_inference_is_keras_smart_resize() -> None:
    """Inference crops the largest centred window of the target aspect ratio and resizes it,
    as Keras documents (Keras 3.15 itself returns the input unchanged in inference)."""
    parity(
        "RandomCrop(3, 4)",
        keras.layers.Resizing(3, 4, crop_to_aspect_ratio=True),
        inputs=[_images()],
        atol=1e-3,
    )


def test_random_crop_larger_than_input_resizes() -> None:
    """A window larger than the image: the aspect-ratio window resized, in training too. (Keras
    3.15 slices a `height x width` window from that window's corner instead, against its docs.)"""
    parity(
        "RandomCrop(8, 5)",
        keras.layers.Resizing(8, 5, crop_to_aspect_ratio=True),
        inputs=[_images()],
        training=True,
        atol=1e-3,
    )


@pytest.mark.parametrize(
    "stage",
    ["RandomRotation(0.25)", "RandomZoom([-0.5, 0.5])", "RandomTranslation(0.3, 0.3)"],
)
def test_affine_augmentations_differ_per_example(stage: str) -> None:
    one = _images((1, 6, 7, 2))
    x = np.repeat(one, 6, axis=0)  # six copies of one image
    out = _run(stage, x, training=True)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert not np.allclose(out, x, atol=1e-2)
    assert len({o.tobytes() for o in out}) == len(out)
    # different training steps (keys) draw differently
    assert not np.array_equal(out, _run(stage, x, training=True, key=2))


# -- categorical ------------------------------------------------------------------------------
IDS = np.array([[1, 2, 2, 0], [4, 4, 4, 3], [0, 5, 7, -1]], np.int32)  # 5, 7, -1: out of range


@pytest.mark.parametrize(
    ("stage", "kwargs", "ids"),
    [
        ("CategoryEncoding(5)", {"num_tokens": 5}, IDS),
        (
            'CategoryEncoding(5, output_mode = "count")',
            {"num_tokens": 5, "output_mode": "count"},
            IDS,
        ),
        (
            'CategoryEncoding(6, output_mode = "one_hot")',
            {"num_tokens": 6, "output_mode": "one_hot"},
            IDS,
        ),
        (
            'CategoryEncoding(6, output_mode = "one_hot")',
            {"num_tokens": 6, "output_mode": "one_hot"},
            IDS[:, :1],
        ),
        ("CategoryEncoding(8)", {"num_tokens": 8}, IDS[:, 0]),
    ],
)
def test_category_encoding(stage: str, kwargs: dict[str, Any], ids: np.ndarray) -> None:
    parity(stage, keras.layers.CategoryEncoding(**kwargs), inputs=[np.ascontiguousarray(ids)])


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ("[0.0, 1.0, 2.5]", {}),
        ('[-1.0, 0.0, 0.5], output_mode = "one_hot"', {"output_mode": "one_hot"}),
        ('[0.0, 1.0], output_mode = "multi_hot"', {"output_mode": "multi_hot"}),
        ('[0.0, 1.0], output_mode = "count"', {"output_mode": "count"}),
    ],
)
def test_discretization(args: str, kwargs: dict[str, Any]) -> None:
    bounds = [float(v) for v in args.split("]")[0].strip("[").split(",")]
    x = np.array([[-2.0, 0.0, 0.7, 1.0], [2.5, 3.0, -0.5, 0.5]], np.float32)  # edges included
    parity(
        f"Discretization({args})",
        keras.layers.Discretization(bin_boundaries=bounds, **kwargs),
        inputs=[x],
    )
