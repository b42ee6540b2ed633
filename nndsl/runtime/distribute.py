"""A checked `distribute { ... }` layout on JAX's devices: a `Mesh` and `NamedSharding`s.

One code path for every layout. The jitted train step is the same; only where its arguments
live changes: the batch is split over the batch axis, each weight (and the optimizer state of
the same shape under it) is placed by its spec (`nndsl.ir.distribute`), and the step
constrains its new weights and optimizer state to the same shardings, so jit's global view
reduces losses, gradients and metrics over devices itself (no `pmap`, no hand-written
collectives). Without a `distribute` section there is no layout and nothing is placed.

Arrays are built from host data with `make_array_from_single_device_arrays`, each process
putting only the pieces its own devices hold: the same call serves one process with several
devices and several processes (`jax.distributed`), where every process holds the same host
batch and transfers only its share. Over several processes a streamed input's batch comes
unread (`streaming.Batch`) and each process reads only its devices' rows of it. Evaluation
batches (the validation and test splits) are placed the same way (`runtime.train.evaluate`),
so the eval step is data parallel too and its masked sums reduce over the global batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from nndsl.backend import DataError
from nndsl.backend.jax.stacking import copy_paths, packed_key, repeats
from nndsl.ir import Graph, TrainConfig
from nndsl.ir.distribute import Distribution, Spec, optimizer_state, per_device, specs
from nndsl.ir.summary import readable_bytes
from nndsl.runtime.budget import DEVICE_MEMORY_ENV, device_memory
from nndsl.runtime.data import Put
from nndsl.runtime.streaming import Batch

Tree = Any


class Layout:
    """The mesh and the shardings of one run."""

    def __init__(self, graph: Graph, dist: Distribution, devices: list[Any] | None = None) -> None:
        devices = list(jax.devices()) if devices is None else devices
        need = dist.n_devices()
        if need is None:  # devices = "all"
            need = len(devices)
        if need > len(devices):
            raise DataError(
                f"the mesh {_mesh_text(dist, len(devices))} needs {need} devices; "
                f"{len(devices)} {'is' if len(devices) == 1 else 'are'} available "
                f"({jax.default_backend()}, {jax.process_count()} process"
                f"{'es' if jax.process_count() > 1 else ''})"
            )
        sizes = dist.sizes(len(devices))
        shape = tuple(sizes[a] for a in dist.axis_names)
        grid = np.array(devices[:need], dtype=object).reshape(shape)
        self.dist = dist
        self.mesh = Mesh(grid, dist.axis_names)
        self.specs: dict[str, Spec] = specs(graph, dist, len(devices))
        self.shapes = {f"{n.path}/{w.name}": w.shape for n, w in graph.weights()}
        self.unstacked = self._stacked_specs(graph)
        self.replicated = NamedSharding(self.mesh, _spec())
        self.batch = NamedSharding(self.mesh, _spec(dist.batch_axis))
        self.stacked = NamedSharding(self.mesh, _spec(None, dist.batch_axis))

    def _stacked_specs(self, graph: Graph) -> frozenset[int]:
        """Add the specs of packed repeats' weights (`backend.jax.stacking`): a copy's spec
        behind `None` for the axis of copies. Returns the repeats (node ids) whose copies'
        specs differ (a pattern naming one copy): those the run keeps per copy."""
        differ: set[int] = set()
        for node in repeats(graph):
            assert node.repeat is not None
            paths = copy_paths(node)
            found: dict[str, tuple[Spec | None, tuple[int, ...]]] = {}
            for inner, w in node.repeat.body.weights():
                per_copy = {self.specs.get(f"{p[inner.path]}/{w.name}") for p in paths}
                if len(per_copy) > 1:
                    differ.add(node.id)
                    break
                found[f"{packed_key(node, inner.path)}/{w.name}"] = (per_copy.pop(), w.shape)
            else:
                for key, (spec, shape) in found.items():
                    if spec is not None:
                        self.specs[key] = (None, *spec)
                    self.shapes[key] = (len(paths), *shape)
        return frozenset(differ)

    def describe(self) -> str:
        mesh = ", ".join(
            f"{a}: {n}" for a, n in zip(self.mesh.axis_names, self.mesh.devices.shape, strict=True)
        )
        return (
            f"distributed over {self.mesh.size} {jax.default_backend()} devices, mesh [{mesh}], "
            f"batch over `{self.dist.batch_axis}`, {self.dist.preset}"
        )

    def check_fits(self, config: TrainConfig) -> None:
        """Raise `DataError` (one line) when one device cannot hold its share: parameters,
        optimizer state and the largest activation for its part of the batch (a lower
        bound, as `nndsl.runtime.budget.check_fits` for one device)."""
        memory = device_memory()
        if memory is None:
            return
        limit, source = memory
        opt = config.optimizer
        state = optimizer_state(opt.op.name, opt.attrs)
        need = per_device(config.graph, self.dist, config.batch, state, self.mesh.size)
        if need.total <= limit:
            return
        raise DataError(
            f"training `{config.graph.name}` needs at least {readable_bytes(need.total)} per "
            f"device under its `distribute` layout (parameters {readable_bytes(need.params)}, "
            f"optimizer state {readable_bytes(need.optimizer)}), over the "
            f"{readable_bytes(limit)} of {source}: shard more, use more devices or lower "
            f"`batch` (or set {DEVICE_MEMORY_ENV})"
        )

    # -- weights and optimizer state ---------------------------------------------------------
    def sharding_at(self, keys: tuple[str, ...], shape: tuple[int, ...]) -> NamedSharding:
        """A leaf's sharding from its tree path: the weight `node/name` its last two keys
        name when the shape is that weight's (its optimizer moments too), else replicated."""
        if len(keys) >= 2:
            path = f"{keys[-2]}/{keys[-1]}"
            spec = self.specs.get(path)
            if spec is not None and tuple(shape) == tuple(self.shapes[path]):
                return NamedSharding(self.mesh, _spec(*spec))
        return self.replicated

    def shardings(self, tree: Tree) -> Tree:
        return jax.tree_util.tree_map_with_path(
            lambda p, leaf: self.sharding_at(_keys(p), np.shape(leaf)), tree
        )

    def place(self, tree: Tree) -> Tree:
        """Host or device arrays onto the mesh (from any placement: resuming on another
        device count reads the checkpoint's host arrays)."""
        return jax.tree_util.tree_map_with_path(
            lambda p, leaf: put(leaf, self.sharding_at(_keys(p), np.shape(leaf))), tree
        )

    def constrain(self, tree: Tree) -> Tree:
        """Inside jit: keep `tree` where `place` put it (the step's outputs)."""
        return jax.tree_util.tree_map_with_path(
            lambda p, leaf: jax.lax.with_sharding_constraint(  # type: ignore[no-untyped-call]
                leaf, self.sharding_at(_keys(p), np.shape(leaf))
            ),
            tree,
        )

    # -- batches -----------------------------------------------------------------------------
    def put_calls(self, batch: int, per_call: int) -> Callable[[list[Any]], list[Any]]:
        """The prefetch thread's `put`: each call's arrays split over the batch axis (a stack
        of `per_call` batches on its second axis)."""

        def leaf(a: Any) -> Any:
            if not isinstance(a, Batch):  # a `Batch` is read by `put`, each process its rows
                a = np.asarray(a)
            if per_call > 1 and a.ndim >= 2 and a.shape[:2] == (per_call, batch):
                return put(a, self.stacked)
            if a.ndim >= 1 and a.shape[0] == batch:
                return put(a, self.batch)
            return put(a, self.replicated)

        def put_all(calls: list[Any]) -> list[Any]:
            return [jax.tree.map(leaf, c) for c in calls]

        return put_all


