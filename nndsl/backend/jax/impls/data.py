"""Data sources: read arrays from disk; the runtime validates them against the model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from nndsl.backend.errors import DataError
from nndsl.backend.jax.registry import Attrs, impl


@impl("npz")
def npz(attrs: Attrs, base_dir: Path) -> dict[str, np.ndarray]:
    """Returns `{"x": ..., "y": ...}`; never unpickles (object arrays are refused)."""
    path = base_dir / str(attrs["path"])
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    keys = {"x": str(attrs.get("x", "x")), "y": str(attrs.get("y", "y"))}
    try:
        with np.load(path, allow_pickle=False) as archive:
            present = list(archive.files)
            out: dict[str, np.ndarray] = {}
            for role, key in keys.items():
                if key not in present:
                    raise DataError(
                        f"{path}: no array {key!r} for {role} "
                        f"(the file has: {', '.join(present) or 'nothing'})"
                    )
                out[role] = np.asarray(archive[key])
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    return out
