"""Optimizers, with Keras 3's names, arguments and defaults; the runtime builds each from optax.

Every optimizer also takes Keras's common options (keyword only): `weight_decay`, one of
`clipnorm` / `global_clipnorm` / `clipvalue`, `gradient_accumulation_steps`, `use_ema` and
`ema_momentum`. `learning_rate` (also `lr`) is a number or a schedule (`nndsl/ops/schedules.py`).
"""

from __future__ import annotations

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, Attrs, OpKind, OpSpec


def _learning_rate(default: float) -> Arg:
    return Arg(
        "learning_rate",
        "schedule",
        default,
        "step size: a number, or a schedule such as `cosine_decay(1e-3, 1000)`",
        min=0.0,
        min_exclusive=True,
        aliases=("lr",),
    )


def _beta(name: str, default: float, doc: str) -> Arg:
    return Arg(name, "float", default, doc, min=0.0, max=1.0, max_exclusive=True)


def _epsilon(default: float = 1e-7) -> Arg:
    return Arg("epsilon", "float", default, "added to the denominator", min=0.0)


def _clip(name: str, doc: str) -> Arg:
    return Arg(
        name, "float", None, doc, min=0.0, min_exclusive=True, nullable=True, keyword_only=True
    )


def _weight_decay(default: float, keyword_only: bool = True) -> Arg:
    return Arg(
        "weight_decay",
        "float",
        default,
        "decoupled decay: each update also subtracts `learning_rate * weight_decay * w`",
        min=0.0,
        keyword_only=keyword_only,
    )


# Keras's `BaseOptimizer` options, on every optimizer.
_CLIPS = ("clipnorm", "global_clipnorm", "clipvalue")
_COMMON = (
    _clip("clipnorm", "clip each gradient tensor to this L2 norm"),
    _clip("global_clipnorm", "clip all gradients together to this global L2 norm"),
    _clip("clipvalue", "clip each gradient entry to [-clipvalue, clipvalue]"),
    Arg(
        "gradient_accumulation_steps",
        "int",
        None,
        "update once every this many batches, with the mean of their gradients",
        min=2,
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "use_ema",
        "bool",
        False,
        "keep a moving average of the weights; it replaces them when training ends",
        keyword_only=True,
    ),
    Arg(
        "ema_momentum",
        "float",
        0.99,
        "decay of the weights' moving average",
        min=0.0,
        max=1.0,
        keyword_only=True,
    ),
)


class Optimizer(OpSpec):
    kind = OpKind.OPTIMIZER
    inputs = ()

    def validate(self, attrs: Attrs) -> None:
        given = [c for c in _CLIPS if attrs[c] is not None]
        if len(given) > 1:
            raise ArgError(
                given[1],
                f"only one of `clipnorm`, `global_clipnorm` and `clipvalue` can be set; "
                f"`{given[0]}` is set too",
            )


def _args(lr: float, *own: Arg, weight_decay: float | None = 0.0) -> tuple[Arg, ...]:
    """The optimizer's own arguments, then the common ones (AdamW has its own decay)."""
    decay = () if weight_decay is None else (_weight_decay(weight_decay),)
    return (_learning_rate(lr), *own, *decay, *_COMMON)


_AMSGRAD = Arg("amsgrad", "bool", False, "AMSGrad: divide by the largest second moment so far")


