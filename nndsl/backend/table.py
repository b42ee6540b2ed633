"""A table of implementations keyed by spec name, one per backend (JAX, later ONNX, ...).

Keys are validated against `nndsl.ops.lookup`, so a typo or a renamed spec fails at import
time instead of at run time, and `missing()` lists the specs a backend does not cover yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from nndsl.ops import OpKind, OpSpec, iter_specs, lookup

F = TypeVar("F", bound=Callable[..., object])


class ImplTable(Generic[F]):
    """Implementations of one backend: `@table.register("Dense")` on a function."""

    def __init__(self, backend: str, kinds: Iterable[OpKind] = tuple(OpKind)) -> None:
        self.backend = backend
        self.kinds = frozenset(kinds)
        self._impls: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        spec = lookup(name)
        if spec is None:
            raise KeyError(f"{self.backend}: no op spec named {name!r}")
        if spec.kind not in self.kinds:
            raise ValueError(f"{self.backend}: {name!r} is a {spec.kind.value}, not handled here")

        def deco(fn: F) -> F:
            if name in self._impls:
                raise RuntimeError(f"{self.backend}: {name!r} implemented twice")
            self._impls[name] = fn
            return fn

        return deco

    def get(self, spec: OpSpec | str) -> F:
        name = spec if isinstance(spec, str) else spec.name
        try:
            return self._impls[name]
        except KeyError:
            raise NotImplementedError(
                f"the {self.backend} backend has no implementation of {name!r}"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._impls

    def missing(self) -> list[str]:
        """Names of specs of the handled kinds without an implementation, sorted."""
        return sorted(
            s.name for s in iter_specs() if s.kind in self.kinds and s.name not in self._impls
        )
