"""Losses as per-example values `[B]`, following Keras 3's formulas (clipping at 1e-7).

A loss returns one value per example (the mean over its other axes, so that the mean over the
batch is Keras's `sum_over_batch_size` reduction), or, for losses Keras defines over the whole
batch (`dice`, `tversky` without `axis`), one value computed with padded rows masked out.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from nndsl.backend.jax.impls.labels import (
    EPSILON,
    is_sparse,
    like_pred,
    one_hot_labels,
    per_example,
    row_mask,
)
from nndsl.backend.jax.registry import LabelCall, impl
from nndsl.ops.attrs import to_float, to_int

__all__ = ["EPSILON"]


def _axis(call: LabelCall) -> int:
    return to_int(call.attrs["axis"]) % call.y_pred.ndim


def _log_probs(pred: jax.Array, from_logits: bool, axis: int = -1) -> jax.Array:
    if from_logits:
        return jax.nn.log_softmax(pred, axis=axis)
    p = pred / jnp.sum(pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def _smooth_categorical(y: jax.Array, smoothing: float, axis: int) -> jax.Array:
    if smoothing:
        return y * (1.0 - smoothing) + smoothing / y.shape[axis]
    return y


def _smooth_binary(y: jax.Array, smoothing: float) -> jax.Array:
    return y * (1.0 - smoothing) + 0.5 * smoothing if smoothing else y


def _flag(call: LabelCall, name: str) -> bool:
    return bool(call.attrs[name])


@impl("cross_entropy")
def cross_entropy(call: LabelCall) -> jax.Array:
    """Integer labels `[B, ...]` use the sparse form; one-hot `[B, ..., C]` the categorical one."""
    logp = _log_probs(call.y_pred, _flag(call, "from_logits"))
    smoothing = to_float(call.attrs["label_smoothing"])
    if is_sparse(call.y_pred, call.y_true) and smoothing == 0.0:
        ids = call.y_true.astype(jnp.int32)
        return per_example(-jnp.take_along_axis(logp, ids[..., None], axis=-1)[..., 0])
    onehot = _smooth_categorical(one_hot_labels(call.y_pred, call.y_true), smoothing, -1)
    return per_example(-jnp.sum(onehot * logp, axis=-1))


@impl("categorical_crossentropy")
def categorical_crossentropy(call: LabelCall) -> jax.Array:
    axis = _axis(call)
    y = _smooth_categorical(
        like_pred(call.y_pred, call.y_true),
        to_float(call.attrs["label_smoothing"]),
        axis,
    )
    logp = _log_probs(call.y_pred, _flag(call, "from_logits"), axis)
    return per_example(-jnp.sum(y * logp, axis=axis))


@impl("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(call: LabelCall) -> jax.Array:
    y = call.y_true
    if y.ndim == call.y_pred.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    logp = _log_probs(call.y_pred, _flag(call, "from_logits"))
    picked = jnp.take_along_axis(logp, y.astype(jnp.int32)[..., None], axis=-1)[..., 0]
    return per_example(-picked)


def _bce(y: jax.Array, x: jax.Array, from_logits: bool) -> jax.Array:
    if from_logits:
        return -y * jax.nn.log_sigmoid(x) - (1.0 - y) * jax.nn.log_sigmoid(-x)
    p = jnp.clip(x, EPSILON, 1.0 - EPSILON)
    return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))


@impl("binary_crossentropy")
def binary_crossentropy(call: LabelCall) -> jax.Array:
    y = _smooth_binary(like_pred(call.y_pred, call.y_true), to_float(call.attrs["label_smoothing"]))
    loss = _bce(y, call.y_pred, _flag(call, "from_logits"))
    if call.y_pred.ndim > 1:
        loss = jnp.mean(loss, axis=_axis(call))
    return per_example(loss)


@impl("binary_focal_crossentropy")
def binary_focal_crossentropy(call: LabelCall) -> jax.Array:
    y = _smooth_binary(like_pred(call.y_pred, call.y_true), to_float(call.attrs["label_smoothing"]))
    p = jax.nn.sigmoid(call.y_pred) if _flag(call, "from_logits") else call.y_pred
    bce = _bce(y, p, False)
    p_t = y * p + (1 - y) * (1 - p)
    loss = jnp.power(1.0 - p_t, to_float(call.attrs["gamma"])) * bce
    if _flag(call, "apply_class_balancing"):
        alpha = to_float(call.attrs["alpha"])
        loss = (y * alpha + (1 - y) * (1 - alpha)) * loss
    if call.y_pred.ndim > 1:
        loss = jnp.mean(loss, axis=_axis(call))
    return per_example(loss)


@impl("categorical_focal_crossentropy")
def categorical_focal_crossentropy(call: LabelCall) -> jax.Array:
    axis = _axis(call)
    y = _smooth_categorical(
        like_pred(call.y_pred, call.y_true), to_float(call.attrs["label_smoothing"]), axis
    )
    p = call.y_pred
    if _flag(call, "from_logits"):
        p = jax.nn.softmax(p, axis=axis)
    p = jnp.clip(p / jnp.sum(p, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    weight = to_float(call.attrs["alpha"]) * jnp.power(1.0 - p, to_float(call.attrs["gamma"]))
    return per_example(jnp.sum(weight * -y * jnp.log(p), axis=axis))


@impl("categorical_generalized_cross_entropy")
def categorical_generalized_cross_entropy(call: LabelCall) -> jax.Array:
    q = to_float(call.attrs["q"])
    y = call.y_true
    if y.ndim == call.y_pred.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    onehot = jax.nn.one_hot(y.astype(jnp.int32), call.y_pred.shape[-1], dtype=call.y_pred.dtype)
    p = jnp.sum(call.y_pred * onehot, axis=-1)
    return per_example((1.0 - jnp.power(p, q)) / q)


def _elementwise(
    name: str, fn: Callable[[jax.Array, jax.Array], jax.Array]
) -> Callable[[LabelCall], jax.Array]:
    """A loss `mean(fn(y, p), axis=-1)` on labels brought to the prediction's shape."""

    def loss(call: LabelCall) -> jax.Array:
        y = like_pred(call.y_pred, call.y_true)
        values = fn(y, call.y_pred)
        return per_example(jnp.mean(values, axis=-1) if values.ndim > 1 else values)

    loss.__name__ = name
    return impl(name)(loss)


