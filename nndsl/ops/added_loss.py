"""`add_loss`: a term a model adds to its own training loss (Keras's `layer.add_loss`).

`h = h |> add_loss(0.01 * mean(square(h)))` passes `h` through unchanged and adds the scalar to
the training objective, beside the `train` section's loss: an activity penalty, a VAE's KL term
kept inside its encoder block. Each application (each block instance) adds its own term. The
node stays on the data path, so the summary lists it where it is written.
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Attrs, OpKind, OpSpec, ShapeError
from nndsl.shapes import TensorType


@register
class AddLoss(OpSpec):
    """`x` unchanged; the float scalar `loss` is added to the training loss (Keras's
    `add_loss`). Training only: evaluation and prediction ignore it, as they ignore activity
    penalties."""

    name = "add_loss"
    kind = OpKind.FUNCTION
    inputs = ("x", "loss")
    float_inputs = False
    mixed_dtypes = True  # the tensor passed through may be of any dtype
    rule = "`x`, a float scalar `f32[]` -> `x` unchanged"
    example = "y = x |> add_loss(0.01 * mean(square(x)))"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x, loss = inputs
        if loss.rank != 0 or not loss.dtype.is_float:
            raise ShapeError(
                f"the added loss must be a float scalar `f32[]`, found `{loss}`",
                input_index=1,
                code="E0201",
                help="reduce it, e.g. `mean(...)` over every axis",
            )
        return x


__all__ = ["AddLoss"]
