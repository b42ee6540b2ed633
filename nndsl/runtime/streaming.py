"""Data sets read from disk batch by batch, with bounded memory (`stream = true`).

A streamed input is a `Rows`: an array-like of known shape and dtype that reads only the rows
it is indexed with. The rest of the data path (`nndsl.runtime.data`) is unchanged: the split
and each epoch's shuffle are permutations of row *indices* (`Rows.take` composes them, nothing
is read), and a batch is `rows[index]`, so a streamed source yields exactly the batches the
in-memory one does for the same seed, and a checkpoint's data position (epoch, step) resumes
it bit-identically. Over several processes a training batch stays unread (`Batch`) until the
sharded `put` reads, in each process, only the rows its devices hold.

- `.npy`: opened with `np.load(mmap_mode="r")` (header, dtype and size checked, nothing
  read); a batch's rows are read in file order with positioned reads (`_MappedNpy`). Pages of
  a map that were read would count towards the process's resident memory until the kernel
  needs them back; positioned reads into the batch keep only the batch resident (and the
  page cache, which is not the process's, still spares a second read from disk).
- `.npz` (written by `np.savez`): each input array is an uncompressed `.npy` member of the
  zip file; its data offset (after the member's local header and the `.npy` header) is found
  once and its rows are read as an `.npy`'s (`_npz_member`). A compressed member cannot be.
- `.csv`: one pass at load time checks every row as the in-memory reader does (cells, numbers,
  labels) and keeps each data row's byte offset (8 bytes a row), the labels and the sample
  weights; a batch reads the byte span of each run of consecutive rows (`os.pread`) and parses
  it with the `csv` module (`_CsvRows`). Quoted cells may hold newlines: a row starts where the
  `csv` module's record starts. Column groups (`x = {...}`) are one `_CsvRows` per input
  group over the same offsets, each parsing its own columns. Shards (a glob pattern) are
  checked in one pass as one table, each keeping its own offsets (`_Shards` of `_CsvRows`).
- text folders: each batch's files are read and vectorized as they are indexed; the vocabulary
  is adapted in one pass over the training split that keeps only the token counts.
- image folders: each batch's files are decoded and resized by a pool of worker threads
  (Pillow and the NumPy resize release the GIL). The files' headers are checked before the
  first step; a file that cannot be decoded later stops training with one line naming it.

Labels stay in memory: one number (or a short vector) per example.
"""

from __future__ import annotations

import csv
import io
import itertools
import mmap
import os
import struct
import threading
import weakref
import zipfile
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nndsl.backend.errors import DataError
from nndsl.backend.jax.registry import Attrs
from nndsl.ops.data import COLOR_MODES, IMAGE_EXTENSIONS
from nndsl.ops.spec import Keyed
from nndsl.runtime.sources.text import TextVectorizer

# `stream = none` (the default) streams a source whose inputs would take more than this in
# memory: an `.npy` file's size, or images x height x width x channels x 4 bytes.
AUTO_STREAM_BYTES = 1 << 30
# Bytes gathered from a mapping between two releases of its pages.
RELEASE_BYTES = 32 << 20
# Threads decoding images.
DECODE_WORKERS = min(4, os.cpu_count() or 1)

Index = np.ndarray | slice | int
_IOV_MAX = 1024  # buffers per `preadv` (Linux's IOV_MAX)


class Rows:
    """Rows `index` of a source, read on demand, cast to `dtype`.

    `rows[k]` (an int array, a slice or an int) reads and returns a NumPy array;
    `rows.take(index)` is a view of some rows that reads nothing. `np.asarray(rows)` reads
    every row: meant for small splits (the test split, a few calibration rows)."""

    def __init__(
        self,
        source: _Reader,
        index: np.ndarray,
        dtype: np.dtype[Any],
    ) -> None:
        self._source = source
        self._index = index
        self.dtype = dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self._index), *self._source.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self._source.row_shape)

    @property
    def where(self) -> str:
        return self._source.where

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, key: Index) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            row: np.ndarray = self._read(self._index[[int(key)]])[0]
            return row
        return self._read(np.asarray(self._index[key]).reshape(-1))

    def _read(self, index: np.ndarray) -> np.ndarray:
        rows = self._source.read(index)
        out = rows.astype(self.dtype, copy=False)
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            bad = int(index[np.flatnonzero(~np.isfinite(out.reshape(len(out), -1)).all(1))[0]])
            raise DataError(f"{self._source.describe(bad)} contains NaN or infinite values")
        return out

    def take(self, index: np.ndarray) -> Rows:
        return Rows(self._source, self._index[index], self.dtype)

    def cast(self, dtype: str | np.dtype[Any]) -> Rows:
        return Rows(self._source, self._index, np.dtype(dtype))

    def as_column(self) -> Rows:
        """One value a row `[N]` as `[N, 1]` (fed to an input declared `[B, 1]`), still unread."""
        return Rows(_Column(self._source), self._index, self.dtype)

    def vectorized(self, vectorizer: TextVectorizer) -> Rows:
        """These rows of texts as the numbers `vectorizer` turns them into, batch by batch."""
        reader = _Vectorized(self._source, vectorizer)
        kind = np.int32 if vectorizer.output_mode == "int" else np.float32
        return Rows(reader, self._index, np.dtype(kind))

    def texts(self, chunk: int = 256) -> Iterator[str]:
        """Every row as a string, read `chunk` rows at a time (adapting a vocabulary)."""
        for start in range(0, len(self), chunk):
            yield from (str(t) for t in self[start : start + chunk])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out: np.ndarray = self[:]
        return out if dtype is None else out.astype(dtype)


