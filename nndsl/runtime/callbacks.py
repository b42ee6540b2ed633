"""The loop state callbacks see (`RunState`), and building a section's callbacks.

`RunState` is also what a training checkpoint stores: `arrays()` and `meta()` give everything
needed to continue bit-for-bit (weights, optimizer state, loss scale, PRNG key, position in the
epoch's batch order, the epoch's running sums, each callback's memory), `restore()` reads it
back into a freshly initialised run of the same section. A text source's vectorizer goes with
every checkpoint and saved weights, so any of them can be used on raw text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndsl.backend.jax import implementation
from nndsl.backend.jax.compile import Tree
from nndsl.backend.jax.impls.callbacks import Callback, Logs, OutsideRunDir, inside_run_dir
from nndsl.backend.jax.stacking import pack_all, packed_like, unpack_all
from nndsl.backend.jax.training import Aux, Metrics, Steps
from nndsl.ir import TrainConfig
from nndsl.runtime.checkpoint import (
    VECTORIZER_KEY,
    CheckpointError,
    flatten_tree,
    load_training_state,
    restore_tree,
    save_checkpoint,
    save_training_state,
)
from nndsl.runtime.sources import TextVectorizer


def build_callbacks(config: TrainConfig) -> list[Callback]:
    """The declared callbacks in order, checkpoints last, so a checkpoint taken at an epoch's
    end already holds the other callbacks' decisions for that epoch."""
    built: list[Callback] = [implementation(c.op)(c.attrs) for c in config.callbacks]
    lr = config.optimizer.attrs["learning_rate"]
    for cb in built:
        if cb.name == "reduce_lr_on_plateau" and isinstance(lr, int | float):
            cb.base_lr = float(lr)  # type: ignore[attr-defined]
        if cb.name == "tensorboard":  # logs the learning rate
            cb.optimizer = config.optimizer.attrs  # type: ignore[attr-defined]
    return sorted(built, key=lambda cb: cb.name == "checkpoint")


def check_written_paths(run_dir: Path, callbacks: list[Callback]) -> None:
    """Every path the callbacks will write, symlinks resolved, lies in the run directory;
    `CheckpointError` (one line) before anything is written otherwise."""
    for cb in callbacks:
        for path in cb.writes():
            try:
                inside_run_dir(run_dir, path)
            except OutsideRunDir as err:
                raise CheckpointError(f"`{cb.name}`: {err}") from None


