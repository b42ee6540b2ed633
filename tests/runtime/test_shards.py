"""Data sets written as several files (`npy(x = "x-*.npy", ...)`, `npz("part-*.npz", ...)`,
`csv("part-*.csv", ...)`): the shards read as one array, rows in file-name order, streamed or
in memory, giving the training and evaluation batches (so the trained weights) of the same rows
in one file; a batch reads from each shard only its rows; mismatched shards and patterns that
match nothing are one line, a CSV shard's bad cell names the shard and its own line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nndsl.backend import DataError
from nndsl.backend.jax.impls.data import csv_file
from nndsl.ir import TrainConfig
from nndsl.runtime import load_data, streaming
from nndsl.runtime.streaming import Rows, wants_stream
from tests.runtime.test_streaming import GROUPS_MODEL, NPY_MODEL, _assert_same_data, _config

BOUNDS = [(0, 30), (30, 31), (31, 58), (58, 75)]  # uneven, one of a single row
CSV = 'label = "kind", columns = ["f0", "f1", "f2", "f3", "f4", "f5"], sample_weight = "w"'
SOURCES = {  # one file, and its shards
    "npy": (
        'npy(x = "x.npy", y = "y.npy", test_split = 0.25',
        'npy(x = "shards/x-*.npy", y = "shards/y-*.npy", test_split = 0.25',
    ),
    "npz": (
        'npz("d.npz", x = "inputs", y = "labels", test_split = 0.25',
        'npz("shards/part-*.npz", x = "inputs", y = "labels", test_split = 0.25',
    ),
    "csv": (
        f'csv("t.csv", {CSV}, test_split = 0.25',
        f'csv("shards/part-*.csv", {CSV}, test_split = 0.25',
    ),
}
CSV_HEADER = "f0,f1,f2,f3,f4,f5,kind,tag,w"


def _data(folder: Path, n: int = 75) -> tuple[np.ndarray, np.ndarray]:
    """Also a CSV table (`t.csv` and its shards, each with the header): the first shard lacks
    the class `ant` and the word `blue`, so its own sorted names would give other ids."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype(np.float64)  # cast when read
    y = rng.integers(0, 3, n).astype(np.int64)
    y[:30] = 1 + y[:30] % 2
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    np.savez(folder / "d.npz", inputs=x, labels=y)
    words = ["red", "green", '"b,lue"']
    lines = [
        ",".join(
            [
                *map(repr, row.tolist()),
                "ant bee cat".split()[label],
                words[i % (2 + (i >= 30))],
                str(w),
            ]
        )
        for i, (row, label, w) in enumerate(zip(x, y, rng.uniform(0.5, 2, n), strict=True))
    ]
    (folder / "t.csv").write_text("\n".join([CSV_HEADER, *lines]) + "\n")
    (folder / "shards").mkdir()
    for i, (a, b) in enumerate(reversed(BOUNDS)):  # written out of order: read by name
        k = len(BOUNDS) - 1 - i
        np.save(folder / f"shards/x-{k:05d}.npy", x[a:b])
        np.save(folder / f"shards/y-{k:05d}.npy", y[a:b])
        np.savez(folder / f"shards/part-{k:05d}.npz", inputs=x[a:b], labels=y[a:b])
        (folder / f"shards/part-{k:05d}.csv").write_text("\n".join([CSV_HEADER, *lines[a:b]]))
    return x, y


def _source_config(folder: Path, fmt: str, sharded: bool, stream: str = "") -> TrainConfig:
    """`fmt`'s source (`csv groups`: column groups, word inputs, two outputs) of one file or
    of its shards."""
    if fmt == "csv groups":
        text = GROUPS_MODEL.format(stream=stream, epochs=2)
        return _config(
            folder, text.replace('"t.csv"', '"shards/part-*.csv"' if sharded else '"t.csv"')
        )
    source = SOURCES[fmt][sharded] + f"{stream})"
    text = NPY_MODEL.format(stream="", epochs=2, spe=1)
    return _config(folder, text.replace(SOURCES["npy"][False] + ")", source))


@pytest.mark.parametrize("fmt", ["npy", "npz", "csv", "csv groups"])
@pytest.mark.parametrize("stream", ["true", "false"])
def test_shards_give_the_batches_of_one_file(tmp_path: Path, fmt: str, stream: str) -> None:
    _data(tmp_path)
    one = load_data(_source_config(tmp_path, fmt, False))
    sharded = load_data(_source_config(tmp_path, fmt, True, f", stream = {stream}"))
    x = sharded.train.x
    assert all(
        isinstance(v, Rows) == (stream == "true")
        for v in (x.values() if isinstance(x, dict) else [x])
    )
    assert sharded.class_names == one.class_names == (("ant", "bee", "cat") if fmt == "csv" else ())
    assert (sharded.train.w is None) == (fmt != "csv")
    _assert_same_data(one, sharded)


