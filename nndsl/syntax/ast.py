"""The syntax tree: immutable nodes, every one with the span of its source text.

Nodes are declared like frozen dataclasses; `Node` gives each class an `__init__` from
`nndsl.records.make_init` (no code compiled per class, which `dataclass` does at every
start-up: bench/README.md) and shared equality, hash and repr over the fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from dataclasses import MISSING
from typing import Any, ClassVar, TypeVar, Union, dataclass_transform

from nndsl.records import make_init
from nndsl.source import Span

T = TypeVar("T")


@dataclass_transform(frozen_default=True, eq_default=True)
class Node:
    """Base of the syntax tree: positional/keyword construction, equality, hash and repr
    over the annotated fields, and no assignment after construction."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIELDS = tuple(inspect.get_annotations(cls))
        init = make_init(tuple((f, cls.__dict__.get(f, MISSING), MISSING) for f in cls.FIELDS))
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        setattr(cls, "__init__", init)  # noqa: B010 - mypy sees the dataclass_transform one

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getattr__(self, name: str) -> Any:
        """Called only for an attribute the instance lacks: a node `shifted` lazily gets its
        fields (shifted in turn, lazily) on first use; anything else is a plain error."""
        d = self.__dict__
        lazy = d.pop(_LAZY, None)
        if lazy is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        original, delta = lazy
        source = original.__dict__
        for field in self.FIELDS:
            if field not in d:
                d[field] = shifted(source[field], delta)
        return getattr(self, name)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({inner})"


class Ident(Node):
    name: str
    span: Span


# -- expressions ----------------------------------------------------------------------------
class Name(Node):
    ident: Ident
    span: Span


class IntLit(Node):
    value: int
    span: Span


class FloatLit(Node):
    value: float
    span: Span


class BoolLit(Node):
    value: bool
    span: Span


class NoneLit(Node):
    """`none`: no value, for arguments that allow it (`merge_mode = none`)."""

    span: Span


class StrLit(Node):
    value: str
    span: Span


class ListLit(Node):
    items: tuple[Expr, ...]
    span: Span


class TupleLit(Node):
    """`(a, b)`: several tensors, fed together to a layer: `(a, b) |> Concatenate()`."""

    items: tuple[Expr, ...]
    span: Span


class DictEntry(Node):
    """`key: value` in a dict literal; `key` is a name, written bare or quoted (`"my-key"`)."""

    key: Ident
    value: Expr
    span: Span


class DictLit(Node):
    """`{price: mse, label: accuracy}`: values keyed by name, in the order written (Keras's
    `loss = {...}`, a CSV source's column groups). Keys are names, never evaluated."""

    entries: tuple[DictEntry, ...]
    span: Span


class Argument(Node):
    """A call argument; `name` is set for `key = value`."""

    name: Ident | None
    value: Expr
    span: Span


class Call(Node):
    func: Expr
    args: tuple[Argument, ...]
    span: Span


class BinOp(Node):
    op: str  # + - * / % @ == != < <= > >= and or
    left: Expr
    right: Expr
    op_span: Span
    span: Span


class UnaryOp(Node):
    op: str  # - not
    operand: Expr
    span: Span


class RepeatStage(Node):
    """`repeat N Block(...)` inside a pipeline: N applications with separate weights."""

    count: Expr
    stage: Expr
    span: Span


class Pipe(Node):
    value: Expr
    stage: Expr  # Name, Call or RepeatStage
    span: Span


Expr = Union[
    Name,
    IntLit,
    FloatLit,
    BoolLit,
    StrLit,
    NoneLit,
    ListLit,
    TupleLit,
    DictLit,
    Call,
    BinOp,
    UnaryOp,
    Pipe,
    RepeatStage,
]


class TensorTypeExpr(Node):
    dtype: Ident
    dims: tuple[Expr, ...]
    span: Span


# -- statements -----------------------------------------------------------------------------
class InputStmt(Node):
    name: Ident
    type: TensorTypeExpr
    span: Span


class Target(Node):
    name: Ident
    annotation: TensorTypeExpr | None
    span: Span


class Assign(Node):
    targets: tuple[Target, ...]
    value: Expr
    span: Span


class Return(Node):
    values: tuple[Expr, ...]
    span: Span


class If(Node):
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None
    span: Span


class Repeat(Node):
    count: Expr
    body: tuple[Stmt, ...]
    span: Span


Stmt = Union[InputStmt, Assign, Return, If, Repeat]


# -- top-level items ------------------------------------------------------------------------
class Import(Node):
    path: str
    is_file: bool  # `import "x.nn"` (relative file) vs `import std.x`
    span: Span


class Const(Node):
    name: Ident
    value: Expr
    span: Span


class Param(Node):
    name: Ident
    type: Ident
    default: Expr | None
    span: Span


class Definition(Node):
    """A `block` or a `model`: parameters, then a body of statements."""

    kind: str  # "block" | "model"
    name: Ident
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    doc: str = ""


class DataDef(Node):
    name: Ident
    source: Call
    span: Span


class Setting(Node):
    name: Ident
    value: Expr
    span: Span


class Section(Node):
    """`name { settings }` inside `train` (`distribute { ... }`); one level, never nested."""

    name: Ident
    settings: tuple[Setting, ...]
    span: Span


class TrainDef(Node):
    model: Expr  # Name or Call
    data: Ident
    settings: tuple[Setting, ...]
    span: Span
    sections: tuple[Section, ...] = ()


Item = Union[Import, Const, Definition, DataDef, TrainDef]


class Module(Node):
    items: tuple[Item, ...]
    span: Span


def walk_statements(body: Sequence[Stmt]) -> Iterator[Stmt]:
    """Every statement of `body` in source order, those nested in `if` and `repeat` included."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, If):
            yield from walk_statements(stmt.then)
            yield from walk_statements(stmt.orelse or ())
        elif isinstance(stmt, Repeat):
            yield from walk_statements(stmt.body)


_LAZY = "_shifted_from"  # a lazily shifted node's (original node, delta), until first use
_new = object.__new__
_set_start = Span.__dict__["start"].__set__
_set_end = Span.__dict__["end"].__set__


def shifted(value: T, delta: int) -> T:
    """`value` (a syntax tree, or any value in one) with every span moved by `delta`: what
    parsing the same text `delta` characters later gives.

    An editor re-parses a file after each keystroke and keeps the trees of the items that did
    not change; an inserted line moves every item below it. Moving ~100 items' trees node by
    node cost half of such an edit's check, and most of them are never read again before the
    next edit (their checks are replayed from memos). So a node is copied with only its plain
    fields (names, numbers); its spans and children are made, shifted likewise, when one of
    them is first read (`Node.__getattr__`). Shifting a lazy node again adds the deltas."""
    t = type(value)
    if t is Span:
        span = _new(Span)  # no `Span.__init__`: a valid span moved stays valid
        _set_start(span, value.start + delta)  # type: ignore[attr-defined]
        _set_end(span, value.end + delta)  # type: ignore[attr-defined]
        return span  # type: ignore[return-value]
    if t is tuple:
        return tuple([shifted(v, delta) for v in value])  # type: ignore[attr-defined, return-value]
    if isinstance(value, Node):
        source = value.__dict__
        copy = _new(t)
        fields = copy.__dict__
        lazy = source.get(_LAZY)
        for name, v in source.items():
            tv = type(v)
            if tv is str or tv is int or tv is float or tv is bool or v is None:
                fields[name] = v
        fields[_LAZY] = (lazy[0], lazy[1] + delta) if lazy is not None else (value, delta)
        return copy
    return value