@dataclass
class RunState:
    """Everything that changes while training; see the module doc."""

    config: TrainConfig
    steps: Steps
    params: Tree
    state: Tree
    opt_state: Any
    aux: Aux
    step_root: jax.Array
    run_dir: Path
    callbacks: list[Callback] = field(default_factory=list)
    note: Callable[[str], None] = lambda _message: None
    vectorizer: TextVectorizer | None = None  # a text source's, adapted on the training split
    class_names: tuple[str, ...] = ()  # what each class id means (folder, named labels)
    _vectorizer_json: dict[str, Any] | None = field(default=None, init=False, repr=False)
    epoch: int = 0  # epochs completed
    global_step: int = 0  # batches consumed (applied or skipped)
    position: int = 0  # batches consumed in the current, unfinished epoch
    loss_sum: float = 0.0  # the current epoch's running sums, over applied steps
    applied: int = 0
    totals: Metrics | None = None
    skipped: int = 0  # non-finite steps skipped (`on_nonfinite = "skip"`) and float16 overflows
    stop_training: bool = False
    last_x: Any = None  # the inputs (array or dict) of the last call, to diagnose a bad step
    last_stacked: bool = False  # `last_x` holds one batch per step of the call
    # the status(es) of the last call dispatched, on the device: under `on_nonfinite = "stop"`
    # the next call runs only if it was healthy (not saved: checkpoints follow healthy steps)
    after: jax.Array | None = None

    def __post_init__(self) -> None:
        check_written_paths(self.run_dir, self.callbacks)

    # -- what callbacks call -----------------------------------------------------------------
    def save_checkpoint(self, keep: int) -> Path:
        return save_training_state(
            self.run_dir, self.global_step, self.arrays(), self.meta(), keep=keep
        )

    def save_weights(self, path: Path, metrics: Logs) -> Path:
        return save_checkpoint(
            path,
            self.config.graph,
            *unpack_all(
                self.config.graph,
                (self.steps.final_params(self.params, self.opt_state), self.state),
            ),
            seed=self.config.seed,
            epochs=self.epoch,
            metrics=metrics,
            extra={"class_names": list(self.class_names)} if self.class_names else None,
            vectorizer=self.vectorizer,
        )

    # -- checkpoint contents -----------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Per copy, whatever the run keeps packed (`backend.jax.stacking`): a checkpoint
        reads the same whether or not a repeat's weights were stacked when it was written."""
        graph = self.config.graph
        params, state, opt_state = unpack_all(graph, (self.params, self.state, self.opt_state))
        out = (
            flatten_tree(params, "params")
            | flatten_tree(state, "state")
            | flatten_tree(opt_state, "opt")
            | flatten_tree(self.aux, "aux")
        )
        out["rng/step_root"] = np.asarray(jax.random.key_data(self.step_root))
        for i, stats in enumerate(self.totals or ()):
            for k, v in stats.items():
                out[f"epoch/metric{i}/{k}"] = np.asarray(v, np.float64)
        for i, cb in enumerate(self.callbacks):
            tree = cb.tensors()
            if tree is not None:
                out |= flatten_tree(unpack_all(graph, tree), f"callback{i}")
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "model": self.config.graph.name,
            "seed": self.config.seed,
            "epoch": self.epoch,
            "step": self.global_step,
            "position": self.position,
            "loss_sum": self.loss_sum,
            "applied": self.applied,
            "skipped": self.skipped,
            "stop_training": self.stop_training,
            "metric_stats": [sorted(t) for t in self.totals] if self.totals else None,
            "callbacks": [
                {"name": cb.name, "state": cb.state(), "tensors": cb.tensors() is not None}
                for cb in self.callbacks
            ],
            VECTORIZER_KEY: self.vectorizer_json(),
        }

    def vectorizer_json(self) -> dict[str, Any] | None:
        """The vectorizer as saved, built once (a vocabulary can be long; it never changes)."""
        if self._vectorizer_json is None and self.vectorizer is not None:
            self._vectorizer_json = self.vectorizer.to_json()
        return self._vectorizer_json

    def restore(self, path: Path) -> None:
        """Continue from the checkpoint directory `path` (as `save_checkpoint` wrote it)."""
        arrays, meta = load_training_state(path)
        if meta.get("model") != self.config.graph.name or meta.get("seed") != self.config.seed:
            raise CheckpointError(
                f"{path}: written for model {meta.get('model')} with seed {meta.get('seed')}, "
                f"not {self.config.graph.name} with seed {self.config.seed}"
            )
        names = [c["name"] for c in meta.get("callbacks", [])]
        if names != [cb.name for cb in self.callbacks]:
            raise CheckpointError(
                f"{path}: written with callbacks {names}, the section now declares "
                f"{[cb.name for cb in self.callbacks]}"
            )
        mine = self.vectorizer_json()
        if meta.get(VECTORIZER_KEY, mine) != mine:  # older checkpoints have none to compare
            raise CheckpointError(
                f"{path}: written with another text vocabulary than the training texts give "
                "now; the texts or the text source's settings changed since"
            )
        # read per copy into the run's per-copy layout, then packed as the run packs them
        graph = self.config.graph
        packed = packed_like(graph, (self.params, self.state))
        params, state, opt_state = unpack_all(graph, (self.params, self.state, self.opt_state))
        params = restore_tree(params, arrays, "params", path)
        state = restore_tree(state, arrays, "state", path)
        opt_state = restore_tree(opt_state, arrays, "opt", path)
        self.params, self.state, self.opt_state = pack_all(
            graph, (params, state, opt_state), packed
        )
        self.aux = restore_tree(self.aux, arrays, "aux", path)
        self.step_root = jax.random.wrap_key_data(jnp.asarray(arrays["rng/step_root"]))
        self.epoch, self.global_step = int(meta["epoch"]), int(meta["step"])
        self.position = int(meta["position"])
        self.loss_sum, self.applied = float(meta["loss_sum"]), int(meta["applied"])
        self.skipped = int(meta.get("skipped", 0))
        self.stop_training = bool(meta.get("stop_training", False))
        stats = meta.get("metric_stats")
        self.totals = (
            None
            if stats is None
            else tuple(
                # float64 on the host, as `add_metric_stats` keeps them
                {k: arrays[f"epoch/metric{i}/{k}"] for k in keys}  # type: ignore[misc]
                for i, keys in enumerate(stats)
            )
        )
        for i, (cb, saved) in enumerate(zip(self.callbacks, meta["callbacks"], strict=True)):
            cb.load_state(saved["state"])
            if saved["tensors"]:
                template = unpack_all(graph, (self.params, self.state))
                tree = restore_tree(template, arrays, f"callback{i}", path)
                cb.load_tensors(pack_all(graph, tree, packed))
