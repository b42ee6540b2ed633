"""Reading attrs: the checker binds every argument an op declares (defaults included), so code
reads `attrs[key]`; `declared` is the one accessor for code shared by ops that do not all
declare a key. The normalisers (ints given as one int or a tuple, sizes given as `Dim`) are
what both backends (JAX, ONNX) read values through, so they agree on what a value means."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from nndsl.ops import ArgValue
from nndsl.shapes import Dim, DType

T = TypeVar("T")


def to_int(value: ArgValue) -> int:
    if isinstance(value, Dim):
        n = value.as_int()
        if n is None:
            raise ValueError(f"size {value} is not known at compile time")
        return n
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def to_ints(value: ArgValue, length: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        out = tuple(to_int(v) for v in value)
        if len(out) == 1:
            out = out * length
        if len(out) != length:
            raise ValueError(f"expected {length} integers, got {value!r}")
        return out
    return (to_int(value),) * length


def to_float(value: ArgValue) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def to_dtype(value: ArgValue) -> str:
    if isinstance(value, DType):
        return value.numpy_name
    return str(value)


def declared(attrs: Mapping[str, T], key: str, otherwise: T) -> T:
    """`attrs[key]` where the op declares `key`, else `otherwise`.

    The checker binds every argument an op declares (defaults included), so implementations
    read `attrs[key]`. This is for code shared by sibling ops of which only some declare `key`
    (`UpSampling1D` has no `data_format`, `f1_score` no `beta`): `otherwise` is what the ops
    without the argument mean.
    """
    return attrs[key] if key in attrs else otherwise
