"""A checked `distribute { ... }` section: the device mesh and where each weight lives.

Pure data and arithmetic, shared by the checker (static checks, `nnrun summary --distribute`)
and the JAX runtime (`nndsl.runtime.distribute`, which turns specs into `NamedSharding`s). A
spec gives one mesh axis name, or None (not split), per dimension of a weight, as
`jax.sharding.PartitionSpec` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from fnmatch import fnmatchcase

from nndsl.ir.graph import Graph, Node, Weight
from nndsl.records import record
from nndsl.shapes import Dim, TensorType
from nndsl.source import Span

Spec = tuple[str | None, ...]
DATA_PARALLEL, FSDP = "data_parallel", "fsdp"
PRESETS = (DATA_PARALLEL, FSDP)
ALL = 0  # an axis size of `devices = "all"`: every device, known at run time

# Optimizer state per trainable weight, in arrays of the weight's shape and dtype, as the optax
# transforms of `nndsl/backend/jax/impls/optimizers.py` keep it (tests/backend/
# test_optimizer_state.py compares every optimizer with `jax.eval_shape` of its `init`):
# `(name, attrs) -> copies`. Adafactor keeps factored moments instead (`OptimizerState`).
_COPIES: dict[str, Callable[[Mapping[str, object]], int]] = {
    "sgd": lambda a: 1 if a.get("momentum") else 0,  # optax.trace
    "rmsprop": lambda a: (2 if a.get("centered") else 1) + (1 if a.get("momentum") else 0),
    "adam": lambda a: 3 if a.get("amsgrad") else 2,  # mu, nu (and nu_max)
    "adamw": lambda a: 3 if a.get("amsgrad") else 2,
    "adamax": lambda a: 2,
    "nadam": lambda a: 2,
    "adagrad": lambda a: 1,  # the sum of squares
    "adadelta": lambda a: 2,  # e_g, e_x
    "adafactor": lambda a: 0,  # factored: `OptimizerState.factored`
    "lion": lambda a: 1,
    "lamb": lambda a: 2,
}
UNKNOWN_COPIES = 2  # an optimizer the table lacks: two copies, the usual case


@record(frozen=True, slots=True)
class ShardRule:
    pattern: str  # fnmatch over `node/weight` paths, `*` crossing `/` (as `freeze`)
    spec: Spec
    span: Span = field(default_factory=lambda: Span(0, 0))


@record(frozen=True, slots=True)
class Distribution:
    """The layout of training: `mesh` is (axis, size) in order (size `ALL` for `devices =
    "all"`), `batch_axis` splits every batch, `rules` shard weights by path (first match
    wins), `preset = "fsdp"` also splits every weight and its optimizer state over the batch
    axis. `device_memory` (bytes) is what one device may hold."""

    mesh: tuple[tuple[str, int], ...]
    batch_axis: str
    rules: tuple[ShardRule, ...] = ()
    preset: str = DATA_PARALLEL
    device_memory: int | None = None

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.mesh)

    def sizes(self, n_devices: int | None = None) -> dict[str, int]:
        """Each axis's size; `devices = "all"` gives the one axis `n_devices` (1 if unknown)."""
        return {a: (n if n != ALL else (n_devices or 1)) for a, n in self.mesh}

    def n_devices(self) -> int | None:
        """Devices the mesh needs; None for `devices = "all"`."""
        if any(n == ALL for _, n in self.mesh):
            return None
        total = 1
        for _, n in self.mesh:
            total *= n
        return total


def weight_path(node: Node, weight: Weight) -> str:
    return f"{node.path}/{weight.name}"


def rule_for(dist: Distribution, path: str) -> ShardRule | None:
    return next((r for r in dist.rules if fnmatchcase(path, r.pattern)), None)


def weight_spec(
    dist: Distribution, path: str, shape: tuple[int, ...], sizes: Mapping[str, int]
) -> Spec:
    """Where a weight lives: its rule's spec (checked to fit by the checker), then under
    `fsdp` the largest dimension the batch axis divides, if the spec leaves one free and
    does not use the batch axis already."""
    rule = rule_for(dist, path)
    spec: list[str | None] = (
        list(rule.spec) if rule and len(rule.spec) == len(shape) else [None] * len(shape)
    )
    if dist.preset == FSDP and dist.batch_axis not in spec:
        n = sizes.get(dist.batch_axis, 1)
        free = [i for i, a in enumerate(spec) if a is None and n > 1 and shape[i] % n == 0]
        if free:
            best = max(free, key=lambda i: (shape[i], -i))
            spec[best] = dist.batch_axis
    while spec and spec[-1] is None:
        spec.pop()
    return tuple(spec)


def split_factor(spec: Spec, sizes: Mapping[str, int]) -> int:
    """Into how many pieces a spec splits a weight (each device holds one)."""
    f = 1
    for a in spec:
        if a is not None:
            f *= sizes.get(a, 1)
    return f


