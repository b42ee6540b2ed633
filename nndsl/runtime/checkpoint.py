"""Checkpoints: weights in `.safetensors` (never pickle), metadata in a JSON file beside it.

Tensor keys are `"{node path}/{weight name}"`. Both files are written atomically (temp file in
the same directory, fsync, `os.replace`, fsync of the directory), so a crash leaves either the
old or the new checkpoint, never a torn one.

A model trained on a text source also keeps its vectorizer (vocabulary, idf weights, sequence
length) in that JSON, under `text_vectorizer`, so `nnrun predict` can read raw text.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

import nndsl
from nndsl.backend.jax.compile import Tree
from nndsl.ir import Graph
from nndsl.ops import format_value
from nndsl.runtime.sources import TextVectorizer

FORMAT = "nndsl-checkpoint-1"
VECTORIZER_KEY = "text_vectorizer"


class CheckpointError(Exception):
    """A checkpoint that cannot be read or does not fit the model; one line for the user."""


def metadata_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def _flatten(tree: Tree) -> dict[str, np.ndarray]:
    return {
        f"{node}/{name}": np.asarray(value, order="C")  # keeps 0-d (ascontiguousarray: 1-d)
        for node, weights in tree.items()
        for name, value in weights.items()
    }


def save_checkpoint(
    path: str | Path,
    graph: Graph,
    params: Tree,
    state: Tree,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    vectorizer: TextVectorizer | None = None,
) -> Path:
    """Write `path` (.safetensors) and its `.json` metadata; returns the weights' path."""
    path = Path(path)
    tensors = _flatten(params) | _flatten(state)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "nndsl_version": nndsl.__version__,
        "model": graph.name,
        "args": {k: format_value(v) for k, v in graph.args.items()},
        "inputs": {i.name: str(i.type) for i in graph.inputs},
        "outputs": {o.name: str(o.type) for o in graph.outputs},
        "state": sorted(_flatten(state)),
        "seed": seed,
        "epochs": epochs,
        "metrics": dict(metrics or {}),
        **dict(extra or {}),
    }
    if vectorizer is not None:
        meta[VECTORIZER_KEY] = vectorizer.to_json()
    header = {"format": FORMAT, "model": graph.name, "state": json.dumps(meta["state"])}
    atomic_write(path, safetensors.numpy.save(tensors, metadata=header))
    atomic_write(metadata_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    return path


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide artefacts from servers
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON written beside the weights (model name, types, metrics, version...)."""
    meta = metadata_path(path)
    try:
        return dict(json.loads(meta.read_text()))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{meta}: cannot read checkpoint metadata ({exc})") from None


def load_vectorizer(path: str | Path) -> TextVectorizer | None:
    """The text vectorizer saved with the weights at `path`, None when there is none (the
    model was not trained on text, or the weights came without their JSON); a
    `CheckpointError` when it is there but unreadable."""
    if not metadata_path(path).is_file():
        return None
    saved = read_metadata(path).get(VECTORIZER_KEY)
    if saved is None:
        return None
    try:
        return TextVectorizer.from_json(saved)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{metadata_path(path)}: {exc}") from None


def load_weights(path: str | Path, graph: Graph | None = None) -> tuple[Tree, Tree]:
    """(params, state) from `path`; with `graph`, every weight must be present with the
    shape and dtype the graph lists, and nothing else may be there."""
    path = Path(path)
    try:
        with safetensors.safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{path}: not a readable .safetensors file ({exc})") from None
    if graph is None:
        state_keys = set(json.loads(header.get("state", "[]")))
        return _unflatten(tensors, lambda k: k not in state_keys)
    _validate(path, graph, tensors)
    trainable = {f"{n.path}/{w.name}": w.trainable for n, w in graph.weights()}
    return _unflatten(tensors, lambda k: trainable[k])


def _validate(path: Path, graph: Graph, tensors: Mapping[str, np.ndarray]) -> None:
    expected = {f"{n.path}/{w.name}": w for n, w in graph.weights()}
    missing = sorted(expected.keys() - tensors.keys())
    if missing:
        raise CheckpointError(f"{path}: missing weights for {graph.name}: {_few(missing)}")
    unexpected = sorted(tensors.keys() - expected.keys())
    if unexpected:
        raise CheckpointError(f"{path}: weights not in {graph.name}: {_few(unexpected)}")
    for key, w in expected.items():
        found = tensors[key]
        if tuple(found.shape) != w.shape:
            raise CheckpointError(
                f"{path}: weight {key} has shape {list(found.shape)}, "
                f"{graph.name} expects {list(w.shape)}"
            )
        if found.dtype != np.dtype(w.dtype.numpy_name):
            raise CheckpointError(
                f"{path}: weight {key} has dtype {found.dtype}, "
                f"{graph.name} expects {w.dtype.numpy_name}"
            )


def _few(keys: list[str], limit: int = 5) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _unflatten(tensors: Mapping[str, np.ndarray], is_trainable: Any) -> tuple[Tree, Tree]:
    params: Tree = {}
    state: Tree = {}
    for key, value in tensors.items():
        node, name = key.rsplit("/", 1)
        (params if is_trainable(key) else state).setdefault(node, {})[name] = jnp.asarray(value)
    return params, state


# -- full training state, for `--resume` ------------------------------------------------------
# A training checkpoint is a directory `checkpoints/step-000000123/` holding `state.safetensors`
# (every array: weights, optimizer state, loss scale, PRNG key, the epoch's running metric sums,
# callback arrays) and `meta.json` (step, epoch, position in the epoch's batch order, callback
# state). It is written under a temporary name and renamed into place, so a directory with the
# final name is complete; a kill at any moment leaves the previous checkpoints intact.
TRAIN_FORMAT = "nndsl-training-state-1"
_PREFIX = "step-"


def flatten_tree(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    """Every leaf of a pytree (optax states included) under `prefix/<key path>`."""
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        f"{prefix}/{jax.tree_util.keystr(path)}": np.asarray(leaf, order="C")
        for path, leaf in leaves
    }


def restore_tree(template: Any, arrays: Mapping[str, np.ndarray], prefix: str, where: Path) -> Any:
    """`template`'s structure with its leaves read from `arrays` (as `flatten_tree` wrote
    them); shapes and dtypes must match, so a checkpoint of another model or optimizer is a
    `CheckpointError`, not garbage."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    out = []
    for path, leaf in leaves:
        key = f"{prefix}/{jax.tree_util.keystr(path)}"
        if key not in arrays:
            raise CheckpointError(f"{where}: no {key}; the checkpoint is of another setup")
        found = arrays[key]
        want = np.asarray(leaf)
        if found.shape != want.shape or found.dtype != want.dtype:
            raise CheckpointError(
                f"{where}: {key} is {found.dtype}{list(found.shape)}, "
                f"expected {want.dtype}{list(want.shape)}"
            )
        out.append(jnp.asarray(found))
    return jax.tree_util.tree_unflatten(treedef, [leaf for leaf in out])