# A padding row of a `Batch`: zeros, read from nowhere.
PAD = -1


class Batch:
    """Rows `index` of a streamed input, not read yet: a training call's or an evaluation
    batch as the prefetch thread hands it to a sharded `put` (`nndsl.runtime.distribute.put`),
    which reads only the rows of the devices its process holds, so each process of a
    multi-process run reads only its share of every batch from disk.

    `shape` is `(*lead, *row)`: `lead` is `[per_call, batch]` for a stack of batches or
    `[batch]`. `batch[i]` (an int) is the stack's batch `i`, still unread; `batch[key]` (a
    tuple of slices, as `Sharding.addressable_devices_indices_map` gives them) reads the rows
    the leading slices select and returns them cut by the others, equal to the same part of
    `np.asarray(batch)`, which reads every row.

    A negative index is a padding row (`PAD`): zeros, read from nowhere. An evaluation batch's
    padded end (`nndsl.runtime.data.eval_batches`) is one, so a device holding only padding
    reads nothing, and the rows equal the eager batch's zero padding."""

    def __init__(self, rows: Rows, index: np.ndarray, lead: tuple[int, ...]) -> None:
        self._rows = rows
        self._index = np.asarray(index).reshape(lead)
        self.dtype = rows.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self._index.shape, *self._rows.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice | tuple[slice | int, ...]) -> Any:
        if isinstance(key, (int, np.integer)) and self._index.ndim > 1:
            return Batch(self._rows, self._index[int(key)], self._index.shape[1:])
        key = key if isinstance(key, tuple) else (key,)
        lead = self._index.ndim
        index = self._index[key[:lead]]
        rows = self._read(np.asarray(index).reshape(-1))
        out = rows.reshape(*np.shape(index), *self.shape[lead:])
        rest = key[lead:]
        return out[(slice(None),) * np.ndim(index) + rest] if rest else out

    def _read(self, index: np.ndarray) -> np.ndarray:
        """Rows `index`, padding (negative) rows zero."""
        real = index >= 0
        if real.all():
            return self._rows[index]
        out = np.zeros((len(index), *self._rows.shape[1:]), self.dtype)
        if real.any():
            out[real] = self._rows[index[real]]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out: np.ndarray = self[(slice(None),) * self._index.ndim]
        return out if dtype is None else out.astype(dtype)


class _Reader:
    """Reads rows of a source by index (in any order, repeats allowed)."""

    where: str
    row_shape: tuple[int, ...]

    def read(self, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self, row: int) -> str:
        return f"{self.where}: row {row}"


class _Column(_Reader):
    """A reader's rows with a trailing axis of 1."""

    def __init__(self, source: _Reader) -> None:
        self.where = source.where
        self.row_shape = (*source.row_shape, 1)
        self._source = source

    def read(self, index: np.ndarray) -> np.ndarray:
        return self._source.read(index)[..., None]

    def describe(self, row: int) -> str:
        return self._source.describe(row)


class _Counted(_Reader):
    """A reader of a known number of rows of one dtype: one shard of a `_Shards`."""

    rows: int
    dtype: np.dtype[Any]


