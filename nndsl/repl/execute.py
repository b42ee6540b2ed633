"""The REPL's running side: concrete inputs, the jitted graph, training, value printing.

Imported only when something runs, so the REPL starts without JAX. Everything goes through
the backend (`compile_graph`) and the runtime (`fit`), exactly as `nnrun train` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nndsl.backend.jax import compile_graph
from nndsl.ir import Graph, TrainConfig
from nndsl.runtime import DataError, FitResult, TrainingError, fit
from nndsl.shapes import Dim
from nndsl.terminal.interrupt import StopOnCtrlC


class RunError(Exception):
    """A problem running user input (bad input file, a failed run): one line, no traceback."""


@dataclass
class Trained:
    graph: Graph
    params: Any
    state: Any
    result: FitResult

    def report(self) -> str:
        r = self.result
        what = "stopped" if r.stopped else "trained"
        line = f"{what} {self.graph.name}: {len(r.history)} epoch(s), {r.global_steps} steps"
        if r.history:
            last = r.history[-1]
            line += "; " + "  ".join(f"{k} {v:.4f}" for k, v in last.train.items())
        if r.test:
            line += "; test " + "  ".join(f"{k} {v:.4f}" for k, v in r.test.items())
        return line + f". :params {self.graph.name}, :predict {self.graph.name}"


def concrete_inputs(
    graph: Graph, files: dict[str, str], sizes: dict[str, int], seed: int
) -> list[np.ndarray]:
    """One array per graph input: from its `:input` file, else random (seed `seed`); symbols
    take their size from a file's array, then from `sizes`, else 4."""
    bound: dict[str, int] = dict(sizes)
    loaded: dict[str, np.ndarray] = {}
    for i in graph.inputs:
        if i.name in files:
            try:
                arr = np.load(files[i.name], allow_pickle=False)
            except (OSError, ValueError) as err:
                raise RunError(f"cannot read {files[i.name]} as a .npy array: {err}") from None
            if not isinstance(arr, np.ndarray) or arr.ndim != i.type.rank:
                raise RunError(
                    f"{files[i.name]}: shape {list(getattr(arr, 'shape', []))} does not fit "
                    f"input `{i.name}`: {i.type}"
                )
            for dim, n in zip(i.type.shape, arr.shape, strict=True):
                name = dim.as_symbol()
                if name is not None:
                    bound[name] = int(n)
            loaded[i.name] = arr
    rng = np.random.default_rng(seed)
    out = []
    for i in graph.inputs:
        mapping = {s: Dim.const(bound.get(s, 4)) for d in i.type.shape for s in d.symbols()}
        sizes_or_none = [d.subst(mapping).as_int() for d in i.type.shape]
        shape = tuple(n for n in sizes_or_none if n is not None and n >= 0)
        if len(shape) != len(sizes_or_none):
            raise RunError(f"cannot give input `{i.name}`: {i.type} a concrete shape")
        dtype = np.dtype(i.type.dtype.numpy_name)
        if i.name in loaded:
            arr = loaded[i.name]
            if tuple(arr.shape) != shape:
                raise RunError(
                    f"{files[i.name]}: shape {list(arr.shape)}, but input `{i.name}` needs "
                    f"{list(shape)} here"
                )
            out.append(arr.astype(dtype, copy=False))
        elif dtype.kind == "f":
            out.append(rng.standard_normal(shape).astype(dtype))
        elif dtype.kind == "b":
            out.append(rng.random(shape) < 0.5)
        else:
            out.append(rng.integers(0, 5, shape).astype(dtype))
    return out


def run_graph(
    graph: Graph, arrays: list[np.ndarray], seed: int, trained: Trained | None = None
) -> list[np.ndarray]:
    """The graph's outputs, jitted, in inference mode; weights initialised from `seed` (the
    same layer gets the same weights every time) unless trained ones are given."""
    model = compile_graph(graph)
    if trained is not None:
        params, state = trained.params, trained.state
    else:
        params, state = model.init(jax.random.key(seed))
    run = jax.jit(lambda p, s, xs: model.apply(p, s, xs, training=False)[0])
    try:
        return [np.asarray(v) for v in run(params, state, arrays)]
    except (TypeError, ValueError) as err:
        raise RunError(f"running {graph.name} failed: {err}") from None


def describe(name: str, value: np.ndarray, *, classes: bool = False) -> str:
    """The values, abridged for large arrays, then statistics on one line."""
    text = np.array2string(
        value, precision=4, suppress_small=True, threshold=64, edgeitems=3, max_line_width=96
    )
    lines = [f"{name} =", text]
    if classes and value.ndim == 2 and value.shape[1] > 1:
        lines.append("class: " + np.array2string(np.argmax(value, axis=-1), threshold=32))
    lines.append(stats(value))
    return "\n".join(lines)


def stats(value: np.ndarray) -> str:
    line = f"shape {list(value.shape)}  dtype {value.dtype}"
    if value.size:
        v = value.astype(np.float64)
        line += f"  min {v.min():.4g}  max {v.max():.4g}  mean {v.mean():.4g}  std {v.std():.4g}"
    return line


def params_table(graph: Graph, trained: Trained) -> str:
    rows = []
    for node, w in graph.weights():
        tree = trained.params if w.trainable else trained.state
        value = np.asarray(tree[node.path][w.name])
        rows.append((f"{node.path}/{w.name}", stats(value)))
    width = max((len(r[0]) for r in rows), default=0)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows) or f"{graph.name} has no weights"


def train(
    config: TrainConfig, base_dir: Path, on_event: Callable[[object], None] | None
) -> Trained:
    """`fit` with Ctrl-C stopping after the current step (a second Ctrl-C interrupts)."""
    with StopOnCtrlC() as ctrl_c:
        try:
            result = fit(
                config, on_event=on_event, stop=lambda: ctrl_c.requested, base_dir=base_dir
            )
        except (DataError, TrainingError) as err:
            raise RunError(str(err)) from None
    return Trained(config.graph, result.params, result.state, result)


def save_weights(trained: Trained, path: Path, *, source: str = "") -> Path:
    """A trained model's weights as `nnrun train` writes them (with their `.json`)."""
    from nndsl.runtime import CheckpointError, save_checkpoint

    try:
        return save_checkpoint(
            path,
            trained.graph,
            trained.params,
            trained.state,
            epochs=len(trained.result.history),
            metrics=dict(trained.result.test or {}),
            extra={"source": source},
        )
    except (CheckpointError, OSError) as err:
        raise RunError(f"cannot save weights: {err}") from None
