"""Losses: Keras 3's loss functions, declared with their arguments and a check of the prediction.

Each loss declares the labels it expects (`labels`, one of `LABEL_KINDS`). The checker checks
the model's output type against that kind statically (a class-id loss needs a class axis, CTC a
`[B, T, classes]` output); the labels themselves only exist at run time, so the runtime checks
the data against the same kind before training starts. Every loss is also a metric (its mean
over an epoch, as Keras's loss-named metrics are).
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
    normalize_axis,
    require_rank,
)
from nndsl.shapes import DType, TensorType

# What the labels look like, relative to the prediction `[B, ..., classes]`:
LABEL_KINDS = {
    "classes": "integer class ids `[B, ...]` or one-hot labels of the prediction's shape",
    "sparse": "integer class ids: the prediction's shape without its class axis",
    "onehot": "one-hot (or soft) labels of the prediction's shape",
    "binary": "0/1 labels of the prediction's shape",
    "same": "labels of the prediction's shape",
    "sequence": "integer label sequences `[B, L]`, 0 marking padding (the CTC blank)",
}

FROM_LOGITS = Arg("from_logits", "bool", False, "predictions are logits, not probabilities")
AXIS = Arg("axis", "int", -1, "the class axis of the prediction")


class Loss(OpSpec):
    kind = OpKind.LOSS
    inputs = ("y_pred",)
    labels: ClassVar[str] = "same"  # a key of LABEL_KINDS
    # As a metric, the loss is reported times this (Keras's `cosine_similarity` metric is the
    # similarity, its loss the negated similarity).
    metric_sign: ClassVar[float] = 1.0

    @property
    def label_rule(self) -> str:
        return LABEL_KINDS[self.labels]

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        pred = inputs[0]
        require_rank(pred, at_least=1, what="the prediction")
        axis = declared(attrs, "axis", None)
        if isinstance(axis, int) and not isinstance(axis, bool):
            if normalize_axis(axis, pred.rank) == 0 and pred.rank > 1:
                raise ArgError(
                    "axis", "axis 0 is the batch axis", help="use -1, the last axis (default)"
                )
        return TensorType(DType.F32, ())


class ClassLoss(Loss):
    """A loss over a class axis: the prediction needs one besides the batch axis."""

    labels = "onehot"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=2, what="the prediction", layout="[B, ..., classes]")
        return super().output(attrs, inputs)


@register
class CrossEntropy(ClassLoss):
    """Categorical cross-entropy for `[B, ..., classes]` predictions that accepts either label
    form: integer class ids (as `sparse_categorical_crossentropy`) or one-hot labels (as
    `categorical_crossentropy`), decided by the labels' rank."""

    name = "cross_entropy"
    args = (
        FROM_LOGITS,
        Arg("label_smoothing", "float", 0.0, "mix one-hot labels with uniform", min=0.0, max=1.0),
    )
    labels = "classes"
    rule = "`[B, ..., classes]` predictions"
    example = "loss = cross_entropy(from_logits = true)"


@register
class CategoricalCrossentropy(ClassLoss):
    """Cross-entropy against one-hot (or soft) labels; `from_logits = true` when the model ends
    without a softmax."""

    name = "categorical_crossentropy"
    args = (
        FROM_LOGITS,
        Arg("label_smoothing", "float", 0.0, "mix the labels with uniform", min=0.0, max=1.0),
        AXIS,
    )
    rule = "`[B, ..., classes]` predictions, one-hot labels of the same shape"
    example = "loss = categorical_crossentropy(from_logits = true)"


@register
class SparseCategoricalCrossentropy(ClassLoss):
    """Cross-entropy against integer class ids, the prediction's shape without the class axis."""

    name = "sparse_categorical_crossentropy"
    args = (FROM_LOGITS, AXIS)
    labels = "sparse"
    rule = "`[B, ..., classes]` predictions, class ids `[B, ...]`"
    example = "loss = sparse_categorical_crossentropy(from_logits = true)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        out = super().output(attrs, inputs)
        if normalize_axis(int(attrs["axis"]), inputs[0].rank) != inputs[0].rank - 1:  # type: ignore[arg-type]
            raise ArgError("axis", "class ids need the class axis to be the last one (-1)")
        return out