def specs(graph: Graph, dist: Distribution, n_devices: int | None = None) -> dict[str, Spec]:
    """Every weight's spec by path (`node/weight`), as the runtime places them."""
    sizes = dist.sizes(n_devices)
    return {
        weight_path(node, w): weight_spec(dist, weight_path(node, w), w.shape, sizes)
        for node, w in graph.weights()
    }


@record(frozen=True, slots=True)
class PerDevice:
    """What one device holds under a layout (bytes); `largest` is the largest activation's
    producer and bytes for the device's part of the batch (None when no size is known)."""

    params: int
    optimizer: int
    largest: tuple[str, str, int] | None
    n_devices: int

    @property
    def total(self) -> int:
        return self.params + self.optimizer + (self.largest[2] if self.largest else 0)


@record(frozen=True, slots=True)
class OptimizerState:
    """What an optimizer keeps per trainable weight (step counts and other scalars left out):
    `copies` arrays of the weight's shape and dtype, which a layout splits as the weight;
    with `factored` (Adafactor) a weight of rank >= 2 keeps its second moment as row and
    column averages over its two largest dimensions (and one number), others a full copy.
    `gradient_accumulation_steps` adds the accumulated gradients, `use_ema` the weights'
    moving average: one copy each."""

    name: str
    copies: int
    factored: bool = False

    def elements(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(copies of the weight, other elements) kept for a weight of `shape`; the other
        elements (Adafactor's factored moments) are whole on every device."""
        if not self.factored:
            return self.copies, 0
        n = 1
        for d in shape:
            n *= d
        dims = sorted(shape)
        if len(dims) < 2 or dims[-2] < 1:  # not factored: v, and one number each of v_row, v_col
            return self.copies + 1, 2
        return self.copies, n // dims[-1] + n // dims[-2] + 1  # v_row, v_col, and v of one

    def describe(self) -> str:
        """`adam: 2 copies of each trainable weight`, for the summary."""
        copies = (
            f"{self.copies} {'copy' if self.copies == 1 else 'copies'} of each trainable weight"
        )
        if self.factored:
            factored = "row and column moments of each trainable weight"
            return f"{self.name}: {factored}" + (f", and {copies}" if self.copies else "")
        return f"{self.name}: {copies}"

    def bytes(self, shape: tuple[int, ...], itemsize: int) -> int:
        copies, other = self.elements(shape)
        n = 1
        for d in shape:
            n *= d
        return (copies * n + other) * itemsize


def optimizer_state(name: str, attrs: Mapping[str, object] | None = None) -> OptimizerState:
    """The state of optimizer `name` with its (filled-in) `attrs`, as the runtime builds it."""
    attrs = attrs or {}
    rule = _COPIES.get(name)
    copies = rule(attrs) if rule is not None else UNKNOWN_COPIES
    copies += 1 if attrs.get("gradient_accumulation_steps") else 0  # optax.MultiSteps
    copies += 1 if attrs.get("use_ema") else 0
    return OptimizerState(name, copies, factored=name == "adafactor")


def per_device(
    graph: Graph,
    dist: Distribution,
    batch: int,
    state: OptimizerState,
    n_devices: int | None = None,
) -> PerDevice:
    sizes = dist.sizes(n_devices)
    params = optimizer = 0
    for node, w in graph.weights():
        path = weight_path(node, w)
        n = _elements(w.shape) * w.dtype.itemsize
        share = -(-n // split_factor(weight_spec(dist, path, w.shape, sizes), sizes))
        params += share
        if w.trainable and not w.frozen:
            copies, other = state.elements(tuple(w.shape))
            optimizer += share * copies + other * w.dtype.itemsize
    local = max(1, batch // sizes.get(dist.batch_axis, 1))
    largest = largest_activation(graph, local)
    total = 1
    for n in sizes.values():
        total *= n
    return PerDevice(params, optimizer, largest, total)


def largest_activation(graph: Graph, batch: int) -> tuple[str, str, int] | None:
    """The largest output of a node for `batch` examples, sizes other than the batch that no
    declaration fixes left out (a lower bound, as the runtime's memory pre-flight)."""
    best: tuple[str, str, int] | None = None
    bound: dict[str, Dim] = {}
    for i in graph.inputs:
        if i.type.shape:
            name = i.type.shape[0].as_symbol()
            if name is not None:
                bound[name] = Dim.const(batch)
    for node, t in _outputs(graph):
        n = _tensor_bytes(t, bound)
        if n is not None and (best is None or n > best[2]):
            best = (node.path, str(t), n)
    return best


def _outputs(graph: Graph) -> Iterator[tuple[Node, TensorType]]:
    for node in graph.nodes:
        for t in node.output_types:
            yield node, t


def _tensor_bytes(t: TensorType, sizes: Mapping[str, Dim]) -> int | None:
    elements = 1
    for dim in t.shape:
        n = dim.subst(sizes).as_int() if dim.symbols() else dim.as_int()
        if n is None:
            return None
        elements *= max(n, 0)
    return elements * t.dtype.itemsize


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