def placement(layout: Layout | None, batch: int, per_call: int = 1) -> tuple[Put, bool]:
    """How training and evaluation hand their batches to the step, alike: the put that moves
    them on the prefetch thread, ahead of the step (split over the mesh's batch axis under a
    layout), and whether a streamed input is handed over unread (lazy), so that over several
    processes each reads only its devices' rows."""
    if layout is None:
        return jax.device_put, False
    return layout.put_calls(batch, per_call), jax.process_count() > 1


def put(value: Any, sharding: NamedSharding) -> jax.Array:
    """`value` (host or device) as a global array with `sharding`, each process putting only
    the pieces its devices hold. A streamed `Batch` is read piece by piece: only the rows of
    this process's devices, each distinct piece once (devices that replicate it share it)."""
    if isinstance(value, jax.Array) and jax.process_count() == 1:
        moved: jax.Array = jax.device_put(value, sharding)
        return moved
    host = value if isinstance(value, Batch) else np.asarray(value)
    read: dict[tuple[Any, ...], np.ndarray] = {}
    pieces = []
    for device, index in sharding.addressable_devices_indices_map(host.shape).items():
        index = (slice(None),) * len(host.shape) if index is None else index
        key = tuple((s.start, s.stop, s.step) for s in index)
        if key not in read:
            read[key] = np.asarray(host[index])
        pieces.append(jax.device_put(read[key], device))
    return jax.make_array_from_single_device_arrays(host.shape, sharding, pieces)


def to_host(tree: Tree) -> Tree:
    """Every array whole on the host, gathered from the devices (and processes) that hold
    its pieces: what checkpoints write, so they load on any device count."""
    from jax.experimental import multihost_utils

    def one(a: Any) -> Any:
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return a

    return jax.tree.map(one, tree)


def _spec(*axes: str | None) -> PartitionSpec:
    return PartitionSpec(*axes)  # type: ignore[no-untyped-call]


def _keys(path: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _mesh_text(dist: Distribution, n: int) -> str:
    return "[" + ", ".join(f"{a}: {s}" for a, s in dist.sizes(n).items()) + "]"
