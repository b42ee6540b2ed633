"""Metrics reported per epoch and at test time, as Keras 3's `keras.metrics`.

Any loss may also be listed as a metric (its mean over the epoch, as Keras's loss-named
metrics such as `mean_squared_error` or `binary_crossentropy`); the specs here are the metrics
that are not losses. Many are not means of per-example values (AUC, precision, recall, F1,
IoU, R²): the backend accumulates their sufficient statistics over an epoch's batches and
computes the value once, so reported numbers equal Keras's `result()` after the same updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.attrs import declared
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    Attrs,
    OpKind,
    OpSpec,
    ShapeError,
    as_int,
    require_rank,
)
from nndsl.shapes import DType, TensorType


class Metric(OpSpec):
    kind = OpKind.METRIC
    inputs = ("y_pred",)
    min_rank: ClassVar[int] = 1  # of the prediction, batch axis included
    layout: ClassVar[str] = ""

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=self.min_rank, what="the prediction", layout=self.layout)
        return TensorType(DType.F32, ())


class ClassMetric(Metric):
    min_rank = 2
    layout = "[B, ..., classes]"


def _classes(pred: TensorType) -> int | None:
    return pred.shape[-1].as_int()


def _check_class_index(attrs: Attrs, arg: str, pred: TensorType, what: str) -> None:
    value = as_int(attrs[arg])
    classes = _classes(pred)
    if value is not None and classes is not None and value >= classes:
        raise ArgError(arg, f"{arg} = {value} exceeds the {classes} {what} of the prediction")


@register
class Accuracy(Metric):
    """Fraction of correct predictions, choosing the form from the prediction as Keras's
    `metrics = ["accuracy"]` does: arg-max over classes for `[B, ..., classes]` predictions
    (labels as class ids or one-hot), a 0.5 threshold (0 for logits) for `[B]` or `[B, 1]`."""

    name = "accuracy"
    aliases = ("acc",)  # Keras's short spelling, logged as `accuracy`
    rule = "`[B, classes]`, `[B, 1]` or `[B]` predictions"
    example = "metrics = [accuracy]"


@register
class BinaryAccuracy(Metric):
    """Fraction of predictions on the label's side of `threshold`, per element."""

    name = "binary_accuracy"
    args = (Arg("threshold", "float", 0.5, "predictions above it count as 1"),)
    rule = "`[B, ...]` predictions, 0/1 labels of the same shape"
    example = "metrics = [binary_accuracy(threshold = 0.5)]"


@register
class CategoricalAccuracy(ClassMetric):
    """Fraction of examples whose arg-max class is the label's (one-hot labels, or class ids)."""

    name = "categorical_accuracy"
    rule = "`[B, ..., classes]` predictions"
    example = "metrics = [categorical_accuracy]"


@register
class SparseCategoricalAccuracy(ClassMetric):
    """Fraction of examples whose arg-max class equals the integer label."""

    name = "sparse_categorical_accuracy"
    rule = "`[B, ..., classes]` predictions, class ids `[B, ...]`"
    example = "metrics = [sparse_categorical_accuracy]"


class _TopK(ClassMetric):
    rule = "`[B, ..., classes]` predictions with classes >= k"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        out = super().output(attrs, inputs)
        k = as_int(attrs["k"])
        classes = _classes(inputs[0])
        if k is not None and classes is not None and k > classes:
            raise ShapeError(
                f"k = {k} exceeds the {classes} classes of the prediction",
                arg="k",
                code="E0404",
                help=f"use k <= {classes}",
            )
        return out


_K = Arg("k", "int", 5, "how many top classes count as a hit", min=1)


@register
class TopKAccuracy(_TopK):
    """Fraction of examples whose label is among the `k` highest-scored classes (labels as
    class ids or one-hot). Ties count in the label's favour."""

    name = "top_k_accuracy"
    args = (_K,)
    example = "metrics = [top_k_accuracy(k = 3)]"


@register
class TopKCategoricalAccuracy(_TopK):
    """Keras's top-k accuracy for one-hot labels: the label among the `k` best classes."""

    name = "top_k_categorical_accuracy"
    args = (_K,)
    example = "metrics = [top_k_categorical_accuracy(k = 3)]"


