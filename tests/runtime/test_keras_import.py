"""`nnrun import-keras`: Keras's own `keras.applications` models, saved by Keras, imported into
the stdlib's equivalents; `nnrun predict` then equals Keras's `predict`. And the refusals: a
Lambda layer or custom object (never run), weights of another model, a file that is not Keras,
a missing file: one line each, exit 1 (2 for a usage error), no traceback."""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["KERAS_BACKEND"] = "jax"  # before Keras's first import (as tests/parity/conftest.py)

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

from nndsl.cli.main import main  # noqa: E402

# Keras's saving converts variables with `np.array(x)`, which NumPy 2 warns about for JAX arrays
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

SIZE, CLASSES, BATCH = 32, 3, 2  # the smallest input all four accept; few classes, two images

# (Keras builder, stdlib module, nndsl model)
MODELS = {
    "ResNet50": ("resnet", "ResNet50"),
    "MobileNetV2": ("mobilenet", "MobileNetV2"),
    "DenseNet121": ("densenet", "DenseNet121"),
    "EfficientNetB0": ("efficientnet", "EfficientNetB0"),
}


@pytest.fixture
def cheap_init(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keras's initializers drawn with NumPy: JAX's random numbers compile once per variable
    shape, which is most of the time a Keras application takes to build. Same distributions."""
    from keras.src.backend import random as backend_random

    rng = np.random.default_rng(0)

    def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, **_: Any) -> np.ndarray:
        return rng.uniform(minval, maxval, size=shape).astype("float32")

    def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, **_: Any) -> np.ndarray:
        return rng.normal(mean, stddev, size=shape).astype("float32")

    def truncated(shape: Any, mean: float = 0.0, stddev: float = 1.0, **_: Any) -> np.ndarray:
        return (mean + stddev * np.clip(rng.normal(size=shape), -2, 2)).astype("float32")

    monkeypatch.setattr(backend_random, "uniform", uniform)
    monkeypatch.setattr(backend_random, "normal", normal)
    monkeypatch.setattr(backend_random, "truncated_normal", truncated)
    yield


def _randomize(model: Any, seed: int = 1) -> None:
    """Batch-norm statistics and biases are ones and zeros at init: give them values, so a
    swapped mean and variance (or gamma and beta) could not pass."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        shape = tuple(v.shape)
        if name in ("gamma", "moving_variance", "variance"):  # `variance`: Normalization's
            v.assign(rng.uniform(0.5, 1.5, size=shape).astype("float32"))
        elif name in ("beta", "moving_mean", "bias", "mean"):
            v.assign(rng.normal(0.0, 0.1, size=shape).astype("float32"))
    for layer in model.layers:  # Normalization computes with a copy made when it was built
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()


def _nn_file(tmp: Path, module: str, model: str) -> Path:
    path = tmp / "net.nn"
    path.write_text(
        f"import std.{module}\n"
        "model Net() {\n"
        f"    input image: f32[B, {SIZE}, {SIZE}, 3]\n"
        f"    return image |> {model}(classes = {CLASSES}, size = {SIZE}, "
        'classifier_activation = "linear")\n'
        "}\n"
    )
    return path


# XLA's CPU compiler at its lowest optimization level: compiling these networks is most of the
# test's time, and the level does not change what float32 computes beyond rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _keras_predict(model: Any, x: np.ndarray) -> np.ndarray:
    """`model.predict(x)`: the stateless call `predict` makes, in inference mode."""
    import jax

    def call(trainable: Any, frozen: Any, x: Any) -> Any:
        return model.stateless_call(trainable, frozen, x, training=False)[0]

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    run = jax.jit(call).lower(trainable, frozen, x).compile(FAST_COMPILE)
    return np.asarray(run(trainable, frozen, x))


def _nndsl_predict(nn: Path, weights: Path, x: np.ndarray) -> np.ndarray:
    """`nnrun predict --weights`: the file read by `load_weights`, the model in inference mode."""
    import jax

    from nndsl.backend.jax import compile_graph
    from nndsl.frontend import check_file
    from nndsl.runtime import load_weights

    graph = check_file(nn).graph()
    assert graph is not None
    params, state = load_weights(weights, graph)
    model = compile_graph(graph)

    def call(params: Any, state: Any, x: Any) -> Any:
        return model.apply(params, state, [x], training=False)[0][0]

    run = jax.jit(call).lower(params, state, x).compile(FAST_COMPILE)
    return np.asarray(run(params, state, x))


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_application_imports_and_predicts_as_keras(
    name: str, tmp_path: Path, cheap_init: None, capsys: pytest.CaptureFixture[str]
) -> None:
    module, model = MODELS[name]
    start = time.perf_counter()
    k = getattr(keras.applications, name)(
        weights=None,
        input_shape=(SIZE, SIZE, 3),
        classes=CLASSES,
        classifier_activation=None,  # logits: a stronger comparison than saturated softmax
    )
    _randomize(k)
    k.save(tmp_path / "k.keras")
    x = np.random.default_rng(2).normal(size=(BATCH, SIZE, SIZE, 3)).astype("float32")
    if name == "EfficientNetB0":  # pixels in [0, 255]: its stem rescales them itself
        x = (127.5 + 60 * x).astype("float32")
    expected = _keras_predict(k, x)

    nn = _nn_file(tmp_path, module, model)
    w = tmp_path / "w.safetensors"
    assert main(["import-keras", str(nn), str(tmp_path / "k.keras"), "-o", str(w)]) == 0
    assert "imported" in capsys.readouterr().out
    got = _nndsl_predict(nn, w, x)
    diff = float(np.max(np.abs(got - expected)))
    with capsys.disabled():  # the parity table (`-s` not needed)
        print(f"\n{name}: max abs diff {diff:.2e}, {time.perf_counter() - start:.1f} s")
    assert got.shape == expected.shape
    assert diff < 1e-4, diff
    assert np.std(expected) > 1e-3  # the comparison is not between two constants

    if name == "ResNet50":  # a bare .weights.h5 (no config: matched in Keras's layer order)
        k.save_weights(tmp_path / "k.weights.h5")
        w2 = tmp_path / "w2.safetensors"
        assert main(["import-keras", str(nn), str(tmp_path / "k.weights.h5"), "-o", str(w2)]) == 0
        assert w2.read_bytes() == w.read_bytes()


# -- refusals ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer Keras model and its nndsl twin."""
    root = tmp_path_factory.mktemp("keras_small")
    inp = keras.Input((4,))
    out = keras.layers.Dense(2)(keras.layers.Dense(3, activation="relu")(inp))
    keras.Model(inp, out).save(root / "mlp.keras")
    (root / "mlp.nn").write_text(
        "model Mlp() {\n"
        "    input x: f32[B, 4]\n"
        '    return x |> Dense(3, activation = "relu") |> Dense(2)\n'
        "}\n"
        "model Other() {\n"
        "    input x: f32[B, 4]\n"
        "    return x |> Dense(5) |> Dense(2)\n"
        "}\n"
        "model Deeper() {\n"
        "    input x: f32[B, 4]\n"
        '    return x |> Dense(3, activation = "relu") |> Dense(2) |> Dense(2)\n'
        "}\n"
    )
    seq = keras.Sequential([keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    seq.build((None, 4))  # no Input layer: the first layer takes the model's input
    seq.save(root / "seq.keras")
    return root


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 1) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_small_model_imports_and_nnrun_predict_reads_it(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp.safetensors"
    nn = str(small / "mlp.nn")
    assert (
        main(["import-keras", nn, "--model", "Mlp", str(small / "mlp.keras"), "-o", str(out)]) == 0
    )
    assert out.with_suffix(".json").exists()
    x = np.random.default_rng(3).normal(size=(5, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    y = tmp_path / "y.npy"
    argv = [
        "predict",
        nn,
        "--model",
        "Mlp",
        "--weights",
        str(out),
        "--input",
        str(tmp_path / "x.npy"),
    ]
    assert main([*argv, "--output", str(y), "--no-cache"]) == 0
    expected = keras.saving.load_model(small / "mlp.keras").predict(x, verbose=0)
    np.testing.assert_allclose(np.load(y), expected, atol=1e-5)
    # the same layers as a Sequential without an Input
    assert (
        main(["import-keras", nn, "--model", "Mlp", str(small / "seq.keras"), "-o", str(out)]) == 0
    )
    assert main([*argv, "--output", str(y), "--no-cache"]) == 0
    expected = keras.saving.load_model(small / "seq.keras").predict(x, verbose=0)
    np.testing.assert_allclose(np.load(y), expected, atol=1e-5)


def test_lambda_layer_is_refused_by_name(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # written by hand: Keras itself warns when a lambda is serialized
    src = small / "mlp.keras"
    bad = tmp_path / "lambda.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                config = json.loads(data)
                config["config"]["layers"].insert(
                    1,
                    {
                        "module": "keras.layers",
                        "class_name": "Lambda",
                        "config": {"name": "double_it", "function": {"class_name": "__lambda__"}},
                        "name": "double_it",
                        "inbound_nodes": [],
                    },
                )
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    line = _refused(
        capsys,
        [
            "import-keras",
            str(small / "mlp.nn"),
            "--model",
            "Mlp",
            str(bad),
            "-o",
            str(tmp_path / "x.safetensors"),
        ],
    )
    assert "Lambda layer `double_it`" in line


def test_custom_object_is_refused_by_name(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "custom.keras"
    with zipfile.ZipFile(small / "mlp.keras") as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][1]
                layer["module"], layer["registered_name"] = "my_project.layers", "my>Twice"
                layer["class_name"] = "Twice"
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    line = _refused(
        capsys,
        [
            "import-keras",
            str(small / "mlp.nn"),
            "--model",
            "Mlp",
            str(bad),
            "-o",
            str(tmp_path / "x.safetensors"),
        ],
    )
    assert "custom object `Twice`" in line


def test_weights_of_another_model_list_what_does_not_match(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.safetensors"
    line = _refused(
        capsys,
        [
            "import-keras",
            str(small / "mlp.nn"),
            "--model",
            "Other",
            str(small / "mlp.keras"),
            "-o",
            str(out),
        ],
    )
    assert "do not fit Other: 2 layers with other shapes: keras dense" in line
    assert "[4, 3]" in line and "[4, 5]" in line  # shapes on both sides
    assert not out.exists()
    argv = ["import-keras", str(small / "mlp.nn"), "--model", "Deeper", str(small / "mlp.keras")]
    line = _refused(capsys, [*argv, "-o", str(out)])
    assert "Deeper: 1 layer of nndsl unmatched: dense_2 (Dense) [2, 2] [2]" in line
    assert not out.exists()


def test_not_a_keras_file(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "junk.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip" + bytes(100))
    nn = str(small / "mlp.nn")
    line = _refused(
        capsys,
        ["import-keras", nn, "--model", "Mlp", str(bad), "-o", str(tmp_path / "x.safetensors")],
    )
    assert "junk.keras" in line
    h5 = tmp_path / "junk.weights.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    line = _refused(
        capsys,
        ["import-keras", nn, "--model", "Mlp", str(h5), "-o", str(tmp_path / "x.safetensors")],
    )
    assert "junk.weights.h5" in line


def test_missing_file(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nn = str(small / "mlp.nn")
    line = _refused(
        capsys,
        [
            "import-keras",
            nn,
            "--model",
            "Mlp",
            "nowhere.keras",
            "-o",
            str(tmp_path / "x.safetensors"),
        ],
        code=2,
    )
    assert "no such file: nowhere.keras" in line


# -- the docs' example: a pretrained MobileNetV2 fine-tuned on an image folder ----------------


def _docs_example() -> str:
    """The `nn` block after "Fine-tune a pretrained MobileNetV2" in docs/language.md."""
    from tests.cli import ROOT

    text = (ROOT / "docs" / "language.md").read_text()
    start = text.index("**Fine-tune a pretrained MobileNetV2 on an image folder.**")
    block = text.index("```nn\n", start) + len("```nn\n")
    return text[block : text.index("```", block)]


def test_docs_example_fine_tunes_a_keras_mobilenet_on_an_image_folder(
    tmp_path: Path, cheap_init: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a user runs it, without a download: Keras-saved `.weights.h5` (random, statistics
    randomized) through `import-keras` into `Trunk`, then `train` with `init`: the trunk is
    loaded and stays as imported (frozen, batch norms in inference mode), the head learns.
    Small: alpha 0.35, 32x32 images, one epoch."""
    from PIL import Image
    from safetensors.numpy import load_file

    source = _docs_example()
    for old, new in [
        ("const SIZE = 160", "const SIZE = 32"),
        ("const ALPHA = 100", "const ALPHA = 35"),
        ("epochs = 5", "epochs = 1\n    validation_split = 0.0"),  # no evaluation to compile
        ("image_size = [SIZE, SIZE])", "image_size = [SIZE, SIZE], test_split = 0.0)"),
        ("batch = 32", "batch = 8"),
    ]:
        assert old in source
        source = source.replace(old, new)
    nn = tmp_path / "flowers.nn"
    nn.write_text(source)
    rng = np.random.default_rng(0)
    for c, name in enumerate(["daisy", "rose", "tulip"]):
        folder = tmp_path / "data" / "flowers" / name
        folder.mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, size=(40, 40, 3)).astype(np.uint8)
            pixels[..., c] = 255  # a class's colour, so the head has something to learn
            Image.fromarray(pixels).save(folder / f"{i}.png")

    k = keras.applications.MobileNetV2(
        include_top=False, pooling="avg", weights=None, alpha=0.35, input_shape=(32, 32, 3)
    )
    _randomize(k)
    k.save_weights(tmp_path / "mobilenet_v2.weights.h5")
    trunk = tmp_path / "mobilenet_v2.safetensors"
    argv = ["import-keras", str(nn), "--model", "Trunk", str(tmp_path / "mobilenet_v2.weights.h5")]
    assert main([*argv, "-o", str(trunk)]) == 0

    run = tmp_path / "runs" / "Flowers"
    assert main(["train", str(nn), "--quiet", "--no-cache", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "init from" in out and "skipped" in out, out
    imported, trained = load_file(str(trunk)), load_file(str(run / "model.safetensors"))
    assert set(imported) < set(trained)
    for key, value in imported.items():  # frozen: weights and moving statistics untouched
        np.testing.assert_array_equal(trained[key], value, err_msg=key)
    head = sorted(set(trained) - set(imported))
    assert head == ["dense/bias", "dense/kernel"], head
