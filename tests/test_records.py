"""`nndsl.records.record` behaves as `dataclasses.dataclass` for every option the code uses.

Each test declares the same class body twice, once with each decorator, and requires the same
observable behaviour: construction and its errors, defaults and factories, `__post_init__`,
equality, hashing, repr, frozenness, `replace`/`fields`/`asdict`, pickling and copying.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from dataclasses import FrozenInstanceError, field
from typing import Any

import pytest

from nndsl.records import record

Deco = Callable[..., Any]
OPTIONS = [
    {},
    {"frozen": True},
    {"frozen": True, "slots": True},
    {"slots": True},
    {"eq": False},
    {"frozen": True, "eq": False},
]


def _pair(body: Callable[[Deco], type], options: dict[str, bool]) -> tuple[type, type]:
    def stdlib(cls: type) -> type:
        return dataclasses.dataclass(**options)(cls)

    def ours(cls: type) -> type:
        return record(**options)(cls)

    return body(stdlib), body(ours)


def _outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as e:  # the exception type and message are the behaviour compared
        return type(e).__name__, str(e).replace("__create_fn__.<locals>.", "")


def _point(deco: Deco) -> type:
    @deco
    class Point:
        x: int
        y: str = "y"
        tags: list[int] = field(default_factory=list)
        note: str = field(default="n", compare=False, repr=False)

    return Point


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_construction_and_its_errors(options: dict[str, bool]) -> None:
    std, ours = _pair(_point, options)
    std.__qualname__ = ours.__qualname__ = "Point"
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {"note": "q"}),
        ((1,), {}),
        ((1, "a"), {}),
        ((1, "a", [2], "z"), {}),
        ((), {"x": 1, "tags": [3]}),
        ((1,), {"note": "q", "y": "b"}),
        ((), {}),
        ((1, "a", [2], "z", 5), {}),
        ((1,), {"x": 2}),
        ((1,), {"nope": 2}),
        ((), {"y": "b"}),
    ]
    for args, kwargs in calls:
        a = _outcome(lambda c, *a, **k: vars_of(c(*a, **k)), std, *args, **kwargs)
        b = _outcome(lambda c, *a, **k: vars_of(c(*a, **k)), ours, *args, **kwargs)
        assert a[0] == b[0], (args, kwargs, a, b)
        if a[0] == "ok":
            assert a == b
        else:
            assert a[1].split("() ", 1)[-1] == b[1].split("() ", 1)[-1]


def vars_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def test_default_factories_are_called_per_instance() -> None:
    Point = _point(record)
    a, b = Point(1), Point(2)
    a.tags.append(1)
    assert b.tags == []


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_equality_hash_and_repr(options: dict[str, bool]) -> None:
    std, ours = _pair(_point, options)
    for cls in (std, ours):
        cls.__qualname__ = "Point"
    pairs: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = [
        ((1, "a", (), "p"), (1, "a", (), "q")),  # `note` is not compared
        ((1, "a", ()), (2, "a", ())),
    ]
    for first, second in pairs:
        s1, s2 = std(*first), std(*second)
        o1, o2 = ours(*first), ours(*second)
        assert (s1 == s2) == (o1 == o2)
        assert (s1 != s2) == (o1 != o2)
        assert repr(s1) == repr(o1)
        assert (o1 == 5) is False
        assert _outcome(hash, s1)[0] == _outcome(hash, o1)[0]
        if options.get("frozen") and options.get("eq", True):
            assert hash(o1) == hash(ours(*first))
            assert (hash(o1) == hash(o2)) == (hash(s1) == hash(s2))
    assert (std.__hash__ is None) == (ours.__hash__ is None)


def test_a_subclass_is_never_equal_to_its_base() -> None:
    @record(frozen=True)
    class Base:
        x: int

    @record(frozen=True)
    class Sub(Base):
        y: int = 0

    assert Base(1) != Sub(1)
    assert Sub(1, 2) == Sub(1, 2)
    assert dataclasses.fields(Sub)[1].name == "y"
    assert Sub(1, 2).__match_args__ == ("x", "y")


def test_methods_from_the_class_body_are_kept() -> None:
    @record(frozen=True)
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __hash__(self) -> int:
            return 7

        def __eq__(self, other: object) -> bool:
            return True

    assert repr(Named("a")) == "<a>"
    assert hash(Named("a")) == 7
    assert Named("a") == Named("b")


@record(frozen=True)
class Frozen:
    x: int
    y: tuple[int, ...] = ()


@record(frozen=True, slots=True)
class FrozenSlots:
    x: int
    y: tuple[int, ...] = ()


@pytest.mark.parametrize("Frozen", [Frozen, FrozenSlots], ids=["dict", "slots"])
def test_frozen_records_refuse_assignment_but_pickle_copy_and_replace(Frozen: Any) -> None:
    slots = Frozen is FrozenSlots
    f = Frozen(1, (2,))
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        f.x = 2
    with pytest.raises(FrozenInstanceError):
        del f.x
    with pytest.raises((FrozenInstanceError, AttributeError)):
        f.z = 1
    assert copy.copy(f) == f and copy.deepcopy(f) == f
    assert pickle.loads(pickle.dumps(f)) == f
    assert dataclasses.replace(f, x=5) == Frozen(5, (2,))
    assert dataclasses.asdict(f) == {"x": 1, "y": (2,)}
    if slots:
        assert not hasattr(f, "__dict__")


def test_post_init_runs_after_the_fields_are_set() -> None:
    seen: list[int] = []

    @record(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            seen.append(self.x)
            if self.x < 0:
                raise ValueError("negative")

    Checked(3)
    Checked(x=4)
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    assert seen == [3, 4, -1]


def test_plain_records_are_mutable_and_unhashable() -> None:
    @record
    class Box:
        items: list[int] = field(default_factory=list)

    box = Box()
    box.items = [1]
    assert box == Box([1])
    with pytest.raises(TypeError):
        hash(box)


def test_recursive_repr_does_not_recurse_forever() -> None:
    @record
    class Cell:
        value: Any = None

    c = Cell()
    c.value = c
    assert repr(c) == "test_recursive_repr_does_not_recurse_forever.<locals>.Cell(value=...)"


@pytest.mark.parametrize("given", [0, 1, 2, 3])
def test_missing_arguments_are_named_as_python_names_them(given: int) -> None:
    def body(deco: Deco) -> type:
        @deco
        class Three:
            a: int
            b: int
            c: int

        return Three

    std, ours = _pair(body, {"frozen": True})
    args = tuple(range(given))

    def build(cls: type) -> dict[str, Any]:
        return vars_of(cls(*args))

    assert _outcome(build, std) == _outcome(build, ours)


def test_the_init_templates_are_those_the_generator_writes() -> None:
    """`nndsl/record_inits.py` is generated (nothing is compiled at run time): regenerate it
    from `records.init_templates_source` after changing that."""
    from pathlib import Path

    from nndsl import record_inits, records

    path = Path(record_inits.__file__)
    assert path.read_text(encoding="utf-8") == records.init_templates_source()


def test_a_record_with_more_fields_than_templates_is_refused() -> None:
    from nndsl.records import MOST_FIELDS

    namespace = {f"f{i}": int for i in range(MOST_FIELDS + 1)}
    cls = type("Wide", (), {"__annotations__": namespace})
    with pytest.raises(TypeError, match="at most"):
        record(cls)


@pytest.mark.parametrize("options", [{"frozen": True}, {"frozen": True, "slots": True}])
def test_set_frozen_field_writes_what_assignment_refuses(options: dict[str, bool]) -> None:
    from nndsl.records import set_frozen_field

    @record(**options)
    class Frozen:
        a: int
        b: str = "x"

    obj = Frozen(1)
    with pytest.raises(FrozenInstanceError):
        obj.a = 2  # type: ignore[misc]
    set_frozen_field(obj, "a", 2)
    assert obj == Frozen(2) and obj.a == 2


def test_set_frozen_field_writes_a_syntax_node() -> None:
    from nndsl.records import set_frozen_field
    from nndsl.source import Span
    from nndsl.syntax import ast

    node = ast.Ident("a", Span(0, 1))
    with pytest.raises(AttributeError):
        node.name = "b"  # type: ignore[misc]
    set_frozen_field(node, "name", "b")
    assert node == ast.Ident("b", Span(0, 1))


# Writes to frozen objects still made with `object.__setattr__` outside records.py: none left.
UNSWITCHED_FROZEN_WRITES = 0


def test_frozen_objects_are_written_only_through_set_frozen_field() -> None:
    import re
    from pathlib import Path

    import nndsl

    root = Path(nndsl.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name in ("records.py", "record_inits.py") and path.parent == root:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"object\.__setattr__\(", line.split("#", 1)[0]):
                found.append(f"{path.relative_to(root.parent)}:{number}")
    assert len(found) <= UNSWITCHED_FROZEN_WRITES, (
        f"write frozen fields with nndsl.records.set_frozen_field, not object.__setattr__: {found}"
    )
