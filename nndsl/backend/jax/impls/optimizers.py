"""Optimizers from optax, with Keras 3's argument names, defaults and common options.

Each optimizer is composed the way optax composes its own aliases, so Keras's common options
slot in at the same places as in Keras's `BaseOptimizer.apply`:

    [clip] -> direction (optax `scale_by_*`) -> [+ weight_decay * w] -> * -learning_rate
    wrapped in optax.MultiSteps for `gradient_accumulation_steps`, then [EMA of the weights]

The direction is the optimizer's own rule (Adam's `m_hat / (sqrt(v_hat) + eps)`, ...); the
weight-decay term is scaled by the same learning rate (Keras: `w -= lr * wd * w` before each
update). The EMA sits outside the accumulation, so, as in Keras, it moves every batch.

Where the two libraries differ, nndsl follows optax (tests compare against Keras where they
agree and against NumPy where they do not):
- Adam/AdamW/Adamax: Keras adds epsilon to `sqrt(v)` before the bias correction (an effective
  `eps / sqrt(1 - beta_2^t)`); optax after. Negligible for epsilon = 1e-7.
- Adam's `amsgrad`: optax keeps the maximum of the bias-corrected second moment, Keras of the
  raw one.
- Nadam: optax's Nesterov Adam, without Keras's momentum-decay schedule (`0.96^(0.004 t)`).
- With a schedule, momentum (SGD, RMSprop) accumulates gradients and the rate multiplies the
  result; Keras accumulates rate-scaled steps. Identical for a constant rate.
- With `gradient_accumulation_steps`, a schedule counts updates (optax); Keras 3 evaluates
  it at the batch count (Adam's bias correction counts updates in both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from nndsl.backend.jax.impls.schedules import learning_rate
from nndsl.backend.jax.registry import Attrs, impl
from nndsl.backend.jax.repeat import is_packed
from nndsl.ops.attrs import to_float, to_int


class EmaState(NamedTuple):
    """The moving average of the weights (Keras's `use_ema`) and how many updates it saw."""

    batches: jax.Array
    ema: optax.Params


def weights_ema(momentum: float, first: int = 1) -> optax.GradientTransformation:
    """Track an EMA of the weights after each batch; the updates pass through unchanged.

    Keras's rule: until the first real update (`first` batches with gradient accumulation)
    the average copies the weights, later batches blend them in with `momentum`."""

    def init(params: optax.Params) -> EmaState:
        return EmaState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(
        updates: optax.Updates, state: EmaState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, EmaState]:
        if params is None:
            raise ValueError(optax.NO_PARAMS_MSG)
        new = optax.apply_updates(params, updates)
        m = jnp.where(state.batches < first, 0.0, momentum)
        ema = jax.tree.map(lambda a, w: (m * a + (1.0 - m) * w).astype(a.dtype), state.ema, new)
        return updates, EmaState(optax.safe_increment(state.batches), ema)

    return optax.GradientTransformation(init, update)


def final_weights(params: Any, opt_state: Any) -> Any:
    """The weights to keep when training ends: the EMA under `use_ema` (as Keras's
    `finalize_variable_values` at the end of `fit`), else `params` themselves."""
    # Searched for, not indexed: the runtime may wrap the optimizer (`inject_hyperparams`).
    found = [
        s
        for s in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, EmaState))
        if isinstance(s, EmaState)
    ]
    return found[0].ema if found else params


def _clip_each(max_norm: float) -> optax.GradientTransformation:
    """Keras's `clipnorm`: each gradient tensor on its own to at most `max_norm` (L2)."""

    def clip(g: jax.Array) -> jax.Array:
        norm = jnp.sqrt(jnp.sum(jnp.square(g)))
        return g * (max_norm / jnp.maximum(norm, max_norm))

    return per_copy(optax.stateless_with_tree_map(lambda g, _p: clip(g)))


