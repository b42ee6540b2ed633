"""`record`: `dataclasses.dataclass` without compiling code for every class.

`dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__` as source text and compiles it, and the front end's records are created at every
start-up of `nnrun check` and the language server, before the first diagnostic (the cost, both
ways: bench/README.md, `bench/record_startup.py`). `record` lets `dataclasses` do everything
else (fields, defaults, `__slots__`, `__match_args__`, so `fields`, `replace` and `asdict` work
and type checkers see a dataclass) and attaches shared methods parameterised by the field list.
Each `__init__` is a template for its number of fields (`nndsl/record_inits.py`, generated
source, so nothing is compiled at run time) with its parameters renamed to the fields: binding
and its errors are Python's own, and construction is as fast as `dataclass`'s.

Behaviour is `dataclass`'s for what this code base uses: positional and keyword construction
with defaults and `default_factory`, `__post_init__`, `frozen` (FrozenInstanceError),
`eq` with `compare=False` fields, hashing as `dataclass` decides it (frozen and eq: from the
`hash`/`compare` fields; eq alone: unhashable; methods written in the class body are kept),
`repr=False` fields, `slots` (pickling and copying of frozen slotted records included).
`tests/test_records.py` compares each of these with `dataclass` itself.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, field
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

from nndsl import record_inits

__all__ = ["field", "record", "set_frozen_field"]

T = TypeVar("T")
_set = object.__setattr__
_NO_FIELDS: Callable[[Any], tuple[()]] = lambda _: ()


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(
    *, frozen: bool = False, eq: bool = True, slots: bool = False
) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field, Field))
def record(
    cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """A drop-in for `dataclasses.dataclass(frozen=..., eq=..., slots=...)`."""

    def wrap(c: type[T]) -> type[T]:
        return _build(c, frozen=frozen, eq=eq, slots=slots)

    return wrap if cls is None else wrap(cls)


def _values(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an instance as a tuple (`attrgetter`, in C)."""
    if not names:
        return _NO_FIELDS
    get = attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (get(obj),)
    return get


def set_frozen_field(obj: object, name: str, value: object) -> None:
    """Writes a field of a frozen record or syntax node, which assignment refuses: the one
    sanctioned way, so every such write can be found.

    Only while no one else holds the object: in its `__post_init__` (a value normalised at
    construction), or by the code that has just built it (a parser attaching a doc comment to
    the item it made). Never on an object that may be shared, hashed or memoized: frozen
    objects are dictionary keys and cache entries, and their hash must not change.
    """
    _set(obj, name, value)


MOST_FIELDS = 24  # `nndsl.record_inits` has templates for 0..MOST_FIELDS fields


def _template(n: int) -> Callable[..., Callable[..., None]]:
    """The `__init__` template for `n` fields (`nndsl.record_inits`, written out in source so
    nothing is compiled at run time): `make(set, fix, post_init, *names)` returns an
    `__init__(self, a0, a1, ...)` that sets `names[i]` to `ai`, fills default factories
    (`fix`) and calls `__post_init__`."""
    if n > MOST_FIELDS:
        raise TypeError(f"a record has at most {MOST_FIELDS} fields, not {n}")
    make: Callable[..., Callable[..., None]] = getattr(record_inits, f"make{n}")
    return make


def init_templates_source(most: int = MOST_FIELDS) -> str:
    """The text of `nndsl/record_inits.py` (a test requires the file to be this)."""
    out = [
        '"""`__init__` templates for `nndsl.records`, one per field count. Generated: edit',
        "`records.init_templates_source`, then write its text here (tests/test_records.py).",
        '"""',
        "",
        "# ruff: noqa",
        "# mypy: ignore-errors",
        "# fmt: off",
    ]
    for n in range(most + 1):
        params = "".join(f", a{i}" for i in range(n))
        names = "".join(f", _name{i}" for i in range(n))
        out += [
            "",
            "",
            f"def make{n}(_set, _fix, _post{names}):",
            f"    def __init__(self{params}):",
        ]
        out += [f"        _set(self, _name{i}, a{i})" for i in range(n)]
        out += [
            "        if _fix is not None:",
            "            _fix(self)",
            "        if _post:",
            "            self.__post_init__()",
            "",
            "    return __init__",
        ]
    return "\n".join(out) + "\n"


_FACTORY: Any = type("_Factory", (), {"__repr__": lambda self: "<factory>"})()


def make_init(
    fields: tuple[tuple[str, Any, Any], ...], post_init: bool = False
) -> Callable[..., None]:
    """An `__init__` setting `fields`, given as (name, default, default factory) with
    `MISSING` where there is none (with `object.__setattr__`): a template whose parameters are
    renamed to the fields, so binding (positional, keyword, defaults, errors) is Python's own
    and as fast as the code `dataclass` generates."""
    names = tuple(name for name, _, _ in fields)
    if "self" in names:
        raise TypeError("a record cannot have a field named `self`")
    factories = [(name, f) for name, _, f in fields if f is not MISSING]

    def fix(obj: Any) -> None:
        for name, factory in factories:
            if getattr(obj, name) is _FACTORY:
                _set(obj, name, factory())

    init = _template(len(names))(_set, fix if factories else None, post_init, *names)
    init.__code__ = init.__code__.replace(co_varnames=("self", *names))
    init.__defaults__ = (
        tuple(
            _FACTORY if default is MISSING else default
            for _, default, factory in fields
            if default is not MISSING or factory is not MISSING
        )
        or None
    )
    return init


def _build(cls: type[T], *, frozen: bool, eq: bool, slots: bool) -> type[T]:
    own = dict(cls.__dict__)  # before `dataclass` may replace the class (slots)
    new: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=slots)
    fields = dataclasses.fields(new)
    names = tuple(f.name for f in fields)
    __init__ = make_init(
        tuple((f.name, f.default, f.default_factory) for f in fields),
        post_init=hasattr(new, "__post_init__"),
    )
    shown = [f.name for f in fields if f.repr]

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__qualname__}({inner})"

    methods: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__}
    if eq:
        compared = _values([f.name for f in fields if f.compare])

        def __eq__(self: Any, other: object) -> bool:
            if other.__class__ is self.__class__:
                return compared(self) == compared(other)
            return NotImplemented

        methods["__eq__"] = __eq__
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if eq and not explicit_hash:
        if frozen:
            hashed = _values([f.name for f in fields if (f.compare if f.hash is None else f.hash)])

            def __hash__(self: Any) -> int:
                return hash(hashed(self))

            new.__hash__ = __hash__
        else:
            new.__hash__ = None
    if frozen:
        field_names = frozenset(names)

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is new or name in field_names:
                raise FrozenInstanceError(f"cannot assign to field {name!r}")
            super(new, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is new or name in field_names:
                raise FrozenInstanceError(f"cannot delete field {name!r}")
            super(new, self).__delattr__(name)

        methods["__setattr__"] = __setattr__
        methods["__delattr__"] = __delattr__
        if slots:  # pickle and copy restore slots with setattr, which is refused

            def __getstate__(self: Any) -> list[Any]:
                return [getattr(self, name) for name in names]

            def __setstate__(self: Any, state: list[Any]) -> None:
                for name, value in zip(names, state):  # noqa: B905
                    _set(self, name, value)

            methods["__getstate__"] = __getstate__
            methods["__setstate__"] = __setstate__
    for name, method in methods.items():
        if name not in own:  # like `dataclass`: what the class body defines stays
            method.__qualname__ = f"{new.__qualname__}.{name}"
            setattr(new, name, method)
    return new  # type: ignore[no-any-return]
