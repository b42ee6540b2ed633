"""Each process reads only its shard of a streamed batch: `streaming.Batch` (a training call's
or an evaluation batch's rows, unread; an evaluation batch's padding reads nothing) reads only
the rows a piece selects, with the values of the eager gather, and `distribute.put` reads
each distinct piece of it once (4 simulated devices, in a subprocess);
the same for an `np.savez` file's rows, counted as the positioned reads of their bytes (also
as a streamed source of a `zip`), and a CSV file's rows, counted as the byte spans read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nndsl.ops.spec import Keyed
from nndsl.runtime import streaming
from nndsl.runtime.data import Dataset, eval_batches, load_data, train_calls
from nndsl.runtime.streaming import (
    Batch,
    Rows,
    _CsvRows,
    _MappedNpy,
    _Reader,
    open_csv_source,
    open_npz_source,
)
from tests.runtime.test_streaming import _zip_config, _zip_data

ROOT = Path(__file__).resolve().parents[2]


class _Counting(_Reader):
    """Rows `arange`-valued float64 `[n, 3, 4]`, recording every row read."""

    def __init__(self, n: int) -> None:
        self.where = "fake"
        self.row_shape = (3, 4)
        self.data = np.arange(n * 12, dtype=np.float64).reshape(n, 3, 4) / 7
        self.reads: list[int] = []

    def read(self, index: np.ndarray) -> np.ndarray:
        self.reads += [int(i) for i in index]
        out: np.ndarray = self.data[index]
        return out


def _rows(n: int = 50) -> tuple[_Counting, Rows]:
    source = _Counting(n)
    return source, Rows(source, np.arange(n), np.dtype(np.float32))  # cast when read


def test_a_batch_reads_only_the_rows_of_its_pieces() -> None:
    source, rows = _rows()
    view = rows.take(np.random.default_rng(0).permutation(50)[:40])  # a split: nothing read
    index = np.random.default_rng(1).permutation(40)[:24]
    eager = np.asarray(view[index]).reshape(3, 8, 3, 4)
    source.reads.clear()

    stacked = Batch(view, index, (3, 8))
    assert stacked.shape == (3, 8, 3, 4) and stacked.dtype == np.float32 and stacked.ndim == 4
    assert source.reads == []
    piece = stacked[(slice(None), slice(2, 4), slice(None), slice(1, 3))]  # a feature slice too
    np.testing.assert_array_equal(piece, eager[:, 2:4, :, 1:3])
    assert piece.dtype == np.float32
    mapped = np.asarray(view._index)[index].reshape(3, 8)
    assert sorted(source.reads) == sorted(mapped[:, 2:4].reshape(-1).tolist())

    source.reads.clear()
    single = stacked[1]  # one batch of the stack, still unread
    assert isinstance(single, Batch) and single.shape == (8, 3, 4) and source.reads == []
    np.testing.assert_array_equal(single[(slice(4, 8),)], eager[1, 4:8])
    assert sorted(source.reads) == sorted(mapped[1, 4:8].tolist())
    source.reads.clear()
    np.testing.assert_array_equal(single[(slice(0, 8), slice(2, 3))], eager[1, :, 2:3])
    assert sorted(source.reads) == sorted(mapped[1].tolist())

    source.reads.clear()
    np.testing.assert_array_equal(np.asarray(stacked), eager)  # everything, once
    assert sorted(source.reads) == sorted(mapped.reshape(-1).tolist())


@pytest.mark.parametrize("per_call", [1, 3])
def test_lazy_calls_are_the_eager_batches(per_call: int) -> None:
    """Same permutation and values (stacks, then single batches); in-memory labels gathered."""
    source, rows = _rows(70)
    data = Dataset(rows, np.arange(70) % 5)  # type: ignore[arg-type]
    eager = list(train_calls(data, 8, seed=4, epoch=2, per_call=per_call, start=1, prefetch=0))
    source.reads.clear()
    lazy = list(
        train_calls(data, 8, seed=4, epoch=2, per_call=per_call, start=1, prefetch=0, lazy=True)
    )
    assert source.reads == []  # nothing gathered until a `put` reads it
    assert [k for k, _, _ in lazy] == [k for k, _, _ in eager]
    for (_, xe, ye), (_, xl, yl) in zip(eager, lazy, strict=True):
        assert isinstance(xl, Batch) and isinstance(yl, np.ndarray)
        np.testing.assert_array_equal(np.asarray(xl), xe)
        np.testing.assert_array_equal(yl, ye)

    def half(calls: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        """A second process's `put`: the last half of each batch."""
        out = []
        for x, y in calls:
            assert isinstance(x, Batch)
            out.append((x[(*(slice(None),) * (x.ndim - 3), slice(4, 8))], y))
        return out

    source.reads.clear()
    moved = list(
        train_calls(data, 8, seed=4, epoch=2, per_call=per_call, start=1, put=half, lazy=True)
    )
    for (_, xe, _), (_, xm, _) in zip(eager, moved, strict=True):
        np.testing.assert_array_equal(xm, np.asarray(xe)[..., 4:8, :, :])
    assert len(source.reads) == sum(k for k, _, _ in eager) * 4  # half of every batch


