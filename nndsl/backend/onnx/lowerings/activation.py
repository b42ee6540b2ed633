"""Activation functions and layers as ONNX nodes, with the JAX backend's (Keras's) formulas.

`activate` serves the `activation = "..."` argument of kernel layers, with the spec's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from nndsl.backend.onnx.registry import Attrs, LowerCall, Unsupported, lowering
from nndsl.ops import lookup
from nndsl.ops.attrs import to_float, to_int

Fn = Callable[[LowerCall, str, Attrs], str]
ACTIVATIONS: dict[str, Fn] = {}


def _activation(name: str) -> Callable[[Fn], Fn]:
    """Register `fn(call, x, attrs)` as the function spec `name` and for `activation = name`."""

    def register(fn: Fn) -> Fn:
        ACTIVATIONS[name] = fn
        lowering(name)(lambda call: fn(call, call.x, call.attrs))
        return fn

    return register


@cache
def _resolve(name: str) -> tuple[Fn, Attrs]:
    spec = lookup(name)
    if spec is None or spec.name not in ACTIVATIONS:
        raise Unsupported(f"activation {name!r} has no ONNX lowering")
    defaults = {a.name: a.default for a in spec.args if not a.required}
    return ACTIVATIONS[spec.name], defaults  # type: ignore[return-value]


def activate(call: LowerCall, name: object, x: str) -> str:
    """`activation = "name"` applied to `x` (aliases such as `"swish"` included)."""
    fn, defaults = _resolve(str(name))
    return fn(call, x, defaults)


@_activation("linear")
def _linear(call: LowerCall, x: str, attrs: Attrs) -> str:
    return x


@_activation("relu")
def _relu(call: LowerCall, x: str, attrs: Attrs) -> str:
    slope = to_float(attrs.get("negative_slope", 0.0))
    max_value = attrs.get("max_value")
    threshold = to_float(attrs.get("threshold", 0.0))
    if slope == 0.0 and max_value is None and threshold == 0.0:
        return call.op("Relu", x)
    if slope == 0.0 and threshold == 0.0 and max_value is not None:
        zero, top = call.g.scalar(0.0, call.dtype), call.g.scalar(to_float(max_value), call.dtype)
        return call.op("Clip", x, zero, top)
    raise Unsupported("relu with negative_slope or threshold is not lowered yet")


@_activation("sigmoid")
def _sigmoid(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Sigmoid", x)


@_activation("tanh")
def _tanh(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Tanh", x)


@_activation("softmax")
def _softmax(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Softmax", x, axis=to_int(attrs.get("axis", -1)))


@lowering("Activation")
def activation_layer(call: LowerCall) -> str:
    return activate(call, call.attrs["activation"], call.x)
