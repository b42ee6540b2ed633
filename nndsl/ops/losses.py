"""Losses: declared with their arguments and a check of the prediction they receive.

Labels are only seen at run time (they come from the data), so the runtime checks them
against `label_rule` before training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, OpKind, OpSpec, ShapeError, require_rank
from nndsl.shapes import DType, TensorType


class Loss(OpSpec):
    kind = OpKind.LOSS
    family = "losses"
    inputs = ("y_pred",)
    # What the labels look like: "classes" (integer ids `[B]` or one-hot `[B, classes]`),
    # "binary" (0/1 of the prediction's shape) or "same" (the prediction's shape). The
    # runtime checks the data against it before training starts.
    labels: ClassVar[str] = "same"
    label_rule: ClassVar[str] = "same shape as the prediction"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(DType.F32, ())


@register
class CrossEntropy(Loss):
    """Categorical cross-entropy for `[B, classes]` predictions.

    Labels are either integer class ids `[B]` or one-hot `[B, classes]`; `from_logits = true`
    when the model ends without a softmax.
    """

    name = "cross_entropy"
    args = (
        Arg("from_logits", "bool", False, "predictions are logits, not probabilities"),
        Arg("label_smoothing", "float", 0.0, "mix one-hot labels with uniform", min=0.0, max=1.0),
    )
    labels = "classes"
    label_rule = "integer class ids `[B]` or one-hot `[B, classes]`"
    rule = "`[B, classes]` predictions"
    example = "loss = cross_entropy(from_logits = true)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=2, what="the prediction")
        return super().output(attrs, inputs)


@register
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy for `[B]` or `[B, 1]` (or multi-label `[B, k]`) predictions."""

    name = "binary_cross_entropy"
    args = (
        Arg("from_logits", "bool", False, "predictions are logits, not probabilities"),
        Arg("label_smoothing", "float", 0.0, "pull labels toward 0.5", min=0.0, max=1.0),
    )
    labels = "binary"
    label_rule = "0/1 labels of the prediction's shape"
    rule = "`[B, ...]` predictions"
    example = "loss = binary_cross_entropy(from_logits = true)"


@register
class MeanSquaredError(Loss):
    """Mean of squared differences."""

    name = "mse"
    rule = "any prediction shape"
    example = "loss = mse"


@register
class MeanAbsoluteError(Loss):
    """Mean of absolute differences."""

    name = "mae"
    rule = "any prediction shape"
    example = "loss = mae"


def _classes(pred: TensorType) -> int | None:
    return pred.shape[-1].as_int() if pred.rank >= 1 else None


__all__ = ["Loss", "ShapeError", "_classes"]
