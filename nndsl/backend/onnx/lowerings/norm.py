"""ONNX lowerings of the `norm` family (see `nndsl.ops.norm`), with the JAX impls' arithmetic.

Statistics are taken in at least float32 (a half-precision input is cast up and back, as the
JAX impl does), and `x * inv + (beta - mean * inv)` keeps JAX's evaluation order where ONNX has
no op of its own. Weights are reshaped exactly as the JAX impl reshapes them (Keras's sorted
raw axes, which fix the weights' layout), at export time in numpy.
"""

from __future__ import annotations

import numpy as np

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.layout import shape_of
from nndsl.backend.onnx.registry import LowerCall, lowering
from nndsl.ops import ArgValue
from nndsl.ops.attrs import to_float, to_int
from nndsl.shapes import DType

_HALF = (DType.F16, DType.BF16)


def _raw_axes(value: ArgValue) -> list[int]:
    """`axis` as Keras sorts it (raw values, negatives kept)."""
    raw = value if isinstance(value, tuple) else (value,)
    return sorted(to_int(a) for a in raw)


def _up(call: LowerCall, x: str) -> str:
    """`x` in the dtype the statistics are computed in (float32 for half precision)."""
    return call.op("Cast", x, to=1) if call.dtype in _HALF else x  # 1: FLOAT


def _down(call: LowerCall, y: str) -> str:
    """The result back in the input's dtype."""
    return call.op("Cast", y, to=onnx_dtype(call.dtype)) if call.dtype in _HALF else y


def _compute_dtype(call: LowerCall) -> np.dtype[np.floating]:
    return np.dtype(np.float32 if call.dtype in _HALF else call.dtype.numpy_name)


def _along(call: LowerCall, name: str, shape: list[int]) -> str:
    """The weight `name` reshaped to broadcast against the input (as JAX's `_along`)."""
    w = np.asarray(call.weights[name], dtype=_compute_dtype(call))
    return call.weight(name, w.reshape(shape))


def _weight_shape(call: LowerCall, axes: list[int]) -> list[int]:
    shape = [1] * call.rank
    for a in axes:
        shape[a] = call.dim(a)
    return shape


def _scalar(call: LowerCall, v: float) -> str:
    return call.g.const(v, _compute_dtype(call))


@lowering("BatchNormalization")
def batch_normalization(call: LowerCall) -> str:
    """Inference: `x * inv + res` with `inv = gamma * rsqrt(var + eps)` and `res = beta -
    mean * inv` computed in numpy at export; any axis (no channels-first transpose needed).
    A mask only matters while training."""
    axis = to_int(call.attrs["axis"]) % call.rank
    eps = to_float(call.attrs["epsilon"])
    dt = _compute_dtype(call)
    mean = np.asarray(call.weights["moving_mean"], dtype=dt)
    var = np.asarray(call.weights["moving_variance"], dtype=dt)
    inv = (np.asarray(1.0, dt) / np.sqrt(var + np.asarray(eps, dt))).astype(dt)
    if call.has("gamma"):
        inv = inv * np.asarray(call.weights["gamma"], dtype=dt)
    res = -mean * inv
    if call.has("beta"):
        res = res + np.asarray(call.weights["beta"], dtype=dt)
    shape = [1] * call.rank
    shape[axis] = call.dim(axis)
    scale = call.weight("inv", inv.reshape(shape))
    shift = call.weight("shift", res.reshape(shape))
    y = call.op("Add", call.op("Mul", _up(call, call.x), scale), shift)
    return _down(call, y)


def _rsqrt(call: LowerCall, v: str, eps: float) -> str:
    """`rsqrt(v + eps)` as `1 / sqrt(v + eps)` (ONNX has no rsqrt)."""
    return call.op("Reciprocal", call.op("Sqrt", call.op("Add", v, _scalar(call, eps))))


def _normalize(
    call: LowerCall, x: str, mean: str, var: str, eps: float, gamma: str | None, beta: str | None
) -> str:
    """JAX's `_normalize`: `x * inv + (-mean * inv + beta)`, `inv = rsqrt(var + eps) * gamma`."""
    inv = _rsqrt(call, var, eps)
    if gamma is not None:
        inv = call.op("Mul", inv, gamma)
    res = call.op("Mul", call.op("Neg", mean), inv)
    if beta is not None:
        res = call.op("Add", res, beta)
    return call.op("Add", call.op("Mul", x, inv), res)


def _moments(call: LowerCall, x: str, axes: list[int]) -> tuple[str, str]:
    """Mean and biased variance over `axes`, kept, as `jnp.mean` / `jnp.var`."""
    mean = call.op("ReduceMean", x, call.g.ints(axes), keepdims=1)
    centered = call.op("Sub", x, mean)
    var = call.op("ReduceMean", call.op("Mul", centered, centered), call.g.ints(axes), keepdims=1)
    return mean, var


