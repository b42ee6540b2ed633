"""Keras's dict spellings in `train`, CSV column groups and zipped sources, trained end to end
on a few rows; each mistake a diagnostic or one line naming the sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.runtime import DataError, fit, load_data

N = 32
MODEL = """
model Price() {
  input numeric: f32[B, 2]
  input category: i32[B]
  input flag: f32[B, 1]
  e = category |> Embedding(3, 2)
  h = (numeric, e, flag) |> Concatenate() |> Dense(8, activation = "relu")
  price = h |> Dense(1)
  label = h |> Dense(2)
  return price, label
}
"""
CSV = (
    'data d = csv("t.csv", x = {numeric: ["a", "b"], category: "c", flag: "f"}, '
    'y = {price: "p", label: "kind"})\n'
)
TRAIN = """
train Price on d {
  loss = {price: mse, label: cross_entropy(from_logits = true)}
  loss_weights = {price: 0.5}
  metrics = {label: [accuracy]}
  optimizer = adam(lr = 0.01)
  epochs = 1
  batch = 8
  seed = 1
}
"""


def _files(tmp_path: Path, rows: int = N) -> None:
    r = np.random.default_rng(0)
    a, b = r.normal(size=rows), r.normal(size=rows)
    colors = r.choice(["red", "green", "blue"], size=rows)
    with (tmp_path / "t.csv").open("w") as f:
        f.write("id,a,b,c,f,p,kind\n")
        for i in range(rows):
            kind = "hi" if a[i] > 0 else "lo"
            f.write(f"{i},{a[i]:.4f},{b[i]:.4f},{colors[i]},{i % 2},{a[i] + b[i]:.4f},{kind}\n")
    ids = np.arange(rows, dtype=np.float32)
    np.savez(tmp_path / "s.npz", numeric=np.stack([ids, ids], 1), price=ids[:, None])


def _check(tmp_path: Path, text: str) -> tuple[TrainConfig | None, list[str]]:
    path = tmp_path / "m.nn"
    path.write_text(text)
    checked = check_source(text, str(path))
    errors = [d.message for d in checked.diagnostics if d.is_error]
    train = checked.program.train if checked.program is not None else None
    return (None if errors else train), errors


def test_dict_spelling_means_per_output(tmp_path: Path) -> None:
    _files(tmp_path)
    keras, errors = _check(tmp_path, MODEL + CSV + TRAIN)
    assert keras is not None, errors
    per_output = TRAIN.replace(
        "{price: mse, label: cross_entropy(from_logits = true)}",
        "per_output(price = mse, label = cross_entropy(from_logits = true))",
    )
    per_output = per_output.replace("{price: 0.5}", "per_output(price = 0.5)")
    per_output = per_output.replace("{label: [accuracy]}", "per_output(label = [accuracy])")
    old, errors = _check(tmp_path, MODEL + CSV + per_output)
    assert old is not None, errors

    def calls(config: TrainConfig) -> object:
        return (
            {k: (v.op.name, dict(v.attrs)) for k, v in config.losses.items()},
            config.loss_weights,
            {k: [(m.op.name, dict(m.attrs)) for m in v] for k, v in config.output_metrics.items()},
        )

    assert calls(keras) == calls(old)
    assert keras.loss_weights == {"price": 0.5, "label": 1.0}


def test_csv_groups_feed_inputs_and_outputs_by_name(tmp_path: Path) -> None:
    _files(tmp_path)
    config, errors = _check(tmp_path, MODEL + CSV + TRAIN)
    assert config is not None, errors
    splits = load_data(config)
    x, y = splits.train.x, splits.train.y
    assert isinstance(x, dict) and isinstance(y, dict)
    assert x["numeric"].shape[1:] == (2,) and x["numeric"].dtype == np.float32
    assert x["category"].ndim == 1 and x["category"].dtype == np.int32
    assert set(np.unique(x["category"])) <= {0, 1, 2}  # words -> sorted class ids
    assert x["flag"].shape[1:] == (1,)  # one column fed to `f32[B, 1]`
    assert set(np.unique(y["label"])) <= {0, 1}
    result = fit(config, run_dir=tmp_path / "run")
    assert list(result.history[-1].train) == ["loss", "price_loss", "label_loss", "label_accuracy"]


ZIP = """
model Two() {
  input numeric: f32[B, 2]
  input flag: f32[B, 1]
  h = (numeric, flag) |> Concatenate() |> Dense(4, activation = "relu")
  price = h |> Dense(1)
  label = h |> Dense(2)
  return price, label
}
data arrays = npz("s.npz", x = ["numeric"], y = ["price"])
data table = csv("t.csv", x = {flag: ["id"]}, y = {label: "kind"})
data d = zip(arrays, table, test_split = 0.25)
train Two on d {
  loss = {price: mse, label: cross_entropy(from_logits = true)}
  optimizer = adam(lr = 0.01)
  epochs = 1
  batch = 8
}
"""


def test_zip_shuffles_and_splits_every_source_alike(tmp_path: Path) -> None:
    _files(tmp_path)
    config, errors = _check(tmp_path, ZIP)
    assert config is not None, errors
    splits = load_data(config)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (22, 2, 8)
    for part in (splits.train, splits.validation, splits.test):
        x, y = part.x, part.y
        assert isinstance(x, dict) and isinstance(y, dict)
        # row i of the npz is row i of the CSV (`id`): one permutation for both
        np.testing.assert_array_equal(x["numeric"][:, 0], x["flag"][:, 0])
        np.testing.assert_array_equal(y["price"][:, 0], x["flag"][:, 0])
    again = load_data(config)  # the same split each time, as a resumed run needs
    np.testing.assert_array_equal(again.train.x["flag"], splits.train.x["flag"])
    result = fit(config, run_dir=tmp_path / "run")
    assert "label_loss" in result.history[-1].train


def test_zip_row_counts_must_agree(tmp_path: Path) -> None:
    _files(tmp_path)
    config, errors = _check(tmp_path, ZIP)
    assert config is not None, errors
    np.savez(tmp_path / "s.npz", numeric=np.zeros((30, 2)), price=np.zeros((30, 1)))
    with pytest.raises(DataError, match=r"data `arrays` has 30 rows but data `table` has 32"):
        load_data(config)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("{price: mse,", "{prise: mse,"), "`Two` has no output `prise`"),
        (('x = ["numeric"], y', 'x = "numeric", y'), "`arrays` gives one unnamed inputs array"),
        (('{flag: ["id"]}', '{flag: ["id"], numeric: ["a", "b"]}'), "input `numeric` is fed by"),
        (("zip(arrays, table,", "zip(arrays, tabel,"), "unknown data source `tabel`"),
        (('{flag: ["id"]}', '{flag: ["id", "a"]}'), 'columns "id", "a" are `[B, 2]`'),
    ],
)
def test_mistakes_are_diagnostics(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    _files(tmp_path)
    assert edit[0] in ZIP
    _, errors = _check(tmp_path, ZIP.replace(*edit))
    assert any(expected in e for e in errors), errors


def test_a_keyed_loss_for_one_output_is_a_diagnostic(tmp_path: Path) -> None:
    _files(tmp_path)
    text = (
        "model One() {\n  input x: f32[B, 2]\n  return x |> Dense(1)\n}\n"
        'data d = csv("t.csv", x = {x: ["a", "b"]}, y = {out: "p"})\n'
        "train One on d {\n  loss = {out: mse}\n  optimizer = adam\n}\n"
    )
    _, errors = _check(tmp_path, text)
    assert any("`loss` is keyed by output, but `One` has one output" in e for e in errors)


def test_a_zipped_source_may_weigh_the_examples(tmp_path: Path) -> None:
    _files(tmp_path)
    text = (
        ZIP.replace('y = ["price"]', "y = []")
        .replace('y = {label: "kind"}', 'y = {label: "kind"}, sample_weight = "f"')
        .replace("{price: mse, label: cross_entropy(from_logits = true)}", "cross_entropy")
        .replace("return price, label", "return label")
    )
    config, errors = _check(tmp_path, text)
    assert config is not None, errors
    splits = load_data(config)
    x, w = splits.train.x, splits.train.w
    assert isinstance(x, dict) and w is not None
    np.testing.assert_array_equal(w, x["flag"][:, 0] % 2)  # `f` is `id % 2`, row by row
