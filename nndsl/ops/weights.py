"""How weights start, what penalty they add to the loss, and what they are projected onto.

Initializers, regularizers and constraints are specs like layers: users pass them as argument
values (`kernel_initializer = truncated_normal(stddev = 0.02)`, `kernel_regularizer =
l2(1e-4)`, `kernel_constraint = max_norm(3)`), and a bare name means the defaults
(`kernel_initializer = he_normal`, or the string `"he_normal"` as in Keras).
"""

from __future__ import annotations

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, OpKind, OpSpec


class Initializer(OpSpec):
    kind = OpKind.INITIALIZER
    family = "weights"
    inputs = ()


class Regularizer(OpSpec):
    kind = OpKind.REGULARIZER
    family = "weights"
    inputs = ()


class Constraint(OpSpec):
    kind = OpKind.CONSTRAINT
    family = "weights"
    inputs = ()


# -- initializers: variance scaling (Keras's fans: in * receptive field, out * receptive field)
def _scaling(name: str, doc: str, aliases: tuple[str, ...] = ()) -> type[Initializer]:
    cls = type(
        name,
        (Initializer,),
        {
            "__doc__": doc,
            "name": name,
            "aliases": aliases,
            "example": f"h = x |> Dense(64, kernel_initializer = {name})",
        },
    )
    return register(cls)  # type: ignore[return-value]


_scaling("glorot_uniform", "Uniform in `±sqrt(6 / (fan_in + fan_out))` (Xavier).")
_scaling("glorot_normal", "Truncated normal, std `sqrt(2 / (fan_in + fan_out))` (Xavier).")
_scaling("he_uniform", "Uniform in `±sqrt(6 / fan_in)`; suits ReLU layers.")
_scaling("he_normal", "Truncated normal, std `sqrt(2 / fan_in)`; suits ReLU layers.")
_scaling("lecun_uniform", "Uniform in `±sqrt(3 / fan_in)`; suits SELU layers.")
_scaling("lecun_normal", "Truncated normal, std `sqrt(1 / fan_in)`; suits SELU layers.")
_scaling("zeros", "All zeros (the default for biases).")
_scaling("ones", "All ones (the default for normalization scales).")


# -- regularizers: a penalty on the weight, added to the training loss ----------------------


@register
class L1(Regularizer):
    """Adds `l1 * sum(abs(w))` to the training loss."""

    name = "l1"
    args = (Arg("l1", "float", 0.01, "the penalty factor", min=0.0),)
    example = "h = x |> Dense(64, kernel_regularizer = l1(1e-5))"


@register
class L2(Regularizer):
    """Adds `l2 * sum(w ** 2)` to the training loss (Keras's L2; no factor 1/2)."""

    name = "l2"
    args = (Arg("l2", "float", 0.01, "the penalty factor", min=0.0),)
    example = "h = x |> Dense(64, kernel_regularizer = l2(1e-4))"


@register
class L1L2(Regularizer):
    """Adds `l1 * sum(abs(w)) + l2 * sum(w ** 2)` to the training loss."""

    name = "l1_l2"
    args = (
        Arg("l1", "float", 0.0, "the L1 factor", min=0.0),
        Arg("l2", "float", 0.0, "the L2 factor", min=0.0),
    )
    example = "h = x |> Dense(64, kernel_regularizer = l1_l2(l1 = 1e-5, l2 = 1e-4))"


# -- constraints: a projection applied to the weight after every optimizer update ------------
_AXIS = Arg("axis", "int", 0, "the axis along which norms are taken (Keras's default 0)")


@register
class MaxNorm(Constraint):
    """Rescales each slice whose L2 norm along `axis` exceeds `max_value` down to it."""

    name = "max_norm"
    args = (Arg("max_value", "float", 2.0, "the largest norm allowed", min=0.0), _AXIS)
    example = "h = x |> Dense(64, kernel_constraint = max_norm(3))"


@register
class NonNeg(Constraint):
    """Clips negative entries to zero."""

    name = "non_neg"
    example = "h = x |> Dense(64, kernel_constraint = non_neg)"


@register
class UnitNorm(Constraint):
    """Rescales each slice along `axis` to unit L2 norm."""

    name = "unit_norm"
    args = (_AXIS,)
    example = "h = x |> Dense(64, kernel_constraint = unit_norm)"


@register
class MinMaxNorm(Constraint):
    """Keeps each slice's L2 norm along `axis` in `[min_value, max_value]`, moving it there
    at `rate` (1 = at once)."""

    name = "min_max_norm"
    args = (
        Arg("min_value", "float", 0.0, "the smallest norm allowed", min=0.0),
        Arg("max_value", "float", 1.0, "the largest norm allowed", min=0.0),
        Arg("rate", "float", 1.0, "how far to move toward the allowed range", min=0.0, max=1.0),
        _AXIS,
    )
    example = "h = x |> Dense(64, kernel_constraint = min_max_norm(0.5, 2.0))"
