"""Random draws at inference: the deterministic value (`inference = "mean"` / `"mode"`) as
ONNX nodes; drawing at inference has no ONNX form that equals JAX's generator."""

from __future__ import annotations

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering
from nndsl.ops.attrs import to_float, to_int
from nndsl.shapes import DType


def _deterministic(call: LowerCall, name: str) -> None:
    if call.attrs["inference"] == "sample":
        raise Unsupported(
            f'`{name}(inference = "sample")` draws at inference; ONNX Runtime\'s generator '
            "cannot reproduce JAX's draws"
        )


def _filled(call: LowerCall, value: float) -> str:
    return call.op("Expand", call.g.scalar(value, call.out.dtype), call.op("Shape", call.x))


@lowering("sample_normal")
def sample_normal(call: LowerCall) -> str:
    _deterministic(call, "sample_normal")
    return _filled(call, to_float(call.attrs["mean"]))


@lowering("sample_uniform")
def sample_uniform(call: LowerCall) -> str:
    _deterministic(call, "sample_uniform")
    lo, hi = to_float(call.attrs["minval"]), to_float(call.attrs["maxval"])
    return _filled(call, (lo + hi) / 2)


@lowering("random_categorical")
def random_categorical(call: LowerCall) -> str:
    _deterministic(call, "random_categorical")
    mode = call.op("ArgMax", call.x, axis=-1, keepdims=1)
    mode = call.op("Cast", mode, to=onnx_dtype(DType.I32))
    n = to_int(call.attrs["num_samples"])
    if n == 1:
        return mode
    return call.op("Tile", mode, call.g.ints([1] * (call.rank - 1) + [n]))
