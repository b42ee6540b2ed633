"""Dtypes, shapes and tensor types, with broadcasting and unification."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from enum import Enum

from nndsl.records import record
from nndsl.shapes.dims import Dim


class DType(Enum):
    F16 = "f16"
    BF16 = "bf16"
    F32 = "f32"
    F64 = "f64"
    I8 = "i8"
    I16 = "i16"
    I32 = "i32"
    I64 = "i64"
    U8 = "u8"
    BOOL = "bool"

    @property
    def is_float(self) -> bool:
        return self in (DType.F16, DType.BF16, DType.F32, DType.F64)

    @property
    def is_int(self) -> bool:
        return self in (DType.I8, DType.I16, DType.I32, DType.I64, DType.U8)

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self]

    @property
    def numpy_name(self) -> str:
        return _NUMPY_NAME[self]


_ITEMSIZE = {
    DType.F16: 2,
    DType.BF16: 2,
    DType.F32: 4,
    DType.F64: 8,
    DType.I8: 1,
    DType.I16: 2,
    DType.I32: 4,
    DType.I64: 8,
    DType.U8: 1,
    DType.BOOL: 1,
}
_NUMPY_NAME = {
    DType.F16: "float16",
    DType.BF16: "bfloat16",
    DType.F32: "float32",
    DType.F64: "float64",
    DType.I8: "int8",
    DType.I16: "int16",
    DType.I32: "int32",
    DType.I64: "int64",
    DType.U8: "uint8",
    DType.BOOL: "bool",
}

DTYPES: dict[str, DType] = {d.value: d for d in DType}

Shape = tuple[Dim, ...]


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@record(frozen=True, slots=True)
class TensorType:
    dtype: DType
    shape: Shape

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: Shape) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(dtype, self.shape)

    def subst(self, mapping: Mapping[str, Dim]) -> TensorType:
        return TensorType(self.dtype, tuple(d.subst(mapping) for d in self.shape))

    def numel(self) -> Dim:
        total = Dim.const(1)
        for d in self.shape:
            total = total * d
        return total

    def __str__(self) -> str:
        return f"{self.dtype.value}{format_shape(self.shape)}"


def broadcast_shapes(a: Shape, b: Shape) -> Shape | int:
    """NumPy broadcasting; returns the result, or the (negative, from the right) failing axis."""
    out: list[Dim] = []
    one = Dim.const(1)
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else one
        db = b[-i] if i <= len(b) else one
        if da == db or db == one:
            out.append(da)
        elif da == one:
            out.append(db)
        else:
            return -i
    return tuple(reversed(out))


def unify_shapes(
    pattern: Shape, actual: Shape, bindings: MutableMapping[str, Dim], bindable: set[str]
) -> list[int]:
    """Match `actual` against `pattern`, binding free symbols; returns the mismatching axes.

    A bare symbol in `bindable` binds on first sight; an expression with one unbound symbol
    `a*S + b` is solved for `S` when the solution is a whole number.
    """
    if len(pattern) != len(actual):
        return [-1]
    bad: list[int] = []
    pending: list[int] = []
    for i, (p, a) in enumerate(zip(pattern, actual, strict=True)):
        p = p.subst(bindings)
        sym = p.as_symbol()
        if sym is not None and sym in bindable and sym not in bindings:
            bindings[sym] = a
        elif (p.symbols() & bindable) - bindings.keys():
            pending.append(i)
        elif p != a:
            bad.append(i)
    for i in pending:
        p = pattern[i].subst(bindings)
        a = actual[i]
        free = (p.symbols() & bindable) - bindings.keys()
        if len(free) == 1:
            (sym,) = free
            solved = _solve_linear(p, sym, a)
            if solved is not None:
                bindings[sym] = solved
                continue
        bad.append(i)
    return sorted(bad)


def _solve_linear(p: Dim, sym: str, target: Dim) -> Dim | None:
    """Solve `a*sym + rest == target` for sym when p is linear in sym."""
    coeff = 0
    rest: dict[tuple[object, ...], int] = {}
    for mono, c in p.terms:
        if mono == (sym,):
            coeff = c
        elif sym in mono:
            return None
        else:
            rest[mono] = c
    if coeff == 0:
        return None
    rest_dim = Dim._make(rest)  # type: ignore[arg-type]
    num = target - rest_dim
    if coeff == 1:
        return num
    n = num.as_int()
    if n is not None and n % coeff == 0:
        return Dim.const(n // coeff)
    return None
