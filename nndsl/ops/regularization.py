"""Regularization layers: dropout (plain and spatial), Gaussian noise and dropout, alpha
dropout, and activity regularization.

The random layers act only while training (identity at inference), drawing from the key the
runtime gives stochastic specs; they have no weights.
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, ShapeError, as_int, dim, require_rank
from nndsl.shapes import TensorType

_RATE = Arg(
    "rate", "float", doc="fraction of entries dropped", min=0.0, max=1.0, max_exclusive=True
)
_DATA_FORMAT = Arg(
    "data_format",
    "str",
    "channels_last",
    'where the channels are: "channels_last" (`[B, ..., C]`) or "channels_first" (`[B, C, ...]`)',
    choices=("channels_last", "channels_first"),
)


@register
class Dropout(Layer):
    """Zeroes a random `rate` of the entries while training and rescales the rest.

    With `noise_shape`, one keep/drop draw is shared along each axis given as 1: EfficientNet's
    drop-connect (stochastic depth) drops whole examples with `noise_shape = [B, 1, 1, 1]`.
    """

    name = "Dropout"
    flops_per_element = 0  # the identity in inference
    stochastic = True
    args = (
        _RATE,
        Arg(
            "noise_shape",
            "ints",
            None,
            "the shape of the keep/drop mask: per axis the input's size, or 1 to share one "
            "draw along it (`[B, 1, 1, 1]`); none: the input's shape",
            nullable=True,
        ),
    )
    rule = "keeps the input's shape"
    example = "h = x |> Dropout(0.5)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        shape = attrs["noise_shape"]
        if shape is None:
            return x
        assert isinstance(shape, tuple)
        if len(shape) != x.rank:
            raise ShapeError(
                f"`noise_shape` has {len(shape)} entries for `{x}` of rank {x.rank}",
                arg="noise_shape",
                help=f"give one size per axis, 1 where the draw is shared: {_example(x)}",
            )
        for i, (n, d) in enumerate(zip(shape, x.shape, strict=True)):
            if as_int(n) != 1 and dim(n) != d:
                raise ShapeError(
                    f"`noise_shape` entry {i} is {n}; axis {i} of `{x}` has size {d}",
                    arg="noise_shape",
                    help=f"each entry is 1 or the input's size: {_example(x)}",
                )
        return x


def _example(x: TensorType) -> str:
    return "`[" + ", ".join([str(x.shape[0]), *["1"] * (x.rank - 1)]) + "]`" if x.rank else "`[]`"


class _SpatialDropout(Layer):
    """Shared rule: a fixed rank, the same mask for every position of a channel."""

    stochastic = True
    spatial_rank = 1
    flops_per_element = 0  # the identity in inference
    layout = ""

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], self.spatial_rank + 2, layout=self.layout)
        return inputs[0]


@register
class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of a sequence: one draw per example and channel, shared by
    every step, so neighbouring (correlated) steps cannot stand in for a dropped feature."""

    name = "SpatialDropout1D"
    args = (_RATE,)
    spatial_rank = 1
    layout = "[B, T, C]"
    rule = "`[B, T, C]` -> `[B, T, C]`"
    example = "input t: f32[B, 10, 8]\nh = t |> SpatialDropout1D(0.2)"


@register
class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of an image: one draw per example and channel."""

    name = "SpatialDropout2D"
    args = (_RATE, _DATA_FORMAT)
    spatial_rank = 2
    layout = "[B, H, W, C]"
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = "h = image |> SpatialDropout2D(0.2)"


@register
class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature volumes: one draw per example and channel."""

    name = "SpatialDropout3D"
    args = (_RATE, _DATA_FORMAT)
    spatial_rank = 3
    layout = "[B, D, H, W, C]"
    rule = "`[B, D, H, W, C]` -> `[B, D, H, W, C]`"
    example = "input v: f32[B, 4, 4, 4, 2]\nh = v |> SpatialDropout3D(0.2)"


@register
class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of deviation `stddev` while training (a data augmentation
    for real-valued inputs); identity at inference."""

    name = "GaussianNoise"
    flops_per_element = 0  # the identity in inference
    stochastic = True
    args = (Arg("stddev", "float", doc="standard deviation of the noise", min=0.0, max=1.0),)
    rule = "`[B, ...]` -> `[B, ...]`"
    example = "h = x |> GaussianNoise(0.1)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class GaussianDropout(Layer):
    """Multiplies by Gaussian noise of mean 1 and deviation `sqrt(rate / (1 - rate))` while
    training: dropout's variance without zeroes; identity at inference."""

    name = "GaussianDropout"
    flops_per_element = 0  # the identity in inference
    stochastic = True
    args = (_RATE,)
    rule = "`[B, ...]` -> `[B, ...]`"
    example = "h = x |> GaussianDropout(0.3)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class AlphaDropout(Layer):
    """Dropout for SELU networks: dropped entries become SELU's negative saturation and the
    result is rescaled so the mean and variance are kept; identity at inference."""

    name = "AlphaDropout"
    flops_per_element = 0  # the identity in inference
    stochastic = True
    args = (_RATE,)
    rule = "`[B, ...]` -> `[B, ...]`"
    example = "h = x |> AlphaDropout(0.1)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class ActivityRegularization(Layer):
    """Passes its input through and adds `(l1 * sum|x| + l2 * sum x^2) / batch` to the
    training loss, as Keras 3 does (the batch size divides the penalty)."""

    name = "ActivityRegularization"
    flops_per_element = 0  # the identity in inference
    args = (
        Arg("l1", "float", 0.0, "weight of the sum of absolute values", min=0.0),
        Arg("l2", "float", 0.0, "weight of the sum of squares", min=0.0),
    )
    rule = "`[B, ...]` -> `[B, ...]`"
    example = "h = x |> ActivityRegularization(l2 = 1e-3)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]
