"""Data sets written as several files (`npy(x = "x-*.npy", ...)`, `npz("part-*.npz", ...)`):
the shards read as one array, rows in file-name order, streamed or in memory, giving the
training and evaluation batches (so the trained weights) of the same rows in one file; a batch
reads from each shard only its rows; mismatched shards and patterns that match nothing are one
line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndsl.backend import DataError
from nndsl.ir import TrainConfig
from nndsl.runtime import load_data, streaming
from nndsl.runtime.streaming import Rows, wants_stream
from tests.runtime.test_streaming import NPY_MODEL, _assert_same_data, _config

BOUNDS = [(0, 30), (30, 31), (31, 58), (58, 75)]  # uneven, one of a single row
SOURCES = {
    ("npy", False): 'npy(x = "x.npy", y = "y.npy", test_split = 0.25)',
    ("npy", True): 'npy(x = "shards/x-*.npy", y = "shards/y-*.npy", test_split = 0.25',
    ("npz", False): 'npz("d.npz", x = "inputs", y = "labels", test_split = 0.25)',
    ("npz", True): 'npz("shards/part-*.npz", x = "inputs", y = "labels", test_split = 0.25',
}


def _data(folder: Path, n: int = 75) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype(np.float64)  # cast when read
    y = rng.integers(0, 3, n).astype(np.int64)
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    np.savez(folder / "d.npz", inputs=x, labels=y)
    (folder / "shards").mkdir()
    for i, (a, b) in enumerate(reversed(BOUNDS)):  # written out of order: read by name
        k = len(BOUNDS) - 1 - i
        np.save(folder / f"shards/x-{k:05d}.npy", x[a:b])
        np.save(folder / f"shards/y-{k:05d}.npy", y[a:b])
        np.savez(folder / f"shards/part-{k:05d}.npz", inputs=x[a:b], labels=y[a:b])
    return x, y


def _source_config(
    folder: Path, fmt: str, sharded: bool, stream: str = "", epochs: int = 2
) -> TrainConfig:
    source = SOURCES[(fmt, sharded)] + (f"{stream})" if sharded else "")
    text = NPY_MODEL.format(stream="", epochs=epochs, spe=1).replace(
        SOURCES[("npy", False)], source
    )
    return _config(folder, text)


@pytest.mark.parametrize("fmt", ["npy", "npz"])
@pytest.mark.parametrize("stream", ["true", "false"])
def test_shards_give_the_batches_of_one_file(tmp_path: Path, fmt: str, stream: str) -> None:
    _data(tmp_path)
    one = load_data(_source_config(tmp_path, fmt, False))
    sharded = load_data(_source_config(tmp_path, fmt, True, f", stream = {stream}"))
    assert isinstance(sharded.train.x, Rows) == (stream == "true")
    _assert_same_data(one, sharded)


def test_a_batch_reads_from_each_shard_only_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, _ = _data(tmp_path)
    full = streaming.open_npy_source({"x": "shards/x-*.npy", "y": "shards/y-*.npy"}, tmp_path)
    read: list[tuple[int, int]] = []  # (file, first row byte) of each positioned read
    real = streaming.os.preadv

    def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        read.append((fd, offset))
        return real(fd, buffers, offset)

    monkeypatch.setattr(streaming.os, "preadv", preadv)
    index = np.array([57, 29, 30, 31, 74, 0])  # each side of every boundary
    np.testing.assert_array_equal(full["x"][index], x[index])
    rows_read: dict[int, list[int]] = {}  # by file (opened in shard order): rows read there
    for fd, offset in read:
        rows_read.setdefault(fd, []).append((offset - 128) // (6 * 8))  # after a 128-byte header
    assert [rows_read[fd] for fd in sorted(rows_read)] == [[0, 29], [0], [0, 26], [16]]


def test_a_bad_row_names_its_shard_and_row(tmp_path: Path) -> None:
    x, _ = _data(tmp_path)
    bad = x[31:58].copy()
    bad[4, 1] = np.nan
    np.save(tmp_path / "shards/x-00002.npy", bad)
    rows = streaming.open_npy_source({"x": "shards/x-*.npy", "y": "shards/y-*.npy"}, tmp_path)
    with pytest.raises(DataError, match=r"x-00002\.npy: row 4 contains NaN"):
        rows["x"][np.arange(75)]


@pytest.mark.parametrize("stream", ["true", "false"])
def test_shard_errors_are_one_line(tmp_path: Path, stream: str) -> None:
    _data(tmp_path)
    config = _source_config(tmp_path, "npy", True, f", stream = {stream}")
    np.save(tmp_path / "shards/x-00009.npy", np.zeros((3, 5)))
    with pytest.raises(DataError) as info:
        load_data(config)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "shards/x-00009.npy"))
    assert "float64[3, 5]" in message and "every dimension but the first" in message
    (tmp_path / "shards/x-00009.npy").unlink()
    np.save(tmp_path / "shards/y-00009.npy", np.zeros(3, np.int64))
    with pytest.raises(DataError, match=r"75 rows.*78|78.*75"):
        load_data(config)
    for path in (tmp_path / "shards").glob("x-*"):
        path.unlink()
    with pytest.raises(DataError) as info:
        load_data(config)
    assert str(info.value) == f"{tmp_path / 'shards/x-*.npy'}: no data file matches this pattern"


def test_auto_streaming_counts_every_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _data(tmp_path)
    shard = (tmp_path / "shards/x-00000.npy").stat().st_size
    total = sum(p.stat().st_size for p in (tmp_path / "shards").glob("x-*.npy"))
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", (shard + total) // 2)
    assert wants_stream("npy", {"x": "shards/x-*.npy"}, tmp_path)
    assert not wants_stream("npy", {"x": "shards/x-00000.npy"}, tmp_path)
    npz = {"path": "shards/part-*.npz", "x": "inputs"}
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", 75 * 6 * 8 - 1)
    assert wants_stream("npz", npz, tmp_path)
    assert not wants_stream("npz", {**npz, "path": "shards/part-00000.npz"}, tmp_path)
