"""`init = "runs/Pre/model.safetensors"` in `train`: start from saved weights, matched by path.

A weight of the model found in the file with the same shape is loaded; one not in the file (a
new head) keeps its fresh initialisation and is reported as skipped; one whose shape differs
is an error naming it, or under `strict = false` reported and initialised afresh. Weights of
the file the model lacks are reported as unused. A file of which no weight matches is refused
with one line naming both sides' weights: it is another model's. Everything is decided from
the file's header, before a tensor is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from nndsl.backend.jax.compile import Tree
from nndsl.check.paths import is_inside, outside_allowed, project_root
from nndsl.ir import Graph, Weight
from nndsl.ir.graph import InitWeights
from nndsl.runtime.checkpoint import CheckpointError, read_tensors
from nndsl.runtime.tensorfile import Entry


@dataclass
class InitReport:
    """What `init` did, by weight path (`node/weight`)."""

    path: Path
    model: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not in the file: initialised afresh
    mismatched: list[str] = field(default_factory=list)  # "key [file shape] -> [model shape]"
    unused: list[str] = field(default_factory=list)  # in the file, not in the model

    def message(self, total: int) -> str:
        parts = [f"init from {self.path}: loaded {len(self.loaded)} of {total} weights"]
        if self.skipped:
            parts.append(f"skipped (not in the file, initialised afresh): {_few(self.skipped)}")
        if self.mismatched:
            parts.append(f"mismatched (shape; initialised afresh): {_few(self.mismatched)}")
        if self.unused:
            parts.append(f"unused (not in {self.model}): {_few(self.unused)}")
        return "; ".join(parts)


def init_path(init: InitWeights, base_dir: Path) -> Path:
    """The file, which must lie in the project (symlinks resolved) unless
    `--allow-outside-project`: the checker says so first (E0803), this covers links."""
    full = base_dir / init.path
    if outside_allowed():
        return full
    root = project_root(base_dir)
    if "\0" in init.path or not is_inside(full, root):
        raise CheckpointError(
            f"{full}: `init` outside the project {root}; nothing was read (run with "
            "--allow-outside-project if you trust this model file)"
        )
    return full


def load_init(
    init: InitWeights, graph: Graph, params: Tree, state: Tree, base_dir: Path
) -> tuple[Tree, Tree, InitReport]:
    """`params` and `state` with the saved weights put in; a `CheckpointError` for a file that
    cannot be read, matches nothing, or (strict) has a weight of another shape."""
    path = init_path(init, base_dir)
    expected = {f"{n.path}/{w.name}": w for n, w in graph.weights()}
    report = InitReport(path, graph.name)

    def plan(entries: Mapping[str, Entry]) -> None:
        for key, w in expected.items():
            found = entries.get(key)
            if found is None:
                report.skipped.append(key)
            elif tuple(found.shape) != w.shape or not _castable(found.dtype, w):
                what = (
                    f"{key} {list(found.shape)} -> {list(w.shape)}"
                    if tuple(found.shape) != w.shape
                    else f"{key} {found.dtype} -> {w.dtype.numpy_name}"
                )
                report.mismatched.append(what)
                if init.strict:
                    raise CheckpointError(
                        f"{path}: weight {key} has {_kind(found, w)}, {graph.name} expects "
                        f"{_expects(found, w)} (`strict = false` in `train` initialises it "
                        "afresh instead)"
                    )
            else:
                report.loaded.append(key)
        report.unused.extend(sorted(entries.keys() - expected.keys()))
        if not report.loaded:
            raise CheckpointError(
                f"{path}: no weight matches {graph.name}'s: the file has "
                f"{_few(sorted(entries)) or 'none'}; the model has {_few(list(expected))}"
            )

    tensors, _ = read_tensors(path, plan)
    params = {p: dict(ws) for p, ws in params.items()}
    state = {p: dict(ws) for p, ws in state.items()}
    for key in report.loaded:
        w = expected[key]
        node, name = key.rsplit("/", 1)
        value = jnp.asarray(tensors[key], dtype=w.dtype.numpy_name)
        (params if w.trainable else state).setdefault(node, {})[name] = value
    return params, state, report


def _castable(dtype: np.dtype, w: Weight) -> bool:
    """Same dtype, or floats of another width (a float16 export into float32 weights)."""
    want = np.dtype(w.dtype.numpy_name)
    return bool(dtype == want or (dtype.kind == "f" and want.kind == "f"))


def _kind(found: Entry, w: Weight) -> str:
    if tuple(found.shape) != w.shape:
        return f"shape {list(found.shape)}"
    return f"dtype {found.dtype}"


def _expects(found: Entry, w: Weight) -> str:
    if tuple(found.shape) != w.shape:
        return str(list(w.shape))
    return w.dtype.numpy_name


def _few(keys: list[str], limit: int = 6) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


__all__ = ["InitReport", "init_path", "load_init"]
