"""Activation functions and layers, with Keras 3's formulas (its JAX backend's, where it has one).

`ACTIVATIONS` is keyed by the activation specs' names (`nndsl.ops.activation`); `activate`
serves the `activation = "..."` argument of kernel layers, with the spec's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, Attrs, impl
from nndsl.ops.activation import activation_defaults
from nndsl.ops.attrs import to_float, to_int

Fn = Callable[[jax.Array, Attrs], jax.Array]
ACTIVATIONS: dict[str, Fn] = {}


def _activation(name: str) -> Callable[[Fn], Fn]:
    """Register `fn(x, attrs)` as the function spec `name` and for `activation = "name"`."""

    def register(fn: Fn) -> Fn:
        ACTIVATIONS[name] = fn

        def apply(call: ApplyCall) -> jax.Array:
            return fn(call.x, call.attrs)

        apply.__name__ = name
        impl(name)(apply)
        return fn

    return register


@cache
def _resolve(name: str) -> tuple[Fn, Attrs]:
    found = activation_defaults(name)
    if found is None or found[0] not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    return ACTIVATIONS[found[0]], found[1]


def activate(name: object, x: jax.Array) -> jax.Array:
    """`activation = "name"` (aliases such as `"swish"` included), with Keras's defaults."""
    fn, defaults = _resolve(str(name))
    return fn(x, defaults)


def _optional_float(value: object) -> float | None:
    return None if value is None else to_float(value)  # type: ignore[arg-type]


