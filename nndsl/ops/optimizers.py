"""Optimizers; the runtime builds each from optax."""

from __future__ import annotations

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, OpKind, OpSpec


def _learning_rate(default: float) -> Arg:
    return Arg(
        "learning_rate", "float", default, "step size", min=0.0, min_exclusive=True, aliases=("lr",)
    )


# The moment decays and epsilon shared by the Adam family (Keras's defaults).
_MOMENTS = (
    Arg("beta_1", "float", 0.9, "decay of the first moment", min=0.0, max=1.0, max_exclusive=True),
    Arg(
        "beta_2", "float", 0.999, "decay of the second moment", min=0.0, max=1.0, max_exclusive=True
    ),
    Arg("epsilon", "float", 1e-7, "added to the denominator", min=0.0),
)


class Optimizer(OpSpec):
    kind = OpKind.OPTIMIZER
    family = "optimizers"
    inputs = ()


@register
class Sgd(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum."""

    name = "sgd"
    args = (
        _learning_rate(0.01),
        Arg("momentum", "float", 0.0, "momentum factor", min=0.0, max=1.0),
        Arg("nesterov", "bool", False, "use Nesterov momentum"),
    )
    example = "optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true)"


@register
class Adam(Optimizer):
    """Adam: adaptive moment estimation."""

    name = "adam"
    args = (
        _learning_rate(1e-3),
        *_MOMENTS,
    )
    example = "optimizer = adam(lr = 1e-3)"


@register
class AdamW(Optimizer):
    """Adam with decoupled weight decay."""

    name = "adamw"
    args = (
        _learning_rate(1e-3),
        Arg("weight_decay", "float", 0.004, "decoupled decay rate", min=0.0),
        *_MOMENTS,
    )
    example = "optimizer = adamw(lr = 1e-3, weight_decay = 1e-4)"


@register
class RmsProp(Optimizer):
    """RMSprop: divides by a moving average of squared gradients."""

    name = "rmsprop"
    args = (
        _learning_rate(1e-3),
        Arg("rho", "float", 0.9, "decay of the squared-gradient average", min=0.0, max=1.0),
        Arg("momentum", "float", 0.0, "momentum factor", min=0.0, max=1.0),
        Arg("epsilon", "float", 1e-7, "added to the denominator", min=0.0),
        Arg("centered", "bool", False, "subtract the mean gradient"),
    )
    example = "optimizer = rmsprop(lr = 1e-3)"
