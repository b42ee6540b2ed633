"""The syntax tree: immutable nodes, every one with the span of its source text.

Nodes are declared like frozen dataclasses; `Node` gives each class an `__init__` from
`nndsl.records.make_init` (no code compiled per class: `dataclass` cost 20 ms of every
start-up) and shared equality, hash and repr over the fields.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING
from typing import Any, ClassVar, Union, dataclass_transform

from nndsl.records import make_init
from nndsl.source import Span


@dataclass_transform(frozen_default=True, eq_default=True)
class Node:
    """Base of the syntax tree: positional/keyword construction, equality, hash and repr
    over the annotated fields, and no assignment after construction."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIELDS = tuple(inspect.get_annotations(cls))
        defaults = tuple((f, cls.__dict__.get(f, MISSING), MISSING) for f in cls.FIELDS)
        init = make_init(cls.FIELDS, defaults)
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        setattr(cls, "__init__", init)  # noqa: B010 - mypy sees the dataclass_transform one

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

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


class TrainDef(Node):
    model: Expr  # Name or Call
    data: Ident
    settings: tuple[Setting, ...]
    span: Span


Item = Union[Import, Const, Definition, DataDef, TrainDef]


class Module(Node):
    items: tuple[Item, ...]
    span: Span
