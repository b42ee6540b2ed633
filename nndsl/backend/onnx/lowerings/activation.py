"""Activation functions and layers as ONNX nodes, with the JAX backend's (Keras's) formulas.

`activate` serves the `activation = "..."` argument of kernel layers, with the spec's defaults.
Where JAX computes stably (softplus, log_sigmoid, mish) the graph spells out the same stable
form instead of relying on how a runtime implements a fused op. Fused ONNX ops are used where
they are exactly JAX's formula (Gelu, Selu, Shrink, HardSigmoid, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.registry import Attrs, LowerCall, Unsupported, lowering
from nndsl.ops.activation import activation_defaults
from nndsl.ops.attrs import to_float, to_int
from nndsl.shapes import DType

Fn = Callable[[LowerCall, str, Attrs], str]
ACTIVATIONS: dict[str, Fn] = {}

# ONNX Runtime's CPU kernels for the ops below exist for these float types only (bf16: none
# at all; f64: not for Gelu, Softplus, Selu, ...).
FLOATS = (DType.F32, DType.F16)


def require_float(call: LowerCall, what: str) -> None:
    """`Unsupported` unless the input is f32 or f16, the types ONNX Runtime computes these in."""
    if call.dtype not in FLOATS:
        raise Unsupported(
            f"`{what}` is exported for f32 and f16 tensors; ONNX Runtime has no "
            f"{call.dtype.value} kernels for it"
        )


def _activation(name: str) -> Callable[[Fn], Fn]:
    """Register `fn(call, x, attrs)` as the function spec `name` and for `activation = name`."""

    def register(fn: Fn) -> Fn:
        def checked(call: LowerCall, x: str, attrs: Attrs) -> str:
            require_float(call, name)
            return fn(call, x, attrs)

        ACTIVATIONS[name] = fn if name == "linear" else checked
        lowering(name)(lambda call: ACTIVATIONS[name](call, call.x, call.attrs))
        return fn

    return register


@cache
def _resolve(name: str) -> tuple[Fn, Attrs]:
    found = activation_defaults(name)
    if found is None or found[0] not in ACTIVATIONS:
        raise Unsupported(f"activation {name!r} has no ONNX lowering")
    return ACTIVATIONS[found[0]], found[1]


def activate(call: LowerCall, name: object, x: str) -> str:
    """`activation = "name"` applied to `x` (aliases such as `"swish"` included)."""
    fn, defaults = _resolve(str(name))
    return fn(call, x, defaults)


def _c(call: LowerCall, value: float) -> str:
    """A scalar of the input's dtype."""
    return call.g.scalar(value, call.dtype)


def _axis(call: LowerCall, attrs: Attrs) -> int:
    return to_int(attrs["axis"]) % call.rank


def softplus(call: LowerCall, x: str) -> str:
    """`max(x, 0) + log(1 + exp(-|x|))`: JAX's `logaddexp(x, 0)`, finite for any x (a runtime's
    `Softplus` may compute `log(exp(x) + 1)`, which overflows)."""
    tail = call.op("Exp", call.op("Neg", call.op("Abs", x)))
    return call.op("Add", call.op("Relu", x), call.op("Log", call.op("Add", tail, _c(call, 1.0))))


def relu_keras(
    call: LowerCall, x: str, negative_slope: float, max_value: float | None, threshold: float
) -> str:
    """Keras's `ReLU.static_call`, branch for branch (the JAX backend's `relu_keras`)."""
    negative_part = ""
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return call.op("LeakyRelu", x, alpha=negative_slope)
        shifted = call.op("Sub", _c(call, threshold), x) if threshold != 0 else call.op("Neg", x)
        negative_part = call.op("Relu", shifted)
    clip_max = max_value is not None
    if threshold != 0:
        above = call.op("Greater", x, _c(call, threshold))
        y = call.op("Where", above, x, _c(call, 0.0))
    elif max_value == 6:
        y = call.op("Clip", x, _c(call, 0.0), _c(call, 6.0))
        clip_max = False
    else:
        y = call.op("Relu", x)
    if clip_max:
        assert max_value is not None
        y = call.op("Clip", y, _c(call, 0.0), _c(call, max_value))
    if negative_slope != 0.0:
        y = call.op("Sub", y, call.op("Mul", _c(call, negative_slope), negative_part))
    return y


def _optional_float(value: object) -> float | None:
    return None if value is None else to_float(value)  # type: ignore[arg-type]


@_activation("linear")
def _linear(call: LowerCall, x: str, attrs: Attrs) -> str:
    return x


