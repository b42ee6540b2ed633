"""Core layers: Dense, Dropout."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.activation import ACTIVATION_NAMES
from nndsl.ops.registry import configured, lookup, register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    OpKind,
    OpSpec,
    WeightSpec,
    dim,
    require_rank,
)
from nndsl.ops.weights import Initializer
from nndsl.shapes import Dim, TensorType


def weight_args(weight: str, init: str) -> tuple[Arg, ...]:
    """`{weight}_initializer`, `_regularizer`, `_constraint`, as every Keras layer has them."""
    return (
        Arg(
            f"{weight}_initializer",
            "initializer",
            init,
            f"how the {weight} starts",
            keyword_only=True,
        ),
        Arg(
            f"{weight}_regularizer",
            "regularizer",
            None,
            f"penalty on the {weight}, added to the loss",
            nullable=True,
            keyword_only=True,
        ),
        Arg(
            f"{weight}_constraint",
            "constraint",
            None,
            f"projection of the {weight} after each update",
            nullable=True,
            keyword_only=True,
        ),
    )


def check_initializer(init: ArgValue, shape: tuple[Dim, ...], arg: str) -> None:
    """Reject an initializer that cannot fill `shape` (`identity` on a bias) in the checker,
    so the error never waits for JAX."""
    cfg = configured(init, OpKind.INITIALIZER)
    spec = lookup(cfg.name) if cfg is not None else None
    if cfg is not None and isinstance(spec, Initializer):
        problem = spec.check_shape(cfg.options, shape)
        if problem is not None:
            raise ArgError(arg, problem, help="choose an initializer for this weight's rank")


def weight(attrs: Attrs, name: str, shape: tuple[Dim, ...], prefix: str = "") -> WeightSpec:
    """The trainable weight `name` with the initializer, regularizer and constraint the layer's
    `{prefix or name}_*` arguments give."""
    key = prefix or name
    init = attrs[f"{key}_initializer"]
    check_initializer(init, shape, f"{key}_initializer")
    return WeightSpec(
        shape,
        init,
        regularizer=attrs.get(f"{key}_regularizer"),
        constraint=attrs.get(f"{key}_constraint"),
    )


ACTIVITY_REGULARIZER = Arg(
    "activity_regularizer",
    "regularizer",
    None,
    "penalty on the layer's output, added to the loss",
    nullable=True,
    keyword_only=True,
)

# Arguments every kernel layer (Dense, Conv2D, ...) takes after its own, as in Keras.
KERNEL_ARGS = (
    Arg("activation", "str", "linear", "applied to the result", choices=ACTIVATION_NAMES),
    Arg("use_bias", "bool", True, "add a learned bias"),
    *weight_args("kernel", "glorot_uniform"),
    *weight_args("bias", "zeros"),
    ACTIVITY_REGULARIZER,
)


def kernel_and_bias(
    attrs: Attrs, kernel_shape: tuple[Dim, ...], bias_shape: tuple[Dim, ...]
) -> dict[str, WeightSpec]:
    """`kernel` and, with `use_bias`, `bias`, configured by `KERNEL_ARGS`."""
    out = {"kernel": weight(attrs, "kernel", kernel_shape)}
    if attrs["use_bias"]:
        out["bias"] = weight(attrs, "bias", bias_shape)
    return out


class Layer(OpSpec):
    kind = OpKind.LAYER


@register
class Dense(Layer):
    """Affine map over the last axis: `y = activation(x @ kernel + bias)`.

    The kernel has shape `[in, units]`, as in Keras, so weights move over unchanged.
    """

    name = "Dense"
    family = "core"
    args = (
        Arg("units", "int", doc="size of the output's last axis", min=1),
        *KERNEL_ARGS,
    )
    rule = "`[..., in]` -> `[..., units]`"
    example = 'h = x |> Dense(128, activation = "relu")'

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, at_least=1)
        return x.with_shape((*x.shape[:-1], dim(attrs["units"])))

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        units = dim(attrs["units"])
        return kernel_and_bias(attrs, (inputs[0].shape[-1], units), (units,))


@register
class Dropout(Layer):
    """Zeroes a random `rate` of the entries while training and rescales the rest."""

    name = "Dropout"
    family = "regularization"
    stochastic = True
    args = (
        Arg(
            "rate", "float", doc="fraction of entries dropped", min=0.0, max=1.0, max_exclusive=True
        ),
    )
    rule = "keeps the input's shape"
    example = "h = x |> Dropout(0.5)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]
