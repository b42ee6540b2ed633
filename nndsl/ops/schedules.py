"""Learning-rate schedules: values of an optimizer's `learning_rate` (Keras 3 names and arguments).

`optimizer = adam(learning_rate = cosine_decay(1e-3, 1000, warmup_target = 1e-2,
warmup_steps = 100))`. A schedule maps the optimizer's update count (0 at the first update)
to a rate; the runtime builds each from optax. A plain number stays a constant rate.
"""

from __future__ import annotations

from itertools import pairwise

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, Attrs, OpKind, OpSpec


def _rate(name: str, doc: str, default: float | None = None) -> Arg:
    if default is None:
        return Arg(name, "float", doc=doc, min=0.0)
    return Arg(name, "float", default, doc, min=0.0)


_INITIAL = _rate("initial_learning_rate", "the rate at step 0")
_DECAY_STEPS = Arg("decay_steps", "int", doc="steps over which the rate decays", min=1)
_STAIRCASE = Arg("staircase", "bool", False, "decay in whole periods of `decay_steps` only")


def _example(schedule: str) -> str:
    return f"optimizer = sgd(learning_rate = {schedule})"


class Schedule(OpSpec):
    kind = OpKind.SCHEDULE
    inputs = ()


@register
class ConstantSchedule(Schedule):
    """A constant rate; the same as writing the number (`learning_rate = 0.1`)."""

    name = "constant_schedule"
    args = (_rate("value", "the rate"),)
    example = _example("constant_schedule(0.1)")


@register
class ExponentialDecay(Schedule):
    """`initial_learning_rate * decay_rate ^ (step / decay_steps)` (Keras's ExponentialDecay)."""

    name = "exponential_decay"
    args = (
        _INITIAL,
        _DECAY_STEPS,
        Arg("decay_rate", "float", doc="factor per `decay_steps` steps", min=0.0),
        _STAIRCASE,
    )
    example = _example("exponential_decay(0.1, 1000, 0.96, staircase = true)")


@register
class InverseTimeDecay(Schedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (Keras's
    InverseTimeDecay)."""

    name = "inverse_time_decay"
    args = (
        _INITIAL,
        _DECAY_STEPS,
        Arg("decay_rate", "float", doc="how fast the rate falls", min=0.0),
        _STAIRCASE,
    )
    example = _example("inverse_time_decay(0.1, 1000, 0.5)")


@register
class PiecewiseConstantDecay(Schedule):
    """`values[0]` up to and including step `boundaries[0]`, then `values[1]`, ...; the last
    value after the last boundary (Keras's PiecewiseConstantDecay)."""

    name = "piecewise_constant_decay"
    aliases = ("piecewise_constant",)
    args = (
        Arg("boundaries", "ints", doc="increasing step numbers where the rate changes", min=0),
        Arg("values", "floats", doc="the rates, one more than `boundaries`", min=0.0),
    )
    example = _example("piecewise_constant_decay([1000, 2000], [0.1, 0.01, 0.001])")

    def validate(self, attrs: Attrs) -> None:
        boundaries = attrs["boundaries"]
        values = attrs["values"]
        assert isinstance(boundaries, tuple)
        n_values = len(values) if isinstance(values, tuple) else 1
        if n_values != len(boundaries) + 1:
            raise ArgError(
                "values",
                f"`values` needs one more entry than `boundaries`: {len(boundaries)} "
                f"boundaries, {n_values} values",
                help=f"give {len(boundaries) + 1} rates",
            )
        for a, b in pairwise(boundaries):
            if not (isinstance(a, int) and isinstance(b, int)) or b <= a:
                raise ArgError("boundaries", f"`boundaries` must increase, but {b} follows {a}")


@register
class PolynomialDecay(Schedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps` steps along
    `(1 - step / decay_steps) ^ power`; `cycle` restarts it with a longer period (Keras's
    PolynomialDecay)."""

    name = "polynomial_decay"
    args = (
        _INITIAL,
        _DECAY_STEPS,
        _rate("end_learning_rate", "the rate at and after `decay_steps`", 0.0001),
        Arg(
            "power", "float", 1.0, "exponent of the decay (1: linear)", min=0.0, min_exclusive=True
        ),
        Arg("cycle", "bool", False, "start again after `decay_steps`, over a multiple of it"),
    )
    example = _example("polynomial_decay(0.1, 10000, end_learning_rate = 0.001, power = 2.0)")


@register
class CosineDecay(Schedule):
    """Half a cosine from the rate to `alpha` times it over `decay_steps` steps, optionally
    after a linear warm-up from `initial_learning_rate` to `warmup_target` over
    `warmup_steps` steps (Keras's CosineDecay)."""

    name = "cosine_decay"
    args = (
        _INITIAL,
        Arg("decay_steps", "int", doc="steps of the cosine part, after the warm-up", min=1),
        Arg("alpha", "float", 0.0, "the final rate as a fraction of the peak", min=0.0, max=1.0),
        Arg(
            "warmup_target",
            "float",
            None,
            "the rate reached by the warm-up (none: no warm-up)",
            min=0.0,
            nullable=True,
        ),
        Arg("warmup_steps", "int", 0, "steps of linear warm-up", min=0),
    )
    example = _example("cosine_decay(0.0, 1000, warmup_target = 0.1, warmup_steps = 100)")

    def validate(self, attrs: Attrs) -> None:
        if attrs["warmup_steps"] and attrs["warmup_target"] is None:
            raise ArgError(
                "warmup_steps",
                "`warmup_steps` needs `warmup_target`, the rate the warm-up climbs to",
                help="add e.g. `warmup_target = 0.1`",
            )


@register
class OneCycle(Schedule):
    """The one-cycle policy: from `peak_value / div_factor` up to `peak_value` over the first
    `pct_start` of `transition_steps`, then down to `peak_value / (div_factor *
    final_div_factor)`; by half cosines (`anneal = "cos"`) or linearly (Smith's 1cycle;
    optax's one-cycle schedules)."""

    name = "one_cycle"
    args = (
        Arg("transition_steps", "int", doc="length of the whole cycle in steps", min=1),
        _rate("peak_value", "the highest rate"),
        Arg(
            "pct_start",
            "float",
            0.3,
            "fraction of the cycle spent rising",
            min=0.0,
            max=1.0,
            min_exclusive=True,
            max_exclusive=True,
        ),
        Arg("div_factor", "float", 25.0, "the start rate is `peak_value / div_factor`", min=1.0),
        Arg(
            "final_div_factor",
            "float",
            1e4,
            "the end rate is the start rate divided by this",
            min=1.0,
        ),
        Arg("anneal", "str", "cos", "shape of both phases", choices=("cos", "linear")),
    )
    example = _example("one_cycle(10000, 0.1, pct_start = 0.25)")