def _step_dirs(run_dir: Path) -> list[Path]:
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(_PREFIX) and (p / "meta.json").is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


def latest_training_state(run_dir: str | Path) -> Path | None:
    """The newest complete training checkpoint under `run_dir/checkpoints`, or None."""
    dirs = _step_dirs(Path(run_dir))
    return dirs[-1] if dirs else None


def save_training_state(
    run_dir: str | Path,
    step: int,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    keep: int,
) -> Path:
    """Write `checkpoints/step-<step>/` atomically, then drop all but the newest `keep`."""
    import shutil

    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:09d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.tmp-"))
    try:
        header = {"format": TRAIN_FORMAT}
        body = {"format": TRAIN_FORMAT, "nndsl_version": nndsl.__version__, **meta}
        _write_synced(tmp / "state.safetensors", safetensors.numpy.save(dict(arrays), header))
        _write_synced(tmp / "meta.json", (json.dumps(body, indent=2) + "\n").encode())
        _fsync_dir(tmp)
        if final.exists():  # the same step saved twice (epoch end on a step boundary)
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in _step_dirs(Path(run_dir))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_training_state(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a directory written by `save_training_state`."""
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
        with safetensors.safe_open(str(path / "state.safetensors"), framework="numpy") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: incomplete checkpoint ({exc.filename} missing)") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc})") from None
    if meta.get("format") != TRAIN_FORMAT:
        raise CheckpointError(f"{path}: not an nndsl training checkpoint")
    return arrays, dict(meta)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
