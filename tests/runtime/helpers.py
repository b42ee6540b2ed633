"""Synthetic data files and configs for runtime tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nndsl.ir import TrainConfig
from nndsl.source import SourceFile
from tests.backend.graphs import mlp, train_config


def blobs(
    n: int = 240, features: int = 4, classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Separable clusters: class c centred at 2 * e_c."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = np.eye(classes, features) * 2.5
    x = centres[y] + rng.normal(scale=0.7, size=(n, features))
    return x.astype(np.float64), y.astype(np.int64)


def write_npz(directory: Path, name: str = "data.npz", **arrays: np.ndarray) -> Path:
    path = directory / name
    np.savez(path, **arrays)
    return path


def config_for(directory: Path, data_file: str = "data.npz", **kwargs: Any) -> TrainConfig:
    graph = kwargs.pop("graph", None) or mlp()
    return train_config(
        graph, data_file, file=SourceFile(str(directory / "model.nn"), ""), **kwargs
    )
