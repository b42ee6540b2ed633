"""The one table of specs, keyed by the name users write."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

from nndsl.ops.spec import OpKind, OpSpec

REGISTRY: dict[str, OpSpec] = {}


def register(cls: type[OpSpec]) -> type[OpSpec]:
    if cls.name in REGISTRY:
        raise RuntimeError(f"spec {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def lookup(name: str) -> OpSpec | None:
    _load()
    return REGISTRY.get(name)


def iter_specs(kind: OpKind | None = None) -> Iterator[OpSpec]:
    _load()
    for spec in REGISTRY.values():
        if kind is None or spec.kind is kind:
            yield spec


# The spec modules, one per family; backends keep one implementation module per family
# under the same name, so adding a family means adding it here once.
FAMILIES = (
    "activation",
    "conv",
    "core",
    "data",
    "losses",
    "metrics",
    "norm",
    "operators",
    "optimizers",
    "pool",
)

_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for family in FAMILIES:
            import_module(f"nndsl.ops.{family}")
