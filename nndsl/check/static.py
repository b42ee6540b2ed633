"""Functions of static numbers: `int`, `round`, `ceil`, `floor`, and `min` / `max` of numbers.

They turn float arithmetic on parameters into sizes, as Keras's EfficientNet does with
`round_filters` / `round_repeats` (`Dense(int(W * 1.5))`, `repeat ceil(d * 1.2) { ... }`).
`min` / `max` given a tensor are the reductions (`nndsl.ops.numeric`); given only numbers they
are evaluated here. A value not known at check time (a parameter while a block is checked
generically) stays unknown; a wrong argument is a diagnostic at it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from nndsl.check.arguments import CallArg
from nndsl.check.report import Reporter
from nndsl.check.values import ERROR, ScalarVal, Value, describe
from nndsl.limits import MAX_INT
from nndsl.shapes import Dim
from nndsl.source import SourceFile, Span

# Float -> int conversions; `round` is Python's (halves to even).
_TO_INT: dict[str, Callable[[float], int]] = {
    "int": int,
    "round": round,
    "ceil": math.ceil,
    "floor": math.floor,
}
STATIC_FUNCTIONS = (*_TO_INT, "min", "max")


def is_number(v: Value) -> bool:
    return isinstance(v, ScalarVal) and v.kind in ("int", "float")


def call_static(
    name: str, args: Sequence[CallArg], file: SourceFile, span: Span, rep: Reporter
) -> Value:
    """`name(args)` for one of `STATIC_FUNCTIONS`; reports and returns ERROR on a bad call."""
    for a in args:
        if a.name is not None:
            rep.error(
                "E0401",
                f"`{name}` takes no named arguments",
                file,
                a.name_span or a.span,
                "unknown argument",
                help=f"write `{name}(x)`" if name in _TO_INT else f"write `{name}(a, b)`",
            )
            return ERROR
    if name in _TO_INT and len(args) != 1:
        rep.error(
            "E0405",
            f"`{name}` takes 1 number, but {len(args)} were given",
            file,
            args[1].span if len(args) > 1 else span,
            "wrong number of arguments",
            help=f"write `{name}(x)`",
        )
        return ERROR
    for a in args:
        if not is_number(a.value):
            rep.error(
                "E0403",
                f"`{name}` takes numbers, found {describe(a.value)}",
                file,
                a.span,
                "not a number",
                help="`min` / `max` of a tensor reduce it: `max(x, axis = -1)`"
                if name in ("min", "max")
                else None,
            )
            return ERROR
    values = [a.value for a in args]
    if name in _TO_INT:
        return _to_int(name, values[0], file, args[0].span, rep)  # type: ignore[arg-type]
    return _extreme(name, values)  # type: ignore[arg-type]


def _to_int(name: str, v: ScalarVal, file: SourceFile, span: Span, rep: Reporter) -> Value:
    if v.kind == "int":
        return v  # already a size (symbolic ones included)
    if not isinstance(v.value, int | float):
        return ScalarVal("int", None)
    if not math.isfinite(v.value) or abs(v.value) > MAX_INT:
        rep.error(
            "E0205",
            f"`{name}({v.value})` is not an integer",
            file,
            span,
            "out of range",
        )
        return ERROR
    return ScalarVal("int", _TO_INT[name](v.value))


def _extreme(name: str, values: Sequence[ScalarVal]) -> Value:
    pick = max if name == "max" else min
    kind = "int" if all(v.kind == "int" for v in values) else "float"
    known: list[int | float] = []
    for v in values:
        x = v.value.as_int() if isinstance(v.value, Dim) else v.value
        if not isinstance(x, int | float) or isinstance(x, bool):
            return ScalarVal(kind, None)
        known.append(x)
    result = pick(known)
    return ScalarVal(kind, float(result) if kind == "float" else result)