@register
class Sgd(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum."""

    name = "sgd"
    args = _args(
        0.01,
        Arg("momentum", "float", 0.0, "momentum factor", min=0.0, max=1.0),
        Arg("nesterov", "bool", False, "use Nesterov momentum"),
    )
    example = "optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true, clipnorm = 1.0)"


@register
class RmsProp(Optimizer):
    """RMSprop: divides by a moving average of squared gradients."""

    name = "rmsprop"
    args = _args(
        1e-3,
        Arg("rho", "float", 0.9, "decay of the squared-gradient average", min=0.0, max=1.0),
        Arg("momentum", "float", 0.0, "momentum factor", min=0.0, max=1.0),
        _epsilon(),
        Arg("centered", "bool", False, "subtract the mean gradient"),
    )
    example = "optimizer = rmsprop(lr = 1e-3, rho = 0.9, centered = true)"


@register
class Adam(Optimizer):
    """Adam: adaptive moment estimation."""

    name = "adam"
    args = _args(
        1e-3,
        _beta("beta_1", 0.9, "decay of the first moment"),
        _beta("beta_2", 0.999, "decay of the second moment"),
        _epsilon(),
        _AMSGRAD,
    )
    example = "optimizer = adam(lr = 1e-3, global_clipnorm = 1.0, use_ema = true)"


@register
class AdamW(Optimizer):
    """Adam with decoupled weight decay (Keras's default decay 0.004)."""

    name = "adamw"
    args = (
        _learning_rate(1e-3),
        _weight_decay(0.004, keyword_only=False),
        _beta("beta_1", 0.9, "decay of the first moment"),
        _beta("beta_2", 0.999, "decay of the second moment"),
        _epsilon(),
        _AMSGRAD,
        *_COMMON,
    )
    example = "optimizer = adamw(lr = 1e-3, weight_decay = 1e-4)"


@register
class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm in place of the second moment."""

    name = "adamax"
    args = _args(
        1e-3,
        _beta("beta_1", 0.9, "decay of the first moment"),
        _beta("beta_2", 0.999, "decay of the infinity norm"),
        _epsilon(),
    )
    example = "optimizer = adamax(lr = 2e-3)"


@register
class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (optax's form, without Keras's momentum schedule)."""

    name = "nadam"
    args = _args(
        1e-3,
        _beta("beta_1", 0.9, "decay of the first moment"),
        _beta("beta_2", 0.999, "decay of the second moment"),
        _epsilon(),
    )
    example = "optimizer = nadam(lr = 1e-3)"


@register
class Adagrad(Optimizer):
    """Adagrad: divides by the root of the sum of all squared gradients so far."""

    name = "adagrad"
    args = _args(
        1e-3,
        Arg(
            "initial_accumulator_value",
            "float",
            0.1,
            "start of the sum of squared gradients",
            min=0.0,
        ),
        _epsilon(),
    )
    example = "optimizer = adagrad(lr = 0.01)"


@register
class Adadelta(Optimizer):
    """Adadelta: step sizes from moving averages of squared gradients and squared updates."""

    name = "adadelta"
    args = _args(
        1e-3,
        Arg("rho", "float", 0.95, "decay of the moving averages", min=0.0, max=1.0),
        _epsilon(),
    )
    example = "optimizer = adadelta(lr = 1.0)"


@register
class Adafactor(Optimizer):
    """Adafactor: a factored second moment (row and column averages) for matrices, updates
    clipped by their RMS and scaled by the weights' RMS; the rate is at most `1 / sqrt(step)`.
    As in Keras, every weight of rank >= 2 is factored (over its two largest axes, where
    Keras takes the last two); Keras's `relative_step` is left out (no effect in Keras 3).
    """

    name = "adafactor"
    args = _args(
        1e-3,
        Arg(
            "beta_2_decay",
            "float",
            -0.8,
            "the second moment's weight is `1 - step ^ beta_2_decay`",
            max=0.0,
            max_exclusive=True,
        ),
        Arg("epsilon_1", "float", 1e-30, "added to the squared gradients", min=0.0),
        Arg("epsilon_2", "float", 1e-3, "least weight RMS the update is scaled by", min=0.0),
        Arg(
            "clip_threshold",
            "float",
            1.0,
            "largest RMS of an update before scaling",
            min=0.0,
            min_exclusive=True,
        ),
    )
    example = "optimizer = adafactor(lr = 1e-2)"


@register
class Lion(Optimizer):
    """Lion: the sign of an interpolated momentum (use a 3-10x smaller rate than Adam's)."""

    name = "lion"
    args = _args(
        1e-3,
        _beta("beta_1", 0.9, "interpolation of gradient and momentum for the update"),
        _beta("beta_2", 0.99, "decay of the momentum"),
    )
    example = "optimizer = lion(lr = 1e-4, weight_decay = 0.01)"


@register
class Lamb(Optimizer):
    """LAMB: Adam's update rescaled per weight tensor by `||w|| / ||update||`."""

    name = "lamb"
    args = _args(
        1e-3,
        _beta("beta_1", 0.9, "decay of the first moment"),
        _beta("beta_2", 0.999, "decay of the second moment"),
        _epsilon(),
    )
    example = "optimizer = lamb(lr = 1e-3)"
