"""Reshaping layers as ONNX nodes, matching `nndsl/backend/jax/impls/reshaping.py`.

The batch axis stays dynamic throughout: shapes are given with ONNX's `0` (copy this axis) and
`-1` (infer), or computed from the input's run-time shape; no lowering here fixes a size the
checker left symbolic.
"""

from __future__ import annotations

from collections.abc import Callable

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.layout import (
    channels_first_perm,
    channels_last_perm,
    dims_of,
    shape_of,
    to_channels_last,
)
from nndsl.backend.onnx.registry import LowerCall, Lowering, Unsupported, lowering
from nndsl.ops.attrs import to_ints
from nndsl.ops.reshaping import pairs
from nndsl.shapes import DType

INT64_MAX = 2**63 - 1


def _channels_first(call: LowerCall) -> bool:
    """Only some of these layers take `data_format`; the others are channels last."""
    return "data_format" in call.attrs and call.attrs["data_format"] == "channels_first"


def _spatial(call: LowerCall, n: int) -> list[int]:
    first = 2 if _channels_first(call) else 1
    return list(range(first, first + n))


@lowering("Flatten")
def flatten(call: LowerCall) -> str:
    """Channels-last order is row-major already; channels-first inputs are moved to channels
    last first, so the order matches Keras."""
    x = call.x
    if _channels_first(call) and call.rank > 2:
        x = to_channels_last(call, x, call.rank)
    return call.op("Flatten", x, axis=1)


@lowering("Reshape")
def reshape(call: LowerCall) -> str:
    """`[0, *target]`: the output type's sizes, with one run-time size left to ONNX's -1 and any
    other taken from an input axis of the same symbolic size."""
    dims = call.out.shape[1:]
    unknown = [i for i, d in enumerate(dims) if d.as_int() is None]
    if len(unknown) <= 1:
        target = [0] + [-1 if i in unknown else d.as_int() or 0 for i, d in enumerate(dims)]
        return call.op("Reshape", call.x, call.g.ints(target))
    pieces = [call.g.ints([0])]
    inferred = False
    for d in dims:
        n = d.as_int()
        if n is not None:
            pieces.append(call.g.ints([n]))
            continue
        same = [a for a, s in enumerate(call.type.shape) if s == d]
        if same:
            pieces.append(dims_of(call, call.x, same[:1]))
        elif not inferred:
            pieces.append(call.g.ints([-1]))
            inferred = True
        else:
            raise Unsupported(f"target_shape has several sizes known only at run time ({d})")
    return call.op("Reshape", call.x, call.op("Concat", *pieces, axis=0))


@lowering("Permute")
def permute(call: LowerCall) -> str:
    dims = call.attrs["dims"]
    assert isinstance(dims, tuple)
    return call.op("Transpose", call.x, perm=[0, *to_ints(dims, len(dims))])


@lowering("RepeatVector")
def repeat_vector(call: LowerCall) -> str:
    """`[B, F]` -> `[B, 1, F]`, tiled `n` times on the new axis."""
    n = call.static(call.attrs["n"], "n")
    y = call.op("Unsqueeze", call.x, call.g.ints([1]))
    return call.op("Tile", y, call.g.ints([1, n, 1]))


def _upsample(call: LowerCall, n: int) -> str:
    sizes = list(to_ints(call.attrs["size"], n))
    method = str(call.attrs["interpolation"]) if "interpolation" in call.attrs else "nearest"
    if method == "nearest":
        return _repeat(call, _spatial(call, n), sizes)
    return _resize(call, n, sizes, method)


def _repeat(call: LowerCall, axes: list[int], sizes: list[int]) -> str:
    """Each entry repeated `size` times along its axis (Keras's nearest upsampling), exactly
    and for any dtype: a new axis of 1 after each, broadcast to `size`, merged back."""
    inserted = [a + i + 1 for i, a in enumerate(axes)]
    y = call.op("Unsqueeze", call.x, call.g.ints(inserted))
    ones = [1] * (call.rank + len(axes))
    for a, s in zip(inserted, sizes, strict=True):
        ones[a] = s
    y = call.op("Expand", y, call.g.ints(ones))
    scale = [1] * call.rank
    for a, s in zip(axes, sizes, strict=True):
        scale[a] = s
    shape = call.op("Mul", shape_of(call, call.x), call.g.ints(scale))
    return call.op("Reshape", y, shape)


def _resize(call: LowerCall, n: int, sizes: list[int], method: str) -> str:
    """`jax.image.resize` (half-pixel centres, weights renormalised at the borders; Keys cubic
    with a = -0.5) is ONNX's Resize with `half_pixel` (and `exclude_outside`). Channels first,
    where every runtime implements linear and cubic. Integer images are resized in float32
    and rounded (half to even, as `jnp.round`)."""
    if method not in ("bilinear", "bicubic"):
        raise Unsupported(f'interpolation "{method}" has no ONNX Resize mode')
    x = call.x
    first = _channels_first(call)
    if not first:
        x = call.op("Transpose", x, perm=channels_first_perm(call.rank))
    # Linear: ONNX clamps a border sample to the edge pixel, which is what renormalising gives.
    mode: dict[str, object] = {"mode": "linear"}
    if method == "bicubic":
        mode = {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}
    integer = not call.dtype.is_float
    if integer:
        x = call.op("Cast", x, to=onnx_dtype(DType.F32))
    y = call.op(
        "Resize",
        x,
        "",
        call.g.const([1.0, 1.0, *map(float, sizes)], "float32"),
        coordinate_transformation_mode="half_pixel",
        **mode,
    )
    if integer:
        y = call.op("Cast", call.op("Round", y), to=onnx_dtype(call.dtype))
    if not first:
        y = call.op("Transpose", y, perm=channels_last_perm(call.rank))
    return y


@lowering("UpSampling1D")
def up_sampling_1d(call: LowerCall) -> str:
    return _upsample(call, 1)


@lowering("UpSampling2D")
def up_sampling_2d(call: LowerCall) -> str:
    return _upsample(call, 2)


@lowering("UpSampling3D")
def up_sampling_3d(call: LowerCall) -> str:
    return _upsample(call, 3)


def _pairs(call: LowerCall, name: str, n: int) -> list[tuple[int, int]]:
    return [(call.static(a, name), call.static(b, name)) for a, b in pairs(call.attrs[name], n)]


def _pad(call: LowerCall, n: int) -> str:
    begins, ends = [0] * call.rank, [0] * call.rank
    for axis, (a, b) in zip(_spatial(call, n), _pairs(call, "padding", n), strict=True):
        begins[axis], ends[axis] = a, b
    return call.op("Pad", call.x, call.g.ints(begins + ends))


def _crop(call: LowerCall, n: int) -> str:
    """`Slice` with ends counted from the end of each axis, so sizes may be symbolic."""
    axes = _spatial(call, n)
    cuts = _pairs(call, "cropping", n)
    starts = [a for a, _ in cuts]
    ends = [-b if b else INT64_MAX for _, b in cuts]
    return call.op("Slice", call.x, call.g.ints(starts), call.g.ints(ends), call.g.ints(axes))


def _in(n: int, fn: Callable[[LowerCall, int], str]) -> Lowering:
    return lambda call: fn(call, n)


for _n in (1, 2, 3):
    lowering(f"ZeroPadding{_n}D")(_in(_n, _pad))
    lowering(f"Cropping{_n}D")(_in(_n, _crop))
