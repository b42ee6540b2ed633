"""Metrics reported per epoch and at test time."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, OpKind, OpSpec, ShapeError, as_int, require_rank
from nndsl.shapes import DType, TensorType


class Metric(OpSpec):
    kind = OpKind.METRIC
    family = "metrics"
    inputs = ("y_pred",)

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return TensorType(DType.F32, ())


@register
class Accuracy(Metric):
    """Fraction of correct predictions: arg-max over classes for `[B, classes]` predictions,
    a 0.5 threshold (0 for logits) for `[B]` or `[B, 1]` ones."""

    name = "accuracy"
    rule = "`[B, classes]`, `[B, 1]` or `[B]` predictions"
    example = "metrics = [accuracy]"


@register
class TopKAccuracy(Metric):
    """Fraction of examples whose label is among the `k` highest-scored classes."""

    name = "top_k_accuracy"
    args = (Arg("k", "int", 5, "how many top classes count as a hit", min=1),)
    rule = "`[B, classes]` predictions with classes >= k"
    example = "metrics = [top_k_accuracy(k = 3)]"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        pred = inputs[0]
        require_rank(pred, at_least=2, what="the prediction")
        k = as_int(attrs["k"])
        classes = pred.shape[-1].as_int()
        if k is not None and classes is not None and k > classes:
            raise ShapeError(
                f"k = {k} exceeds the {classes} classes of the prediction", arg="k", code="E0404"
            )
        return super().output(attrs, inputs)