@register
class SparseTopKCategoricalAccuracy(_TopK):
    """Keras's top-k accuracy for integer labels: the label among the `k` best classes."""

    name = "sparse_top_k_categorical_accuracy"
    args = (_K,)
    example = "metrics = [sparse_top_k_categorical_accuracy(k = 3)]"


@register
class RootMeanSquaredError(Metric):
    """Square root of the mean squared error over every element seen in the epoch."""

    name = "root_mean_squared_error"
    aliases = ("rmse",)
    rule = "any prediction shape `[B, ...]`, labels of the same shape"
    example = "metrics = [rmse]"


@register
class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at
    `num_thresholds` evenly spaced thresholds (Keras's approximation); every element of the
    prediction is one binary decision."""

    name = "auc"
    args = (
        Arg("num_thresholds", "int", 200, "thresholds the curve is sampled at", min=2),
        Arg("curve", "str", "ROC", "the curve", choices=("ROC", "PR")),
        Arg(
            "summation_method",
            "str",
            "interpolation",
            "how areas between thresholds are summed",
            choices=("interpolation", "minoring", "majoring"),
        ),
        Arg("from_logits", "bool", False, "apply a sigmoid to the prediction first"),
    )
    rule = "`[B, ...]` scores in [0, 1] (or logits), 0/1 labels of the same shape"
    example = 'metrics = [auc(curve = "PR")]'


_THRESHOLD = Arg(
    "thresholds",
    "float",
    None,
    "a prediction above it is positive; none: 0.5 (or any top-k class)",
    nullable=True,
    min=0.0,
    max=1.0,
)
_TOP_K = Arg(
    "top_k", "int", None, "only the k best classes of an example count", min=1, nullable=True
)
_CLASS_ID = Arg("class_id", "int", None, "only this class counts", min=0, nullable=True)


class _ConfusionMetric(Metric):
    rule = "`[B, ...]` scores, 0/1 (multi-hot) labels of the same shape"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        pred = inputs[0]
        if attrs["class_id"] is not None or declared(attrs, "top_k", None) is not None:
            require_rank(pred, at_least=2, what="the prediction", layout="[B, ..., classes]")
        _check_class_index(attrs, "class_id", pred, "classes")
        k = as_int(declared(attrs, "top_k", None))
        classes = _classes(pred) if pred.rank >= 2 else None
        if k is not None and classes is not None and k > classes:
            raise ArgError("top_k", f"top_k = {k} exceeds the {classes} classes of the prediction")
        return super().output(attrs, inputs)


@register
class Precision(_ConfusionMetric):
    """True positives / predicted positives over the epoch."""

    name = "precision"
    args = (_THRESHOLD, _TOP_K, _CLASS_ID)
    example = "metrics = [precision(thresholds = 0.5)]"


@register
class Recall(_ConfusionMetric):
    """True positives / actual positives over the epoch."""

    name = "recall"
    args = (_THRESHOLD, _TOP_K, _CLASS_ID)
    example = "metrics = [recall(class_id = 2)]"


class _AtValue(_ConfusionMetric):
    """Best value of one rate subject to a minimum of another, over `num_thresholds` evenly
    spaced thresholds (Keras's `*At*` metrics)."""


def _at_args(constraint: str) -> tuple[Arg, ...]:
    return (
        Arg(constraint, "float", doc=f"the minimum {constraint} required", min=0.0, max=1.0),
        Arg("num_thresholds", "int", 200, "thresholds tried", min=1),
        _CLASS_ID,
    )


@register
class PrecisionAtRecall(_AtValue):
    """Best precision at a recall of at least `recall`."""

    name = "precision_at_recall"
    args = _at_args("recall")
    example = "metrics = [precision_at_recall(0.8)]"


@register
class RecallAtPrecision(_AtValue):
    """Best recall at a precision of at least `precision`."""

    name = "recall_at_precision"
    args = _at_args("precision")
    example = "metrics = [recall_at_precision(0.8)]"


@register
class SensitivityAtSpecificity(_AtValue):
    """Best sensitivity (recall) at a specificity of at least `specificity`."""

    name = "sensitivity_at_specificity"
    args = _at_args("specificity")
    example = "metrics = [sensitivity_at_specificity(0.9)]"


@register
class SpecificityAtSensitivity(_AtValue):
    """Best specificity at a sensitivity (recall) of at least `sensitivity`."""

    name = "specificity_at_sensitivity"
    args = _at_args("sensitivity")
    example = "metrics = [specificity_at_sensitivity(0.9)]"


# Keras's default `average = None` returns the per-class vector, which a log line cannot show;
# here the default is "macro" (the vector's mean).
_AVERAGE = Arg(
    "average",
    "str",
    "macro",
    "how per-class scores combine: micro (global counts), macro (mean), weighted (by support)",
    choices=("micro", "macro", "weighted"),
)
_F_THRESHOLD = Arg(
    "threshold",
    "float",
    None,
    "a score above it is positive; none: each example's arg-max class",
    nullable=True,
    min=0.0,
    max=1.0,
    min_exclusive=True,
)


class _FScore(Metric):
    min_rank = 2
    layout = "[B, classes]"
    rule = "`[B, classes]` scores, one-hot (multi-hot) labels of the same shape"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], 2, what="the prediction", layout=self.layout)
        return super().output(attrs, inputs)


