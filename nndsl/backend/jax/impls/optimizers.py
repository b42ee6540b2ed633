"""Optimizers from optax, with Keras's argument names and defaults.

Note: optax's Adam puts epsilon outside the bias correction (`m_hat / (sqrt(v_hat) + eps)`),
Keras inside; with the default 1e-7 the difference is negligible.
"""

from __future__ import annotations

import optax

from nndsl.backend.jax.impls.attrs import to_float
from nndsl.backend.jax.registry import Attrs, impl


@impl("sgd")
def sgd(attrs: Attrs) -> optax.GradientTransformation:
    momentum = to_float(attrs.get("momentum", 0.0))
    return optax.sgd(
        to_float(attrs.get("learning_rate", 0.01)),
        momentum=momentum or None,
        nesterov=bool(attrs.get("nesterov", False)),
    )


@impl("adam")
def adam(attrs: Attrs) -> optax.GradientTransformation:
    return optax.adam(
        to_float(attrs.get("learning_rate", 1e-3)),
        b1=to_float(attrs.get("beta_1", 0.9)),
        b2=to_float(attrs.get("beta_2", 0.999)),
        eps=to_float(attrs.get("epsilon", 1e-7)),
    )


@impl("adamw")
def adamw(attrs: Attrs) -> optax.GradientTransformation:
    return optax.adamw(
        to_float(attrs.get("learning_rate", 1e-3)),
        b1=to_float(attrs.get("beta_1", 0.9)),
        b2=to_float(attrs.get("beta_2", 0.999)),
        eps=to_float(attrs.get("epsilon", 1e-7)),
        weight_decay=to_float(attrs.get("weight_decay", 0.004)),
    )


@impl("rmsprop")
def rmsprop(attrs: Attrs) -> optax.GradientTransformation:
    momentum = to_float(attrs.get("momentum", 0.0))
    return optax.rmsprop(
        to_float(attrs.get("learning_rate", 1e-3)),
        decay=to_float(attrs.get("rho", 0.9)),
        eps=to_float(attrs.get("epsilon", 1e-7)),
        centered=bool(attrs.get("centered", False)),
        momentum=momentum or None,
    )
