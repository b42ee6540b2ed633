"""Op specs: arguments, docs, shape and weight rules. Pure Python, no JAX."""

from nndsl.ops.registry import REGISTRY, all_names, configured, iter_specs, lookup, register
from nndsl.ops.spec import (
    REQUIRED,
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    Configured,
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
    "all_names",
    "configured",
    "Arg",
    "ArgError",
    "ArgValue",
    "Attrs",
    "Configured",
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