def _hinge_labels(y: jax.Array) -> jax.Array:
    """0/1 labels become -1/1 (when every label of the batch is 0 or 1, as Keras decides)."""
    binary = jnp.all((y == 0) | (y == 1))
    return jnp.where(binary, 2.0 * y - 1.0, y)


def _msle(y: jax.Array, p: jax.Array) -> jax.Array:
    return jnp.square(
        jnp.log(jnp.maximum(p, EPSILON) + 1.0) - jnp.log(jnp.maximum(y, EPSILON) + 1.0)
    )


def _log_cosh(y: jax.Array, p: jax.Array) -> jax.Array:
    x = p - y
    return x + jax.nn.softplus(-2.0 * x) - math.log(2.0)


_elementwise("mean_squared_error", lambda y, p: jnp.square(y - p))
_elementwise("mean_absolute_error", lambda y, p: jnp.abs(y - p))
_elementwise(
    "mean_absolute_percentage_error",
    lambda y, p: 100.0 * jnp.abs((y - p) / jnp.maximum(jnp.abs(y), EPSILON)),
)
_elementwise("mean_squared_logarithmic_error", _msle)
_elementwise("log_cosh", _log_cosh)
_elementwise("poisson", lambda y, p: p - y * jnp.log(p + EPSILON))
_elementwise("hinge", lambda y, p: jnp.maximum(1.0 - _hinge_labels(y) * p, 0.0))
_elementwise("squared_hinge", lambda y, p: jnp.square(jnp.maximum(1.0 - _hinge_labels(y) * p, 0.0)))