def test_lazy_eval_batches_read_only_the_real_rows_of_their_pieces() -> None:
    """18 rows in batches of 8: the last has 2 rows and 6 padding ones, zeros read from
    nowhere, so its second half, all padding, reads nothing. In-memory labels, sample weights
    and the mask are gathered as without `lazy`."""
    source, rows = _rows()
    view = rows.take(np.random.default_rng(0).permutation(50)[:18])
    data = Dataset(view, np.arange(18) % 5, np.linspace(0.5, 2, 18, dtype=np.float32))  # type: ignore[arg-type]
    eager = list(eval_batches(data, 8, prefetch=0))
    source.reads.clear()
    lazy = list(eval_batches(data, 8, prefetch=0, lazy=True))
    assert source.reads == []  # nothing read until a `put` reads it
    assert len(lazy) == len(eager) == 3
    for (xe, ye, me), (xl, yl, ml) in zip(eager, lazy, strict=True):
        assert isinstance(xl, Batch) and xl.shape == xe.shape == (8, 3, 4)
        np.testing.assert_array_equal(np.asarray(xl), xe)  # the padding too: zeros
        for a, b in zip(ye, yl, strict=True):  # (labels, weights)
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ml, me)
    assert eager[-1][2].tolist() == [1.0] * 2 + [0.0] * 6 and not eager[-1][0][2:].any()

    def half(batches: list[tuple[Any, Any, Any]]) -> list[tuple[Any, Any, Any]]:
        """A second process's `put`: the last half of each batch."""
        return [(x[(slice(4, 8),)], y, mask) for x, y, mask in batches]

    source.reads.clear()
    moved = list(eval_batches(data, 8, prefetch=0, put=half, lazy=True))
    for (xe, _, _), (xm, _, _) in zip(eager, moved, strict=True):
        np.testing.assert_array_equal(xm, xe[4:8])
    mapped = np.asarray(view._index)
    assert sorted(source.reads) == sorted([*mapped[4:8], *mapped[12:16]])  # none of batch 3


def _npz_rows(folder: Path, n: int = 50) -> tuple[np.ndarray, Rows]:
    """An `np.savez` file's `[n, 3, 4]` float64 inputs, streamed (cast to float32 when read)."""
    data = np.arange(n * 12, dtype=np.float64).reshape(n, 3, 4) / 7
    np.savez(folder / "d.npz", y=np.arange(n), x=data)
    found = open_npz_source({"path": "d.npz", "x": "x", "y": "y", "sample_weight": None}, folder)
    rows = found["x"]
    assert isinstance(rows, Rows)
    return data, rows.cast(np.float32)


def _recorded_rows(monkeypatch: pytest.MonkeyPatch, rows: Rows) -> list[int]:
    """The file rows every positioned read of `rows` covers, as they are read."""
    reader = rows._source
    assert isinstance(reader, _MappedNpy)
    base, size, real = reader._array.offset, reader._row_bytes, os.preadv
    seen: list[int] = []

    def preadv(fd: int, buffers: list[Any], offset: int) -> int:
        first = (offset - base) // size
        seen.extend(range(first, first + len(buffers)))
        return real(fd, buffers, offset)

    monkeypatch.setattr(streaming.os, "preadv", preadv)
    return seen


