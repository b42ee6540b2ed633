"""Layout helpers shared by the lowerings: nndsl is channels-last (Keras's default), ONNX's
convolutions, pools and normalizations are channels-first. Lowerings transpose at their own
edges; ONNX Runtime's transpose optimizer cancels the pairs that meet between two layers."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.backend.onnx.registry import LowerCall


def channels_first_perm(rank: int) -> list[int]:
    """NHWC -> NCHW (any rank >= 3)."""
    return [0, rank - 1, *range(1, rank - 1)]


def channels_last_perm(rank: int) -> list[int]:
    """NCHW -> NHWC (any rank >= 3)."""
    return [0, *range(2, rank), 1]


def to_channels_first(call: LowerCall, x: str, rank: int) -> str:
    return call.op("Transpose", x, perm=channels_first_perm(rank))


def to_channels_last(call: LowerCall, x: str, rank: int) -> str:
    return call.op("Transpose", x, perm=channels_last_perm(rank))


def shape_of(call: LowerCall, x: str) -> str:
    """The run-time shape of `x` as an int64 vector."""
    return call.op("Shape", x)


def dims_of(call: LowerCall, x: str, axes: Sequence[int]) -> str:
    """The run-time sizes of `axes` of `x` as an int64 vector (for shapes with symbolic dims)."""
    return call.op("Gather", shape_of(call, x), call.g.ints(list(axes)), axis=0)
