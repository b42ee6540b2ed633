"""What expressions evaluate to while checking: tensors, static scalars, layers, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Union

from nndsl.ops import ArgValue, OpSpec
from nndsl.records import record
from nndsl.shapes import Dim, DType, TensorType
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast


@record(frozen=True, slots=True)
class Origin:
    """Where a fact came from, for secondary labels: "`h` gets `[B, 128]` here"."""

    file: SourceFile
    span: Span


@record(frozen=True, slots=True)
class TensorVal:
    value: int  # IR value id
    type: TensorType
    origin: Origin


@record(frozen=True, slots=True)
class ScalarVal:
    """A value known at check time; `value is None` when it is not statically known."""

    kind: str  # int | float | bool | str | dtype | none
    value: int | float | bool | str | Dim | DType | None


@record(frozen=True, slots=True)
class ListVal:
    items: tuple[Value, ...]


@record(frozen=True, slots=True)
class DictVal:
    """`{key: value, ...}`: values keyed by name, in the order written; each key's span, for
    diagnostics that blame one entry (`keys` and `items` line up)."""

    items: tuple[tuple[str, Value], ...]
    key_spans: tuple[Span, ...] = ()

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.items)


@record(frozen=True, slots=True)
class TupleVal:
    """Several tensors, as returned by a block with several outputs."""

    items: tuple[TensorVal, ...]


@record(frozen=True)
class DefRef:
    """A block or model, by name, before or after binding its parameters."""

    definition: ast.Definition
    module: ModuleScope
    args: dict[str, Value] | None = None  # bound parameter values, when called
    call_span: Span | None = None
    # The arguments as written (`nndsl.check.arguments.CallArg`s), to bind them again
    # when a memoized caller is replayed against an edited definition (`check.memo`).
    call_args: tuple[object, ...] | None = None
    trainable: bool = True  # `MyBlock(2, trainable = false)`: its weights are frozen
    remat: bool = False  # `MyBlock(2, remat = true)`: activations recomputed when training


@record(frozen=True)
class OpRef:
    """An op by name; `attrs` are set once its arguments are bound (`Dense(64)`)."""

    spec: OpSpec
    attrs: dict[str, ArgValue] | None = None
    extra_inputs: tuple[TensorVal, ...] = ()  # tensors passed to a function in a pipeline
    call_span: Span | None = None
    arg_spans: Mapping[str, Span] = field(default_factory=dict)  # where each arg was written
    trainable: bool = True  # `Dense(4, trainable = false)`: its weights are frozen


@record(frozen=True, slots=True)
class ErrorVal:
    """Absorbing: anything computed from it is an error already reported."""


ERROR = ErrorVal()

Value = Union[TensorVal, ScalarVal, ListVal, DictVal, TupleVal, DefRef, OpRef, ErrorVal]


@record
class ModuleScope:
    """The top-level names of one file."""

    file: SourceFile
    module: ast.Module
    names: dict[str, Value] = field(default_factory=dict)
    data: dict[str, ast.DataDef] = field(default_factory=dict)
    data_files: dict[str, SourceFile] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def describe(value: Value) -> str:
    """A value's kind in words, for messages."""
    if isinstance(value, TensorVal):
        return f"a tensor `{value.type}`"
    if isinstance(value, ScalarVal):
        return {
            "int": "an integer",
            "float": "a number",
            "bool": "a boolean",
            "str": "a string",
            "dtype": "a dtype",
            "none": "`none`",
        }.get(value.kind, "a value")
    if isinstance(value, ListVal):
        return "a list"
    if isinstance(value, DictVal):
        return "a dict" if value.items else "an empty dict"
    if isinstance(value, TupleVal):
        return f"{len(value.items)} tensors"
    if isinstance(value, DefRef):
        return f"the {value.definition.kind} `{value.definition.name.name}`"
    if isinstance(value, OpRef):
        return f"the {value.spec.kind.value} `{value.spec.name}`"
    return "an error"