@register
class BinaryCrossentropy(Loss):
    """Binary cross-entropy for `[B]`, `[B, 1]` or multi-label `[B, ..., k]` predictions."""

    name = "binary_crossentropy"
    aliases = ("binary_cross_entropy",)
    args = (
        FROM_LOGITS,
        Arg("label_smoothing", "float", 0.0, "pull labels toward 0.5", min=0.0, max=1.0),
        Arg("axis", "int", -1, "the axis averaged over"),
    )
    labels = "binary"
    rule = "`[B, ...]` predictions, 0/1 labels of the same shape"
    example = "loss = binary_crossentropy(from_logits = true)"


_ALPHA_DOC = "weight of the positive class (of every class, for the categorical form)"


@register
class BinaryFocalCrossentropy(Loss):
    """Binary cross-entropy scaled by `(1 - p_t) ** gamma`, so easy examples count less."""

    name = "binary_focal_crossentropy"
    args = (
        Arg("apply_class_balancing", "bool", False, "weight class 1 by alpha, class 0 by 1-alpha"),
        Arg("alpha", "float", 0.25, _ALPHA_DOC, min=0.0, max=1.0),
        Arg("gamma", "float", 2.0, "focusing strength; 0 gives plain cross-entropy", min=0.0),
        FROM_LOGITS,
        Arg("label_smoothing", "float", 0.0, "pull labels toward 0.5", min=0.0, max=1.0),
        Arg("axis", "int", -1, "the axis averaged over"),
    )
    labels = "binary"
    rule = "`[B, ...]` predictions, 0/1 labels of the same shape"
    example = "loss = binary_focal_crossentropy(gamma = 2.0, from_logits = true)"


@register
class CategoricalFocalCrossentropy(ClassLoss):
    """Categorical cross-entropy scaled by `alpha * (1 - p) ** gamma` per class."""

    name = "categorical_focal_crossentropy"
    args = (
        Arg("alpha", "float", 0.25, _ALPHA_DOC, min=0.0),
        Arg("gamma", "float", 2.0, "focusing strength; 0 gives scaled cross-entropy", min=0.0),
        FROM_LOGITS,
        Arg("label_smoothing", "float", 0.0, "mix the labels with uniform", min=0.0, max=1.0),
        AXIS,
    )
    rule = "`[B, ..., classes]` predictions, one-hot labels of the same shape"
    example = "loss = categorical_focal_crossentropy(from_logits = true)"


@register
class CategoricalGeneralizedCrossEntropy(ClassLoss):
    """Noise-robust cross-entropy `(1 - p ** q) / q` of the true class's probability: near
    cross-entropy for small `q`, near mean absolute error for `q` close to 1."""

    name = "categorical_generalized_cross_entropy"
    args = (
        Arg(
            "q",
            "float",
            0.5,
            "noise parameter",
            min=0.0,
            max=1.0,
            min_exclusive=True,
            max_exclusive=True,
        ),
    )
    labels = "sparse"
    rule = "`[B, classes]` probabilities, class ids `[B]`"
    example = "loss = categorical_generalized_cross_entropy(q = 0.7)"


def _elementwise(cls_name: str, name: str, doc: str, aliases: tuple[str, ...] = ()) -> type[Loss]:
    cls = type(
        cls_name,
        (Loss,),
        {
            "__doc__": doc,
            "name": name,
            "aliases": aliases,
            "rule": "any prediction shape `[B, ...]`, labels of the same shape",
            "example": f"loss = {aliases[0] if aliases else name}",
            "__module__": __name__,
        },
    )
    register(cls)
    return cls


