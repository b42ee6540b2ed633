"""Built-in losses called as functions inside a loss expression: `mse(y, pred)` is a scalar.

`loss = binary_crossentropy(x, x_hat) * 784 + mean(...)` in `train` reads each built-in loss as
a function of two tensors, the labels first (Keras's `loss(y_true, y_pred)`), with the loss's
own arguments after them; its value is the batch mean of the per-example losses. The spec of
each is derived from the loss's, so its arguments and its check of the prediction are the
loss's own. These specs are not in the registry: the loss expression's scope binds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.losses import Loss
from nndsl.ops.spec import Attrs, OpKind, OpSpec, ShapeError
from nndsl.shapes import DType, TensorType, format_shape


class LossFunction(OpSpec):
    """A built-in loss applied to `(y_true, y_pred)`; the batch mean, a float scalar."""

    kind = OpKind.FUNCTION
    inputs = ("y_true", "y_pred")
    float_inputs = False
    mixed_dtypes = True  # integer class ids against float predictions
    loss: ClassVar[Loss]

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        y_true, y_pred = inputs
        if not y_pred.dtype.is_float:
            raise ShapeError(
                f"the prediction (the second tensor) must be float, found `{y_pred}`",
                code="E0301",
            )
        self.loss.output(attrs, [y_pred])  # the loss's own check of the prediction
        labels = self.loss.labels
        ids = y_pred.shape[:-1]
        if labels == "sparse":
            fits = y_true.shape == ids and not y_true.dtype.is_float
        elif labels == "classes":
            fits = y_true.shape == y_pred.shape or (
                y_true.shape == ids and not y_true.dtype.is_float
            )
        elif labels == "sequence":
            fits = y_true.rank == 2 and not y_true.dtype.is_float
        else:
            fits = y_true.shape == y_pred.shape
        if not fits:
            raise ShapeError(
                f"labels `{format_shape(y_true.shape)}` do not fit a prediction "
                f"`{format_shape(y_pred.shape)}`: it needs {self.loss.label_rule}",
                code="E0201",
                help=f"write `{self.name}(labels, prediction)`, the labels first",
            )
        return TensorType(DType.F32, ())


_FUNCTIONS: dict[str, LossFunction] = {}


def loss_function(loss: OpSpec) -> LossFunction:
    """The function form of the built-in loss `loss` (one per loss)."""
    assert isinstance(loss, Loss), loss
    fn = _FUNCTIONS.get(loss.name)
    if fn is None:
        cls = type(
            type(loss).__name__ + "Function",
            (LossFunction,),
            {
                "__doc__": type(loss).__doc__,
                "name": loss.name,
                "args": loss.args,
                "loss": loss,
                "rule": "`(y_true, y_pred)` -> the batch mean, a scalar `f32[]`",
            },
        )
        fn = _FUNCTIONS[loss.name] = cls()
    return fn


__all__ = ["LossFunction", "loss_function"]