class _MappedNpy(_Counted):
    """Rows of a mapped `.npy` array. A C-ordered array's rows are read with positioned reads
    (`os.preadv`, one per run of consecutive rows, in file order) into the batch: nothing is
    mapped, so resident memory stays at the batch, and it measured 3.6 times faster than
    gathering from the map (bench/README.md). Other layouts gather from the map and drop its
    pages every `RELEASE_BYTES`."""

    def __init__(self, path: Path, array: np.memmap[Any, Any], where: str | None = None) -> None:
        self.where = where or str(path)
        self.row_shape = tuple(array.shape[1:])
        self.rows = len(array)
        self.dtype = array.dtype
        self._array = array
        self._pages: mmap.mmap | None = getattr(array, "_mmap", None)
        self._row_bytes = int(np.prod(self.row_shape)) * array.dtype.itemsize
        self._read_since_release = 0
        self._lock = threading.Lock()
        self._fd: int | None = None
        if array.flags.c_contiguous and hasattr(os, "preadv") and self._row_bytes > 0:
            self._fd = os.open(path, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)

    def read(self, index: np.ndarray) -> np.ndarray:
        order = np.argsort(index, kind="stable")  # in file order: sequential reads
        out = np.empty((len(index), *self.row_shape), self._array.dtype)
        if self._fd is not None and len(index):
            self._pread(index[order], order, out)
        else:
            out[order] = self._array[index[order]]
            self._released(len(index) * self._row_bytes)
        return out

    def _pread(self, rows: np.ndarray, places: np.ndarray, out: np.ndarray) -> None:
        """File rows `rows` (sorted) into rows `places` of `out`: one scattering read per run
        of consecutive file rows (at most `_IOV_MAX` buffers each)."""
        assert self._fd is not None
        size = self._row_bytes
        view = out.reshape(-1).view(np.uint8).data  # a view: `out` is new, C-ordered
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        bounds = [0, *breaks.tolist(), len(rows)]
        base = self._array.offset
        targets = places.tolist()
        for first, end in itertools.pairwise(bounds):
            for lo in range(first, end, _IOV_MAX):
                hi = min(end, lo + _IOV_MAX)
                buffers = [view[t * size : (t + 1) * size] for t in targets[lo:hi]]
                got = os.preadv(self._fd, buffers, base + int(rows[lo]) * size)
                if got != (hi - lo) * size:
                    raise DataError(f"{self.where}: the file ends before row {int(rows[hi - 1])}")

    def _released(self, nbytes: int) -> None:
        with self._lock:
            self._read_since_release += nbytes
            if self._read_since_release < RELEASE_BYTES or self._pages is None:
                return
            self._read_since_release = 0
            advise = getattr(self._pages, "madvise", None)
            if advise is not None and hasattr(mmap, "MADV_DONTNEED"):
                advise(mmap.MADV_DONTNEED)


def open_npy(path: Path) -> Rows:
    """A memory-mapped `.npy` file as `Rows`; refused in one line like the in-memory reader
    (pickled object arrays included: they cannot be mapped and are never unpickled)."""
    return _rows_of([_mapped_npy(path)])


def _mapped_npy(path: Path) -> _MappedNpy:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(array, np.memmap) or array.ndim == 0:
        raise DataError(f"{path}: a .npy array with one row per example is needed to stream")
    return _MappedNpy(path, array)


def open_npy_source(attrs: Attrs, base_dir: Path) -> dict[str, Any]:
    """`npy(...)` with its inputs mapped (each shard of a glob pattern); the labels (and
    sample weights) read into memory."""
    from nndsl.backend.jax.impls import data as readers

    roles = ("y", "sample_weight") if attrs.get("sample_weight") is not None else ("y",)
    files = readers.source_files(base_dir, attrs["x"], "data file")
    out: dict[str, Any] = {"x": _rows_of([_mapped_npy(path) for path in files])}
    out.update((role, readers.load_npy(base_dir, attrs[role])) for role in roles)
    return out


class _Shards(_Reader):
    """Several files' rows read as one source, one after another (`.npy` arrays, `.npz`
    members, CSV files): row `i` is the row `i - starts[k]` of the shard `k` it falls in; each
    batch reads from each shard it touches only its own rows."""

    def __init__(self, shards: list[_Counted]) -> None:
        self.where = shards[0].where
        self.row_shape = shards[0].row_shape
        self.dtype = shards[0].dtype
        self._shards = shards
        self._starts = np.cumsum([0, *(s.rows for s in shards)])

    def read(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), *self.row_shape), self.dtype)
        which = np.searchsorted(self._starts, index, side="right") - 1
        for k in np.unique(which).tolist():
            place = np.flatnonzero(which == k)
            out[place] = self._shards[k].read(index[place] - self._starts[k])
        return out

    def describe(self, row: int) -> str:
        k = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self._shards[k].describe(row - int(self._starts[k]))


def _rows_of(shards: list[_Counted]) -> Rows:
    """One reader, or shards that agree on dtype and row shape, as `Rows`."""
    first = shards[0]
    for shard in shards[1:]:
        if shard.row_shape != first.row_shape or shard.dtype != first.dtype:
            raise DataError(
                f"{shard.where}: a shard of {shard.dtype}{[shard.rows, *shard.row_shape]}, but "
                f"{first.where} holds {first.dtype}{[first.rows, *first.row_shape]}; shards "
                "must agree on dtype and on every dimension but the first"
            )
    reader: _Reader = first if len(shards) == 1 else _Shards(shards)
    return Rows(reader, np.arange(sum(s.rows for s in shards)), first.dtype)


