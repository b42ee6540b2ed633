"""Per-example loss weights (`npz(..., sample_weight = "w")`) against Keras 3's
`fit(sample_weight=...)` and `evaluate(sample_weight=...)` on a tiny model.

nndsl's own split (seeded shuffle, test and validation rows) is read back with `load_data`
and handed to Keras in the same order, with `shuffle=False` on both sides, from the same
initial weights, so the per-epoch losses must agree to float32 rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend import DataError
from nndsl.backend.jax.compile import compile_graph
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import fit, load_data

os.environ.setdefault("KERAS_BACKEND", "jax")

SEED = 3


def source(data: str, train_extra: str = "", per_call: int = 1) -> str:
    return f"""
model Tiny() {{
    input x: f32[B, 3]
    return x |> Dense(4, activation = "relu") |> Dense(3)
}}
data d = {data}
train Tiny on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = sgd(learning_rate = 0.1)
    metrics = [accuracy]
    epochs = 3
    batch = 8
    validation_split = 0.25
    shuffle = false
    seed = {SEED}
    steps_per_execution = {per_call}
    {train_extra}
}}
"""


def write_data(directory: Path, n: int = 42, weights: np.ndarray | None = None) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = rng.integers(0, 3, n).astype(np.int32)
    w = rng.uniform(0.0, 3.0, n).astype(np.float32) if weights is None else weights
    np.savez(directory / "d.npz", x=x, y=y, w=w)


def config(directory: Path, text: str) -> TrainConfig:
    path = directory / "tiny.nn"
    path.write_text(text)
    checked = check_source(text, str(path))
    assert not checked.has_errors, render_plain(checked.diagnostics)
    assert checked.program is not None and checked.program.train is not None
    return checked.program.train


WEIGHTED = 'npz("d.npz", test_split = 0.25, sample_weight = "w")'


def test_losses_match_keras_fit_and_evaluate(tmp_path: Path) -> None:
    import keras

    write_data(tmp_path)
    cfg = config(tmp_path, source(WEIGHTED))
    splits = load_data(cfg)
    train, val, test = splits.train, splits.validation, splits.test
    # 42 rows: 10 test, 8 validation, 24 training (3 full batches), the test's last batch padded
    assert (len(train), len(val), len(test)) == (24, 8, 10)
    assert train.w is not None and val.w is not None and test.w is not None

    result = fit(cfg, run_dir=tmp_path / "run")

    params, _ = compile_graph(cfg.graph).init(jax.random.fold_in(jax.random.key(SEED), 0))
    net = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)]
    )
    net.set_weights(
        [np.asarray(params[k][w]) for k in ("dense", "dense_1") for w in ("kernel", "bias")]
    )
    net.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = net.fit(
        train.x,
        train.y,
        sample_weight=train.w,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        validation_data=(val.x, val.y, val.w),
    ).history
    ours = result.history
    np.testing.assert_allclose([e.train["loss"] for e in ours], history["loss"], rtol=1e-5)
    assert all(e.validation is not None for e in ours)
    np.testing.assert_allclose(
        [e.validation["loss"] for e in ours if e.validation], history["val_loss"], rtol=1e-5
    )
    # `metrics` are unweighted, as Keras's `metrics=` (only `weighted_metrics` take weights)
    np.testing.assert_allclose([e.train["accuracy"] for e in ours], history["accuracy"])
    test_loss, _ = net.evaluate(test.x, test.y, sample_weight=test.w, batch_size=8, verbose=0)
    assert result.test is not None
    np.testing.assert_allclose(result.test["loss"], test_loss, rtol=1e-5)
    unweighted, _ = net.evaluate(test.x, test.y, batch_size=8, verbose=0)
    assert abs(unweighted - test_loss) > 1e-3  # the weights do change the figure


def test_unit_weights_train_as_no_weights_and_calls_of_several_steps_agree(
    tmp_path: Path,
) -> None:
    write_data(tmp_path, weights=np.ones(42, np.float32))
    plain = fit(config(tmp_path, source('npz("d.npz", test_split = 0.25)')), run_dir=tmp_path / "a")
    ones = fit(config(tmp_path, source(WEIGHTED)), run_dir=tmp_path / "b")
    for a, b in zip(plain.history, ones.history, strict=True):
        assert a.train["loss"] == pytest.approx(b.train["loss"], rel=1e-6)
    write_data(tmp_path)
    single = fit(config(tmp_path, source(WEIGHTED)), run_dir=tmp_path / "c")
    scanned = fit(config(tmp_path, source(WEIGHTED, per_call=3)), run_dir=tmp_path / "d")
    assert scanned.steps_per_execution == 3
    for a, b in zip(single.history, scanned.history, strict=True):
        assert a.train["loss"] == pytest.approx(b.train["loss"], rel=1e-5)
    assert ones.history[-1].train["loss"] != pytest.approx(single.history[-1].train["loss"])


def test_bad_weights_and_class_weight_together_are_data_errors(tmp_path: Path) -> None:
    write_data(tmp_path, weights=np.ones((42, 2), np.float32))
    with pytest.raises(DataError, match=r"shape \[42, 2\], expected one weight per example"):
        load_data(config(tmp_path, source(WEIGHTED)))
    write_data(tmp_path, weights=-np.ones(42, np.float32))
    with pytest.raises(DataError, match="negative weight"):
        load_data(config(tmp_path, source(WEIGHTED)))
    write_data(tmp_path)
    both = source(WEIGHTED, train_extra="class_weight = [1.0, 2.0, 1.0]")
    with pytest.raises(DataError, match="`class_weight` and `sample_weight` cannot be used"):
        load_data(config(tmp_path, both))
    missing = source('npz("d.npz", sample_weight = "weights")')
    with pytest.raises(DataError, match="no array 'weights' for sample_weight"):
        load_data(config(tmp_path, missing))


def test_npy_and_csv_sources_take_sample_weights_as_npz_does(tmp_path: Path) -> None:
    write_data(tmp_path)
    with np.load(tmp_path / "d.npz") as d:
        x, y, w = d["x"], d["y"], d["w"]
    for name, a in (("x", x), ("y", y), ("w", w)):
        np.save(tmp_path / f"{name}.npy", a)
    lines = ["a,b,weight,c,label"]  # the weight column sits between input columns
    lines += [
        f"{float(r[0])!r},{float(r[1])!r},{float(wi)!r},{float(r[2])!r},{int(yi)}"
        for r, yi, wi in zip(x.astype(float), y, w, strict=True)
    ]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # a BOM
    sources = {
        "npz": WEIGHTED,
        "npy": 'npy(x = "x.npy", y = "y.npy", test_split = 0.25, sample_weight = "w.npy")',
        "csv": 'csv("d.csv", label = "label", test_split = 0.25, sample_weight = "weight")',
        "streamed csv": 'csv("d.csv", label = "label", test_split = 0.25, '
        'sample_weight = "weight", stream = true)',
    }
    losses = {}
    for kind, data in sources.items():
        result = fit(config(tmp_path, source(data)), run_dir=tmp_path / kind.replace(" ", "-"))
        losses[kind] = [e.train["loss"] for e in result.history]
    np.testing.assert_allclose(losses["npy"], losses["npz"], rtol=1e-6)
    np.testing.assert_allclose(losses["csv"], losses["npz"], rtol=1e-6)
    assert losses["streamed csv"] == losses["csv"]  # the same batches and weights


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            'csv("d.csv", label = "label", sample_weight = "label")',
            'the label column "label" cannot also be the sample weights',
        ),
        (
            'csv("d.csv", label = "label", columns = ["a", "w"], sample_weight = "w")',
            'the sample weight column "w" is also an input column',
        ),
    ],
)
def test_the_checker_refuses_a_weight_column_that_is_another_role(data: str, message: str) -> None:
    checked = check_source(source(data), "tiny.nn")
    assert checked.has_errors
    assert message in render_plain(checked.diagnostics)