def test_a_streamed_npz_batch_reads_only_its_pieces_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process's piece of a batch reads only those rows' bytes of the `.npz`."""
    data, rows = _npz_rows(tmp_path)
    seen = _recorded_rows(monkeypatch, rows)
    view = rows.take(np.random.default_rng(0).permutation(50)[:40])
    index = np.random.default_rng(1).permutation(40)[:24]
    mapped = np.asarray(view._index)[index].reshape(3, 8)
    stacked = Batch(view, index, (3, 8))
    assert seen == []
    piece = stacked[(slice(None), slice(4, 8))]  # the last half of each batch
    np.testing.assert_array_equal(piece, data[mapped[:, 4:8]].astype(np.float32))
    assert sorted(seen) == sorted(mapped[:, 4:8].reshape(-1).tolist())


@pytest.mark.parametrize("per_call", [1, 3])
def test_a_zipped_streamed_source_reads_only_its_pieces_rows(
    per_call: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `zip` with one source streamed: lazy calls leave that source's input unread (the
    other's is gathered), and a second process's half of each batch reads only those rows of
    the `.npz`, with the in-memory zip's values."""
    _zip_data(tmp_path)
    memory = load_data(_zip_config(tmp_path, ", stream = false")).train
    train = load_data(_zip_config(tmp_path, ", stream = true")).train
    assert isinstance(train.x, dict) and isinstance(memory.x, dict)
    rows = train.x["x"]
    assert isinstance(rows, Rows)
    seen = _recorded_rows(monkeypatch, rows)
    eager = train_calls(memory, 8, seed=3, epoch=2, per_call=per_call, prefetch=0)
    lazy = train_calls(train, 8, seed=3, epoch=2, per_call=per_call, prefetch=0, lazy=True)
    for (_, xe, ye), (_, xl, yl) in zip(eager, lazy, strict=True):
        assert isinstance(xe, dict) and isinstance(xl, dict)
        batch = xl["x"]
        assert isinstance(batch, Batch) and seen == []
        np.testing.assert_array_equal(xl["w"], xe["w"])
        np.testing.assert_array_equal(yl, ye)
        half = (*(slice(None),) * (batch.ndim - 2), slice(4, 8))  # a second process's rows
        np.testing.assert_array_equal(batch[half], np.asarray(xe["x"])[half])
        file_rows = np.asarray(rows._index)[batch._index[half]]
        assert sorted(seen) == sorted(file_rows.reshape(-1).tolist())
        seen.clear()


def _csv_rows(folder: Path, n: int = 50) -> tuple[np.ndarray, Rows]:
    """A CSV file's `[n, 3]` float64 inputs (a label column, a header), streamed (cast to
    float32 when read)."""
    data = np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 7
    lines = [
        "a,b,c,y",
        *(",".join([*map(repr, r.tolist()), str(i % 2)]) for i, r in enumerate(data)),
    ]
    (folder / "d.csv").write_text("\n".join(lines) + "\n")
    attrs = {
        "path": "d.csv",
        "label": "y",
        "header": True,
        "columns": None,
        "delimiter": ",",
        "sample_weight": None,
        "x": None,
        "y": None,
    }
    rows = open_csv_source(attrs, folder)["x"]
    assert isinstance(rows, Rows)
    return data, rows.cast(np.float32)


def _recorded_spans(monkeypatch: pytest.MonkeyPatch, rows: Rows) -> list[int]:
    """The data rows every positioned read of a CSV's `rows` covers, as they are read."""
    reader = rows._source
    assert isinstance(reader, _CsvRows)
    offsets, real = reader._offsets, os.pread
    seen: list[int] = []

    def pread(fd: int, size: int, offset: int) -> bytes:
        first, end = np.searchsorted(offsets, [offset, offset + size])
        seen.extend(range(int(first), int(end)))
        return real(fd, size, offset)

    monkeypatch.setattr(streaming.os, "pread", pread)
    return seen


def _csv_groups_rows(folder: Path, n: int = 50) -> dict[str, tuple[np.ndarray, Rows]]:
    """A CSV file's column groups, streamed: two columns `[n, 2]` and one `[n]` (float32 when
    read), a column of words as class ids `[n]`; each group's values."""
    data = np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 7
    words = ["red", "blue", "green"]
    lines = [
        "a,b,c,t,y",
        *(",".join([*map(repr, r.tolist()), words[i % 3], str(i % 2)]) for i, r in enumerate(data)),
    ]
    (folder / "g.csv").write_text("\n".join(lines) + "\n")
    groups = Keyed((("ab", ("a", "b")), ("c", "c"), ("t", "t")))
    attrs = {
        "path": "g.csv",
        "label": None,
        "header": True,
        "columns": None,
        "delimiter": ",",
        "sample_weight": None,
        "x": groups,
        "y": Keyed((("out", "y"),)),
    }
    found = open_csv_source(attrs, folder)
    assert found.keys() == {"y/out", "x/ab", "x/c", "x/t"}
    np.testing.assert_array_equal(found["y/out"], np.arange(n) % 2)
    ids = np.asarray([sorted(words).index(words[i % 3]) for i in range(n)])
    return {
        "ab": (data[:, :2], found["x/ab"].cast(np.float32)),
        "c": (data[:, 2], found["x/c"].cast(np.float32)),
        "t": (ids, found["x/t"]),
    }


