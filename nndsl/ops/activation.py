"""Activation functions: element-wise, shape-preserving, usable as `relu(x)` or `x |> relu`."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, Attrs, OpKind, OpSpec, normalize_axis
from nndsl.shapes import TensorType


class Activation(OpSpec):
    kind = OpKind.FUNCTION
    family = "activation"
    rule = "keeps the input's shape and dtype"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class Relu(Activation):
    """Rectified linear unit: `max(x, 0)`."""

    name = "relu"
    example = "y = relu(x)"


@register
class Gelu(Activation):
    """Gaussian error linear unit, exact (`approximate = false`) or the tanh approximation."""

    name = "gelu"
    args = (Arg("approximate", "bool", False, "use the tanh approximation"),)
    example = "y = x |> gelu(approximate = true)"


@register
class Sigmoid(Activation):
    """Logistic sigmoid: `1 / (1 + exp(-x))`."""

    name = "sigmoid"
    example = "y = sigmoid(x)"


@register
class Tanh(Activation):
    """Hyperbolic tangent."""

    name = "tanh"
    example = "y = tanh(x)"


@register
class Silu(Activation):
    """Sigmoid linear unit (swish): `x * sigmoid(x)`."""

    name = "silu"
    example = "y = silu(x)"


@register
class LeakyRelu(Activation):
    """Leaky ReLU: `x` where positive, `negative_slope * x` elsewhere."""

    name = "leaky_relu"
    args = (Arg("negative_slope", "float", 0.2, "slope for negative inputs", min=0.0),)
    example = "y = x |> leaky_relu(negative_slope = 0.1)"


@register
class Softmax(Activation):
    """Softmax along `axis`: exponentials normalised to sum to one."""

    name = "softmax"
    args = (Arg("axis", "int", -1, "the axis that sums to one"),)
    example = "p = softmax(logits)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        axis = attrs["axis"]
        assert isinstance(axis, int)
        normalize_axis(axis, inputs[0].rank)
        return inputs[0]


ACTIVATION_NAMES: tuple[str, ...] = (
    "linear",
    "relu",
    "gelu",
    "sigmoid",
    "tanh",
    "silu",
    "leaky_relu",
    "softmax",
)
