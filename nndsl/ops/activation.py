"""Activations: Keras 3's activation functions (`relu(x)`, `x |> mish`) and activation layers.

Every function here is one registered spec; `ACTIVATION_NAMES`, the values the `activation =
"..."` argument of kernel layers accepts, is derived from them (the JAX table is keyed by the
same names, and a test fails if the two diverge). Defaults are Keras's function defaults, so
`activation = "gelu"` is exact gelu, as in Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.flops import SOFTMAX, activation_flops
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    OpKind,
    OpSpec,
    ShapeError,
    WeightSpec,
    dim,
    normalize_axis,
)
from nndsl.shapes import Dim, DType, TensorType


class ActivationFn(OpSpec):
    """Base of the activation functions: element-wise unless they name an `axis`."""

    kind = OpKind.FUNCTION
    rule = "`[...]` -> `[...]`, same shape and dtype"
    # Usable as `activation = "name"` in kernel layers: keeps the shape, needs no argument.
    as_layer_activation: ClassVar[bool] = True
    flops_per_element: ClassVar[int | None] = 1  # an exp or a tanh is one FLOP, as a max is

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


class AxisActivation(ActivationFn):
    """An activation normalizing along `axis` (softmax and relatives)."""

    flops_per_element: ClassVar[int | None] = SOFTMAX

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        axis = attrs["axis"]
        assert isinstance(axis, int)
        normalize_axis(axis, inputs[0].rank)
        return inputs[0]


_AXIS = Arg("axis", "int", -1, "the axis it normalizes along")
_FUNCTIONS: list[type[ActivationFn]] = []


def _define(
    name: str,
    doc: str,
    *args: Arg,
    aliases: tuple[str, ...] = (),
    example: str = "",
    base: type[ActivationFn] = ActivationFn,
    flops: int | None = None,
) -> type[ActivationFn]:
    cls = type(
        name,
        (base,),
        {
            "__doc__": doc,
            "name": name,
            "aliases": aliases,
            "args": args,
            "example": example or f"y = x |> {name}",
            **({} if flops is None else {"flops_per_element": flops}),
        },
    )
    _FUNCTIONS.append(register(cls))  # type: ignore[arg-type]
    return cls


_define(
    "linear", "The identity, `x` (Keras's default activation).", example="y = linear(x)", flops=0
)
_define(
    "relu",
    "Rectified linear unit `max(x, 0)`; with Keras's options: `negative_slope` below "
    "`threshold`, values at or below `threshold` zeroed, clipped to `max_value`.",
    Arg("negative_slope", "float", 0.0, "slope below the threshold"),
    Arg("max_value", "float", None, "the saturation value; none: no clipping", nullable=True),
    Arg("threshold", "float", 0.0, "values at or below it are zeroed (or leak)"),
    example="y = relu(x)",
)
_define("relu6", "`min(max(x, 0), 6)`.")
_define(
    "leaky_relu",
    "Leaky ReLU: `x` where positive, `negative_slope * x` elsewhere.",
    Arg("negative_slope", "float", 0.2, "slope for negative inputs", min=0.0),
    example="y = x |> leaky_relu(negative_slope = 0.1)",
)
_define("sigmoid", "Logistic sigmoid `1 / (1 + exp(-x))`.", example="y = sigmoid(x)")
_define("hard_sigmoid", "Piecewise-linear sigmoid `relu6(x + 3) / 6`.")
_define("sparse_sigmoid", "Sigmoid that reaches 0 and 1: `0` below -1, `(x + 1) / 2`, `1` above 1.")
_define("log_sigmoid", "`log(sigmoid(x))`, computed stably.")
_define("tanh", "Hyperbolic tangent.", example="y = tanh(x)")
_define("hard_tanh", "`x` clipped to `[-1, 1]`.")
_define("tanh_shrink", "`x - tanh(x)`.")
_define("softplus", "`log(1 + exp(x))`, computed stably.")
_define("softsign", "`x / (1 + abs(x))`.")
_define(
    "squareplus",
    "`(x + sqrt(x ** 2 + b)) / 2`, a smooth ReLU.",
    Arg("b", "float", 4.0, "smoothness", min=0.0),
)
_define("sparse_plus", "`0` below -1, `(x + 1) ** 2 / 4` up to 1, `x` above.")
_define(
    "silu",
    "Sigmoid linear unit (swish): `x * sigmoid(x)`.",
    aliases=("swish",),
    example="y = silu(x)",
)
_define("hard_silu", "`x * hard_sigmoid(x)` (hard swish).", aliases=("hard_swish",))
_define(
    "gelu",
    "Gaussian error linear unit, exact (Keras's default) or the tanh approximation.",
    Arg("approximate", "bool", False, "use the tanh approximation"),
    example="y = x |> gelu(approximate = true)",
)
_define("mish", "`x * tanh(softplus(x))`.")
_define(
    "elu",
    "Exponential linear unit: `x` where positive, `alpha * (exp(x) - 1)` elsewhere.",
    Arg("alpha", "float", 1.0, "the negative saturation value"),
)
_define(
    "celu",
    "Continuously differentiable ELU: `max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)`.",
    Arg("alpha", "float", 1.0, "the scale of the negative part", min=0.0, min_exclusive=True),
)
_define("selu", "Scaled ELU with Klambauer et al.'s constants (self-normalizing networks).")
_define("exponential", "`exp(x)`.")
_define(
    "soft_shrink",
    "Moves `x` toward zero by `threshold`, zero inside `[-threshold, threshold]`.",
    Arg("threshold", "float", 0.5, "half-width of the zeroed band", min=0.0),
)
_define(
    "hard_shrink",
    "`x` where `abs(x) > threshold`, zero elsewhere.",
    Arg("threshold", "float", 0.5, "half-width of the zeroed band", min=0.0),
)
_define(
    "softmax",
    "Softmax along `axis`: exponentials normalized to sum to one.",
    _AXIS,
    example="p = softmax(logits)",
    base=AxisActivation,
)
_define(
    "log_softmax",
    "Logarithm of the softmax along `axis`, computed stably.",
    _AXIS,
    base=AxisActivation,
)
_define(
    "sparsemax",
    "Euclidean projection onto the probability simplex along `axis`: like softmax, with exact "
    "zeros.",
    _AXIS,
    base=AxisActivation,
)


@register
class Glu(ActivationFn):
    """Gated linear unit: splits `axis` in halves `a, b` and returns `a * sigmoid(b)`."""

    name = "glu"
    as_layer_activation = False  # halves an axis, which a kernel layer's shape rule ignores
    flops_per_element = 2  # a sigmoid and a product per output element
    args = (_AXIS,)
    rule = "`[..., 2n]` -> `[..., n]` (halves `axis`)"
    example = "y = x |> glu"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        axis = attrs["axis"]
        assert isinstance(axis, int)
        a = normalize_axis(axis, x.rank)
        n = x.shape[a].as_int()
        if n is not None and n % 2:
            raise ShapeError(
                f"splits axis {axis} in halves, but its size is {n} (odd)",
                arg="axis",
                help="give that axis an even size",
            )
        shape = list(x.shape)
        shape[a] = shape[a].floordiv(dim(2))
        return x.with_shape(tuple(shape))


_FUNCTIONS.append(Glu)


@register
class Threshold(ActivationFn):
    """`x` where `x > threshold`, `default_value` elsewhere."""

    name = "threshold"
    as_layer_activation = False  # Keras gives it no defaults
    args = (
        Arg("threshold", "float", doc="values at or below it are replaced"),
        Arg("default_value", "float", doc="what replaces them"),
    )
    example = "y = x |> threshold(0.0, -1.0)"


_FUNCTIONS.append(Threshold)

# Names the `activation = "..."` argument accepts (with Keras's aliases `swish`, `hard_swish`).
ACTIVATION_NAMES: tuple[str, ...] = tuple(
    n for cls in _FUNCTIONS if cls.as_layer_activation for n in (cls.name, *cls.aliases)
)
ACTIVATION_FUNCTIONS: tuple[str, ...] = tuple(cls.name for cls in _FUNCTIONS)


def activation_defaults(name: str) -> tuple[str, dict[str, ArgValue]] | None:
    """`activation = "name"` (an alias such as `"swish"` included): the activation spec's own
    name and its arguments' defaults, which every backend applies; None for an unknown name."""
    from nndsl.ops.registry import lookup  # the registry imports this module

    spec = lookup(name)
    if spec is None or spec.name not in ACTIVATION_FUNCTIONS:
        return None
    defaults: dict[str, ArgValue] = {}
    for a in spec.args:
        if not a.required:
            defaults[a.name] = a.default  # type: ignore[assignment]
    return spec.name, defaults