@lowering("LayerNormalization")
def layer_normalization(call: LowerCall) -> str:
    """ONNX's `LayerNormalization` when the axes are the trailing ones (its only form) and
    its scale has a known shape; otherwise, and for `rms_scaling`, the JAX impl's arithmetic."""
    raw = _raw_axes(call.attrs["axis"])
    axes = sorted(a % call.rank for a in raw)
    eps = to_float(call.attrs["epsilon"])
    x = _up(call, call.x)
    if call.attrs["rms_scaling"]:
        _, var = _moments(call, x, axes)
        y = call.op("Mul", x, _rsqrt(call, var, eps))
        if call.has("gamma"):
            y = call.op("Mul", y, _along(call, "gamma", _weight_shape(call, raw)))
        return _down(call, y)
    first = axes[0]
    static = all(call.type.shape[a].as_int() is not None for a in axes)
    if axes == list(range(first, call.rank)) and (call.has("gamma") or static):
        # ONNX's scale and bias broadcast against the normalized (trailing) axes only.
        trailing = _weight_shape(call, raw)[first:]
        dt = _compute_dtype(call)
        if call.has("gamma"):
            scale = _along(call, "gamma", trailing)
        else:
            scale = call.g.const(np.ones(trailing, dt), dt)
        ins = [x, scale]
        if call.has("beta"):
            ins.append(_along(call, "beta", trailing))
        y = call.op("LayerNormalization", *ins, axis=first, epsilon=eps, stash_type=1)
        return _down(call, y)
    mean, var = _moments(call, x, axes)
    shape = _weight_shape(call, raw) if call.has("gamma") or call.has("beta") else []
    gamma = _along(call, "gamma", shape) if call.has("gamma") else None
    beta = _along(call, "beta", shape) if call.has("beta") else None
    return _down(call, _normalize(call, x, mean, var, eps, gamma, beta))


@lowering("GroupNormalization")
def group_normalization(call: LowerCall) -> str:
    """Channels at `axis` split into `[groups, C / groups]` by a run-time Reshape (the other
    dims may be symbolic); moments per example and group, as the JAX impl."""
    axis = to_int(call.attrs["axis"]) % call.rank
    eps = to_float(call.attrs["epsilon"])
    c = call.dim(axis)
    groups = to_int(call.attrs["groups"])
    groups = c if groups == -1 else groups
    x = _up(call, call.x)
    full = shape_of(call, call.x)
    before = call.op("Slice", full, call.g.ints([0]), call.g.ints([axis]))
    after = call.op("Slice", full, call.g.ints([axis + 1]), call.g.ints([call.rank]))
    split = call.op("Concat", before, call.g.ints([groups, c // groups]), after, axis=0)
    xg = call.op("Reshape", x, split)
    reduce = [i for i in range(1, call.rank + 1) if i != axis]
    mean, var = _moments(call, xg, reduce)
    shape = [1] * (call.rank + 1)
    shape[axis], shape[axis + 1] = groups, c // groups
    gamma = _along(call, "gamma", shape) if call.has("gamma") else None
    beta = _along(call, "beta", shape) if call.has("beta") else None
    y = _normalize(call, xg, mean, var, eps, gamma, beta)
    return _down(call, call.op("Reshape", y, full))


@lowering("UnitNormalization")
def unit_normalization(call: LowerCall) -> str:
    """`x * min(rsqrt(sum(x^2)), 1e12)` in the input's dtype, as the JAX impl."""
    axes = sorted(a % call.rank for a in _raw_axes(call.attrs["axis"]))
    sq = call.op("ReduceSumSquare", call.x, call.g.ints(axes), keepdims=1)
    inv = call.op("Reciprocal", call.op("Sqrt", sq))
    cap = call.g.scalar(1.0 / 1e-12, call.dtype)
    return call.op("Mul", call.x, call.op("Min", inv, cap))


@lowering("RMSNormalization")
def rms_normalization(call: LowerCall) -> str:
    """`x * rsqrt(mean(x^2) + eps) * scale` (ONNX's RMSNormalization is opset 23)."""
    raw = _raw_axes(call.attrs["axis"])
    axes = sorted(a % call.rank for a in raw)
    eps = to_float(call.attrs["epsilon"])
    x = _up(call, call.x)
    ms = call.op("ReduceMean", call.op("Mul", x, x), call.g.ints(axes), keepdims=1)
    rrms = _rsqrt(call, ms, eps)
    y = call.op("Mul", call.op("Mul", x, rrms), _along(call, "scale", _weight_shape(call, raw)))
    return _down(call, y)