@impl("kl_divergence")
def kl_divergence(call: LabelCall) -> jax.Array:
    y = jnp.clip(like_pred(call.y_pred, call.y_true), EPSILON, 1.0)
    p = jnp.clip(call.y_pred, EPSILON, 1.0)
    values = y * jnp.log(y / p)
    return per_example(jnp.sum(values, axis=-1) if values.ndim > 1 else values)


@impl("categorical_hinge")
def categorical_hinge(call: LabelCall) -> jax.Array:
    y = like_pred(call.y_pred, call.y_true)
    p = call.y_pred
    axis = -1 if p.ndim > 1 else 0
    pos = jnp.sum(y * p, axis=axis)
    neg = jnp.max((1.0 - y) * p, axis=axis)
    loss = jnp.maximum(neg - pos + 1.0, 0.0)
    return per_example(loss) if p.ndim > 1 else jnp.broadcast_to(loss, p.shape[:1])


@impl("huber")
def huber(call: LabelCall) -> jax.Array:
    delta = to_float(call.attrs["delta"])
    err = call.y_pred - like_pred(call.y_pred, call.y_true)
    a = jnp.abs(err)
    values = jnp.where(a <= delta, 0.5 * jnp.square(err), delta * a - 0.5 * delta**2)
    return per_example(jnp.mean(values, axis=-1) if values.ndim > 1 else values)


def _l2_normalize(x: jax.Array, axis: int) -> jax.Array:
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / EPSILON)


@impl("cosine_similarity")
def cosine_similarity(call: LabelCall) -> jax.Array:
    axis = _axis(call)
    y = _l2_normalize(like_pred(call.y_pred, call.y_true), axis)
    p = _l2_normalize(call.y_pred, axis)
    values = -jnp.sum(y * p, axis=axis)
    return per_example(values)


def _int_list(value: object) -> tuple[int, ...]:
    return tuple(to_int(v) for v in (value if isinstance(value, tuple) else (value,)))


def _overlap_sums(call: LabelCall) -> tuple[tuple[jax.Array, ...], bool]:
    """sum(y), sum(p), sum(y * p), sum((1 - p) * y), sum(p * (1 - y)) over `axis`, padded rows
    masked out, and whether the batch axis is among those summed (one value per batch)."""
    y = like_pred(call.y_pred, call.y_true)
    p = call.y_pred
    m = row_mask(call, p)
    axes_attr = call.attrs["axis"]
    rank = p.ndim
    axes = (
        tuple(range(rank)) if axes_attr is None else tuple(a % rank for a in _int_list(axes_attr))
    )
    sums = tuple(jnp.sum(v * m, axis=axes) for v in (y, p, y * p, (1 - p) * y, p * (1 - y)))
    return sums, 0 in axes


def _overlap_loss(values: jax.Array, batch_level: bool) -> jax.Array:
    if batch_level:
        return jnp.mean(values)  # one value for the batch, as Keras
    return per_example(values)


@impl("dice")
def dice(call: LabelCall) -> jax.Array:
    (sy, sp, inter, _, _), batch_level = _overlap_sums(call)
    values = 1.0 - 2.0 * inter / (sy + sp + EPSILON)
    return _overlap_loss(values, batch_level)


@impl("tversky")
def tversky(call: LabelCall) -> jax.Array:
    (_, _, inter, fp, fn), batch_level = _overlap_sums(call)
    alpha, beta = to_float(call.attrs["alpha"]), to_float(call.attrs["beta"])
    values = 1.0 - inter / (inter + fp * alpha + fn * beta + EPSILON)
    return _overlap_loss(values, batch_level)


@impl("ctc")
def ctc(call: LabelCall) -> jax.Array:
    """Keras's CTC: blank 0, every time step valid, label length = count of non-zero ids."""
    labels = call.y_true.astype(jnp.int32)
    logits = call.y_pred.astype(jnp.float32)
    lengths = jnp.sum(labels != 0, axis=-1)
    label_paddings = (jnp.arange(labels.shape[1])[None, :] >= lengths[:, None]).astype(logits.dtype)
    logit_paddings = jnp.zeros(logits.shape[:2], logits.dtype)
    loss: jax.Array = optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=0)
    return loss