@_activation("relu")
def _relu(call: LowerCall, x: str, attrs: Attrs) -> str:
    return relu_keras(
        call,
        x,
        to_float(attrs["negative_slope"]),
        _optional_float(attrs["max_value"]),
        to_float(attrs["threshold"]),
    )


@_activation("relu6")
def _relu6(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Clip", x, _c(call, 0.0), _c(call, 6.0))


@_activation("leaky_relu")
def _leaky_relu(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("LeakyRelu", x, alpha=to_float(attrs["negative_slope"]))


@_activation("sigmoid")
def _sigmoid(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Sigmoid", x)


@_activation("hard_sigmoid")
def _hard_sigmoid(call: LowerCall, x: str, attrs: Attrs) -> str:
    """`relu6(x + 3) / 6` = `clip(x / 6 + 1/2, 0, 1)`."""
    return call.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)


@_activation("sparse_sigmoid")
def _sparse_sigmoid(call: LowerCall, x: str, attrs: Attrs) -> str:
    """JAX's `0.5 * clip(x + 1, 0, 2)`."""
    clipped = call.op("Clip", call.op("Add", x, _c(call, 1.0)), _c(call, 0.0), _c(call, 2.0))
    return call.op("Mul", _c(call, 0.5), clipped)


@_activation("log_sigmoid")
def _log_sigmoid(call: LowerCall, x: str, attrs: Attrs) -> str:
    """JAX's `-softplus(-x)`."""
    return call.op("Neg", softplus(call, call.op("Neg", x)))


@_activation("tanh")
def _tanh(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Tanh", x)


@_activation("hard_tanh")
def _hard_tanh(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Clip", x, _c(call, -1.0), _c(call, 1.0))


@_activation("tanh_shrink")
def _tanh_shrink(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Sub", x, call.op("Tanh", x))


@_activation("softplus")
def _softplus(call: LowerCall, x: str, attrs: Attrs) -> str:
    return softplus(call, x)


@_activation("softsign")
def _softsign(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Softsign", x)


@_activation("squareplus")
def _squareplus(call: LowerCall, x: str, attrs: Attrs) -> str:
    """`(x + sqrt(x^2 + b)) / 2`."""
    root = call.op("Sqrt", call.op("Add", call.op("Mul", x, x), _c(call, to_float(attrs["b"]))))
    return call.op("Div", call.op("Add", x, root), _c(call, 2.0))


@_activation("sparse_plus")
def _sparse_plus(call: LowerCall, x: str, attrs: Attrs) -> str:
    """`0` at or below -1, `x` at or above 1, `(x + 1)^2 / 4` between (JAX's `where`s)."""
    shifted = call.op("Add", x, _c(call, 1.0))
    middle = call.op("Div", call.op("Mul", shifted, shifted), _c(call, 4.0))
    upper = call.op("Where", call.op("GreaterOrEqual", x, _c(call, 1.0)), x, middle)
    low = call.op("LessOrEqual", x, _c(call, -1.0))
    return call.op("Where", low, _c(call, 0.0), upper)


@_activation("silu")
def _silu(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Mul", x, call.op("Sigmoid", x))


@_activation("hard_silu")
def _hard_silu(call: LowerCall, x: str, attrs: Attrs) -> str:
    """`x * hard_sigmoid(x)`, ONNX's HardSwish exactly."""
    return call.op("HardSwish", x)


@_activation("gelu")
def _gelu(call: LowerCall, x: str, attrs: Attrs) -> str:
    """ONNX's Gelu (opset 20): the erf form, or JAX's tanh approximation (same constants)."""
    return call.op("Gelu", x, approximate="tanh" if attrs["approximate"] else "none")


@_activation("mish")
def _mish(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Mul", x, call.op("Tanh", softplus(call, x)))


@_activation("elu")
def _elu(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Elu", x, alpha=to_float(attrs["alpha"]))


@_activation("celu")
def _celu(call: LowerCall, x: str, attrs: Attrs) -> str:
    """JAX's `max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)` (ONNX's Celu has no f16
    kernel in ONNX Runtime)."""
    alpha = _c(call, to_float(attrs["alpha"]))
    scaled = call.op("Div", call.op("Min", x, _c(call, 0.0)), alpha)
    negative = call.op("Mul", alpha, call.op("Sub", call.op("Exp", scaled), _c(call, 1.0)))
    return call.op("Add", call.op("Relu", x), negative)


@_activation("selu")
def _selu(call: LowerCall, x: str, attrs: Attrs) -> str:
    """ONNX's Selu defaults are JAX's constants."""
    return call.op("Selu", x)


@_activation("exponential")
def _exponential(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Exp", x)


@_activation("soft_shrink")
def _soft_shrink(call: LowerCall, x: str, attrs: Attrs) -> str:
    t = to_float(attrs["threshold"])
    return call.op("Shrink", x, bias=t, lambd=t)


@_activation("hard_shrink")
def _hard_shrink(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Shrink", x, bias=0.0, lambd=to_float(attrs["threshold"]))


@_activation("threshold")
def _threshold(call: LowerCall, x: str, attrs: Attrs) -> str:
    above = call.op("Greater", x, _c(call, to_float(attrs["threshold"])))
    return call.op("Where", above, x, _c(call, to_float(attrs["default_value"])))


@_activation("softmax")
def _softmax(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("Softmax", x, axis=_axis(call, attrs))


@_activation("log_softmax")
def _log_softmax(call: LowerCall, x: str, attrs: Attrs) -> str:
    return call.op("LogSoftmax", x, axis=_axis(call, attrs))


@_activation("sparsemax")
def _sparsemax(call: LowerCall, x: str, attrs: Attrs) -> str:
    """Keras's JAX sparsemax: sort (TopK over the whole axis, its size read at run time),
    cumulative sums, the support's threshold `tau`."""
    axis = _axis(call, attrs)
    size = call.op("Shape", x, start=axis, end=axis + 1)
    ordered = call.g.op_multi("TopK", [x, size], call.path, outputs=2, axis=axis)[0]
    cumsum = call.op("CumSum", ordered, call.g.const(axis, "int64"))
    one = call.g.const(1, "int64")
    count = call.op("Range", one, call.op("Add", call.op("Squeeze", size), one), one)
    shape = [1] * call.rank
    shape[axis] = -1
    r = call.op("Reshape", call.op("Cast", count, to=onnx_dtype(call.dtype)), call.g.ints(shape))
    gap = call.op("Sub", ordered, call.op("Div", call.op("Sub", cumsum, _c(call, 1.0)), r))
    support = call.op("Greater", gap, _c(call, 0.0))
    axes = call.g.ints([axis])
    k = call.op("ReduceSum", call.op("Cast", support, to=onnx_dtype(call.dtype)), axes)
    kept = call.op("ReduceSum", call.op("Where", support, cumsum, _c(call, 0.0)), axes)
    tau = call.op("Div", call.op("Sub", kept, _c(call, 1.0)), k)
    return call.op("Max", call.op("Sub", x, tau), _c(call, 0.0))


@_activation("glu")
def _glu(call: LowerCall, x: str, attrs: Attrs) -> str:
    """`a * sigmoid(b)` of the two halves of `axis`."""
    a, b = call.g.op_multi(
        "Split", [x], call.path, outputs=2, axis=_axis(call, attrs), num_outputs=2
    )
    return call.op("Mul", a, call.op("Sigmoid", b))


# -- layers ----------------------------------------------------------------------------------
@lowering("Activation")
def activation_layer(call: LowerCall) -> str:
    return activate(call, call.attrs["activation"], call.x)


@lowering("ReLU")
def relu_layer(call: LowerCall) -> str:
    return ACTIVATIONS["relu"](call, call.x, call.attrs)


@lowering("LeakyReLU")
def leaky_relu_layer(call: LowerCall) -> str:
    return ACTIVATIONS["leaky_relu"](call, call.x, call.attrs)


@lowering("ELU")
def elu_layer(call: LowerCall) -> str:
    return ACTIVATIONS["elu"](call, call.x, call.attrs)


@lowering("Softmax")
def softmax_layer(call: LowerCall) -> str:
    """As Keras: masked-out entries get the logit -1e9, then probability 0."""
    require_float(call, "Softmax")
    axis = _axis(call, call.attrs)
    if len(call.inputs) < 2:
        return call.op("Softmax", call.x, axis=axis)
    mask = call.inputs[1]
    logits = call.op("Where", mask, call.x, _c(call, -1e9))
    return call.op("Where", mask, call.op("Softmax", logits, axis=axis), _c(call, 0.0))


@lowering("PReLU")
def prelu(call: LowerCall) -> str:
    """ONNX's PRelu is Keras's `relu(x) - alpha * relu(-x)`; `alpha` (`[d1, ...]`, 1 on the
    shared axes) broadcasts from the right as it does in JAX."""
    require_float(call, "PReLU")
    alpha = np.asarray(call.weights["alpha"]).astype(call.dtype.numpy_name)
    return call.op("PRelu", call.x, call.weight("alpha", alpha))
