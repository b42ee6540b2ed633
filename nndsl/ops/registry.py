"""The one table of specs, keyed by the name users write."""

from __future__ import annotations

from collections.abc import Iterator

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


_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from nndsl.ops import (  # noqa: F401
            activation,
            conv,
            core,
            data,
            losses,
            metrics,
            norm,
            operators,
            optimizers,
            pool,
        )
