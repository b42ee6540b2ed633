"""Learning-rate schedules (specs in `nndsl.ops.schedules`), as optax schedules.

Signature: `fn(cfg: Configured) -> optax.Schedule`, a function of the update count (0 at the
first update). Where optax has the schedule with Keras's semantics it is used as is; Keras's
inverse-time decay, piecewise-constant boundaries (a boundary step still takes the earlier
value) and polynomial `cycle` have no optax equivalent and are written here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from nndsl.backend.jax.registry import impl, implementation
from nndsl.ops import ArgValue, Configured
from nndsl.ops.attrs import to_float, to_int


def learning_rate(value: ArgValue) -> float | optax.Schedule:
    """An optimizer's `learning_rate`: a number stays a number, a schedule becomes one."""
    if isinstance(value, Configured):
        schedule: optax.Schedule = implementation(value.name)(value)
        return schedule
    return to_float(value)


def _floats(value: ArgValue) -> list[float]:
    return [to_float(v) for v in value] if isinstance(value, tuple) else [to_float(value)]


@impl("constant_schedule")
def constant_schedule(cfg: Configured) -> optax.Schedule:
    return optax.constant_schedule(to_float(cfg["value"]))


@impl("exponential_decay")
def exponential_decay(cfg: Configured) -> optax.Schedule:
    return optax.exponential_decay(
        to_float(cfg["initial_learning_rate"]),
        transition_steps=to_int(cfg["decay_steps"]),
        decay_rate=to_float(cfg["decay_rate"]),
        staircase=bool(cfg["staircase"]),
    )


@impl("inverse_time_decay")
def inverse_time_decay(cfg: Configured) -> optax.Schedule:
    initial = to_float(cfg["initial_learning_rate"])
    steps = float(to_int(cfg["decay_steps"]))
    rate = to_float(cfg["decay_rate"])
    staircase = bool(cfg["staircase"])

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        p = jnp.asarray(count, jnp.float32) / steps
        return initial / (1.0 + rate * (jnp.floor(p) if staircase else p))

    return schedule


@impl("piecewise_constant_decay")
def piecewise_constant_decay(cfg: Configured) -> optax.Schedule:
    # optax's piecewise schedules switch at the boundary step itself; Keras one step later.
    boundary = cfg["boundaries"]
    boundaries = jnp.asarray(
        [to_int(b) for b in boundary] if isinstance(boundary, tuple) else [], jnp.int32
    )
    values = jnp.asarray(_floats(cfg["values"]), jnp.float32)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        return values[jnp.sum(jnp.asarray(count) > boundaries)]

    return schedule


@impl("polynomial_decay")
def polynomial_decay(cfg: Configured) -> optax.Schedule:
    initial = to_float(cfg["initial_learning_rate"])
    steps = to_int(cfg["decay_steps"])
    end = to_float(cfg["end_learning_rate"])
    power = to_float(cfg["power"])
    if not cfg["cycle"]:
        return optax.polynomial_schedule(initial, end, power, steps)

    def cycling(count: jax.typing.ArrayLike) -> jax.Array:
        step = jnp.asarray(count, jnp.float32)
        # Keras: the period grows to the next multiple of `decay_steps` (step 0: one period).
        period = steps * jnp.where(step == 0, 1.0, jnp.ceil(step / steps))
        return (initial - end) * (1.0 - step / period) ** power + end

    return cycling


@impl("cosine_decay")
def cosine_decay(cfg: Configured) -> optax.Schedule:
    initial = to_float(cfg["initial_learning_rate"])
    steps = to_int(cfg["decay_steps"])
    alpha = to_float(cfg["alpha"])
    target = cfg["warmup_target"]
    if target is None:
        return optax.cosine_decay_schedule(initial, steps, alpha)
    warmup = to_int(cfg["warmup_steps"])
    peak = to_float(target)
    # Keras: linear warm-up from `initial` to `warmup_target`, then the cosine from there.
    return optax.join_schedules(
        [
            optax.linear_schedule(initial, peak, warmup),
            optax.cosine_decay_schedule(peak, steps, alpha),
        ],
        [warmup],
    )


@impl("one_cycle")
def one_cycle(cfg: Configured) -> optax.Schedule:
    total = to_int(cfg["transition_steps"])
    peak = to_float(cfg["peak_value"])
    pct_start = to_float(cfg["pct_start"])
    div, final_div = to_float(cfg["div_factor"]), to_float(cfg["final_div_factor"])
    if cfg["anneal"] == "cos":
        return optax.cosine_onecycle_schedule(total, peak, pct_start, div, final_div)
    start, rise = peak / div, int(pct_start * total)
    return optax.join_schedules(
        [
            optax.linear_schedule(start, peak, rise),
            optax.linear_schedule(peak, start / final_div, total - rise),
        ],
        [rise],
    )
