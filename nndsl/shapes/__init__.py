"""Symbolic dimensions, shapes, dtypes and tensor types: the algebra the checker runs on."""

from nndsl.shapes.dims import Dim, DimError, DimRangeError, FloorDiv
from nndsl.shapes.types import (
    DTYPES,
    DType,
    Shape,
    TensorType,
    broadcast_shapes,
    format_shape,
    unify_shapes,
)

__all__ = [
    "DTYPES",
    "DType",
    "Dim",
    "DimError",
    "DimRangeError",
    "FloorDiv",
    "Shape",
    "TensorType",
    "broadcast_shapes",
    "format_shape",
    "unify_shapes",
]
