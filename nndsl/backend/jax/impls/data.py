"""Data sources: read files into arrays; the runtime validates them against the model.

Every reader returns `{"x": ..., "y": ...}` and, for folders and named labels,
`"class_names"` (the label order). Text sources return `x` as an object array of `str`: the
runtime vectorizes it after the split, so the vocabulary sees the training rows only. Every
problem with the files is a one-line `DataError` naming the file (and line, cell or image).
Reading needs no JAX; Pillow is imported only when an image folder is read.
"""

from __future__ import annotations

import csv
import glob
import os
import stat
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nndsl.backend.errors import DataError
from nndsl.backend.jax.registry import Attrs, impl, implementation
from nndsl.check.paths import (
    UnreadableSource,
    is_inside,
    kind_problem,
    not_regular,
    outside_allowed,
    project_root,
    read_source as _read_file,
)
from nndsl.ops.data import COLOR_MODES, IMAGE_EXTENSIONS, zip_members
from nndsl.ops.spec import Configured, Keyed

Arrays = dict[str, np.ndarray]


@impl("npz")
def npz(attrs: Attrs, base_dir: Path) -> Arrays:
    """Returns `{"x": ..., "y": ...}` (and `"sample_weight"` when named); never unpickles
    (object arrays are refused). Lists of keys give `"x/<key>"` and `"y/<key>"` instead. A
    glob pattern reads several shards holding the same keys, rows in name order."""
    keys: dict[str, str] = {}
    for role in ("x", "y"):  # a list of keys: one array per model input or output, by name
        given = attrs[role]
        names = given if isinstance(given, tuple) else (given,)
        for key in names:
            keys[f"{role}/{key}" if isinstance(given, tuple) else role] = str(key)
    if attrs["sample_weight"] is not None:
        keys["sample_weight"] = str(attrs["sample_weight"])
    shards = [
        _npz_arrays(path, keys) for path in source_files(base_dir, attrs["path"], "data file")
    ]
    return {role: concat_shards([(p, s[role]) for p, s in shards]) for role in keys}


