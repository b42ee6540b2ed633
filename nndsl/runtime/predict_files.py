"""Image files as `predict` inputs, read as the training source read them, and the per-file
rows `nnrun predict` prints or writes (name, top classes by name, score).

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