def per_copy(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """A stateless `tx` that treats each weight on its own (a norm per tensor) applied to each
    copy of a repeat's stacked weight (`backend.jax.stacking`) on its own, as to the
    per-copy weights it stands for; other leaves as `tx` does."""

    def one(u: Any, p: Any) -> Any:
        return tx.update(u, optax.EmptyState(), p)[0]

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        def leaf(path: Any, u: Any, p: Any = None) -> Any:
            return jax.vmap(one)(u, p) if is_packed(path) else one(u, p)

        rest = () if params is None else (params,)
        return jax.tree_util.tree_map_with_path(leaf, updates, *rest), state

    return optax.GradientTransformation(lambda _params: optax.EmptyState(), update)


def _clipping(attrs: Attrs) -> list[optax.GradientTransformation]:
    if (v := attrs["clipnorm"]) is not None:
        return [_clip_each(to_float(v))]
    if (v := attrs["global_clipnorm"]) is not None:
        return [optax.clip_by_global_norm(to_float(v))]
    if (v := attrs["clipvalue"]) is not None:
        return [optax.clip(to_float(v))]
    return []


def _capped(lr: float | optax.Schedule, cap: Callable[[jax.Array], jax.Array]) -> optax.Schedule:
    def schedule(count: jax.Array) -> jax.Array:
        return jnp.minimum(lr(count) if callable(lr) else lr, cap(count))

    return schedule


def _optimizer(
    attrs: Attrs,
    direction: optax.GradientTransformation,
    cap: Callable[[jax.Array], jax.Array] | None = None,
) -> optax.GradientTransformation:
    """`direction` with Keras's common options around it; `cap(count)` bounds the rate."""
    lr = learning_rate(attrs["learning_rate"])
    if cap is not None:
        lr = _capped(lr, cap)
    parts = [*_clipping(attrs), direction]
    decay = to_float(attrs["weight_decay"] or 0.0)
    if decay:
        parts.append(optax.add_decayed_weights(decay))
    parts.append(optax.scale_by_learning_rate(lr))
    tx = optax.chain(*parts)
    k = attrs["gradient_accumulation_steps"]
    if k is not None:
        tx = optax.MultiSteps(tx, every_k_schedule=to_int(k)).gradient_transformation()
    if attrs["use_ema"]:
        tx = optax.chain(tx, weights_ema(to_float(attrs["ema_momentum"]), to_int(k or 1)))
    return tx


def _f(attrs: Attrs, name: str) -> float:
    return to_float(attrs[name])


@impl("sgd")
def sgd(attrs: Attrs) -> optax.GradientTransformation:
    momentum = _f(attrs, "momentum")
    if not momentum:
        return _optimizer(attrs, optax.identity())
    return _optimizer(attrs, optax.trace(momentum, nesterov=bool(attrs["nesterov"])))


@impl("rmsprop")
def rmsprop(attrs: Attrs) -> optax.GradientTransformation:
    rho, eps = _f(attrs, "rho"), _f(attrs, "epsilon")
    scale = optax.scale_by_stddev(rho, eps) if attrs["centered"] else optax.scale_by_rms(rho, eps)
    momentum = _f(attrs, "momentum")
    return _optimizer(attrs, optax.chain(scale, optax.trace(momentum)) if momentum else scale)


def _adam(attrs: Attrs) -> optax.GradientTransformation:
    b1, b2, eps = _f(attrs, "beta_1"), _f(attrs, "beta_2"), _f(attrs, "epsilon")
    if attrs["amsgrad"]:
        return _optimizer(attrs, optax.scale_by_amsgrad(b1, b2, eps))
    return _optimizer(attrs, optax.scale_by_adam(b1, b2, eps))


impl("adam")(_adam)
impl("adamw")(_adam)  # the same rule; only the default `weight_decay` differs


@impl("adamax")
def adamax(attrs: Attrs) -> optax.GradientTransformation:
    b1, b2, eps = _f(attrs, "beta_1"), _f(attrs, "beta_2"), _f(attrs, "epsilon")
    return _optimizer(attrs, optax.scale_by_adamax(b1, b2, eps))


@impl("nadam")
def nadam(attrs: Attrs) -> optax.GradientTransformation:
    b1, b2, eps = _f(attrs, "beta_1"), _f(attrs, "beta_2"), _f(attrs, "epsilon")
    return _optimizer(attrs, optax.scale_by_adam(b1, b2, eps, nesterov=True))


@impl("adagrad")
def adagrad(attrs: Attrs) -> optax.GradientTransformation:
    rss = optax.scale_by_rss(_f(attrs, "initial_accumulator_value"), _f(attrs, "epsilon"))
    return _optimizer(attrs, rss)


@impl("adadelta")
def adadelta(attrs: Attrs) -> optax.GradientTransformation:
    return _optimizer(attrs, optax.scale_by_adadelta(_f(attrs, "rho"), _f(attrs, "epsilon")))


# Optimizers whose state has a shape of its own per weight (Adafactor's factored moments): a
# repeat's weights are not stacked in training under them (`backend.jax.stacking.plan`).
PER_COPY_OPTIMIZERS = frozenset({"adafactor"})


@impl("adafactor")
def adafactor(attrs: Attrs) -> optax.GradientTransformation:
    direction = optax.chain(
        optax.scale_by_factored_rms(
            decay_rate=-_f(attrs, "beta_2_decay"),
            min_dim_size_to_factor=1,  # every weight of rank >= 2, as Keras
            epsilon=_f(attrs, "epsilon_1"),
        ),
        optax.clip_by_block_rms(_f(attrs, "clip_threshold")),
        optax.scale_by_param_block_rms(_f(attrs, "epsilon_2")),
    )
    # Keras's relative step size: the rate is at most 1 / sqrt(step), step counted from 1.
    return _optimizer(attrs, direction, cap=lambda count: jax.lax.rsqrt(count + 1.0))


@impl("lion")
def lion(attrs: Attrs) -> optax.GradientTransformation:
    return _optimizer(attrs, optax.scale_by_lion(_f(attrs, "beta_1"), _f(attrs, "beta_2")))


@impl("lamb")
def lamb(attrs: Attrs) -> optax.GradientTransformation:
    b1, b2, eps = _f(attrs, "beta_1"), _f(attrs, "beta_2"), _f(attrs, "epsilon")
    return _optimizer(
        attrs, optax.chain(optax.scale_by_adam(b1, b2, eps), per_copy(optax.scale_by_trust_ratio()))
    )