@pytest.mark.parametrize("fmt", ["npy", "csv"])
def test_a_batch_reads_from_each_shard_only_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Each positioned read (`os.preadv` of `.npy` rows, `os.pread` of a CSV span) starts at
    the row of its shard it reads."""
    x, _ = _data(tmp_path)
    if fmt == "npy":
        full = streaming.open_npy_source({"x": "shards/x-*.npy", "y": "shards/y-*.npy"}, tmp_path)
    else:
        attrs = {"path": "shards/part-*.csv", "label": "kind", "sample_weight": "w", "header": True}
        columns = ("f0", "f1", "f2", "f3", "f4", "f5")
        full = streaming.open_csv_source(
            {**attrs, "columns": columns, "delimiter": ",", "x": None, "y": None}, tmp_path
        )
    read: list[tuple[int, int]] = []  # (file, first byte) of each positioned read
    name = "preadv" if fmt == "npy" else "pread"
    real = getattr(streaming.os, name)

    def positioned(fd: int, what: Any, offset: int) -> Any:
        read.append((fd, offset))
        return real(fd, what, offset)

    monkeypatch.setattr(streaming.os, name, positioned)
    index = np.array([57, 29, 30, 31, 74, 0])  # each side of every boundary
    np.testing.assert_array_equal(full["x"][index], x[index])
    shards = full["x"]._source._shards
    rows_read: dict[int, list[int]] = {}  # by file (opened in shard order): rows read there
    for fd, offset in read:
        if fmt == "npy":
            row = (offset - 128) // (6 * 8)  # after a 128-byte header
        else:
            row = int(np.searchsorted(next(s._offsets for s in shards if s._fd == fd), offset))
        rows_read.setdefault(fd, []).append(row)
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


def _rewrite(path: Path, line: int, text: str) -> None:
    """Line `line` (1-based) of a CSV file replaced."""
    lines = path.read_text().split("\n")
    lines[line - 1] = text
    path.write_text("\n".join(lines))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda p: _rewrite(p, 1, CSV_HEADER.replace("f2,f3", "f3,f2")),
            "{shard}: the header has 'f3' as column 3, but {first} has 'f2'; the shards",
        ),
        (
            lambda p: _rewrite(p, 1, CSV_HEADER.removesuffix(",w")),
            "{shard}: the header has no column 9, but {first} has 'w'; the shards",
        ),
        (
            lambda p: _rewrite(p, 7, "1,2,3,x,5,6,ant,red,1"),
            "{shard}: line 7, column 'f3': 'x' is not a number",
        ),
        (
            lambda p: _rewrite(p, 5, "1,2,3,4,5,6,2,red,1"),
            "{shard}: line 5, column 'kind': label '2' is a number, but other labels are names",
        ),
        (
            lambda p: _rewrite(p, 4, "1,2,3,4,5,6,ant,red"),
            "{shard}: line 4 has 8 cells, but the header has 9",
        ),
        (lambda p: p.write_text(""), "{shard}: the file is empty; expected a header row"),
        (
            lambda p: [q.unlink() for q in p.parent.glob("*.csv")],
            "{pattern}: no CSV file matches this pattern",
        ),
    ],
)
def test_a_csv_shard_error_names_the_shard_and_its_line(
    tmp_path: Path, change: Callable[[Path], object], expected: str
) -> None:
    """One line, the same streamed or not, naming the third shard and its own line."""
    _data(tmp_path)
    shard = tmp_path / "shards/part-00002.csv"
    change(shard)
    messages = []
    for stream in ("true", "false"):
        with pytest.raises(DataError) as info:
            load_data(_source_config(tmp_path, "csv", True, f", stream = {stream}"))
        messages.append(str(info.value))
    pattern = tmp_path / "shards/part-*.csv"
    first = tmp_path / "shards/part-00000.csv"
    assert messages[0] == messages[1]
    assert messages[0].startswith(expected.format(shard=shard, first=first, pattern=pattern))
    assert "\n" not in messages[0]


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
    shard = (tmp_path / "shards/part-00000.csv").stat().st_size
    monkeypatch.setattr(streaming, "AUTO_STREAM_BYTES", shard)
    assert wants_stream("csv", {"path": "shards/part-*.csv"}, tmp_path)
    assert not wants_stream("csv", {"path": "shards/part-00000.csv"}, tmp_path)


@pytest.mark.parametrize("read", [csv_file, streaming.open_csv_source])
def test_headerless_csv_shards_need_the_same_cell_count(
    tmp_path: Path, read: Callable[[dict[str, Any], Path], dict[str, Any]]
) -> None:
    """Without a header, the first shard's first row sets the width; class ids span shards."""
    (tmp_path / "p-0.csv").write_text("1,2,b\n3,4,c\n")
    (tmp_path / "p-1.csv").write_text("5,6,a\n")
    attrs = {"path": "p-*.csv", "label": "2", "header": False, "columns": None}
    attrs |= {"delimiter": ",", "sample_weight": None, "x": None, "y": None}
    found = read(attrs, tmp_path)
    np.testing.assert_array_equal(np.asarray(found["x"]), [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(found["y"], [1, 2, 0])
    assert list(found["class_names"]) == ["a", "b", "c"]
    (tmp_path / "p-1.csv").write_text("5,6,a\n7,8,a,9\n")
    with pytest.raises(DataError) as info:
        read(attrs, tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'p-1.csv'}: line 2 has 4 cells, but the first row has 3 (delimiter ',')"
    )