def _npz_member(path: Path, archive: zipfile.ZipFile, role: str, key: str) -> np.memmap[Any, Any]:
    """Array `key` of an `.npz` mapped where its bytes lie: `np.savez` stores each array as an
    uncompressed `.npy` member, whose data starts after the member's *local* header (30 bytes,
    its name, its extra field) and the `.npy` header. A compressed member cannot be read by
    row: one line naming the file and the array."""
    try:
        info = archive.getinfo(f"{key}.npy")
    except KeyError:
        present = ", ".join(n.removesuffix(".npy") for n in archive.namelist()) or "nothing"
        what = f"input {key!r}" if "/" in role else role
        raise DataError(f"{path}: no array {key!r} for {what} (the file has: {present})") from None
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise DataError(
            f"{path}: array {key!r} is compressed (np.savez_compressed), so its rows cannot be "
            "read one batch at a time; re-save it with np.savez, or drop `stream = true`"
        )
    with path.open("rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise DataError(f"{path}: not a readable .npz file (bad zip header of {key!r})")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(start)
        try:
            version = np.lib.format.read_magic(f)
            header_readers = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            if version not in header_readers:
                raise ValueError(f".npy format version {version[0]}.{version[1]}")
            shape, fortran, dtype = header_readers[version](f)
        except ValueError as exc:
            raise DataError(
                f"{path}: array {key!r} is not a readable .npy member ({exc})"
            ) from None
        offset = f.tell()
    if dtype.hasobject:
        raise DataError(f"{path}: array {key!r} holds Python objects (refused: never unpickled)")
    if not shape:
        raise DataError(f"{path}: array {key!r} needs one row per example to stream")
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if offset - start + nbytes > info.file_size or offset + nbytes > path.stat().st_size:
        raise DataError(f"{path}: array {key!r} is cut short (the file is truncated)")
    return np.memmap(
        path, dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


def open_npz_source(attrs: Attrs, base_dir: Path) -> dict[str, Any]:
    """`npz(...)` with its input arrays read by row from the file (positioned reads, as an
    `.npy`); the labels (and sample weights) read into memory. Lists of keys give
    `"x/<key>"` and `"y/<key>"`, as the in-memory reader."""
    from nndsl.backend.jax.impls import data as readers

    inputs = _npz_keys(attrs, "x")
    shards: dict[str, list[_Counted]] = {role: [] for role in inputs}
    for path in readers.source_files(base_dir, attrs["path"], "data file"):
        try:
            with zipfile.ZipFile(path) as archive:
                for role, key in inputs.items():
                    member = _npz_member(path, archive, role, key)
                    shards[role].append(_MappedNpy(path, member, f"{path}[{key!r}]"))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    out: dict[str, Any] = {role: _rows_of(found) for role, found in shards.items()}
    out.update(readers.npz({**attrs, "x": ()}, base_dir))  # labels and weights, in memory
    return out


def _npz_keys(attrs: Attrs, role: str) -> dict[str, str]:
    given = attrs[role]
    if isinstance(given, tuple):
        return {f"{role}/{key}": str(key) for key in given}
    return {role: str(given)}


def npz_input_bytes(path: Path, attrs: Attrs) -> int:
    """The input arrays' size in an `.npz`, as stored; 0 when one is compressed or missing (a
    compressed array cannot stream, so it is never chosen by size)."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for key in _npz_keys(attrs, "x").values():
            try:
                info = archive.getinfo(f"{key}.npy")
            except KeyError:
                return 0
            if info.compress_type != zipfile.ZIP_STORED:
                return 0
            total += info.file_size
    return total


class _CsvRows(_Counted):
    """One input's columns of a CSV file's data rows, read by byte span: row `i` is the bytes
    `offsets[i]:offsets[i + 1]` (blank lines after it included: the `csv` module skips them),
    each run of consecutive rows one positioned read, parsed as the in-memory reader parses
    them: float64 `[k]` for a list of columns; `single`, one column `[]`, its numbers or,
    given `classes`, its words as class ids (int64). The inputs of column groups share the one
    pass's `offsets`, each reading its own columns."""

    def __init__(
        self,
        path: Path,
        offsets: np.ndarray,
        columns: list[int],
        width: int,
        delimiter: str,
        *,
        single: bool = False,
        classes: dict[str, int] | None = None,
    ) -> None:
        self.where = str(path)
        self.row_shape = () if single else (len(columns),)
        self.rows = len(offsets) - 1
        self.dtype = np.dtype(np.float64 if classes is None else np.int64)
        self._offsets = offsets
        self._columns = columns
        self._width = width
        self._delimiter = delimiter
        self._classes = classes
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def read(self, index: np.ndarray) -> np.ndarray:
        order = np.argsort(index, kind="stable")  # in file order: sequential reads
        rows = index[order]
        out = np.empty((len(index), *self.row_shape), self.dtype)
        breaks = np.flatnonzero(np.diff(rows) > 1) + 1  # repeats share their row's span
        bounds = [0, *breaks.tolist(), len(rows)] if len(rows) else [0]
        for first, end in itertools.pairwise(bounds):
            low, high = int(rows[first]), int(rows[end - 1]) + 1
            values = self._parse(low, high)
            out[order[first:end]] = values[rows[first:end] - low]
        return out

    def _parse(self, low: int, high: int) -> np.ndarray:
        start, stop = int(self._offsets[low]), int(self._offsets[high])
        data = os.pread(self._fd, stop - start, start)
        if len(data) != stop - start:
            raise DataError(f"{self.where}: the file ends before row {high - 1}")
        try:
            text = data.decode("utf-8")
            found = [
                r for r in csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter) if r
            ]
        except (UnicodeDecodeError, csv.Error):
            found = []
        if len(found) != high - low:
            raise DataError(f"{self.describe(low)} changed since the file was checked")
        for i, row in enumerate(found):
            if len(row) != self._width:
                raise DataError(f"{self.describe(low + i)} changed since the file was checked")
        classes, columns = self._classes, self._columns
        try:  # one list of lists, converted once: `float` strips as `str.strip` does
            if classes is None:
                values = [[float(row[c]) for c in columns] for row in found]
            else:
                values = [[classes[row[c].strip()] for c in columns] for row in found]
        except (ValueError, KeyError):  # name the first bad cell
            values = [
                [self._value(low + i, row[c].strip()) for c in columns]
                for i, row in enumerate(found)
            ]
        return np.asarray(values, self.dtype).reshape(high - low, *self.row_shape)

    def _value(self, row: int, text: str) -> float:
        try:
            return float(text) if self._classes is None else self._classes[text]
        except (ValueError, KeyError):
            what = "a number" if self._classes is None else "one of the names checked"
            raise DataError(
                f"{self.describe(row)}: {text!r} is not {what} (the file changed since it was "
                "checked)"
            ) from None


class _Check:
    """What the load pass checks in each data row; `error`: the problem the in-memory reader
    would report for this check (its first row), if any."""

    error: DataError | None = None

    def add(self, path: Path, line: int, row: list[str]) -> None:
        """Check (and keep what is needed of) data row `row`, on line `line` of shard `path`."""

    def finish(self) -> None:
        """Settle `error` once every row was added."""


class _Failed(_Check):
    """A column that is not in the file: reported in its place among the other checks."""

    def __init__(self, error: DataError) -> None:
        self.error = error


class _Numbers(_Check):
    """Cells that must be numbers, as `readers._number` reads them: the first bad one (rows in
    file order, then columns in order) is the in-memory reader's error. The last `kept`
    columns' values are kept (sample weights, label vectors); the others are only checked."""

    def __init__(self, names: list[str], columns: list[int], kept: int) -> None:
        from nndsl.backend.jax.impls.data import _numbers

        self._numbers = _numbers
        self._names = names
        self._columns = columns
        self._kept = kept
        self._values = array("d")

    def add(self, path: Path, line: int, row: list[str]) -> None:
        if self.error is not None:
            return
        try:
            values = self._numbers(path, line, self._names, row, self._columns)
        except DataError as exc:
            self.error = exc
            return
        if self._kept:
            self._values.extend(values[-self._kept :])

    def kept(self) -> np.ndarray:
        """The kept values, `[rows, kept]` float64."""
        return np.frombuffer(self._values, np.float64).reshape(-1, self._kept).copy()


class _Labels(_Check):
    """One column read as `readers._csv_labels` reads a label column: numbers as they are, or
    else every cell a name and the sorted names class ids. With `keep`, each row's number and
    name id (of first sight) are kept, 16 bytes a row; without, only the names (an input
    column streamed as class ids)."""

    def __init__(self, column: str, index: int, keep: bool) -> None:
        self._column = column
        self._index = index
        self._keep = keep
        self._numbers = array("d")
        self._ids = array("q")
        self._seen: dict[str, int] = {}
        self._first_bad: tuple[Path, int, str] | None = None  # the first empty or numeric cell

    def add(self, path: Path, line: int, row: list[str]) -> None:
        text = row[self._index].strip()
        try:
            number, name = float(text), -1
            if self._first_bad is None:
                self._first_bad = (path, line, text)
        except ValueError:
            number, name = 0.0, self._seen.setdefault(text, len(self._seen))
            if not text and self._first_bad is None:
                self._first_bad = (path, line, text)
        if self._keep:
            self._numbers.append(number)
            self._ids.append(name)

    def finish(self) -> None:
        from nndsl.backend.jax.impls import data as readers

        if self._seen and self._first_bad is not None:
            path, line, text = self._first_bad
            self.error = readers._bad_name(path, line, self._column, text)

    def classes(self) -> dict[str, int] | None:
        """Each name's class id (the names sorted); None for a column of numbers."""
        return {name: i for i, name in enumerate(sorted(self._seen))} if self._seen else None

    def values(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The in-memory reader's `(labels, class names)` (kept rows only)."""
        classes = self.classes()
        if classes is None:
            return np.frombuffer(self._numbers, np.float64).copy(), None
        place = np.empty(len(classes), np.int64)
        for name, i in classes.items():
            place[self._seen[name]] = i
        names = np.asarray(list(classes), dtype=object)
        return place[np.frombuffer(self._ids, np.int64)], names


# Each shard's path and data rows' byte offsets (and its end) -> arrays by key.
_Output = Callable[[list[tuple[Path, np.ndarray]]], dict[str, Any]]


def _csv_plan(
    where: Path,
    attrs: Attrs,
    names: list[str],
    header: bool,
    delimiter: str,
    checks: list[_Check],
    outputs: list[_Output],
) -> None:
    """Fill `checks` in the order the in-memory reader (`csv_file`, `_csv_groups`) reports
    problems, and `outputs` with what it returns: streamed `Rows` for the inputs, arrays for
    the labels and weights. A column not in the file raises, after the checks before it;
    `where` (the file or the shards' pattern) names it."""
    from nndsl.backend.jax.impls import data as readers

    def column(name: object, what: str) -> int:
        return readers._column(where, names, str(name), header, what)

    def numbers(columns: list[int], kept: int) -> _Numbers:
        checks.append(check := _Numbers(names, columns, kept))
        return check

    def labels(index: int, keep: bool) -> _Labels:
        checks.append(check := _Labels(names[index], index, keep))
        return check

    def streamed(key: str, columns: list[int], classes: _Labels | None = None) -> None:
        def build(shards: list[tuple[Path, np.ndarray]]) -> dict[str, Any]:
            ids = classes.classes() if classes is not None else None  # of the whole table
            single = classes is not None
            found: list[_Counted] = [
                _CsvRows(path, offsets, columns, len(names), delimiter, single=single, classes=ids)
                for path, offsets in shards
            ]
            return {key: _rows_of(found)}

        outputs.append(build)

    def label_arrays(key: str, check: _Labels, named: bool) -> None:
        def build(_: list[tuple[Path, np.ndarray]]) -> dict[str, Any]:
            values, classes = check.values()
            return {
                key: values,
                **({"class_names": classes} if named and classes is not None else {}),
            }

        outputs.append(build)

    def kept(key: str, check: _Numbers, vector: bool) -> None:
        outputs.append(lambda _: {key: check.kept() if vector else check.kept()[:, 0]})

    weight_name = attrs["sample_weight"]
    if not (isinstance(attrs["x"], Keyed) or isinstance(attrs["y"], Keyed)):
        label = column(attrs["label"], "label column")
        weight = None if weight_name is None else column(weight_name, "sample weight column")
        given = attrs["columns"]
        if isinstance(given, tuple):
            inputs = [column(c, "column") for c in given]
        else:
            inputs = [i for i in range(len(names)) if i not in (label, weight)]
        if not inputs:
            raise DataError(f"{where}: no input columns besides the label column {names[label]!r}")
        cells = numbers([*inputs, *([] if weight is None else [weight])], int(weight is not None))
        streamed("x", inputs)
        label_arrays("y", labels(label, keep=True), named=True)
        if weight is not None:
            kept("sample_weight", cells, vector=False)
        return
    used: set[int] = set()
    if weight_name is not None:
        used.add(weight := column(weight_name, "sample weight column"))
        kept("sample_weight", numbers([weight], 1), vector=False)
    if attrs["label"] is not None:  # `label` with `x` groups: one unnamed labels array
        used.add(label := column(attrs["label"], "label column"))
        label_arrays("y", labels(label, keep=True), named=True)
    for role in ("y", "x"):
        groups = attrs[role]
        if not isinstance(groups, Keyed):
            continue
        what = "column" if role == "x" else "label column"
        for group, cols in groups.items:
            key = f"{role}/{group}"
            if isinstance(cols, tuple):
                index = [column(c, what) for c in cols]
                used.update(index)
                if role == "y":
                    kept(key, numbers(index, len(index)), vector=True)
                else:
                    numbers(index, 0)
                    streamed(key, index)
            else:
                used.add(i := column(cols, what))
                if role == "y":
                    label_arrays(key, labels(i, keep=True), named=False)
                else:
                    streamed(key, [i], labels(i, keep=False))
    if not isinstance(attrs["x"], Keyed):
        rest = [i for i in range(len(names)) if i not in used]
        if not rest:
            raise DataError(f"{where}: no input columns besides the label columns")
        numbers(rest, 0)
        streamed("x", rest)


def open_csv_source(attrs: Attrs, base_dir: Path) -> dict[str, Any]:
    """`csv(...)` with its input columns read batch by batch: one pass checks every row as the
    in-memory reader does (same messages, with the line; with column groups, the same first
    problem although the in-memory reader checks one group at a time) and keeps each data
    row's byte offset, the labels and the sample weights; nothing else of the file stays in
    memory. Column groups give the in-memory reader's keys: one `Rows` per input group
    (`x/<name>`), the labels (`y/<name>`) in memory. The shards of a glob pattern are one
    table: the checks (class names included) span them all, each keeps its own offsets."""
    from nndsl.backend.jax.impls import data as readers

    where = readers._source(base_dir, str(attrs["path"]))
    files = readers.source_files(base_dir, attrs["path"], "CSV file")
    header = bool(attrs["header"])
    delimiter = str(attrs["delimiter"])
    # Without groups the in-memory reader stops at a row's first problem; with groups it checks
    # every row's width first, then each group's cells: its first problem is known at the end.
    grouped = isinstance(attrs["x"], Keyed) or isinstance(attrs["y"], Keyed)
    checks: list[_Check] = []
    outputs: list[_Output] = []
    names: list[str] | None = None
    shards: list[tuple[Path, np.ndarray]] = []

    for path in files:
        offsets = array("q")
        own: list[str] | None = None  # this shard's header
        at = 0
        with path.open("rb") as f:
            if f.read(3) == b"\xef\xbb\xbf":  # the in-memory reader's utf-8-sig
                at = 3
            f.seek(at)

            def lines(f: BinaryIO = f, path: Path = path) -> Iterator[str]:
                nonlocal at
                for raw in f:
                    begin = at
                    at += len(raw)
                    try:
                        yield raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise DataError(
                            f"{path}: not UTF-8 text (byte {begin + exc.start} of the file)"
                        ) from None

            reader = csv.reader(lines(), delimiter=delimiter)
            next_line = 1
            while True:
                start = at  # the record starts after the lines read so far
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    if "new-line character" in str(exc):  # split on b"\n" only
                        raise DataError(
                            f"{path}: line {reader.line_num} ends in a bare \\r, which cannot "
                            "be streamed (not readable as CSV line by line); end the lines with "
                            "\\n or \\r\\n, or drop `stream = true`"
                        ) from None
                    raise DataError(f"{path}: not readable as CSV ({exc})") from None
                line, next_line = next_line, reader.line_num + 1
                if not row:
                    continue
                if header and own is None:
                    own = [c.strip() for c in row]
                    if names is not None:
                        readers.same_header(files[0], names, path, own)
                        continue
                if names is None:
                    names = own if own is not None else [str(i) for i in range(len(row))]
                    try:
                        _csv_plan(where, attrs, names, header, delimiter, checks, outputs)
                    except DataError as exc:
                        checks.append(_Failed(exc))
                    if header:
                        continue
                if not grouped:
                    _raise_first(checks)
                if len(row) != len(names):
                    raise readers._bad_width(path, line, len(row), len(names), header, delimiter)
                for check in checks:
                    check.add(path, line, row)
                offsets.append(start)
            offsets.append(at)
        if header and own is None:
            raise DataError(f"{path}: the file is empty; expected a header row")
        shards.append((path, np.frombuffer(offsets, np.int64)))
    if names is None or all(len(offsets) == 1 for _, offsets in shards):
        raise DataError(f"{where}: no data rows")
    for check in checks:
        check.finish()
    _raise_first(checks)
    out: dict[str, Any] = {}
    for build in outputs:
        out.update(build(shards))
    return out


def _raise_first(checks: list[_Check]) -> None:
    for check in checks:
        if check.error is not None:
            raise check.error


class _DecodedImages(_Reader):
    def __init__(
        self,
        root: Path,
        files: list[str],
        decode: Callable[[str], np.ndarray],
        row_shape: tuple[int, ...],
    ) -> None:
        self.where = str(root)
        self.row_shape = row_shape
        self._files = files
        self._decode = decode
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(DECODE_WORKERS, thread_name_prefix="nndsl-decode")
            return self._pool

    def read(self, index: np.ndarray) -> np.ndarray:
        files = [self._files[i] for i in index]
        images = list(self._workers().map(self._decode, files))
        for file, image in zip(files, images, strict=True):
            if image.shape != self.row_shape:
                raise DataError(
                    f"{file}: image of size {list(image.shape[:2])} (height, width), but "
                    f"{self._files[0]} is {list(self.row_shape[:2])}; set `image_size = "
                    "[height, width]` to resize them all"
                )
        if not images:
            return np.empty((0, *self.row_shape), np.float32)
        return np.stack(images)

    def describe(self, row: int) -> str:
        return self._files[row]


class _Texts(_Reader):
    """`.txt` files read as they are indexed (threads), an object array of `str`."""

    def __init__(self, root: Path, files: list[str]) -> None:
        self.where = str(root)
        self.row_shape = ()
        self._files = files

    def read(self, index: np.ndarray) -> np.ndarray:
        from nndsl.backend.jax.impls.data import read_text

        files = [self._files[i] for i in index]
        out = np.empty(len(files), dtype=object)
        with ThreadPoolExecutor(DECODE_WORKERS) as pool:
            out[:] = list(pool.map(lambda f: read_text(Path(f)), files))
        return out

    def describe(self, row: int) -> str:
        return self._files[row]


class _Vectorized(_Reader):
    def __init__(self, texts: _Reader, vectorizer: TextVectorizer) -> None:
        self.where = texts.where
        self.row_shape = (vectorizer.width,)
        self._texts = texts
        self._vectorizer = vectorizer

    def read(self, index: np.ndarray) -> np.ndarray:
        return self._vectorizer([str(t) for t in self._texts.read(index)])

    def describe(self, row: int) -> str:
        return self._texts.describe(row)


def open_text_folder(attrs: Attrs, base_dir: Path) -> dict[str, Any]:
    """The labelled `.txt` files of a text folder, read batch by batch (and once before the
    first step, to adapt the vocabulary on the training split)."""
    from nndsl.backend.jax.impls import data as readers

    root = readers._source(base_dir, str(attrs["path"]))
    found = readers._labelled_files(
        root, attrs, (".txt",), "text files", readers._project(base_dir)
    )
    files = [str(f) for f in found["files"]]
    return {
        "x": Rows(_Texts(root, files), np.arange(len(files)), np.dtype(object)),
        "y": found["y"],
        "class_names": found["class_names"],
    }


def open_image_folder(attrs: Attrs, base_dir: Path) -> dict[str, Any]:
    """The labelled files of an image folder, decoded batch by batch; every file's header is
    read first (threads), so an unreadable image is still reported before the first step."""
    from nndsl.backend.jax.impls import data as readers

    root = readers._source(base_dir, str(attrs["path"]))
    found = readers._labelled_files(
        root, attrs, IMAGE_EXTENSIONS, "images", readers._project(base_dir)
    )
    size = attrs["image_size"]
    target = (int(size[0]), int(size[1])) if isinstance(size, tuple) else None  # type: ignore[arg-type]
    channels = COLOR_MODES[str(attrs["color_mode"])]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    files = [str(f) for f in found["files"]]

    def decode(file: str) -> np.ndarray:
        image = readers.read_image(Path(file), mode)
        if target is None:
            return image
        if attrs["crop_to_aspect_ratio"]:
            image = readers.crop_to_aspect(image, target)
        return readers.resize(image, target, str(attrs["interpolation"]))

    with ThreadPoolExecutor(DECODE_WORKERS) as pool:
        sizes = list(pool.map(_image_size, files))
    if target is None:
        first = sizes[0]
        for file, found_size in zip(files, sizes, strict=True):
            if found_size != first:
                raise DataError(
                    f"{file}: image of size {list(found_size)} (height, width), but "
                    f"{files[0]} is {list(first)}; set `image_size = [height, width]` "
                    "to resize them all"
                )
        target_shape = (*first, channels)
    else:
        target_shape = (*target, channels)
    reader = _DecodedImages(root, files, decode, target_shape)
    return {
        "x": Rows(reader, np.arange(len(files)), np.dtype(np.float32)),
        "y": found["y"],
        "class_names": found["class_names"],
    }


def _image_size(file: str) -> tuple[int, int]:
    """(height, width) from the header alone; `DataError` naming an unreadable file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{file}: not a readable image ({exc})") from None
    return height, width


def wants_stream(source: str, attrs: Attrs, base_dir: Path) -> bool:
    """`stream = true / false` as written; `none`: stream inputs above `AUTO_STREAM_BYTES`,
    however many processes the run has (a streamed batch costs several times the host CPU of
    a gather from memory: bench/README.md, `stream_cost.py`)."""
    from nndsl.backend.jax.impls import data as readers

    given = attrs.get("stream")
    if given is not None:
        return bool(given)
    try:
        if source == "npy":
            shards = readers.source_files(base_dir, attrs["x"], "data file")
            return sum(path.stat().st_size for path in shards) > AUTO_STREAM_BYTES
        if source == "csv":
            shards = readers.source_files(base_dir, attrs["path"], "CSV file")
            return sum(path.stat().st_size for path in shards) > AUTO_STREAM_BYTES
        if source == "npz":
            shards = readers.source_files(base_dir, attrs["path"], "data file")
            return sum(npz_input_bytes(path, attrs) for path in shards) > AUTO_STREAM_BYTES
        if source == "image_folder" and isinstance(attrs.get("image_size"), tuple):
            h, w = (int(v) for v in attrs["image_size"])  # type: ignore[arg-type,union-attr]
            pixels = h * w * COLOR_MODES[str(attrs["color_mode"])] * 4
            root = base_dir / str(attrs["path"])
            files = sum(
                1
                for _, _, names in os.walk(root)
                for name in names
                if Path(name).suffix.lower() in IMAGE_EXTENSIONS
            )
            return files * pixels > AUTO_STREAM_BYTES
    except (OSError, zipfile.BadZipFile, DataError):
        return False  # the reader reports the missing or unreadable file
    return False


__all__ = [
    "AUTO_STREAM_BYTES",
    "Batch",
    "PAD",
    "Rows",
    "open_csv_source",
    "open_image_folder",
    "open_npy",
    "open_npy_source",
    "open_npz_source",
    "open_text_folder",
    "wants_stream",
]