def relu_keras(
    x: jax.Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> jax.Array:
    """Keras's `ReLU.static_call`, branch for branch."""
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return jax.nn.leaky_relu(x, negative_slope)
        negative_part = jax.nn.relu(-x + threshold) if threshold != 0 else jax.nn.relu(-x)
    clip_max = max_value is not None
    if threshold != 0:
        y = jnp.where(x > jnp.asarray(threshold, x.dtype), x, 0).astype(x.dtype)
    elif max_value == 6:
        y = jax.nn.relu6(x)
        clip_max = False
    else:
        y = jax.nn.relu(x)
    if clip_max:
        assert max_value is not None
        y = jnp.clip(y, jnp.asarray(0.0, x.dtype), jnp.asarray(max_value, x.dtype))
    if negative_slope != 0.0:
        y = y - negative_slope * negative_part
    return y


@_activation("linear")
def _linear(x: jax.Array, attrs: Attrs) -> jax.Array:
    return x


@_activation("relu")
def _relu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return relu_keras(
        x,
        to_float(attrs["negative_slope"]),
        _optional_float(attrs["max_value"]),
        to_float(attrs["threshold"]),
    )


@_activation("relu6")
def _relu6(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.relu6(x)


@_activation("leaky_relu")
def _leaky_relu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.leaky_relu(x, to_float(attrs["negative_slope"]))


@_activation("sigmoid")
def _sigmoid(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.sigmoid(x)


@_activation("hard_sigmoid")
def _hard_sigmoid(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.hard_sigmoid(x)


@_activation("sparse_sigmoid")
def _sparse_sigmoid(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.sparse_sigmoid(x)


@_activation("log_sigmoid")
def _log_sigmoid(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.log_sigmoid(x)


@_activation("tanh")
def _tanh(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jnp.tanh(x)


@_activation("hard_tanh")
def _hard_tanh(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.hard_tanh(x)


@_activation("tanh_shrink")
def _tanh_shrink(x: jax.Array, attrs: Attrs) -> jax.Array:
    return x - jnp.tanh(x)


@_activation("softplus")
def _softplus(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.softplus(x)


@_activation("softsign")
def _softsign(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.soft_sign(x)


@_activation("squareplus")
def _squareplus(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.squareplus(x, to_float(attrs["b"]))


@_activation("sparse_plus")
def _sparse_plus(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.sparse_plus(x)


@_activation("silu")
def _silu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.silu(x)


@_activation("hard_silu")
def _hard_silu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.hard_silu(x)


@_activation("gelu")
def _gelu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.gelu(x, approximate=bool(attrs["approximate"]))


@_activation("mish")
def _mish(x: jax.Array, attrs: Attrs) -> jax.Array:
    return x * jnp.tanh(jax.nn.softplus(x))


@_activation("elu")
def _elu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.elu(x, to_float(attrs["alpha"]))


@_activation("celu")
def _celu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.celu(x, to_float(attrs["alpha"]))


@_activation("selu")
def _selu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.selu(x)


@_activation("exponential")
def _exponential(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jnp.exp(x)


@_activation("soft_shrink")
def _soft_shrink(x: jax.Array, attrs: Attrs) -> jax.Array:
    t = to_float(attrs["threshold"])
    return jnp.where(x > t, x - t, jnp.where(x < -t, x + t, 0.0)).astype(x.dtype)


@_activation("hard_shrink")
def _hard_shrink(x: jax.Array, attrs: Attrs) -> jax.Array:
    t = to_float(attrs["threshold"])
    return jnp.where(jnp.abs(x) > t, x, 0.0).astype(x.dtype)


@_activation("threshold")
def _threshold(x: jax.Array, attrs: Attrs) -> jax.Array:
    t, default = to_float(attrs["threshold"]), to_float(attrs["default_value"])
    return jnp.where(x > t, x, default).astype(x.dtype)


@_activation("softmax")
def _softmax(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.softmax(x, axis=to_int(attrs["axis"]))


@_activation("log_softmax")
def _log_softmax(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.log_softmax(x, axis=to_int(attrs["axis"]))


@_activation("sparsemax")
def _sparsemax(x: jax.Array, attrs: Attrs) -> jax.Array:
    """Keras's JAX sparsemax: sort, cumulative sums, the support's threshold `tau`."""
    axis = to_int(attrs["axis"]) % x.ndim
    ordered = -jnp.sort(-x, axis=axis)
    cumsum = jnp.cumsum(ordered, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    r = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    support = ordered - (cumsum - 1) / r > 0
    k = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(support, cumsum, 0.0), axis=axis, keepdims=True) - 1) / k
    return jnp.maximum(x - tau, 0.0)


@_activation("glu")
def _glu(x: jax.Array, attrs: Attrs) -> jax.Array:
    return jax.nn.glu(x, axis=to_int(attrs["axis"]))


# -- layers ----------------------------------------------------------------------------------
@impl("Activation")
def activation_layer(call: ApplyCall) -> jax.Array:
    return activate(call.attrs["activation"], call.x)


@impl("ReLU")
def relu_layer(call: ApplyCall) -> jax.Array:
    return _relu(call.x, call.attrs)


@impl("LeakyReLU")
def leaky_relu_layer(call: ApplyCall) -> jax.Array:
    return jax.nn.leaky_relu(call.x, to_float(call.attrs["negative_slope"]))


@impl("ELU")
def elu_layer(call: ApplyCall) -> jax.Array:
    return _elu(call.x, call.attrs)


@impl("Softmax")
def softmax_layer(call: ApplyCall) -> jax.Array:
    """As Keras: masked-out entries get a large negative logit, then probability 0."""
    x = call.x
    axis = to_int(call.attrs["axis"])
    if len(call.inputs) < 2:
        return jax.nn.softmax(x, axis=axis)
    mask = call.inputs[1]
    y = jax.nn.softmax(jnp.where(mask, x, jnp.asarray(-1e9, x.dtype)), axis=axis)
    return jnp.where(mask, y, 0.0).astype(x.dtype)


@impl("PReLU")
def prelu(call: ApplyCall) -> jax.Array:
    """Keras's `relu(x) - alpha * relu(-x)`."""
    return jax.nn.relu(call.x) - call.params["alpha"] * jax.nn.relu(-call.x)
