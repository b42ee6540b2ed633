"""`add_loss`: the scalar joins the step's added losses (`ApplyCall.add_loss`); `x` passes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl


@impl("add_loss")
def add_loss(call: ApplyCall) -> jax.Array:
    call.add_loss(call.inputs[1].astype(jnp.float32))
    return call.x
