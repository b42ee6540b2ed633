"""Pooling as ONNX nodes, matching `nndsl/backend/jax/impls/pool.py`.

Windowed pools are `MaxPool` / `AveragePool` (channels first, transposed at the edges) with
the shared explicit "same" padding; padded cells never win a max, and `count_include_pad = 0`
leaves them out of a mean as Keras does. Global pools are reductions over the spatial axes in
the layer's own layout, so they need no transpose.
"""

from __future__ import annotations

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.layout import to_channels_first, to_channels_last
from nndsl.backend.onnx.lowerings.conv import channels_first, onnx_pads, require_window_dtype
from nndsl.backend.onnx.registry import LowerCall, lowering
from nndsl.ops.attrs import to_ints


def _pool(call: LowerCall, op_type: str, **extra: object) -> str:
    require_window_dtype(call, op_type)
    n = call.rank - 2
    window = list(to_ints(call.attrs["pool_size"], n))
    strides_attr = call.attrs["strides"]
    strides = window if strides_attr is None else list(to_ints(strides_attr, n))
    first = channels_first(call)
    x = call.x if first else to_channels_first(call, call.x, call.rank)
    y = call.op(
        op_type,
        x,
        kernel_shape=window,
        strides=strides,
        **onnx_pads(call, window, strides, [1] * n),
        **extra,
    )
    return y if first else to_channels_last(call, y, call.rank)


def max_pool(call: LowerCall) -> str:
    return _pool(call, "MaxPool")


def avg_pool(call: LowerCall) -> str:
    return _pool(call, "AveragePool", count_include_pad=0)


def _spatial_axes(call: LowerCall) -> list[int]:
    n = call.rank - 2
    return list(range(2, n + 2)) if channels_first(call) else list(range(1, n + 1))


def global_max_pool(call: LowerCall) -> str:
    axes = call.g.ints(_spatial_axes(call))
    return call.op("ReduceMax", call.x, axes, keepdims=int(bool(call.attrs["keepdims"])))


def global_avg_pool(call: LowerCall) -> str:
    """With a mask `[B, T]` (1-D only), masked steps count neither in the sum nor the divisor."""
    axes = call.g.ints(_spatial_axes(call))
    keepdims = int(bool(call.attrs["keepdims"]))
    if len(call.inputs) < 2:
        return call.op("ReduceMean", call.x, axes, keepdims=keepdims)
    channel_axis = 1 if channels_first(call) else 2
    mask = call.op("Unsqueeze", call.inputs[1], call.g.ints([channel_axis]))
    kept = call.op("Where", mask, call.x, call.g.scalar(0, call.dtype))
    total = call.op("ReduceSum", kept, axes, keepdims=keepdims)
    ones = call.op("Cast", mask, to=onnx_dtype(call.dtype))
    count = call.op("ReduceSum", ones, axes, keepdims=keepdims)
    return call.op("Div", total, count)


for _n in (1, 2, 3):
    lowering(f"MaxPooling{_n}D")(max_pool)
    lowering(f"AveragePooling{_n}D")(avg_pool)
    lowering(f"GlobalMaxPooling{_n}D")(global_max_pool)
    lowering(f"GlobalAveragePooling{_n}D")(global_avg_pool)
