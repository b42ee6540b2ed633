"""BatchNorm and LayerNorm with Keras 3 semantics (biased variance, epsilon inside the root)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.attrs import to_float, to_int
from nndsl.backend.jax.registry import ApplyCall, impl


def _broadcast(v: jax.Array, rank: int, axis: int) -> jax.Array:
    shape = [1] * rank
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _affine(call: ApplyCall, y: jax.Array, axis: int) -> jax.Array:
    if "gamma" in call.params:
        y = y * _broadcast(call.params["gamma"], y.ndim, axis)
    if "beta" in call.params:
        y = y + _broadcast(call.params["beta"], y.ndim, axis)
    return y


@impl("BatchNorm")
def batch_norm(call: ApplyCall) -> jax.Array:
    """Training: batch statistics, and `moving = moving * momentum + batch * (1 - momentum)`.
    Inference: the moving statistics. Statistics are computed in float32."""
    x = call.x
    axis = to_int(call.attrs.get("axis", -1)) % x.ndim
    eps = to_float(call.attrs.get("epsilon", 1e-3))
    xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    if call.training:
        reduce = tuple(i for i in range(x.ndim) if i != axis)
        mean = jnp.mean(xf, axis=reduce)
        var = jnp.mean(jnp.square(xf - _broadcast(mean, x.ndim, axis)), axis=reduce)
        m = to_float(call.attrs.get("momentum", 0.99))
        mm, mv = call.state["moving_mean"], call.state["moving_variance"]
        call.new_state["moving_mean"] = (mm * m + mean * (1.0 - m)).astype(mm.dtype)
        call.new_state["moving_variance"] = (mv * m + var * (1.0 - m)).astype(mv.dtype)
    else:
        mean = call.state["moving_mean"].astype(xf.dtype)
        var = call.state["moving_variance"].astype(xf.dtype)
    y = (xf - _broadcast(mean, x.ndim, axis)) * _broadcast(jax.lax.rsqrt(var + eps), x.ndim, axis)
    return _affine(call, y, axis).astype(x.dtype)


@impl("LayerNorm")
def layer_norm(call: ApplyCall) -> jax.Array:
    x = call.x
    axis = to_int(call.attrs.get("axis", -1)) % x.ndim
    eps = to_float(call.attrs.get("epsilon", 1e-3))
    xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(xf, axis=axis, keepdims=True)
    var = jnp.mean(jnp.square(xf - mean), axis=axis, keepdims=True)
    y = (xf - mean) * jax.lax.rsqrt(var + eps)
    return _affine(call, y, axis).astype(x.dtype)
