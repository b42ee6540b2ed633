"""The memory pre-flight: refuse a run that cannot fit in the device's memory before it starts.

The checker bounds what a model declares (parameters, E0818; one tensor per example, E0817), but
the memory a step needs also depends on the batch size and on run-time sizes such as a sequence
length, known only once the data is read. This module binds those sizes and computes a *lower
bound* of what training or inference holds at once: the weights plus the largest single
activation for the whole batch. XLA fuses and rematerialises, so a finer estimate could refuse
runs that would fit; a lower bound over the device's memory is a run that cannot succeed, and
saying so in one line beats an out-of-memory abort minutes into compilation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nndsl.backend import DataError
from nndsl.ir.graph import Graph
from nndsl.ir.summary import readable_bytes
from nndsl.shapes import Dim, TensorType

DEVICE_MEMORY_ENV = "NNDSL_DEVICE_MEMORY"  # e.g. "16GB", "512MiB", or a count of bytes

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str) -> int | None:
    """`"16GB"` -> 16 * 10^9, `"512MiB"` -> 512 * 2^20; None when `text` is not a size."""
    match = _SIZE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class Largest:
    """The largest activation of a step: where it is produced and its bytes for the batch."""

    where: str
    type: str
    bytes: int


@dataclass(frozen=True)
class Estimate:
    weights: int
    largest: Largest | None

    @property
    def lower_bound(self) -> int:
        return self.weights + (self.largest.bytes if self.largest else 0)


def bind_sizes(graph: Graph, shapes: Sequence[tuple[int, ...]], batch: int) -> dict[str, Dim]:
    """The run-time sizes (`B`, `T`, ...) of `graph`'s inputs, read off the arrays' shapes."""
    bound: dict[str, Dim] = {}
    for graph_input, shape in zip(graph.inputs, shapes, strict=False):
        for i, (dim, size) in enumerate(zip(graph_input.type.shape, shape, strict=False)):
            name = dim.as_symbol()
            if name is not None:
                bound[name] = Dim.const(batch if i == 0 else size)
    return bound


def _bytes(t: TensorType, sizes: Mapping[str, Dim]) -> int | None:
    elements = 1
    for dim in t.shape:
        n = dim.subst(sizes).as_int() if dim.symbols() else dim.as_int()
        if n is None:
            return None  # a size no input binds: left out, the bound stays a lower bound
        elements *= max(n, 0)
    return elements * t.dtype.itemsize


def estimate(graph: Graph, sizes: Mapping[str, Dim]) -> Estimate:
    """Weights plus the largest activation, with `sizes` bound (batch included)."""
    trainable, frozen = graph.param_bytes()
    largest: Largest | None = None
    for node in graph.walk():  # a repeat's body once: each copy has the same types
        for t in node.output_types:
            n = _bytes(t, sizes)
            if n is not None and (largest is None or n > largest.bytes):
                largest = Largest(node.path, str(t), n)
    return Estimate(trainable + frozen, largest)


def device_memory() -> tuple[int, str] | None:
    """The memory of the device a run uses, and where that figure comes from.

    `$NNDSL_DEVICE_MEMORY` wins; then what the accelerator reports (`bytes_limit`); on the CPU
    the machine's physical memory. None when nothing says (the check is then skipped)."""
    raw = os.environ.get(DEVICE_MEMORY_ENV, "").strip()
    if raw:
        parsed = parse_bytes(raw)
        if parsed is None or parsed <= 0:
            raise DataError(
                f"{DEVICE_MEMORY_ENV}={raw!r} is not a size: write it as e.g. 16GB or 512MiB"
            )
        return parsed, DEVICE_MEMORY_ENV
    import jax  # the runtime's own dependency; imported late so the parser above stays cheap

    device = jax.devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:  # a backend without the query: fall through to the host
        stats = None
    if stats and int(stats.get("bytes_limit", 0)) > 0:
        return int(stats["bytes_limit"]), f"{device.platform} device memory"
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine's memory"
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(graph: Graph, shapes: Sequence[tuple[int, ...]], batch: int, what: str) -> None:
    """Raise `DataError` (one line) when `what` at this batch size cannot fit in memory."""
    memory = device_memory()
    if memory is None:
        return
    limit, source = memory
    need = estimate(graph, bind_sizes(graph, shapes, batch))
    if need.lower_bound <= limit:
        return
    detail = ""
    if need.largest is not None:
        detail = (
            f" (weights {readable_bytes(need.weights)}, and `{need.largest.where}` alone makes "
            f"`{need.largest.type}`, {readable_bytes(need.largest.bytes)} at batch {batch})"
        )
    raise DataError(
        f"{what} of `{graph.name}` needs at least {readable_bytes(need.lower_bound)}{detail}, "
        f"over the {readable_bytes(limit)} of {source}: lower `batch` or the model's sizes"
        f" (or set {DEVICE_MEMORY_ENV})"
    )
