"""Metrics as streaming statistics, so epoch values equal Keras's `result()` after the same
updates.

Protocol: a metric is a `Streaming`. `update(call)` returns this batch's sufficient statistics,
a dict of arrays that are sums (padded rows weighted 0 by `call.mask`); the statistics of an
epoch's batches are added up leaf by leaf (`add_stats`); `finalize(stats, attrs)` turns the
totals into the value. A per-example mean is the special case `{total, count}` (`mean_metric`);
AUC keeps confusion counts per threshold, F-scores per-class counts, IoU a confusion matrix,
R² per-output sums. Any loss also serves as a mean metric (`loss_metric`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.labels import (
    EPSILON,
    class_ids,
    is_sparse,
    like_pred,
    one_hot_labels,
    per_example,
    row_mask,
)
from nndsl.backend.jax.registry import Attrs, LabelCall, impl
from nndsl.ops.attrs import declared, to_float, to_int

Stats = dict[str, jax.Array]
NEG_INF = -1e10  # Keras's stand-in for -inf in top-k filtering


@dataclass(frozen=True)
class Streaming:
    """A metric: per-batch sums, then the value from the summed statistics."""

    update: Callable[[LabelCall], Stats]
    finalize: Callable[[Mapping[str, jax.Array], Attrs], jax.Array]

    def __call__(self, call: LabelCall) -> jax.Array:
        """The metric on this one batch alone."""
        return self.finalize(self.update(call), call.attrs)


def add_stats(a: Stats, b: Stats) -> Stats:
    return {k: a[k] + b[k] for k in a}


def _divide_no_nan(a: jax.Array, b: jax.Array) -> jax.Array:
    safe = jnp.where(b == 0, 1.0, b)
    return jnp.where(b == 0, 0.0, a / safe)


# -- means of per-example values ---------------------------------------------------------------
def mean_stats(values: jax.Array, call: LabelCall) -> Stats:
    """`{total, count}` of per-example values (each example's mean over its other axes)."""
    v = per_example(values.astype(jnp.float32))
    if v.ndim == 0:  # one value for the whole batch: weigh it by the batch's real rows
        count = jnp.sum(row_mask(call, jnp.zeros(call.y_pred.shape[:1], jnp.float32)))
        return {"total": v * count, "count": count}
    m = row_mask(call, v)
    return {"total": jnp.sum(jnp.where(m > 0, v * m, 0.0)), "count": jnp.sum(m)}


def _mean(stats: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    return _divide_no_nan(stats["total"], stats["count"])


def mean_metric(name: str) -> Callable[[Callable[[LabelCall], jax.Array]], Streaming]:
    """Register `fn(call) -> values [B, ...]` as the mean of its per-example values."""

    def deco(fn: Callable[[LabelCall], jax.Array]) -> Streaming:
        metric = Streaming(lambda call: mean_stats(fn(call), call), _mean)
        impl(name)(metric)
        return metric

    return deco


def loss_metric(loss_fn: Callable[[LabelCall], jax.Array], sign: float = 1.0) -> Streaming:
    """A loss used as a metric: the mean of its values (times `sign`), as Keras's loss-named
    metrics."""
    return Streaming(lambda call: mean_stats(sign * loss_fn(call), call), _mean)


# -- accuracies ---------------------------------------------------------------------------------
@mean_metric("accuracy")
def accuracy(call: LabelCall) -> jax.Array:
    """Arg-max for `[B, ..., C]` with C > 1; otherwise a threshold of 0.5 (0 for logits)."""
    pred = call.y_pred
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        return jnp.argmax(pred, axis=-1).astype(jnp.int32) == class_ids(pred, call.y_true)
    threshold = 0.0 if call.from_logits else 0.5
    return (pred > threshold) == (like_pred(pred, call.y_true) > 0.5)


@mean_metric("binary_accuracy")
def binary_accuracy(call: LabelCall) -> jax.Array:
    threshold = to_float(call.attrs["threshold"])
    y = like_pred(call.y_pred, call.y_true)
    return (call.y_pred > threshold).astype(y.dtype) == y


def _arg_max_hits(call: LabelCall) -> jax.Array:
    return jnp.argmax(call.y_pred, axis=-1).astype(jnp.int32) == class_ids(call.y_pred, call.y_true)


mean_metric("categorical_accuracy")(_arg_max_hits)
mean_metric("sparse_categorical_accuracy")(_arg_max_hits)


def _top_k_hits(call: LabelCall) -> jax.Array:
    """A hit when fewer than `k` classes score strictly higher than the true one (Keras's
    `in_top_k`)."""
    k = to_int(call.attrs["k"])
    ids = class_ids(call.y_pred, call.y_true)
    true_score = jnp.take_along_axis(call.y_pred, ids[..., None], axis=-1)
    true_score = jnp.where(jnp.isnan(true_score), -jnp.inf, true_score)
    return jnp.sum(call.y_pred > true_score, axis=-1) < k


for _name in ("top_k_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
    mean_metric(_name)(_top_k_hits)


# -- root mean squared error -----------------------------------------------------------------
def _rmse_update(call: LabelCall) -> Stats:
    return mean_stats(jnp.square(call.y_pred - like_pred(call.y_pred, call.y_true)), call)


impl("root_mean_squared_error")(Streaming(_rmse_update, lambda s, attrs: jnp.sqrt(_mean(s, attrs))))


# -- confusion counts: precision, recall, AUC, ...@... -----------------------------------------
def _binary_inputs(call: LabelCall, class_id: object = None) -> tuple[jax.Array, ...]:
    """Labels as 0/1, predictions and per-element weights, all of the prediction's shape."""
    pred = call.y_pred.astype(jnp.float32)
    y = (like_pred(pred, call.y_true) != 0).astype(jnp.float32)
    w = row_mask(call, pred)
    if class_id is not None:
        c = to_int(class_id)  # type: ignore[arg-type]
        pred, y, w = pred[..., c], y[..., c], w[..., c]
    return y, pred, w


def _bucket_counts(y: jax.Array, pred: jax.Array, w: jax.Array, n: int, relu: bool) -> Stats:
    """Keras's evenly-spaced-threshold counts: `tp[i]`, `fp[i]` at `n` thresholds, by
    bucketing each prediction and summing the buckets from the top."""
    pred = jnp.clip(pred.reshape(-1), 0.0, 1.0)
    y, w = y.reshape(-1), w.reshape(-1)
    bucket = jnp.ceil(pred * (n - 1)) - 1
    if relu:
        bucket = jnp.maximum(bucket, 0)
    bucket = bucket.astype(jnp.int32)
    tp = jax.ops.segment_sum(y * w, bucket, num_segments=n)
    fp = jax.ops.segment_sum((1.0 - y) * w, bucket, num_segments=n)
    return {
        "tp": jnp.flip(jnp.cumsum(jnp.flip(tp))),
        "fp": jnp.flip(jnp.cumsum(jnp.flip(fp))),
        "positives": jnp.sum(y * w),
        "negatives": jnp.sum((1.0 - y) * w),
    }


def _threshold_counts(y: jax.Array, pred: jax.Array, w: jax.Array, thresholds: jax.Array) -> Stats:
    """Counts at arbitrary thresholds: positive when `pred > threshold`."""
    above = (pred.reshape(1, -1) > thresholds[:, None]).astype(jnp.float32)
    y, w = y.reshape(1, -1), w.reshape(1, -1)
    return {
        "tp": jnp.sum(above * y * w, axis=1),
        "fp": jnp.sum(above * (1.0 - y) * w, axis=1),
        "positives": jnp.sum(y * w),
        "negatives": jnp.sum((1.0 - y) * w),
    }


def _rates(s: Mapping[str, jax.Array]) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    tp, fp = s["tp"], s["fp"]
    return tp, fp, s["negatives"] - fp, s["positives"] - tp  # tp, fp, tn, fn


def _auc_update(call: LabelCall) -> Stats:
    y, pred, w = _binary_inputs(call)
    if bool(call.attrs["from_logits"]):
        pred = jax.nn.sigmoid(pred)
    return _bucket_counts(y, pred, w, to_int(call.attrs["num_thresholds"]), relu=True)


def _auc_finalize(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    tp, fp, tn, fn = _rates(s)
    n = tp.shape[0]
    method = str(attrs["summation_method"])
    if attrs["curve"] == "PR" and method == "interpolation":
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        slope = _divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = jnp.where(
            (p[: n - 1] > 0) & (p[1:] > 0),
            _divide_no_nan(p[: n - 1], jnp.maximum(p[1:], 0)),
            jnp.ones_like(p[1:]),
        )
        increments = _divide_no_nan(
            slope * (dtp + intercept * jnp.log(ratio)), jnp.maximum(tp[1:] + fn[1:], 0)
        )
        return jnp.sum(increments)
    recall = _divide_no_nan(tp, tp + fn)
    if attrs["curve"] == "ROC":
        x, y = _divide_no_nan(fp, fp + tn), recall
    else:
        x, y = recall, _divide_no_nan(tp, tp + fp)
    if method == "interpolation":
        heights = (y[: n - 1] + y[1:]) / 2.0
    elif method == "minoring":
        heights = jnp.minimum(y[: n - 1], y[1:])
    else:
        heights = jnp.maximum(y[: n - 1], y[1:])
    return jnp.sum((x[: n - 1] - x[1:]) * heights)


impl("auc")(Streaming(_auc_update, _auc_finalize))


def _filter_top_k(x: jax.Array, k: int) -> jax.Array:
    _, idx = jax.lax.top_k(x, k)
    keep = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * keep + NEG_INF * (1 - keep)


def _precision_recall_update(call: LabelCall) -> Stats:
    top_k = call.attrs["top_k"]
    pred = call.y_pred.astype(jnp.float32)
    if top_k is not None:
        pred = _filter_top_k(pred, to_int(top_k))
    y, pred, w = _binary_inputs(
        LabelCall(call.attrs, pred, call.y_true, call.from_logits, call.mask),
        call.attrs["class_id"],
    )
    given = call.attrs["thresholds"]
    threshold = to_float(given) if given is not None else (0.5 if top_k is None else NEG_INF)
    return _threshold_counts(y, pred, w, jnp.array([threshold], jnp.float32))


def _precision(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    tp, fp, _, _ = _rates(s)
    return _divide_no_nan(tp, tp + fp)[0]


def _recall(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    tp, _, _, fn = _rates(s)
    return _divide_no_nan(tp, tp + fn)[0]


impl("precision")(Streaming(_precision_recall_update, _precision))
impl("recall")(Streaming(_precision_recall_update, _recall))


def _at_update(call: LabelCall) -> Stats:
    y, pred, w = _binary_inputs(call, call.attrs["class_id"])
    n = to_int(call.attrs["num_thresholds"])
    if n == 1:
        return _threshold_counts(y, pred, w, jnp.array([0.5], jnp.float32))
    return _bucket_counts(y, pred, w, n, relu=False)


def _at_value(constrained: str, dependent: str, value_arg: str) -> Streaming:
    """Max of `dependent` over thresholds where `constrained` >= the argument's value."""

    def finalize(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
        tp, fp, tn, fn = _rates(s)
        rates = {
            "recall": _divide_no_nan(tp, tp + fn),
            "precision": _divide_no_nan(tp, tp + fp),
            "specificity": _divide_no_nan(tn, tn + fp),
        }
        feasible = rates[constrained] >= to_float(attrs[value_arg])
        return jnp.max(jnp.where(feasible, rates[dependent], 0.0), initial=0.0)

    return Streaming(_at_update, finalize)


impl("precision_at_recall")(_at_value("recall", "precision", "recall"))
impl("recall_at_precision")(_at_value("precision", "recall", "precision"))
impl("sensitivity_at_specificity")(_at_value("specificity", "recall", "specificity"))
impl("specificity_at_sensitivity")(_at_value("recall", "specificity", "sensitivity"))


# -- F-scores ----------------------------------------------------------------------------------
def _fbeta_update(call: LabelCall) -> Stats:
    pred = call.y_pred.astype(jnp.float32)
    y = one_hot_labels(pred, call.y_true)
    threshold = call.attrs["threshold"]
    if threshold is None:
        hit = (pred >= jnp.max(pred, axis=-1, keepdims=True)) & (jnp.abs(pred) > 1e-9)
    else:
        hit = pred > to_float(threshold)
    p = hit.astype(jnp.float32)
    w = row_mask(call, pred)
    axis = None if call.attrs["average"] == "micro" else 0
    return {
        "tp": jnp.sum(p * y * w, axis=axis),
        "fp": jnp.sum(p * (1 - y) * w, axis=axis),
        "fn": jnp.sum((1 - p) * y * w, axis=axis),
        "support": jnp.sum(y * w, axis=axis),
    }


def _fbeta_finalize(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    beta = to_float(declared(attrs, "beta", 1.0))
    tp = s["tp"]
    precision = tp / (tp + s["fp"] + EPSILON)
    recall = tp / (tp + s["fn"] + EPSILON)
    f = precision * recall / (beta**2 * precision + recall + EPSILON) * (1 + beta**2)
    if attrs["average"] == "weighted":
        weights = s["support"] / (jnp.sum(s["support"]) + EPSILON)
        return jnp.sum(f * weights)
    return jnp.mean(f)


impl("fbeta_score")(Streaming(_fbeta_update, _fbeta_finalize))
impl("f1_score")(Streaming(_fbeta_update, _fbeta_finalize))


# -- intersection over union -------------------------------------------------------------------
def _iou_update(call: LabelCall) -> Stats:
    n = to_int(call.attrs["num_classes"])
    truth = class_ids(call.y_pred, call.y_true).reshape(-1)
    guess = jnp.argmax(call.y_pred, axis=-1).astype(jnp.int32).reshape(-1)
    w = row_mask(call, jnp.zeros(call.y_pred.shape[:-1], jnp.float32)).reshape(-1)
    valid = (truth >= 0) & (truth < n) & (guess >= 0) & (guess < n)
    ignore = call.attrs["ignore_class"]
    if ignore is not None:
        valid = valid & (truth != to_int(ignore))
    w = jnp.where(valid, w, 0.0)
    onehot_true = jax.nn.one_hot(jnp.where(valid, truth, 0), n, dtype=jnp.float32) * w[:, None]
    onehot_pred = jax.nn.one_hot(jnp.where(valid, guess, 0), n, dtype=jnp.float32)
    return {"cm": onehot_true.T @ onehot_pred}


def _iou_finalize(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    cm = s["cm"]
    tp = jnp.diag(cm)
    denominator = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
    ids = declared(attrs, "target_class_ids", None)
    if ids is not None:
        index = jnp.array([to_int(i) for i in (ids if isinstance(ids, tuple) else (ids,))])
        tp, denominator = tp[index], denominator[index]
    valid = denominator > 1e-9
    iou = jnp.where(valid, tp / (denominator + EPSILON), 0.0)
    return jnp.sum(iou) / (jnp.sum(valid.astype(jnp.float32)) + EPSILON)


impl("mean_iou")(Streaming(_iou_update, _iou_finalize))
impl("iou")(Streaming(_iou_update, _iou_finalize))


# -- R² ----------------------------------------------------------------------------------------
def _r2_update(call: LabelCall) -> Stats:
    pred = call.y_pred.astype(jnp.float32)
    y = like_pred(pred, call.y_true)
    w = row_mask(call, y)
    return {
        "sum": jnp.sum(y * w, axis=0),
        "squared_sum": jnp.sum(y * y * w, axis=0),
        "residual": jnp.sum(jnp.square(y - pred) * w, axis=0),
        "count": jnp.sum(w, axis=0),
        "num_samples": jnp.sum(w),
    }


def _r2_finalize(s: Mapping[str, jax.Array], attrs: Attrs) -> jax.Array:
    mean = s["sum"] / s["count"]
    total = s["squared_sum"] - s["sum"] * mean
    raw = 1 - s["residual"] / total
    raw = jnp.where(jnp.isinf(raw), 0.0, raw)
    if attrs["class_aggregation"] == "variance_weighted_average":
        score = jnp.sum(total * raw) / jnp.sum(total)
    else:
        score = jnp.mean(raw)
    p = float(to_int(attrs["num_regressors"]))
    if p:
        n = s["num_samples"]
        adjusted = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        score = jnp.where((p > n - 1) | (n - p - 1 == 0), score, adjusted)
    return score


impl("r2_score")(Streaming(_r2_update, _r2_finalize))


__all__ = ["Stats", "Streaming", "add_stats", "is_sparse", "loss_metric", "mean_stats"]
