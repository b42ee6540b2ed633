"""The op spec: how a layer, function, loss, metric, optimizer or data source is declared once.

A spec carries the arguments, the docs and the pure shape/weight rules. It never imports JAX:
backends attach implementations to spec names (see `nndsl.backend.jax.registry`), and the
checker, the summary, the editor and the generated docs all read the same spec.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Union

from nndsl.shapes import Dim, DType, TensorType


class OpKind(Enum):
    LAYER = "layer"  # PascalCase, configured then applied: `x |> Dense(64)`
    FUNCTION = "function"  # lowercase, tensors as arguments: `relu(x)`, `x |> relu`
    OPERATOR = "operator"  # `+ - * / @`, unary `-`, scalar constants
    LOSS = "loss"
    METRIC = "metric"
    OPTIMIZER = "optimizer"
    DATA = "data"


ArgValue = Union[int, float, bool, str, Dim, DType, tuple["ArgValue", ...], None]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a spec.

    `type` is one of: int, float, bool, str, dtype, ints (a tuple of ints, or one int broadcast
    to `length` entries), strs (a list of names).
    """

    name: str
    type: str
    default: ArgValue | _Required = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    length: int | None = None
    nullable: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return isinstance(self.default, _Required)

    def type_text(self) -> str:
        if self.type == "ints":
            return f"int | [{', '.join(['int'] * (self.length or 1))}]" if self.length else "[int]"
        if self.type == "strs":
            return "[name]"
        text = self.type
        if self.choices:
            text = " | ".join(f'"{c}"' for c in self.choices)
        return f"{text} | none" if self.nullable else text

    def domain_text(self) -> str:
        """The allowed values in words, for diagnostics."""
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        parts = []
        if self.min is not None:
            parts.append(f"{'>' if self.min_exclusive else '>='} {_num(self.min)}")
        if self.max is not None:
            parts.append(f"{'<' if self.max_exclusive else '<='} {_num(self.max)}")
        return " and ".join(parts) if parts else f"a value of type {self.type_text()}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class ShapeError(Exception):
    """Raised by a shape rule; the checker turns it into a diagnostic at the call."""

    def __init__(
        self,
        message: str,
        *,
        arg: str | None = None,
        input_index: int | None = None,
        help: str | None = None,
        code: str = "E0203",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.input_index = input_index
        self.help = help
        self.code = code


class ArgError(ShapeError):
    """An argument outside its domain, found by a spec's cross-argument validation."""

    def __init__(self, arg: str, message: str, *, help: str | None = None) -> None:
        super().__init__(message, arg=arg, help=help, code="E0404")


@dataclass(frozen=True, slots=True)
class WeightSpec:
    """A parameter (trainable) or a piece of state (non-trainable, e.g. moving statistics)."""

    shape: tuple[Dim, ...]
    init: str
    trainable: bool = True
    dtype: DType = DType.F32


Attrs = Mapping[str, ArgValue]


@dataclass(frozen=True)
class Signature:
    """What the editor shows: `Dense(units: int, use_bias: bool = true, ...)`."""

    name: str
    args: tuple[Arg, ...]
    inputs: tuple[str, ...]
    doc: str
    kind: OpKind
    extra: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        parts: list[str] = []
        if self.kind in (OpKind.FUNCTION, OpKind.OPERATOR):
            parts.extend(self.inputs)
        for a in self.args:
            default = "" if a.required else f" = {format_value(a.default)}"
            parts.append(f"{a.name}: {a.type_text()}{default}")
        return f"{self.name}({', '.join(parts)})"


def format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, DType):
        return value.value
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


class OpSpec:
    """Base of every spec. Subclasses set the class variables and override the rules."""

    name: ClassVar[str]
    kind: ClassVar[OpKind]
    family: ClassVar[str]
    args: ClassVar[tuple[Arg, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    variadic: ClassVar[bool] = False  # takes any number (>= len(inputs)) of tensors
    stochastic: ClassVar[bool] = False  # draws random numbers while training
    float_inputs: ClassVar[bool] = True  # inputs must be floating point
    rule: ClassVar[str] = ""  # the shape rule in one line of words, for notes and docs
    example: ClassVar[str] = ""  # a line of nndsl that uses the op, checked by the tests

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def signature(cls) -> Signature:
        return Signature(cls.name, cls.args, cls.inputs, cls.doc(), cls.kind)

    @classmethod
    def arg(cls, name: str) -> Arg | None:
        return next((a for a in cls.args if a.name == name), None)

    def validate(self, attrs: Attrs) -> None:
        """Cross-argument checks beyond each argument's own domain; raise `ArgError`."""

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        """The output type for these inputs; raise `ShapeError` when they do not fit."""
        raise NotImplementedError

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        """Parameters and state the op owns, from the input types (Keras's `build`)."""
        return {}


# -- small helpers shared by the rules -------------------------------------------------------
def dim(value: ArgValue) -> Dim:
    if isinstance(value, Dim):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer size, got {value!r}")
    return Dim.const(value)


def as_int(value: ArgValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Dim):
        return value.as_int()
    return None


def ints(value: ArgValue, length: int) -> tuple[ArgValue, ...]:
    if isinstance(value, tuple):
        return value
    return (value,) * length


def require_rank(
    x: TensorType,
    rank: int | None = None,
    *,
    at_least: int | None = None,
    what: str = "input",
    layout: str = "",
) -> None:
    shown = f" ({layout})" if layout else ""
    if rank is not None and x.rank != rank:
        raise ShapeError(
            f"{what} must have rank {rank}{shown}, found `{x}` of rank {x.rank}", input_index=0
        )
    if at_least is not None and x.rank < at_least:
        raise ShapeError(f"{what} must have rank >= {at_least}{shown}, found `{x}`", input_index=0)


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ArgError("axis", f"axis {axis} is out of range for rank {rank}")
    return axis % rank