def _npz_arrays(path: Path, keys: dict[str, str]) -> tuple[Path, Arrays]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            present = list(archive.files)
            out: Arrays = {}
            for role, key in keys.items():
                if key not in present:
                    what = role
                    if "/" in role:
                        what = ("input" if role[0] == "x" else "the labels of output") + f" {key!r}"
                    raise DataError(
                        f"{path}: no array {key!r} for {what} "
                        f"(the file has: {', '.join(present) or 'nothing'})"
                    )
                out[role] = np.asarray(archive[key])
    except (zipfile.BadZipFile, OSError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    return path, out


@impl("npy")
def npy(attrs: Attrs, base_dir: Path) -> Arrays:
    """Two `.npy` files (three with `sample_weight`), or glob patterns of shards; never
    unpickles."""
    roles = ("x", "y", "sample_weight") if attrs["sample_weight"] is not None else ("x", "y")
    return {role: load_npy(base_dir, attrs[role]) for role in roles}


def load_npy(base_dir: Path, pattern: object) -> np.ndarray:
    """The `.npy` file `pattern` names, or its shards' rows one after another."""
    parts = []
    for path in source_files(base_dir, pattern, "data file"):
        try:
            parts.append((path, np.load(path, allow_pickle=False)))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    return concat_shards(parts)


# -- shards: one data set written as several files -----------------------------------------------
GLOB_CHARACTERS = frozenset("*?[")


def source_files(base_dir: Path, pattern: object, noun: str) -> list[Path]:
    """The file a source names, or, for a glob pattern (`*`, `?`, `[...]`, `**`), every file
    it matches in name order: a data set too large for one file is read as one, its rows in
    that order (number the shards with zero-padded digits). Each must lie in the project and
    be a regular file, as one file must."""
    text = str(pattern)
    if not GLOB_CHARACTERS.intersection(text):
        path = _source(base_dir, text)
        _require_file(path, noun)
        return [path]
    if "\0" in text:
        raise DataError(f"{base_dir / text}: not a file name")
    found = sorted(Path(p) for p in glob.glob(str(base_dir / text), recursive=True))
    files = [p for p in found if not p.is_dir()]
    if not files:
        raise DataError(f"{base_dir / text}: no {noun} matches this pattern")
    for path in files:
        _require_file(_source(base_dir, str(path)), noun)  # `path` is absolute: base_dir / path
    return files


def concat_shards(parts: Sequence[tuple[Path, np.ndarray]]) -> np.ndarray:
    """The shards' rows one after another; they must agree on dtype and row shape (one line
    naming the shard that does not)."""
    first_path, first = parts[0]
    if len(parts) == 1:
        return first
    for path, a in parts:
        if a.ndim == 0 or a.shape[1:] != first.shape[1:] or a.dtype != first.dtype:
            raise DataError(
                f"{path}: a shard of {a.dtype}{list(a.shape)}, but {first_path} holds "
                f"{first.dtype}{list(first.shape)}; shards must agree on dtype and on every "
                "dimension but the first"
            )
    return np.concatenate([a for _, a in parts])


# -- CSV ---------------------------------------------------------------------------------------
# A data row: its shard, the file line it starts on, its cells.
CsvRow = tuple[Path, int, list[str]]


@impl("csv")
def csv_file(attrs: Attrs, base_dir: Path) -> Arrays:
    """Numeric input columns and a label column (numbers, or class names). A glob pattern
    reads its shards as one table, rows in file-name order: each repeats the header, and every
    error names the shard and its own line."""
    where = _source(base_dir, str(attrs["path"]))
    header = bool(attrs["header"])
    delimiter = str(attrs["delimiter"])
    names: list[str] | None = None
    rows: list[CsvRow] = []
    files = source_files(base_dir, attrs["path"], "CSV file")
    for path in files:
        found = _csv_rows(path, delimiter)
        if header:
            if not found:
                raise DataError(f"{path}: the file is empty; expected a header row")
            own = [c.strip() for c in found[0][2]]
            found = found[1:]
            names = same_header(files[0], names, path, own)
        elif names is None and found:
            names = [str(i) for i in range(len(found[0][2]))]
        rows += found
    if names is None or not rows:
        raise DataError(f"{where}: no data rows")
    width = len(names)
    if isinstance(attrs["x"], Keyed) or isinstance(attrs["y"], Keyed):
        return _csv_groups(attrs, where, names, rows, header, delimiter)
    label = _column(where, names, str(attrs["label"]), header, "label column")
    given = attrs["columns"]
    weight = None
    if attrs["sample_weight"] is not None:
        weight = _column(where, names, str(attrs["sample_weight"]), header, "sample weight column")
    if isinstance(given, tuple):
        columns = [_column(where, names, str(c), header, "column") for c in given]
    else:
        columns = [i for i in range(width) if i not in (label, weight)]
    if not columns:
        raise DataError(f"{where}: no input columns besides the label column {names[label]!r}")
    x = np.empty((len(rows), len(columns)), np.float64)
    w = np.empty(len(rows), np.float64) if weight is not None else None
    labels: list[str] = []
    for r, (path, line, row) in enumerate(rows):
        if len(row) != width:
            raise _bad_width(path, line, len(row), width, header, delimiter)
        x[r] = _numbers(path, line, names, row, columns)
        if w is not None and weight is not None:
            w[r] = _number(path, line, names[weight], row[weight])
        labels.append(row[label].strip())
    y, class_names = _csv_labels(rows, names[label], labels)
    out = {"x": x, "y": y}
    if w is not None:
        out["sample_weight"] = w
    if class_names is not None:
        out["class_names"] = class_names
    return out


def _csv_rows(path: Path, delimiter: str) -> list[CsvRow]:
    """The file's non-blank rows (the header included)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            return [(path, n, row) for n, row in _numbered(reader) if row]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start} of the file)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not readable as CSV ({exc})") from None


def same_header(first: Path, names: list[str] | None, path: Path, own: list[str]) -> list[str]:
    """The table's header: `own`, the header of shard `path`, which must be the first shard's
    `names` (None: `path` is the first) column for column; shards of one table that disagree
    would silently mix columns (shared with the streamed reader)."""
    if names is None or own == names:
        return own
    i = next(
        (i for i, (a, b) in enumerate(zip(names, own, strict=False)) if a != b),
        min(len(names), len(own)),
    )
    mine = f"{own[i]!r} as column {i + 1}" if i < len(own) else f"no column {i + 1}"
    theirs = f"{names[i]!r}" if i < len(names) else "none"
    raise DataError(
        f"{path}: the header has {mine}, but {first} has {theirs}; the shards of a CSV data set "
        "must have the same header (the same columns in the same order)"
    )


def _bad_width(
    path: Path, line: int, cells: int, width: int, header: bool, delimiter: str
) -> DataError:
    """A row whose cell count is not the header's (shared with the streamed reader)."""
    first = "the header" if header else "the first row"
    return DataError(
        f"{path}: line {line} has {cells} cells, but {first} has {width} (delimiter {delimiter!r})"
    )


def _csv_groups(
    attrs: Attrs,
    where: Path,
    names: list[str],
    rows: list[CsvRow],
    header: bool,
    delimiter: str,
) -> Arrays:
    """Column groups by input and output name: `x/<name>` and `y/<name>`. A list of columns
    is stacked into `[N, k]` numbers; one column is `[N]`, numbers as they are or words as
    class ids (sorted), as a label column. `x` not given: every other column, as `x`."""
    width = len(names)
    for path, line, row in rows:
        if len(row) != width:
            raise _bad_width(path, line, len(row), width, header, delimiter)
    out: Arrays = {}
    used: set[int] = set()
    weight = attrs["sample_weight"]
    if weight is not None:
        w = _column(where, names, str(weight), header, "sample weight column")
        used.add(w)
        out["sample_weight"] = np.asarray([_number(p, ln, names[w], r[w]) for p, ln, r in rows])
    label = attrs["label"]
    if label is not None:  # `label` with `x` groups: one unnamed labels array
        c = _column(where, names, str(label), header, "label column")
        used.add(c)
        out["y"], classes = _csv_labels(rows, names[c], [r[c].strip() for _, _, r in rows])
        if classes is not None:
            out["class_names"] = classes
    for role in ("y", "x"):
        groups = attrs[role]
        if not isinstance(groups, Keyed):
            continue
        for group, cols in groups.items:
            what = "column" if role == "x" else "label column"
            if isinstance(cols, tuple):
                index = [_column(where, names, str(c), header, what) for c in cols]
                used.update(index)
                out[f"{role}/{group}"] = np.asarray(
                    [_numbers(p, ln, names, r, index) for p, ln, r in rows], np.float64
                ).reshape(len(rows), len(index))
            else:
                i = _column(where, names, str(cols), header, what)
                used.add(i)
                values, _ = _csv_labels(rows, names[i], [r[i].strip() for _, _, r in rows])
                out[f"{role}/{group}"] = values
    if not isinstance(attrs["x"], Keyed):
        rest = [i for i in range(width) if i not in used]
        if not rest:
            raise DataError(f"{where}: no input columns besides the label columns")
        out["x"] = np.asarray(
            [_numbers(p, ln, names, r, rest) for p, ln, r in rows], np.float64
        ).reshape(len(rows), len(rest))
    return out


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Rows with the file line each starts on (quoted cells may span lines)."""
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1  # type: ignore[attr-defined]


def _column(path: Path, names: list[str], name: str, header: bool, what: str) -> int:
    if header:
        found = [i for i, n in enumerate(names) if n == name]
        if len(found) > 1:
            raise DataError(f"{path}: the header names {name!r} {len(found)} times")
        if not found:
            raise DataError(f"{path}: no {what} {name!r} (the header has: {', '.join(names)})")
        return found[0]
    index = int(name)
    if not -len(names) <= index < len(names):
        raise DataError(
            f"{path}: no {what} {index}: the rows have {len(names)} cells (0 to {len(names) - 1})"
        )
    return index % len(names)


def _number(path: Path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{path}: line {line}, column {column!r}: empty cell, expected a number")
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"{path}: line {line}, column {column!r}: {text!r} is not a number"
        ) from None


def _numbers(
    path: Path, line: int, names: list[str], row: list[str], columns: list[int]
) -> list[float]:
    """Cells `columns` of `row` as `_number` reads them, the first bad one its error. `float`
    alone strips the same whitespace, 1.5 times faster (32 cells); `_number` runs only to name
    a bad cell."""
    try:
        return [float(row[c]) for c in columns]
    except ValueError:
        return [_number(path, line, names[c], row[c]) for c in columns]


def _csv_labels(
    rows: list[CsvRow], column: str, labels: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Numbers as they are; otherwise every label must be a name and the names become ids."""
    numbers: list[float] = []
    for text in labels:
        try:
            numbers.append(float(text))
        except ValueError:
            break
    else:
        return np.asarray(numbers), None
    for (path, line, _), text in zip(rows, labels, strict=True):
        if not text or _is_number(text):
            raise _bad_name(path, line, column, text)
    classes = sorted(set(labels))
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index[t] for t in labels], np.int64), np.asarray(classes, dtype=object)