MeanSquaredError = _elementwise(
    "MeanSquaredError", "mean_squared_error", "Mean of squared differences.", ("mse",)
)
MeanAbsoluteError = _elementwise(
    "MeanAbsoluteError", "mean_absolute_error", "Mean of absolute differences.", ("mae",)
)
MeanAbsolutePercentageError = _elementwise(
    "MeanAbsolutePercentageError",
    "mean_absolute_percentage_error",
    "`100 * mean(|y - p| / max(|y|, 1e-7))`: errors relative to the label.",
    ("mape",),
)
MeanSquaredLogarithmicError = _elementwise(
    "MeanSquaredLogarithmicError",
    "mean_squared_logarithmic_error",
    "Mean of squared differences of `log(1 + x)`: relative errors of positive targets.",
    ("msle",),
)
LogCosh = _elementwise(
    "LogCosh",
    "log_cosh",
    "Mean of `log(cosh(p - y))`: squared error near zero, absolute error far from it.",
    ("logcosh",),
)
KLDivergence = _elementwise(
    "KLDivergence",
    "kl_divergence",
    "`sum(y * log(y / p))` over the last axis, both clipped to [1e-7, 1]: distributions.",
    ("kld",),
)
Poisson = _elementwise(
    "Poisson", "poisson", "Mean of `p - y * log(p + 1e-7)`: for count targets, `p` > 0."
)
Hinge = _elementwise(
    "Hinge",
    "hinge",
    "Mean of `max(1 - y * p, 0)`; labels are -1/1 (0/1 labels are mapped to -1/1).",
)
SquaredHinge = _elementwise(
    "SquaredHinge",
    "squared_hinge",
    "Mean of `max(1 - y * p, 0) ** 2`; labels are -1/1 (0/1 labels are mapped to -1/1).",
)
CategoricalHinge = _elementwise(
    "CategoricalHinge",
    "categorical_hinge",
    "`max(max((1 - y) * p) - sum(y * p) + 1, 0)` over the last axis, one-hot labels.",
)


@register
class Huber(Loss):
    """Squared error for errors up to `delta`, linear beyond: robust to outliers."""

    name = "huber"
    args = (Arg("delta", "float", 1.0, "where the loss turns from quadratic to linear", min=0.0),)
    rule = "any prediction shape `[B, ...]`, labels of the same shape"
    example = "loss = huber(delta = 1.0)"


@register
class CosineSimilarity(Loss):
    """Negated cosine similarity along `axis` (so minimising aligns the vectors); as a metric
    it reports the similarity itself, as Keras's `cosine_similarity` metric."""

    name = "cosine_similarity"
    args = (Arg("axis", "int", -1, "the axis holding the vectors"),)
    metric_sign = -1.0
    rule = "`[B, ..., features]` predictions, labels of the same shape"
    example = "loss = cosine_similarity(axis = -1)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=2, what="the prediction", layout="[B, ..., features]")
        return super().output(attrs, inputs)


def _check_axes(attrs: Attrs, pred: TensorType) -> None:
    axes = attrs["axis"]
    if isinstance(axes, tuple):
        seen = set()
        for a in axes:
            if not isinstance(a, int):
                continue
            if not -pred.rank <= a < pred.rank:
                raise ArgError("axis", f"axis {a} is out of range for the prediction `{pred}`")
            if a % pred.rank in seen:
                raise ArgError("axis", f"axis {a} is given twice")
            seen.add(a % pred.rank)


@register
class Dice(Loss):
    """`1 - 2 * sum(y * p) / (sum(y) + sum(p))`: overlap loss for segmentation masks. Without
    `axis` the sums run over the whole batch (one value per batch, as Keras)."""

    name = "dice"
    args: ClassVar[tuple[Arg, ...]] = (
        Arg("axis", "ints", None, "axes summed over; none: every axis", nullable=True),
    )
    rule = "any prediction shape `[B, ...]`, labels of the same shape"
    example = "loss = dice"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        _check_axes(attrs, inputs[0])
        return super().output(attrs, inputs)


@register
class Tversky(Dice):
    """Dice generalised: false positives weighted by `alpha`, false negatives by `beta`
    (0.5 and 0.5 give the Dice loss)."""

    name = "tversky"
    args = (
        Arg("alpha", "float", 0.5, "weight of false positives", min=0.0),
        Arg("beta", "float", 0.5, "weight of false negatives", min=0.0),
        Arg("axis", "ints", None, "axes summed over; none: every axis", nullable=True),
    )
    example = "loss = tversky(alpha = 0.3, beta = 0.7)"


@register
class CTC(Loss):
    """Connectionist temporal classification for `[B, T, classes]` logits against label
    sequences `[B, L]` of class ids, 0 being both the blank and the padding."""

    name = "ctc"
    labels = "sequence"
    rule = "`[B, T, classes]` logits, label sequences `[B, L]`"
    example = "loss = ctc"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], 3, what="the prediction", layout="[B, T, classes]")
        return super().output(attrs, inputs)


def _classes(pred: TensorType) -> int | None:
    return pred.shape[-1].as_int() if pred.rank >= 1 else None


__all__ = ["LABEL_KINDS", "Loss", "ShapeError", "_classes"]
