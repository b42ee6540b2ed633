"""Checkpoints: round trip, metadata, validation against the graph, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.runtime import CheckpointError, load_weights, read_metadata, save_checkpoint
from tests.backend.graphs import mlp


def saved(tmp_path: Path) -> tuple[Path, object, object, object]:
    graph = mlp(batch_norm=True)
    params, state = compile_graph(graph).init(jax.random.key(0))
    path = save_checkpoint(
        tmp_path / "run" / "model.safetensors",
        graph,
        params,
        state,
        seed=4,
        epochs=2,
        metrics={"accuracy": 0.5},
    )
    return path, graph, params, state


def same(a: object, b: object) -> bool:
    return bool(jax.tree.all(jax.tree.map(lambda u, v: np.array_equal(u, v), a, b)))


def test_round_trip_with_and_without_graph(tmp_path: Path) -> None:
    path, graph, params, state = saved(tmp_path)
    p, s = load_weights(path, graph)  # type: ignore[arg-type]
    assert same(p, params) and same(s, state)
    p2, s2 = load_weights(path)
    assert same(p2, params) and same(s2, state)
    assert sorted(s) == ["batchnorm"] and "moving_mean" not in p["batchnorm"]


def test_metadata_and_no_leftover_temp_files(tmp_path: Path) -> None:
    path, *_ = saved(tmp_path)
    meta = read_metadata(path)
    assert meta["model"] == "MLP" and meta["seed"] == 4 and meta["epochs"] == 2
    assert meta["inputs"] == {"x": "f32[B, 4]"} and meta["outputs"] == {"logits": "f32[B, 3]"}
    assert meta["metrics"] == {"accuracy": 0.5} and meta["nndsl_version"]
    assert json.loads((path.parent / "model.json").read_text()) == meta
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json", "model.safetensors"]


def test_overwrite_replaces_the_file(tmp_path: Path) -> None:
    path, graph, params, state = saved(tmp_path)
    doubled = jax.tree.map(lambda v: v * 2, params)
    save_checkpoint(path, graph, doubled, state)  # type: ignore[arg-type]
    assert same(load_weights(path, graph)[0], doubled)  # type: ignore[arg-type]


def test_mismatched_graph_is_a_clear_error(tmp_path: Path) -> None:
    path, *_ = saved(tmp_path)
    with pytest.raises(
        CheckpointError,
        match=r"dense/kernel has shape \[4, 16\], MLP "
        r"expects \[4, 8\]",
    ):
        load_weights(path, mlp(hidden=8, batch_norm=True))
    with pytest.raises(CheckpointError, match="weights not in MLP: batchnorm/beta"):
        load_weights(path, mlp())
    missing = "missing weights for MLP: batchnorm/beta, batchnorm/gamma"
    with pytest.raises(CheckpointError, match=missing):
        path2, graph, params, state = saved(tmp_path / "b")
        del params["batchnorm"]  # type: ignore[index]
        save_checkpoint(path2, graph, params, state)  # type: ignore[arg-type]
        load_weights(path2, graph)  # type: ignore[arg-type]


def test_missing_or_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_weights(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match=r"not a readable \.safetensors"):
        load_weights(bad)
    with pytest.raises(CheckpointError, match="cannot read checkpoint metadata"):
        read_metadata(bad)