def _bad_name(path: Path, line: int, column: str, text: str) -> DataError:
    """An empty label, or a number among names (shared with the streamed reader)."""
    if not text:
        return DataError(f"{path}: line {line}, column {column!r}: empty label")
    return DataError(
        f"{path}: line {line}, column {column!r}: label {text!r} is a number, but "
        "other labels are names; use one or the other"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- several sources side by side ---------------------------------------------------------
# Reads one source of a `zip` (its spec's name and arguments) relative to a folder.
MemberReader = Callable[[Configured, Path], Arrays]


def read_member(member: Configured, base_dir: Path) -> Arrays:
    """A zipped source read in memory by its own reader."""
    arrays: Arrays = implementation(member.name)(member.options, base_dir)
    return arrays


@impl("zip")
def zipped(attrs: Attrs, base_dir: Path, read: MemberReader = read_member) -> Arrays:
    """Each source's named arrays (`x/<name>`, `y/<name>`) in one dict, row i of each making
    example i: the runtime then splits and shuffles them with one permutation. Row counts must
    agree; a source's sample weights (one source at most) weigh the examples.

    `read` reads each source: the runtime passes one that streams the sources that would
    stream alone (their arrays then only need `ndim` and `len` here)."""
    out: Arrays = {}
    counts: list[tuple[str, int]] = []
    names = [str(n) for n in attrs["names"] or ()]  # type: ignore[union-attr]
    for name, member in zip(names, zip_members(attrs), strict=True):
        arrays = read(member, base_dir)
        arrays.pop("class_names", None)
        rows = {len(a) for k, a in arrays.items() if "/" in k or k == "sample_weight"}
        n = min(rows) if rows else 0
        for key, a in arrays.items():
            if a.ndim == 0 or len(a) != n:
                raise DataError(
                    f"data `{name}`: array {key!r} has {len(a) if a.ndim else 0} rows, others {n}"
                )
        if counts and n != counts[0][1]:
            first, m = counts[0]
            raise DataError(
                f"zip: data `{first}` has {m} rows but data `{name}` has {n}; zipped sources "
                "must have the same number of rows"
            )
        counts.append((name, n))
        if "sample_weight" in arrays and "sample_weight" in out:
            raise DataError(
                f"zip: data `{counts[0][0]}` and data `{name}` both give sample weights; keep one"
            )
        out.update((k, v) for k, v in arrays.items() if "/" in k or k == "sample_weight")
    return out


# -- folders of classes ------------------------------------------------------------------------
def _class_folders(root: Path, attrs: Attrs) -> list[tuple[str, Path]]:
    """(class name, folder) in label order: `class_names` if given, else sorted subfolders."""
    if not root.exists():
        raise DataError(f"{root}: folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, expected a folder with one subfolder per class")
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    given = attrs["class_names"]
    if isinstance(given, tuple):
        missing = [str(n) for n in given if str(n) not in present]
        if missing:
            raise DataError(
                f"{root}: no folder for class {missing[0]!r} "
                f"(the subfolders are: {', '.join(present) or 'none'})"
            )
        names = [str(n) for n in given]
    else:
        names = present
    if not names:
        raise DataError(f"{root}: no subfolders; expected one subfolder per class")
    return [(n, root / n) for n in names]


def _files(folder: Path, extensions: Sequence[str], project: Path | None) -> list[Path]:
    """Files under `folder` (recursively, as Keras), sorted for a deterministic order; each
    a regular file (a FIFO would block the reader) inside the project (a member may be a
    symlink; folder links are not followed)."""
    found: list[Path] = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in extensions:
                found.append(_member(Path(parent) / name, project))
    return found


def _member(path: Path, root: Path | None) -> Path:
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            if root is not None and not is_inside(path, root):
                raise DataError(_outside(path, root))
            mode = os.stat(path).st_mode
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    problem = kind_problem(mode)
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    return path


def _labelled_files(
    root: Path, attrs: Attrs, extensions: Sequence[str], noun: str, project: Path | None
) -> Arrays:
    """`{"files", "y", "class_names"}`; an empty class folder is an error (Keras says nothing,
    and the class would silently never be predicted)."""
    files: list[Path] = []
    labels: list[int] = []
    folders = _class_folders(root, attrs)
    for label, (name, folder) in enumerate(folders):
        found = _files(folder, extensions, project)
        if not found:
            raise DataError(
                f"{folder}: class {name!r} has no {noun} ({', '.join(extensions)} files)"
            )
        files.extend(found)
        labels.extend([label] * len(found))
    return {
        "files": np.asarray([str(f) for f in files], dtype=object),
        "y": np.asarray(labels, np.int64),
        "class_names": np.asarray([n for n, _ in folders], dtype=object),
    }


@impl("image_folder")
def image_folder(attrs: Attrs, base_dir: Path) -> Arrays:
    """Decode every image (threads: Pillow releases the GIL), convert, resize, stack."""
    root = _source(base_dir, str(attrs["path"]))
    found = _labelled_files(root, attrs, IMAGE_EXTENSIONS, "images", _project(base_dir))
    size = attrs["image_size"]
    target = (int(size[0]), int(size[1])) if isinstance(size, tuple) else None  # type: ignore[arg-type]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[COLOR_MODES[str(attrs["color_mode"])]]

    def load(file: str) -> np.ndarray:
        image = read_image(Path(file), mode)
        if target is None:
            return image
        if attrs["crop_to_aspect_ratio"]:
            image = crop_to_aspect(image, target)
        return resize(image, target, str(attrs["interpolation"]))

    files = [str(f) for f in found["files"]]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        images = list(pool.map(load, files))
    if target is None:
        first = images[0].shape[:2]
        for file, image in zip(files, images, strict=True):
            if image.shape[:2] != first:
                raise DataError(
                    f"{file}: image of size {list(image.shape[:2])} (height, width), but "
                    f"{files[0]} is {list(first)}; set `image_size = [height, width]` "
                    "to resize them all"
                )
    return {"x": np.stack(images), "y": found["y"], "class_names": found["class_names"]}


def read_image(path: Path, mode: str) -> np.ndarray:
    """`[H, W, C]` float32 pixels in [0, 255]; GIFs give their first frame."""
    from PIL import Image, UnidentifiedImageError  # lazily: `nnrun check` never needs Pillow

    try:
        with Image.open(path) as image:
            image.seek(0)
            converted = image.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    pixels = np.asarray(converted, np.float32)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def crop_to_aspect(image: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """The largest centred window with the target's aspect ratio (Keras's `smart_resize`)."""
    h, w = image.shape[:2]
    th, tw = target
    crop_h = min(h, int(float(w * th) / tw))
    crop_w = min(w, int(float(h * tw) / th))
    top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    return image[top : top + crop_h, left : left + crop_w]


def resize(image: np.ndarray, target: tuple[int, int], method: str) -> np.ndarray:
    """Resize `[H, W, C]` as `tf.image.resize` (half-pixel centres, no antialiasing), the
    resize Keras's image loader uses."""
    out = image
    for axis, size in enumerate(target):
        out = _resize_axis(out, axis, size, method)
    return out.astype(np.float32, copy=False)


def _resize_axis(a: np.ndarray, axis: int, size: int, method: str) -> np.ndarray:
    n = a.shape[axis]
    if n == size:
        return a
    scale = n / size
    centres = (np.arange(size) + 0.5) * scale
    if method == "nearest":
        index = np.minimum(np.floor(centres).astype(np.int64), n - 1)
        return np.asarray(np.take(a, index, axis=axis))
    pos = centres - 0.5
    floor = np.floor(pos)
    lo = np.clip(floor, 0, n - 1).astype(np.int64)
    hi = np.clip(np.ceil(pos), 0, n - 1).astype(np.int64)
    frac = (pos - floor).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    below, above = np.take(a, lo, axis=axis), np.take(a, hi, axis=axis)
    return np.asarray(below * (1 - frac) + above * frac)


# -- text --------------------------------------------------------------------------------------
@impl("text_folder")
def text_folder(attrs: Attrs, base_dir: Path) -> Arrays:
    """Each `.txt` file is one example, labelled by its class folder (Keras reads only .txt)."""
    root = _source(base_dir, str(attrs["path"]))
    found = _labelled_files(root, attrs, (".txt",), "text files", _project(base_dir))
    texts = [read_text(Path(f)) for f in found["files"]]
    return {"x": _strings(texts), "y": found["y"], "class_names": found["class_names"]}


@impl("text_file")
def text_file(attrs: Attrs, base_dir: Path) -> Arrays:
    """`label<delimiter>text` per line; blank lines are skipped."""
    path = _source(base_dir, str(attrs["path"]))
    _require_file(path, "text file")
    delimiter = str(attrs["delimiter"])
    labels: list[str] = []
    texts: list[str] = []
    for line_no, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        label, sep, text = line.partition(delimiter)
        if not sep:
            raise DataError(
                f"{path}: line {line_no} has no {delimiter!r} between a label and the text"
            )
        if not label.strip():
            raise DataError(f"{path}: line {line_no} has an empty label")
        labels.append(label.strip())
        texts.append(text)
    if not texts:
        raise DataError(f"{path}: no lines of text")
    if all(_is_int(label) for label in labels):
        return {"x": _strings(texts), "y": np.asarray([int(v) for v in labels], np.int64)}
    classes = sorted(set(labels))
    index = {name: i for i, name in enumerate(classes)}
    return {
        "x": _strings(texts),
        "y": np.asarray([index[v] for v in labels], np.int64),
        "class_names": np.asarray(classes, dtype=object),
    }


def read_text(path: Path) -> str:
    """A text file as UTF-8; `DataError` naming the file otherwise (also for `nnrun predict`).
    Regular files only (checked before opening), no size cap."""
    try:
        return _read_file(path, limit=2**62)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start} of the file)") from None
    except UnreadableSource as exc:
        raise DataError(f"{path}: {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None


def _strings(texts: list[str]) -> np.ndarray:
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _source(base_dir: Path, path: str) -> Path:
    """`base_dir / path`, which must lie in the project (symlinks resolved) unless
    `--allow-outside-project`: the checker says so first (E0803); this covers links and
    configs built in code. Nothing outside is opened, so nothing of it is ever shown."""
    full = base_dir / path
    if outside_allowed():
        return full
    root = project_root(base_dir)
    if "\0" in path or not is_inside(full, root):
        raise DataError(_outside(full, root))
    return full


def _project(base_dir: Path) -> Path | None:
    """The project a folder source's members must stay in; None when anything goes."""
    return None if outside_allowed() else project_root(base_dir)


def _outside(path: Path, root: Path) -> str:
    return (
        f"{path}: outside the project {root}; nothing was read (run with "
        "--allow-outside-project if you trust this model file)"
    )


def _require_file(path: Path, noun: str) -> None:
    """A regular file (stat, not open: a FIFO would block, `/dev/zero` never ends)."""
    problem = not_regular(path)
    if problem == "no such file":
        raise DataError(f"{path}: {noun} not found")
    if problem is not None:
        raise DataError(f"{path}: {problem} (expected a {noun})")


__all__ = ["crop_to_aspect", "read_image", "resize"]
