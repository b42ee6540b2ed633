"""The op spec: how a layer, function, loss, metric, optimizer or data source is declared once.

A spec carries the arguments, the docs and the pure shape/weight rules. It never imports JAX:
backends attach implementations to spec names (see `nndsl.backend.jax.registry`), and the
checker, the summary, the editor and the generated docs all read the same spec.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import field
from enum import Enum
from typing import ClassVar, Union

from nndsl.records import record
from nndsl.shapes import Dim, DType, TensorType


class OpKind(Enum):
    LAYER = "layer"  # PascalCase, configured then applied: `x |> Dense(64)`
    FUNCTION = "function"  # lowercase, tensors as arguments: `relu(x)`, `x |> relu`
    OPERATOR = "operator"  # `+ - * / @`, unary `-`, scalar constants
    LOSS = "loss"
    METRIC = "metric"
    OPTIMIZER = "optimizer"
    DATA = "data"
    INITIALIZER = "initializer"  # `kernel_initializer = truncated_normal(stddev = 0.02)`
    REGULARIZER = "regularizer"  # `kernel_regularizer = l2(1e-4)`
    CONSTRAINT = "constraint"  # `kernel_constraint = max_norm(3)`
    SCHEDULE = "schedule"  # `learning_rate = cosine_decay(1e-3, 1000)`
    CALLBACK = "callback"  # `callbacks = [early_stopping(patience = 3)]`


ArgValue = Union[
    int, float, bool, str, Dim, DType, "Configured", "Keyed", tuple["ArgValue", ...], None
]


@record(frozen=True, slots=True)
class Keyed:
    """A dict literal given as an argument (`x = {numeric: ["a", "b"], category: "c"}`): values
    by name, in the order written. Hashable, so attrs holding one stay usable as static data."""

    items: tuple[tuple[str, ArgValue], ...] = ()

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.items)

    def __getitem__(self, key: str) -> ArgValue:
        for k, v in self.items:
            if k == key:
                return v
        raise KeyError(key)

    def __str__(self) -> str:
        return format_value(self)


@record(frozen=True, slots=True)
class Configured:
    """An op passed as an argument value, with its own arguments bound (defaults included).

    `l2(1e-4)`, `truncated_normal(stddev = 0.02)`, or a layer such as `LSTM(32)` given to
    `Bidirectional`. Hashable, so attrs holding one stay usable as jit-static data.
    """

    name: str
    attrs: tuple[tuple[str, ArgValue], ...] = ()

    def __getitem__(self, key: str) -> ArgValue:
        for k, v in self.attrs:
            if k == key:
                return v
        raise KeyError(key)

    def get(self, key: str, default: ArgValue = None) -> ArgValue:
        return next((v for k, v in self.attrs if k == key), default)

    @property
    def options(self) -> dict[str, ArgValue]:
        return dict(self.attrs)

    def __str__(self) -> str:
        return format_value(self)


# Argument types whose values are configured ops of one kind.
CONFIGURED_TYPES: dict[str, OpKind] = {
    "initializer": OpKind.INITIALIZER,
    "regularizer": OpKind.REGULARIZER,
    "constraint": OpKind.CONSTRAINT,
    "layer": OpKind.LAYER,
    "schedule": OpKind.SCHEDULE,  # a learning rate: a number, or a schedule
}


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@record(frozen=True, slots=True)
class Arg:
    """One argument of a spec.

    `type` is one of: int, float, bool, str, dtype, ints (a tuple of ints, or one int broadcast
    to `length` entries), pads (an int, or a list of ints or of [before, after] pairs, as
    Keras's padding and cropping take; the spec checks the lengths), strs (a list of names),
    names (one name, kept as a str, or a list of names, kept as a tuple), groups (a dict of
    names, each a name or a list of names: `{numeric: ["a", "b"], category: "c"}`, kept as
    `Keyed` with str and tuple values),
    floats (one number, kept as a float, or a list of `length` numbers, kept as a tuple).
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
    keyword_only: bool = False  # `Dense(64, kernel_regularizer = l2(1e-4))`, never positional

    @property
    def required(self) -> bool:
        return isinstance(self.default, _Required)

    def type_text(self) -> str:
        if self.type == "ints":
            return f"int | [{', '.join(['int'] * (self.length or 1))}]" if self.length else "[int]"
        if self.type == "strs":
            return "[name]"
        if self.type == "names":
            return "name | [name]"
        if self.type == "groups":
            text = "{name: column | [column], ...}"
            return f"{text} | none" if self.nullable else text
        if self.type == "floats":
            inner = ", ".join(["float"] * self.length) if self.length else "float, ..."
            return f"float | [{inner}]"
        if self.type == "pads":
            return "int | [int | [int, int]]"
        if self.type == "schedule":
            return "float | schedule"
        text = self.type
        if 0 < len(self.choices) <= 6:  # longer lists (activations) are named in the docs
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


@record(frozen=True, slots=True)
class WeightSpec:
    """A parameter (trainable) or a piece of state (non-trainable, e.g. moving statistics).

    `init` names an initializer spec or is a `Configured` one; `regularizer` (a penalty added
    to the training loss) and `constraint` (a projection after each update) likewise, or None.
    """

    shape: tuple[Dim, ...]
    init: ArgValue
    trainable: bool = True
    dtype: DType = DType.F32
    regularizer: ArgValue = None
    constraint: ArgValue = None


Attrs = Mapping[str, ArgValue]


@record(frozen=True)
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
    if isinstance(value, Configured):
        inner = ", ".join(f"{k} = {format_value(v)}" for k, v in value.attrs)
        return f"{value.name}({inner})"
    if isinstance(value, Keyed):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items) + "}"
    return str(value)


