"""Op specs: arguments, docs, shape and weight rules. Pure Python, no JAX."""

from nndsl.ops.registry import REGISTRY, iter_specs, lookup, register
from nndsl.ops.spec import (
    REQUIRED,
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    OpKind,
    OpSpec,
    ShapeError,
    Signature,
    WeightSpec,
    format_value,
)

__all__ = [
    "REGISTRY",
    "REQUIRED",
    "Arg",
    "ArgError",
    "ArgValue",
    "Attrs",
    "OpKind",
    "OpSpec",
    "ShapeError",
    "Signature",
    "WeightSpec",
    "format_value",
    "iter_specs",
    "lookup",
    "register",
]
