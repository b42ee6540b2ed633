"""Conv2D over NHWC inputs with HWIO kernels (Keras's layout)."""

from __future__ import annotations

import jax

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.impls.attrs import to_ints
from nndsl.backend.jax.registry import ApplyCall, impl


@impl("Conv2D")
def conv2d(call: ApplyCall) -> jax.Array:
    """`"same"` pads as TensorFlow/Keras do (the extra row/column goes at the end)."""
    y = jax.lax.conv_general_dilated(
        call.x,
        call.params["kernel"],
        window_strides=to_ints(call.attrs.get("strides", 1), 2),
        padding=str(call.attrs.get("padding", "valid")).upper(),
        rhs_dilation=to_ints(call.attrs.get("dilation_rate", 1), 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    if "bias" in call.params:
        y = y + call.params["bias"]
    return activate(call.attrs.get("activation", "linear"), y)
