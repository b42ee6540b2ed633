"""Normalising attribute values (ints given as one int or a tuple, sizes given as `Dim`): the
backends (JAX, ONNX) read attrs through these, so they agree on what a value means."""

from __future__ import annotations

from nndsl.ops import ArgValue
from nndsl.shapes import Dim, DType


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
