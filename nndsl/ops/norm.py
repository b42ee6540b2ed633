"""Normalization layers over the last axis."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, ShapeError, WeightSpec, normalize_axis, require_rank
from nndsl.shapes import Dim, TensorType


def _feature_axis(attrs: Attrs, x: TensorType) -> int:
    axis = attrs["axis"]
    assert isinstance(axis, int)
    try:
        return normalize_axis(axis, x.rank)
    except ShapeError as err:
        raise ShapeError(err.message, arg="axis") from None


# Keras's epsilon and the optional learned scale and offset, shared by both layers.
_AFFINE = (
    Arg("epsilon", "float", 1e-3, "added to the variance", min=0.0, min_exclusive=True),
    Arg("center", "bool", True, "learn an offset `beta`"),
    Arg("scale", "bool", True, "learn a scale `gamma`"),
)


def _scale_and_offset(attrs: Attrs, channels: Dim) -> dict[str, WeightSpec]:
    out: dict[str, WeightSpec] = {}
    if attrs["scale"]:
        out["gamma"] = WeightSpec((channels,), "ones")
    if attrs["center"]:
        out["beta"] = WeightSpec((channels,), "zeros")
    return out


@register
class BatchNorm(Layer):
    """Batch normalization: batch statistics while training, moving averages at inference.

    The moving mean and variance are non-trainable state, counted as Keras counts them.
    """

    name = "BatchNorm"
    family = "normalization"
    args = (
        Arg("axis", "int", -1, "the feature axis"),
        Arg("momentum", "float", 0.99, "decay of the moving statistics", min=0.0, max=1.0),
        *_AFFINE,
    )
    rule = "keeps the input's shape"
    example = "h = x |> BatchNorm()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=2)
        _feature_axis(attrs, inputs[0])
        return inputs[0]

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        c = inputs[0].shape[_feature_axis(attrs, inputs[0])]
        out = _scale_and_offset(attrs, c)
        out["moving_mean"] = WeightSpec((c,), "zeros", trainable=False)
        out["moving_variance"] = WeightSpec((c,), "ones", trainable=False)
        return out


@register
class LayerNorm(Layer):
    """Layer normalization over the last axis of each example."""

    name = "LayerNorm"
    family = "normalization"
    args = (
        Arg("axis", "int", -1, "the normalized axis"),
        *_AFFINE,
    )
    rule = "keeps the input's shape"
    example = "h = x |> LayerNorm()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=1)
        _feature_axis(attrs, inputs[0])
        return inputs[0]

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        return _scale_and_offset(attrs, inputs[0].shape[_feature_axis(attrs, inputs[0])])