@register
class FBetaScore(_FScore):
    """F-beta score from true/false positives and false negatives per class over the epoch
    (recall weighted `beta` times as much as precision)."""

    name = "fbeta_score"
    args = (
        _AVERAGE,
        Arg(
            "beta", "float", 1.0, "weight of recall against precision", min=0.0, min_exclusive=True
        ),
        _F_THRESHOLD,
    )
    example = 'metrics = [fbeta_score(average = "macro", beta = 2.0)]'


@register
class F1Score(_FScore):
    """F1 score (harmonic mean of precision and recall) per class over the epoch."""

    name = "f1_score"
    args = (_AVERAGE, _F_THRESHOLD)
    example = 'metrics = [f1_score(average = "micro")]'


class _IoU(ClassMetric):
    rule = "`[B, ..., classes]` scores (arg-max taken), class ids or one-hot labels"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        out = super().output(attrs, inputs)
        classes = _classes(inputs[0])
        n = as_int(attrs["num_classes"])
        if classes is not None and n is not None and n != classes:
            raise ArgError(
                "num_classes",
                f"num_classes = {n} but the prediction has {classes} classes",
                help=f"use num_classes = {classes}",
            )
        return out


_NUM_CLASSES = Arg("num_classes", "int", doc="number of classes", min=1)
_IGNORE = Arg("ignore_class", "int", None, "a label id left out of the counts", nullable=True)


@register
class MeanIoU(_IoU):
    """Intersection over union per class from the epoch's confusion matrix, averaged over the
    classes that occur."""

    name = "mean_iou"
    args = (_NUM_CLASSES, _IGNORE)
    example = "metrics = [mean_iou(num_classes = 10)]"


@register
class IoU(_IoU):
    """Intersection over union of the classes `target_class_ids`, averaged."""

    name = "iou"
    args = (
        _NUM_CLASSES,
        Arg("target_class_ids", "ints", doc="the classes averaged over"),
        _IGNORE,
    )
    example = "metrics = [iou(num_classes = 10, target_class_ids = [0, 1])]"

    def validate(self, attrs: Attrs) -> None:
        n = as_int(attrs["num_classes"])
        ids = attrs["target_class_ids"]
        for c in ids if isinstance(ids, tuple) else (ids,):
            c_int = as_int(c)
            if c_int is not None and n is not None and not 0 <= c_int < n:
                raise ArgError(
                    "target_class_ids",
                    f"class id {c_int} is outside [0, {n})",
                    help=f"class ids are 0 to {n - 1}",
                )


@register
class R2Score(Metric):
    """Coefficient of determination `1 - SS_res / SS_tot` per output, over the epoch."""

    name = "r2_score"
    args = (
        Arg(
            "class_aggregation",
            "str",
            "uniform_average",
            "how per-output scores combine",
            choices=("uniform_average", "variance_weighted_average"),
        ),
        Arg("num_regressors", "int", 0, "regressors for the adjusted R²; 0: plain R²", min=0),
    )
    min_rank = 2
    layout = "[B, outputs]"
    rule = "`[B, outputs]` predictions, labels of the same shape"
    example = "metrics = [r2_score]"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], 2, what="the prediction", layout=self.layout)
        return super().output(attrs, inputs)
