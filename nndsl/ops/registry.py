"""The one table of specs, keyed by the name users write."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import import_module

from nndsl.ops.spec import REQUIRED, ArgValue, Configured, OpKind, OpSpec

REGISTRY: dict[str, OpSpec] = {}
# Other names a spec answers to (`BatchNorm` for `BatchNormalization`, `MaxPool2D` for
# `MaxPooling2D`, as Keras has them); the spec's own `name` stays the one in docs and paths.
ALIASES: dict[str, str] = {}
# `configured` of a plain name (`"glorot_uniform"`), asked for every weight of every layer.
_BY_NAME: dict[tuple[str, OpKind], Configured | None] = {}


def register(cls: type[OpSpec]) -> type[OpSpec]:
    _BY_NAME.clear()
    for name in (cls.name, *cls.aliases):
        if name in REGISTRY or name in ALIASES:
            raise RuntimeError(f"spec name {name!r} registered twice")
    REGISTRY[cls.name] = cls()
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(name: str) -> OpSpec | None:
    _load()
    return REGISTRY.get(name) or REGISTRY.get(ALIASES.get(name, ""))


def configured(value: ArgValue, kind: OpKind) -> Configured | None:
    """`"he_normal"` or `Configured("he_normal", ...)` -> the Configured op with every argument
    bound (defaults filled in); None when `value` is None or names no spec of `kind` that can
    be used without arguments."""
    if value is None:
        return None
    if isinstance(value, str):
        key = (value, kind)
        if key not in _BY_NAME:
            _BY_NAME[key] = _configured(value, {}, kind)
        return _BY_NAME[key]
    if isinstance(value, Configured):
        return _configured(value.name, value.options, kind)
    return _configured(str(value), {}, kind)


def _configured(name: str, given: Mapping[str, ArgValue], kind: OpKind) -> Configured | None:
    spec = lookup(name)
    if spec is None or spec.kind is not kind:
        return None
    attrs: list[tuple[str, ArgValue]] = []
    for a in spec.args:
        if a.name in given:
            attrs.append((a.name, given[a.name]))
        elif a.default is REQUIRED:
            return None
        else:
            attrs.append((a.name, a.default))  # type: ignore[arg-type]
    return Configured(spec.name, tuple(attrs))


def all_names() -> list[str]:
    """Every name users may write, aliases included (for completion and `did you mean`)."""
    _load()
    return [*REGISTRY, *ALIASES]


def iter_specs(kind: OpKind | None = None) -> Iterator[OpSpec]:
    _load()
    for spec in REGISTRY.values():
        if kind is None or spec.kind is kind:
            yield spec


# The spec modules, one per family; backends keep one implementation module per family
# under the same name, so adding a family means adding it here once.
FAMILIES = (
    "activation",
    "weights",
    "core",
    "conv",
    "pool",
    "norm",
    "regularization",
    "reshaping",
    "merging",
    "recurrent",
    "attention",
    "preprocessing",
    "operators",
    "numeric",
    "sampling",
    "added_loss",
    "losses",
    "metrics",
    "optimizers",
    "schedules",
    "callbacks",
    "data",
)


class ImportOnce:
    """Imports a list of modules once, on first use, safely across threads: another thread
    waits until every module is imported (`fit` initialises weights while the data loads);
    a lookup made *by* one of those modules while it imports returns at once, as before."""

    def __init__(self, modules: Callable[[], Iterable[str]]) -> None:
        self.modules = modules
        self.done = False
        self._lock = threading.RLock()
        self._busy = False  # only ever seen True by the thread holding the lock

    def __call__(self) -> None:
        if self.done:
            return
        with self._lock:
            if self.done or self._busy:
                return
            self._busy = True
            try:
                for name in self.modules():
                    import_module(name)
            finally:
                self._busy = False
            self.done = True


_load = ImportOnce(lambda: (f"nndsl.ops.{family}" for family in FAMILIES))