# -- activation layers (Keras's `keras.layers.*` activations) --------------------------------
class ActivationLayer(OpSpec):
    kind = OpKind.LAYER
    rule = "`[...]` -> `[...]`, same shape"
    flops_per_element: ClassVar[int | None] = 1

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class Activation(ActivationLayer):
    """Applies a named activation; the layer form of `activation = "..."`."""

    name = "Activation"
    args = (Arg("activation", "str", doc="the activation's name", choices=ACTIVATION_NAMES),)
    example = 'h = x |> Activation("gelu")'

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        return activation_flops(attrs["activation"], outputs[0])

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        if attrs["activation"] in ("softmax", "log_softmax", "sparsemax"):
            if inputs[0].rank < 1:
                raise ShapeError(f"`{attrs['activation']}` needs an axis; the input is a scalar")
        return inputs[0]


@register
class ReLULayer(ActivationLayer):
    """Rectified linear unit with Keras's options (leak, threshold, saturation)."""

    name = "ReLU"
    args = (
        Arg(
            "max_value",
            "float",
            None,
            "saturation value; none: no clipping",
            nullable=True,
            min=0.0,
        ),
        Arg("negative_slope", "float", 0.0, "slope below the threshold", min=0.0),
        Arg("threshold", "float", 0.0, "values at or below it are zeroed (or leak)", min=0.0),
    )
    example = "h = x |> ReLU(max_value = 6.0)"


