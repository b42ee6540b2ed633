"""The syntax tree: frozen dataclasses, every node with the span of its source text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from nndsl.source import Span


@dataclass(frozen=True)
class Ident:
    name: str
    span: Span


# -- expressions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Name:
    ident: Ident
    span: Span


@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True)
class FloatLit:
    value: float
    span: Span


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(frozen=True)
class StrLit:
    value: str
    span: Span


@dataclass(frozen=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Argument:
    """A call argument; `name` is set for `key = value`."""

    name: Ident | None
    value: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    func: Expr
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / % @ == != < <= > >= and or
    left: Expr
    right: Expr
    op_span: Span
    span: Span


@dataclass(frozen=True)
class UnaryOp:
    op: str  # - not
    operand: Expr
    span: Span


@dataclass(frozen=True)
class RepeatStage:
    """`repeat N Block(...)` inside a pipeline: N applications with separate weights."""

    count: Expr
    stage: Expr
    span: Span


@dataclass(frozen=True)
class Pipe:
    value: Expr
    stage: Expr  # Name, Call or RepeatStage
    span: Span


Expr = Union[
    Name, IntLit, FloatLit, BoolLit, StrLit, ListLit, Call, BinOp, UnaryOp, Pipe, RepeatStage
]


@dataclass(frozen=True)
class TensorTypeExpr:
    dtype: Ident
    dims: tuple[Expr, ...]
    span: Span


# -- statements -----------------------------------------------------------------------------
@dataclass(frozen=True)
class InputStmt:
    name: Ident
    type: TensorTypeExpr
    span: Span


@dataclass(frozen=True)
class Target:
    name: Ident
    annotation: TensorTypeExpr | None
    span: Span


@dataclass(frozen=True)
class Assign:
    targets: tuple[Target, ...]
    value: Expr
    span: Span


@dataclass(frozen=True)
class Return:
    values: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    body: tuple[Stmt, ...]
    span: Span


Stmt = Union[InputStmt, Assign, Return, If, Repeat]


# -- top-level items ------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    path: str
    is_file: bool  # `import "x.nn"` (relative file) vs `import std.x`
    span: Span


@dataclass(frozen=True)
class Const:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Param:
    name: Ident
    type: Ident
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Definition:
    """A `block` or a `model`: parameters, then a body of statements."""

    kind: str  # "block" | "model"
    name: Ident
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    doc: str = ""


@dataclass(frozen=True)
class DataDef:
    name: Ident
    source: Call
    span: Span


@dataclass(frozen=True)
class Setting:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class TrainDef:
    model: Expr  # Name or Call
    data: Ident
    settings: tuple[Setting, ...]
    span: Span


Item = Union[Import, Const, Definition, DataDef, TrainDef]


@dataclass(frozen=True)
class Module:
    items: tuple[Item, ...]
    span: Span
