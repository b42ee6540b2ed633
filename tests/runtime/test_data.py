"""Data problems surface as one-line DataErrors before training; splits and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndsl.runtime import DataError, fit, load_data
from nndsl.runtime.data import Dataset, eval_batches, split, train_batches
from tests.backend.graphs import call
from tests.runtime.helpers import blobs, config_for, write_npz


def error_of(tmp_path: Path, **kwargs: object) -> str:
    events: list[object] = []
    with pytest.raises(DataError) as info:
        fit(config_for(tmp_path, **kwargs), on_event=events.append)  # type: ignore[arg-type]
    assert events == []  # nothing started
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "nope.npz: data file not found" in error_of(tmp_path, data_file="nope.npz")


def test_missing_key_lists_the_keys_present(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, images=x, labels=y)
    message = error_of(tmp_path, x="pixels", y="labels")
    assert "data.npz" in message and "'pixels'" in message and "images, labels" in message


def test_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "data.npz").write_text("hello")
    assert "not a readable .npz" in error_of(tmp_path)


def test_input_shape_mismatch_names_both_shapes(tmp_path: Path) -> None:
    x, y = blobs(features=5)
    write_npz(tmp_path, x=x, y=y)
    message = error_of(tmp_path)
    assert "'x'" in message and "[240, 5]" in message and "[B, 4]" in message


def test_label_count_mismatch(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y[:-3])
    message = error_of(tmp_path)
    assert "'y' has 237 rows" in message and "240" in message


def test_class_id_out_of_range(tmp_path: Path) -> None:
    x, y = blobs()
    y[5] = 3  # the model has 3 classes
    write_npz(tmp_path, x=x, y=y)
    message = error_of(tmp_path)
    assert "class id 3 is outside [0, 3)" in message and "'y'" in message


def test_one_hot_width_and_non_integer_ids(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=np.eye(4)[y])
    assert "one-hot [B, 3]" in error_of(tmp_path)
    write_npz(tmp_path, x=x, y=y + 0.5)
    assert "non-integer" in error_of(tmp_path)


def test_binary_and_regression_label_shapes(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, x=x, y=y)
    bce = call("binary_cross_entropy", from_logits=True)
    assert "shaped like the prediction [B, 3]" in error_of(tmp_path, loss=bce)
    assert "shaped like the prediction [B, 3]" in error_of(tmp_path, loss=call("mse"))
    write_npz(tmp_path, x=x, y=np.eye(3)[y] * 2)
    assert "expected 0/1 labels, found values in [0, 2]" in error_of(tmp_path, loss=bce)


def test_non_finite_inputs(tmp_path: Path) -> None:
    x, y = blobs()
    x[3, 1] = np.nan
    write_npz(tmp_path, x=x, y=y)
    assert "NaN" in error_of(tmp_path)


def test_load_casts_and_splits_deterministically(tmp_path: Path) -> None:
    x, y = blobs(n=100)
    write_npz(tmp_path, x=x, y=y)
    cfg = config_for(tmp_path, test_split=0.2, validation_split=0.25, seed=3)
    a, b = load_data(cfg), load_data(cfg)
    assert (len(a.train), len(a.validation), len(a.test)) == (60, 20, 20)
    assert a.train.x.dtype == np.float32 and a.train.y.dtype == np.int32
    np.testing.assert_array_equal(a.test.x, b.test.x)
    all_rows = np.concatenate([a.train.x, a.validation.x, a.test.x])
    assert sorted(map(tuple, all_rows)) == sorted(map(tuple, x.astype(np.float32)))


def test_split_needs_training_rows() -> None:
    with pytest.raises(DataError, match="nothing to train on"):
        split(Dataset(np.zeros((1, 1)), np.zeros(1)), test_split=0.6, validation_split=0.1, seed=0)


def test_train_batches_are_full_cover_everything_and_reshuffle() -> None:
    data = Dataset(np.arange(10.0)[:, None], np.arange(10))
    epoch1 = list(train_batches(data, 4, seed=0, epoch=1))
    assert [len(bx) for bx, _ in epoch1] == [4, 4, 4]
    seen = np.concatenate([by for _, by in epoch1])
    assert set(seen) == set(range(10))
    assert list(seen[10:]) == list(seen[:2])  # wrap-around fill
    epoch2 = np.concatenate([by for _, by in train_batches(data, 4, seed=0, epoch=2)])
    assert list(epoch2) != list(seen)
    again = np.concatenate([by for _, by in train_batches(data, 4, seed=0, epoch=1)])
    np.testing.assert_array_equal(again, seen)
    small = list(train_batches(Dataset(np.zeros((3, 1)), np.arange(3)), 8, seed=0, epoch=1))
    assert len(small) == 1 and len(small[0][0]) == 8


def test_eval_batches_pad_and_mask() -> None:
    data = Dataset(np.ones((10, 2), np.float32), np.arange(10))
    batches = list(eval_batches(data, 4))
    assert [b[2].sum() for b in batches] == [4, 4, 2]
    assert all(len(b[0]) == 4 for b in batches)
    np.testing.assert_array_equal(batches[-1][0][2:], 0)