@register
class LeakyReLU(ActivationLayer):
    """`x` where positive, `negative_slope * x` elsewhere (Keras's layer default 0.3)."""

    name = "LeakyReLU"
    args = (Arg("negative_slope", "float", 0.3, "slope for negative inputs", min=0.0),)
    example = "h = x |> LeakyReLU(0.1)"


@register
class ELU(ActivationLayer):
    """Exponential linear unit: `x` where positive, `alpha * (exp(x) - 1)` elsewhere."""

    name = "ELU"
    args = (Arg("alpha", "float", 1.0, "the negative saturation value"),)
    example = "h = x |> ELU(alpha = 0.5)"


@register
class SoftmaxLayer(ActivationLayer):
    """Softmax along `axis`; an optional `mask` (bool, broadcastable to the input) excludes
    entries, which get probability 0, as Keras's `Softmax(...)(x, mask)`."""

    name = "Softmax"
    args = (_AXIS,)
    flops_per_element = SOFTMAX
    optional_inputs = ("mask",)
    float_inputs = False  # the input is checked here: the mask is bool
    rule = "`[...]` -> `[...]`, same shape; `mask` broadcasts to the input"
    example = "p = logits |> Softmax()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if not x.dtype.is_float:
            raise ShapeError(
                f"`Softmax` needs floating-point input, found `{x}`", input_index=0, code="E0301"
            )
        axis = attrs["axis"]
        assert isinstance(axis, int)
        normalize_axis(axis, x.rank)
        if len(inputs) > 1:
            mask = inputs[1]
            if mask.dtype is not DType.BOOL:
                raise ShapeError(
                    f"the mask must be `bool`, found `{mask}`",
                    input_index=1,
                    code="E0301",
                    help="compare to get a mask, e.g. `tokens != 0`",
                )
            if mask.rank > x.rank or any(
                m.as_int() != 1 and m != d
                for m, d in zip(reversed(mask.shape), reversed(x.shape), strict=False)
            ):
                raise ShapeError(
                    f"the mask `{mask}` does not broadcast to the input `{x}`",
                    input_index=1,
                    help="each mask axis must be 1 or the input's size, aligned at the end",
                )
        return x


def _shared_axes(attrs: Attrs) -> tuple[object, ...]:
    shared = attrs["shared_axes"]
    if shared is None:
        return ()
    return shared if isinstance(shared, tuple) else (shared,)


@register
class PReLU(ActivationLayer):
    """Leaky ReLU with a learned slope `alpha` per entry (or shared along `shared_axes`)."""

    name = "PReLU"
    flops_per_element = 2  # a compare and a product
    args = (
        Arg("alpha_initializer", "initializer", "zeros", "how alpha starts", keyword_only=True),
        Arg(
            "alpha_regularizer",
            "regularizer",
            None,
            "penalty on alpha, added to the loss",
            nullable=True,
            keyword_only=True,
        ),
        Arg(
            "alpha_constraint",
            "constraint",
            None,
            "projection of alpha after each update",
            nullable=True,
            keyword_only=True,
        ),
        Arg(
            "shared_axes",
            "ints",
            None,
            "axes (1 = first after the batch) where one alpha is shared",
            nullable=True,
            min=1,
        ),
    )
    rule = "`[B, d1, d2, ...]` -> same shape; alpha `[d1, d2, ...]`, 1 on `shared_axes`"
    example = "h = x |> PReLU()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank < 2:
            raise ShapeError(f"`PReLU` needs a batch axis and features, found `{x}`", input_index=0)
        for a in _shared_axes(attrs):
            if not isinstance(a, int) or not 1 <= a < x.rank:
                raise ArgError(
                    "shared_axes",
                    f"axis {a} is not a feature axis of `{x}` (1 to {x.rank - 1})",
                )
        return x

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        # Imported here, not above, so the activations register before the initializers
        # (the registry lists specs in `FAMILIES` order).
        from nndsl.ops.weights import weight

        x = inputs[0]
        axes = set(_shared_axes(attrs))
        shape = tuple(dim(1) if i in axes else d for i, d in enumerate(x.shape) if i > 0)
        return {"alpha": weight(attrs, "alpha", shape)}
