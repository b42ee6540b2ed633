"""Image files (and CSV files) as `predict` inputs, read as the training source read them,
and the per-file rows `nnrun predict` prints or writes (name, top classes by name, score).

The settings come from the `train` section's `image_folder(...)` (size, colour mode,
interpolation, crop) when the file has one; otherwise from the model's input `[B, H, W, C]`
(resized bilinearly to H x W, C channels: 1 grayscale, 3 RGB, 4 RGBA), which is what any
image source feeding that model must give.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nndsl.backend import DataError
from nndsl.backend.jax.impls.data import crop_to_aspect, read_image, resize
from nndsl.ir import Graph, OpCall
from nndsl.ops.data import COLOR_MODES, IMAGE_EXTENSIONS
from nndsl.ops.spec import Keyed

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class ImageSettings:
    size: tuple[int, int] | None
    mode: str  # Pillow's: L, RGB, RGBA
    interpolation: str = "bilinear"
    crop: bool = False


def is_image_input(path: Path) -> bool:
    """An image file, or a folder holding image files (at any depth)."""
    if path.is_file():
        return path.suffix.lower() in IMAGE_EXTENSIONS
    return path.is_dir() and any(_image_files(path))


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def image_settings(graph: Graph, data: OpCall | None) -> ImageSettings:
    """The training source's image settings, else what the model's input implies."""
    if data is not None and data.op.name == "image_folder":
        size = data.attrs.get("image_size")
        target = (int(size[0]), int(size[1])) if isinstance(size, tuple) else None  # type: ignore[arg-type]
        channels = COLOR_MODES[str(data.attrs.get("color_mode", "rgb"))]
        return ImageSettings(
            target,
            _MODES[channels],
            str(data.attrs.get("interpolation", "bilinear")),
            bool(data.attrs.get("crop_to_aspect_ratio", False)),
        )
    shape = graph.inputs[0].type.shape
    dims = [d.as_int() for d in shape[1:]]
    mode = _MODES.get(dims[2]) if len(dims) == 3 and dims[2] is not None else None
    if mode is None:
        raise DataError(
            f"`{graph.name}` takes {graph.inputs[0].type}, not images [B, height, width, "
            "1|3|4]; pass a .npy array of inputs"
        )
    h, w = dims[0], dims[1]
    return ImageSettings((h, w) if h is not None and w is not None else None, mode)


def read_images(source: Path, settings: ImageSettings) -> tuple[list[str], np.ndarray]:
    """(file names, `[N, H, W, C]` float32 pixels in [0, 255]) of an image or a folder of
    images (sorted, at any depth; names relative to the folder)."""
    files = [source] if source.is_file() else _image_files(source)
    names = [str(f.relative_to(source)) if source.is_dir() else f.name for f in files]
    images = []
    for f in files:
        image = read_image(f, settings.mode)
        if settings.size is not None:
            if settings.crop:
                image = crop_to_aspect(image, settings.size)
            image = resize(image, settings.size, settings.interpolation)
        images.append(image)
    first = images[0].shape
    for name, image in zip(names, images, strict=True):
        if image.shape != first:
            raise DataError(
                f"{name}: image of size {list(image.shape[:2])}, but {names[0]} is "
                f"{list(first[:2])}; the model's source resizes nothing (no image_size)"
            )
    return names, np.stack(images)


def top_classes(
    scores: np.ndarray, k: int, class_names: Sequence[str]
) -> list[list[tuple[str, float]]]:
    """For each row of `[N, classes]` scores, its `k` best classes (by name when the weights
    name them) with their scores, best first."""
    k = max(1, min(k, scores.shape[1]))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    names = list(class_names) if len(class_names) == scores.shape[1] else None
    return [
        [(names[int(i)] if names else str(int(i)), float(row[int(i)])) for i in best]
        for row, best in zip(scores, order, strict=True)
    ]


def rows_text(names: Sequence[str], tops: list[list[tuple[str, float]]]) -> str:
    """One line per file: `name  class (score)  class (score) ...`, names aligned."""
    width = max((len(n) for n in names), default=0)
    return "".join(
        f"{name:<{width}}  " + "  ".join(f"{c} ({s:.4f})" for c, s in top) + "\n"
        for name, top in zip(names, tops, strict=True)
    )


def rows_csv(names: Sequence[str], tops: list[list[tuple[str, float]]]) -> str:
    """`file,class_1,score_1,...,class_k,score_k`, one row per file."""
    k = len(tops[0]) if tops else 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", *[f for i in range(1, k + 1) for f in (f"class_{i}", f"score_{i}")]])
    for name, top in zip(names, tops, strict=True):
        writer.writerow([name, *[v for c, s in top for v in (c, f"{s:.6g}")]])
    return out.getvalue()


def read_csv_inputs(path: Path, data: OpCall) -> tuple[list[str], np.ndarray]:
    """(row names, `[N, k]` float32 inputs) of a CSV file read as the training `csv(...)` read
    its inputs: the same columns, by header name (or position without a header), the label
    and sample-weight columns left out when the file has them."""
    import csv as csv_module

    attrs = data.attrs
    if isinstance(attrs.get("x"), Keyed) or isinstance(attrs.get("y"), Keyed):
        raise DataError(
            f"{path}: the model was trained on CSV column groups (x = {{...}}); predict reads "
            "plain column lists only: pass .npy inputs (--input NAME=FILE)"
        )
    header = bool(attrs.get("header", True))
    delimiter = str(attrs.get("delimiter", ","))
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv_module.reader(f, delimiter=delimiter) if row]
    except (UnicodeDecodeError, csv_module.Error) as exc:
        raise DataError(f"{path}: not readable as UTF-8 CSV ({exc})") from None
    if header:
        if not rows:
            raise DataError(f"{path}: the file is empty; expected a header row")
        names, rows = [c.strip() for c in rows[0]], rows[1:]
    else:
        names = [str(i) for i in range(len(rows[0]))] if rows else []
    if not rows:
        raise DataError(f"{path}: no data rows")
    given = attrs.get("columns")
    if isinstance(given, tuple):
        wanted = [str(c) for c in given]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise DataError(
                f"{path}: no column {missing[0]!r}; the model was trained on the columns "
                f"{wanted} (found {names})"
            )
        columns = [names.index(c) for c in wanted]
    else:
        skip = {str(attrs.get("label")), str(attrs.get("sample_weight"))}
        columns = [i for i, n in enumerate(names) if n not in skip]
    x = np.empty((len(rows), len(columns)), np.float32)
    for r, row in enumerate(rows):
        for j, c in enumerate(columns):
            try:
                x[r, j] = float(row[c])
            except (ValueError, IndexError):
                value = row[c] if c < len(row) else "nothing"
                raise DataError(
                    f"{path}: row {r + 1 + header}, column {names[c]!r}: {value!r} is not a number"
                ) from None
    return [f"row {r + 1}" for r in range(len(rows))], x


def text_names(source: Path) -> list[str]:
    """The names of a text input's examples, in `read_texts`'s order: each `.txt` file of a
    folder (relative path), or `line N` for each non-blank line of a `.txt` file."""
    if source.is_dir():
        files = sorted(f for f in source.rglob("*") if f.suffix.lower() == ".txt" and f.is_file())
        return [str(f.relative_to(source)) for f in files]
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    return [f"line {i}" for i, line in enumerate(lines, start=1) if line.strip()]