class OpSpec:
    """Base of every spec. Subclasses set the class variables and override the rules."""

    name: ClassVar[str]
    kind: ClassVar[OpKind]
    # The module the spec is declared in (`nndsl.ops.conv` -> "conv"), set for each subclass:
    # the backends keep their implementations of a family in modules of the same name.
    family: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other names users may write
    args: ClassVar[tuple[Arg, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    # Tensors that may follow the required ones, positionally (`MultiHeadAttention(...)(q, v,
    # k, mask)`); the shape rule sees only those given and checks their dtypes itself.
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    variadic: ClassVar[bool] = False  # takes any number (>= len(inputs)) of tensors
    stochastic: ClassVar[bool] = False  # draws random numbers while training
    float_inputs: ClassVar[bool] = True  # inputs must be floating point
    mixed_dtypes: ClassVar[bool] = False  # inputs may differ in dtype (`where`'s bool mask)
    rule: ClassVar[str] = ""  # the shape rule in one line of words, for notes and docs
    # Forward FLOPs per element of the (first) output, for ops whose cost is that simple:
    # element-wise arithmetic and activations 1, reshapes and lookups 0. None: `flops` decides
    # (by default, no rule: the op counts 0 FLOPs and is reported as not counted).
    flops_per_element: ClassVar[int | None] = None
    example: ClassVar[str] = ""  # a line of nndsl that uses the op, checked by the tests

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.family = cls.__module__.rsplit(".", 1)[-1]

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

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        """All output types; override for ops with several results (`LSTM(return_state)`).

        The JAX implementation then returns a tuple of as many arrays, in the same order.
        """
        return (self.output(attrs, inputs),)

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        """Parameters and state the op owns, from the input types (Keras's `build`)."""
        return {}

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Forward FLOPs of one application to tensors of these types, in inference mode (a
        dropout is free, a batch norm uses its moving statistics); a multiply-add counts 2.

        A polynomial in the symbolic dims the types hold: `nndsl.ir.flops` passes types with
        the batch axis 1 for a count per example. None: the op has no rule; it then counts 0
        and is reported as not counted. The default multiplies `flops_per_element` by the
        size of the first output. Rules only do arithmetic on the types (`nndsl.ops.flops`
        holds the shared pieces): no JAX, and the same answer for any backend."""
        if self.flops_per_element is None:
            return None
        return outputs[0].numel() * self.flops_per_element

    @classmethod
    def counts_flops(cls) -> bool:
        """Whether the op has a FLOPs rule (a per-element cost or its own `flops`)."""
        return cls.flops_per_element is not None or cls.flops is not OpSpec.flops


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