@pytest.mark.parametrize("groups", [False, True])
def test_a_streamed_csv_batch_reads_only_its_pieces_rows(
    groups: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process's piece of a batch reads only those rows' bytes of the CSV file (each
    input group of column groups reading its own)."""
    found = _csv_groups_rows(tmp_path) if groups else {"x": _csv_rows(tmp_path)}
    for data, rows in found.values():
        seen = _recorded_spans(monkeypatch, rows)
        view = rows.take(np.random.default_rng(0).permutation(50)[:40])
        index = np.random.default_rng(1).permutation(40)[:24]
        mapped = np.asarray(view._index)[index].reshape(3, 8)
        stacked = Batch(view, index, (3, 8))
        assert seen == []
        piece = stacked[(slice(None), slice(4, 8))]
        assert piece.dtype == rows.dtype and piece.shape == (3, 4, *data.shape[1:])
        np.testing.assert_array_equal(piece, data[mapped[:, 4:8]].astype(rows.dtype))
        assert sorted(seen) == sorted(mapped[:, 4:8].reshape(-1).tolist())  # each row once


SCRIPT = """
import json, sys
import jax, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
sys.path.insert(0, sys.argv[1])
from test_shard_reads import _rows
from nndsl.runtime.distribute import put
from nndsl.runtime.streaming import PAD, Batch

mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("data", "model"))
out = {}
for name, lead, spec in [("stacked", (3, 8), P(None, "data")), ("single", (8,), P("data"))]:
    source, rows = _rows()
    index = np.random.default_rng(2).permutation(50)[: int(np.prod(lead))]
    sharding = NamedSharding(mesh, spec)
    eager = put(np.asarray(rows[index]).reshape(*lead, 3, 4), sharding)
    source.reads.clear()
    lazy = put(Batch(rows, index, lead), sharding)
    out[name] = {
        "equal": all(
            np.array_equal(a.data, b.data) and a.device == b.device
            for a, b in zip(eager.addressable_shards, lazy.addressable_shards, strict=True)
        ),
        "sharding": lazy.sharding == sharding and lazy.shape == eager.shape,
        "reads": sorted(source.reads) == sorted(index.tolist()),  # each row once
    }

source, rows = _rows()  # an evaluation batch's padded end: zeros, read from nowhere
index = np.full(8, PAD)
index[:3] = np.random.default_rng(4).permutation(50)[:3]
sharding = NamedSharding(mesh, P("data"))  # rows 4-7, all padding, on two devices
eager = np.zeros((8, 3, 4), np.float32)
eager[:3] = rows[index[:3]]
source.reads.clear()
lazy = put(Batch(rows, index, (8,)), sharding)
out["padded"] = {
    "equal": all(np.array_equal(s.data, eager[s.index]) for s in lazy.addressable_shards),
    "sharding": lazy.sharding == sharding and lazy.shape == eager.shape,
    "reads": sorted(source.reads) == sorted(index[:3].tolist()),  # the real rows, once
}

import os, pathlib, tempfile  # an np.savez file: each row's bytes read once, by its piece
from nndsl.ops.spec import Keyed
from nndsl.runtime import streaming
from test_shard_reads import _npz_rows
data, rows = _npz_rows(pathlib.Path(tempfile.mkdtemp()))
reader, real, seen = rows._source, os.preadv, []
def preadv(fd, buffers, offset):
    first = (offset - reader._array.offset) // reader._row_bytes
    seen.extend(range(first, first + len(buffers)))
    return real(fd, buffers, offset)
streaming.os.preadv = preadv
index = np.random.default_rng(3).permutation(50)[:24]
sharding = NamedSharding(mesh, P(None, "data"))
lazy = put(Batch(rows, index, (3, 8)), sharding)
eager = data[index].astype(np.float32).reshape(3, 8, 3, 4)
out["npz"] = {
    "equal": all(np.array_equal(s.data, eager[s.index]) for s in lazy.addressable_shards),
    "sharding": lazy.sharding == sharding and lazy.shape == eager.shape,
    "reads": sorted(seen) == sorted(index.tolist()),
}
from test_shard_reads import _csv_rows  # a CSV file: each row's bytes read once, by its piece
data, rows = _csv_rows(pathlib.Path(tempfile.mkdtemp()))
offsets, real_pread, seen = rows._source._offsets, os.pread, []
def pread(fd, size, offset):
    first, end = np.searchsorted(offsets, [offset, offset + size])
    seen.extend(range(int(first), int(end)))
    return real_pread(fd, size, offset)
streaming.os.pread = pread
lazy = put(Batch(rows, index, (3, 8)), sharding)
eager = data[index].astype(np.float32).reshape(3, 8, 3)
out["csv"] = {
    "equal": all(np.array_equal(s.data, eager[s.index]) for s in lazy.addressable_shards),
    "sharding": lazy.sharding == sharding and lazy.shape == eager.shape,
    "reads": sorted(seen) == sorted(index.tolist()),
}
print(json.dumps(out))
"""


def test_put_reads_each_piece_once_on_a_mesh() -> None:
    """A 2x2 data x model mesh: the model axis's two replicas of a piece share one read; the
    devices holding only an evaluation batch's padding read nothing."""
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("stacked", "single", "padded", "npz", "csv"):
        assert out[name] == {"equal": True, "sharding": True, "reads": True}, name
