"""ONNX lowerings of the `preprocessing` family (see `nndsl.ops.preprocessing`), in inference
form, with the JAX impls' (Keras's) numerics.

Resizing follows `jax.image.resize`: half-pixel centres, kernel weights renormalised at the
edges (ONNX's `exclude_outside = 1`), the kernel widened when antialiasing a downscale (ONNX's
`antialias = 1`). Three cases are not left to ONNX's `Resize`, because ONNX Runtime computes
them differently or not at all: "nearest" (its source index is a float expression whose ties
ONNX Runtime rounds otherwise: the same expression is built here and feeds a `Gather`), the
Lanczos kernels (not in ONNX) and bicubic downscaling without antialias (ONNX Runtime refuses
it on `[B, H, W, C]`): the last two become constant weight matrices, JAX's own, applied with
`MatMul` when the image size is known.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.layout import shape_of
from nndsl.backend.onnx.registry import LowerCall, Unsupported, lowering
from nndsl.ops import ArgValue
from nndsl.ops.attrs import to_float, to_int
from nndsl.ops.preprocessing import kept_axes
from nndsl.shapes import DType

EPSILON = 1e-7  # Keras's `backend.epsilon()`, the floor of the standard deviation (as in JAX)


def _floats(value: ArgValue) -> np.ndarray:
    """A number or a list of numbers as float32 (0-d for a number), as the JAX impl reads it."""
    if isinstance(value, tuple):
        return np.asarray([to_float(v) for v in value], np.float32)
    return np.asarray(to_float(value), np.float32)


def _as_float(call: LowerCall, x: str, dtype: DType) -> str:
    """Integer images become f32, as `_as_float` does in the JAX impl."""
    return x if dtype.is_float else call.op("Cast", x, to=onnx_dtype(DType.F32))


def _np_dtype(dtype: DType) -> np.dtype[np.generic]:
    return np.dtype(dtype.numpy_name)


def _hw_axes(call: LowerCall) -> tuple[int, int]:
    return (2, 3) if call.attrs["data_format"] == "channels_first" else (1, 2)


# -- Normalization and Rescaling ---------------------------------------------------------------
@lowering("Normalization")
def normalization(call: LowerCall) -> str:
    """`(x - mean) / std` (or `mean + x * std` inverted), with `std = max(sqrt(variance),
    1e-7)` computed at export time, in the input's dtype, from the attrs or the adapted state."""
    dtype = call.out.dtype
    x = _as_float(call, call.x, call.dtype)
    kept = kept_axes(call.attrs["axis"], call.rank)
    shape = tuple(call.dim(d) if d in kept else 1 for d in range(call.rank))
    if call.attrs["mean"] is not None:
        mean, variance = _floats(call.attrs["mean"]), _floats(call.attrs["variance"])
        if mean.ndim:  # a list lines up with the last kept axis, as Keras aligns it
            expanded = [1] * call.rank
            expanded[kept[-1]] = mean.shape[0]
            mean, variance = mean.reshape(expanded), variance.reshape(expanded)
        mean, variance = np.broadcast_to(mean, shape), np.broadcast_to(variance, shape)
    else:
        mean = np.asarray(call.weights["mean"]).reshape(shape)
        variance = np.asarray(call.weights["variance"]).reshape(shape)
    np_dtype = _np_dtype(dtype)
    mean, variance = mean.astype(np_dtype), variance.astype(np_dtype)
    std = np.maximum(np.sqrt(variance), np.asarray(EPSILON, np_dtype)).astype(np_dtype)
    mean_name = call.g.initializer(mean, f"{call.path}/mean")
    std_name = call.g.initializer(std, f"{call.path}/std")
    if call.attrs["invert"]:
        return call.op("Add", mean_name, call.op("Mul", x, std_name))
    return call.op("Div", call.op("Sub", x, mean_name), std_name)


@lowering("Rescaling")
def rescaling(call: LowerCall) -> str:
    """`x * scale + offset`, per channel when lists are given (they run along the last axis)."""
    dtype = call.out.dtype
    x = call.x if call.dtype is dtype else call.op("Cast", call.x, to=onnx_dtype(dtype))
    np_dtype = _np_dtype(dtype)
    scale = call.g.const(_floats(call.attrs["scale"]), np_dtype)
    offset = call.g.const(_floats(call.attrs["offset"]), np_dtype)
    return call.op("Add", call.op("Mul", x, scale), offset)


# -- cropping, padding, resizing ---------------------------------------------------------------
def _slice(call: LowerCall, x: str, box: tuple[int, int, int, int]) -> str:
    """The window `(top, left, height, width)` of the spatial axes."""
    top, left, h, w = box
    return call.op(
        "Slice",
        x,
        call.g.ints([top, left]),
        call.g.ints([top + h, left + w]),
        call.g.ints(list(_hw_axes(call))),
    )


def _aspect_box(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """Keras's largest centred window with the target aspect ratio: (top, left, h, w)."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def _target(call: LowerCall) -> tuple[int, int]:
    return (
        call.static(call.attrs["height"], "`height`"),
        call.static(call.attrs["width"], "`width`"),
    )


def _image_hw(call: LowerCall) -> tuple[int, int]:
    """The input image's constant height and width (`Unsupported` if symbolic)."""
    h_axis, w_axis = _hw_axes(call)
    return call.dim(h_axis), call.dim(w_axis)


def _smart_resize(call: LowerCall, x: str, size: tuple[int, int]) -> str:
    """Keras's `smart_resize`: the aspect-ratio window, resized bilinearly (no antialias)."""
    in_hw = _image_hw(call)
    box = _aspect_box(*in_hw, *size)
    cropped = _slice(call, x, box)
    return _resize(call, cropped, (box[2], box[3]), size, "bilinear", antialias=False)


@lowering("CenterCrop")
def center_crop(call: LowerCall) -> str:
    """The central window by `Slice`; an image smaller than it is resized as Keras does."""
    x = _as_float(call, call.x, call.dtype)
    height, width = _target(call)
    in_h, in_w = _image_hw(call)
    dh, dw = in_h - height, in_w - width
    if dh >= 0 and dw >= 0:
        if (dh, dw) == (0, 0):
            return x
        return _slice(call, x, (dh // 2, dw // 2, height, width))
    return _smart_resize(call, x, (height, width))


@lowering("RandomCrop")
def random_crop(call: LowerCall) -> str:
    """Inference form: the image itself at the target size, else Keras's `smart_resize`."""
    x = _as_float(call, call.x, call.dtype)
    size = _target(call)
    if _image_hw(call) == size:
        return x
    return _smart_resize(call, x, size)


def _aspect_pads(in_hw: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """Keras's padding to the target aspect ratio: the band (top, left) added on both sides
    of one axis (the other is 0)."""
    (h, w), (height, width) = in_hw, size
    pad_h = max(h, int(float(w * height) / width))
    pad_w = max(w, int(float(h * width) / height))
    top, left = int(float(pad_h - h) / 2), int(float(pad_w - w) / 2)
    return (top, 0) if top > 0 else (0, max(left, 0))


def _pad(call: LowerCall, x: str, bands: tuple[int, int], fill: float) -> str:
    """`fill` bands of `bands = (top, left)` on both sides of the spatial axes."""
    if bands == (0, 0):
        return x
    pads = [0] * (2 * call.rank)
    for axis, band in zip(_hw_axes(call), bands, strict=True):
        pads[axis] = pads[call.rank + axis] = band
    value = call.g.scalar(fill, call.out.dtype)
    return call.op("Pad", x, call.g.ints(pads), value, mode="constant")


@lowering("Resizing")
def resizing(call: LowerCall) -> str:
    """Optional aspect-ratio crop (`Slice`) or pad (`Pad`), then the resize."""
    a = call.attrs
    x = _as_float(call, call.x, call.dtype)
    size = _target(call)
    h_axis, w_axis = _hw_axes(call)
    in_hw: tuple[int | None, int | None] = (
        call.type.shape[h_axis].as_int(),
        call.type.shape[w_axis].as_int(),
    )
    if a["crop_to_aspect_ratio"]:
        box = _aspect_box(*_image_hw(call), *size)
        x = _slice(call, x, box)
        in_hw = (box[2], box[3])
    elif a["pad_to_aspect_ratio"]:
        h, w = _image_hw(call)
        top, left = _aspect_pads((h, w), size)
        x = _pad(call, x, (top, left), to_float(a["fill_value"]))
        in_hw = (h + 2 * top, w + 2 * left)
    return _resize(call, x, in_hw, size, str(a["interpolation"]), bool(a["antialias"]))


def _resize(
    call: LowerCall,
    x: str,
    in_hw: tuple[int | None, int | None],
    size: tuple[int, int],
    method: str,
    antialias: bool,
) -> str:
    """`jax.image.resize(x, ..., method, antialias)` on the spatial axes of `x` (a float
    image of the call's layout) whose sizes are `in_hw` (None: known only at run time)."""
    if all(m == n for m, n in zip(in_hw, size, strict=True)):
        return x  # jax.image.resize skips axes whose size does not change
    if method == "nearest":
        return _resize_nearest(call, x, in_hw, size)
    dtype = call.out.dtype
    if dtype is not DType.F32:  # ONNX Runtime resizes float32 (the weights are float32 anyway)
        x = call.op("Cast", x, to=onnx_dtype(DType.F32))
    downscale = any(m is None or m > n for m, n in zip(in_hw, size, strict=True))
    if method.startswith("lanczos") or (method == "bicubic" and not antialias and downscale):
        if None in in_hw:
            why = (
                "ONNX has no Lanczos kernel"
                if method.startswith("lanczos")
                else "ONNX Runtime's Resize refuses bicubic downscaling without antialias"
            )
            raise Unsupported(
                f'interpolation "{method}"{"" if antialias else " without antialias"} on an '
                f"image of run-time size: {why}, and the constant weight matrices that stand in "
                "for it need the image size"
            )
        y = _resize_matrices(call, x, in_hw, size, method, antialias)  # type: ignore[arg-type]
    else:
        # Antialias changes nothing when upscaling (the kernel widens only to downscale), and
        # ONNX Runtime runs bicubic on [B, H, W, C] only with it: set it where harmless.
        aa = antialias or (method == "bicubic" and not downscale)
        y = call.op(
            "Resize",
            x,
            "",
            "",
            _full_sizes(call, x, size),
            mode={"bilinear": "linear", "bicubic": "cubic"}[method],
            coordinate_transformation_mode="half_pixel",
            # JAX renormalises the weights inside the image; ONNX Runtime takes the flag only
            # for cubic and antialiased linear (plain linear's two taps never leave the image)
            exclude_outside=int(method == "bicubic" or aa),
            antialias=int(aa),
            **({"cubic_coeff_a": -0.5} if method == "bicubic" else {}),
        )
    return y if dtype is DType.F32 else call.op("Cast", y, to=onnx_dtype(dtype))


def _full_sizes(call: LowerCall, x: str, size: tuple[int, int]) -> str:
    """Resize's `sizes` for every axis: the batch and channels from the run-time shape.
    (Not `axes = [...]` with two sizes: ONNX Runtime's transpose optimizer mishandles it.)"""
    shape = shape_of(call, x)
    if _hw_axes(call) == (1, 2):
        batch = call.op("Slice", shape, call.g.ints([0]), call.g.ints([1]))
        channels = call.op("Slice", shape, call.g.ints([3]), call.g.ints([4]))
        return call.op("Concat", batch, call.g.ints(list(size)), channels, axis=0)
    lead = call.op("Slice", shape, call.g.ints([0]), call.g.ints([2]))
    return call.op("Concat", lead, call.g.ints(list(size)), axis=0)


def _resize_nearest(
    call: LowerCall, x: str, in_hw: tuple[int | None, int | None], size: tuple[int, int]
) -> str:
    """JAX's nearest source index `floor((i + 0.5) * m / n)` in float32, then `Gather`; with
    `m` known the indices are constants."""
    for axis, m, n in zip(_hw_axes(call), in_hw, size, strict=True):
        if m == n:
            continue
        centres = np.arange(n, dtype=np.float32) + np.float32(0.5)
        if m is not None:
            index = np.floor(centres * np.float32(m) / np.float32(n)).astype(np.int64)
            x = call.op("Gather", x, call.g.const(index, "int64"), axis=axis)
            continue
        m_int = call.op("Slice", shape_of(call, x), call.g.ints([axis]), call.g.ints([axis + 1]))
        m_float = call.op("Cast", m_int, to=onnx_dtype(DType.F32))
        scaled = call.op(
            "Div", call.op("Mul", call.g.const(centres), m_float), call.g.const(np.float32(n))
        )
        index = call.op("Cast", call.op("Floor", scaled), to=onnx_dtype(DType.I64))
        x = call.op("Gather", x, index, axis=axis)
    return x


def _lanczos(radius: float) -> Callable[[np.ndarray], np.ndarray]:
    def kernel(x: np.ndarray) -> np.ndarray:
        y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
        safe = np.where(x != 0, np.pi**2 * x**2, 1)
        out = np.where(x > 1e-3, y / safe, 1)
        return np.where(x > radius, 0.0, out)

    return kernel


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = np.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return np.where(x >= 2.0, 0.0, out)


_KERNELS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
    "bicubic": _keys_cubic,
}


def _weight_matrix(m: int, n: int, method: str, antialias: bool) -> np.ndarray:
    """JAX's `compute_weight_mat` (no translation, no edge padding): `[m, n]` weights taking
    an axis of size `m` to size `n`, in float32 as JAX computes them."""
    f32 = np.float32
    inv_scale = f32(1.0) / f32(n / m)
    kernel_scale = max(inv_scale, f32(1.0)) if antialias else f32(1.0)
    sample = (np.arange(n, dtype=f32) + f32(0.5)) * inv_scale - f32(0.5)
    dist = np.abs(sample[None, :] - np.arange(m, dtype=f32)[:, None]) / kernel_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = _KERNELS[method](dist.astype(f32)).astype(f32)
    total = weights.sum(axis=0, keepdims=True)
    ok = np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps)
    weights = np.where(ok, weights / np.where(total != 0, total, 1), 0).astype(f32)
    inside = (sample >= -0.5) & (sample <= m - 0.5)
    return np.where(inside[None, :], weights, 0).astype(f32)


def _resize_matrices(
    call: LowerCall,
    x: str,
    in_hw: tuple[int, int],
    size: tuple[int, int],
    method: str,
    antialias: bool,
) -> str:
    """The separable resize as two products with constant weight matrices, as JAX does it."""
    rank = call.rank
    for axis, m, n in zip(_hw_axes(call), in_hw, size, strict=True):
        if m == n:
            continue
        perm = [d for d in range(rank) if d != axis] + [axis]
        inverse = [perm.index(d) for d in range(rank)]
        mat = call.g.initializer(
            _weight_matrix(m, n, method, antialias), f"{call.path}/resize_weights"
        )
        moved = call.op("MatMul", call.op("Transpose", x, perm=perm), mat)
        x = call.op("Transpose", moved, perm=inverse)
    return x


# -- augmentation: the identity in inference ---------------------------------------------------
@lowering(
    "RandomFlip",
    "RandomContrast",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
)
def augmentation(call: LowerCall) -> str:
    """Augmentations draw nothing in inference: the (float) image unchanged."""
    return _as_float(call, call.x, call.dtype)


# -- categorical -------------------------------------------------------------------------------
def _to_i32(call: LowerCall, x: str, dtype: DType) -> str:
    return x if dtype is DType.I32 else call.op("Cast", x, to=onnx_dtype(DType.I32))


def _encode(call: LowerCall, ids: str, rank: int, mode: str, depth: int) -> str:
    """Keras's `encode_categorical_inputs` on int32 `ids` of rank `rank`: a comparison with
    `0 .. depth-1` (so ids outside that range encode as zeros, unlike ONNX's `OneHot`, which
    wraps negative ids), then a max or a sum over the ids' axis."""
    if mode == "int":
        return ids
    if mode == "one_hot" and rank > 1 and call.type.shape[-1].as_int() == 1:
        ids = call.op("Squeeze", ids, call.g.ints([-1]))
    column = call.op("Unsqueeze", ids, call.g.ints([-1]))
    hot = call.op(
        "Cast",
        call.op("Equal", column, call.g.const(np.arange(depth), "int32")),
        to=onnx_dtype(DType.F32),
    )
    if mode == "one_hot":
        return hot
    reduce = "ReduceMax" if mode == "multi_hot" else "ReduceSum"
    return call.op(reduce, hot, call.g.ints([1 if rank > 1 else 0]), keepdims=0)


@lowering("CategoryEncoding")
def category_encoding(call: LowerCall) -> str:
    ids = _to_i32(call, call.x, call.dtype)
    depth = call.static(call.attrs["num_tokens"], "`num_tokens`")
    return _encode(call, ids, call.rank, str(call.attrs["output_mode"]), depth)


@lowering("Discretization")
def discretization(call: LowerCall) -> str:
    """`numpy.digitize` for rising boundaries: the number of boundaries `<= x`, compared in
    float32 as JAX promotes; NaN goes to the last bucket (JAX's sort order puts it last)."""
    bins = np.atleast_1d(_floats(call.attrs["bin_boundaries"]))
    x = call.x if call.dtype is DType.F32 else call.op("Cast", call.x, to=onnx_dtype(DType.F32))
    column = call.op("Unsqueeze", x, call.g.ints([-1]))
    above = call.op(
        "Cast", call.op("GreaterOrEqual", column, call.g.const(bins)), to=onnx_dtype(DType.I32)
    )
    count = call.op("ReduceSum", above, call.g.ints([-1]), keepdims=0)
    last = call.g.const(np.int32(len(bins)), "int32")
    ids = call.op("Where", call.op("IsNaN", x), last, count)
    return _encode(call, ids, call.rank, str(call.attrs["output_mode"]), len(bins) + 1)


@lowering("IntegerLookup")
def integer_lookup(call: LowerCall) -> str:
    """Vocabulary hits by comparison with the (static) vocabulary, misses to `token mod
    num_oov_indices` (-1 with no OOV indices), the mask token to 0; inverted, a `Gather` from
    the index table with out-of-range indices mapped to `oov_token`."""
    a = call.attrs
    raw = a["vocabulary"]
    vocab = np.asarray([to_int(v) for v in (raw if isinstance(raw, tuple) else (raw,))], np.int32)
    n_oov = to_int(a["num_oov_indices"])
    mask = a["mask_token"]
    first_oov = 1 if mask is not None else 0
    offset = n_oov + first_oov
    oov_token = to_int(a["oov_token"])
    x = _to_i32(call, call.x, call.dtype)

    def i32(value: object) -> str:
        return call.g.const(value, "int32")

    if a["invert"]:
        table = np.concatenate(
            [
                np.asarray([to_int(mask)] if mask is not None else [], np.int32),
                np.full((n_oov,), oov_token, np.int32),
                vocab,
            ]
        ).astype(np.int32)
        size = len(table)
        inside = call.op(
            "And",
            call.op("GreaterOrEqual", x, i32(0)),
            call.op("Less", x, i32(size)),
        )
        clipped = call.op("Min", call.op("Max", x, i32(0)), i32(size - 1))
        found = call.op("Gather", call.g.initializer(table, f"{call.path}/table"), clipped, axis=0)
        return call.op("Where", inside, found, i32(oov_token))
    hits = call.op(
        "Equal",
        call.op("Unsqueeze", x, call.g.ints([-1])),
        call.g.initializer(vocab, f"{call.path}/vocabulary"),
    )
    positions = call.g.const(np.arange(len(vocab)) + offset, "int32")
    hit_int = call.op("Cast", hits, to=onnx_dtype(DType.I32))
    index = call.op("ReduceSum", call.op("Mul", hit_int, positions), call.g.ints([-1]), keepdims=0)
    found = call.op(
        "Cast",
        call.op("ReduceMax", hit_int, call.g.ints([-1]), keepdims=0),
        to=onnx_dtype(DType.BOOL),
    )
    if n_oov > 0:
        oov = call.op("Add", call.op("Mod", x, i32(n_oov), fmod=0), i32(first_oov))
    else:
        oov = call.op("Expand", i32(-1), shape_of(call, x))
    ids = call.op("Where", found, index, oov)
    if mask is not None:
        ids = call.op("Where", call.op("Equal", x, i32(to_int(mask))), i32(0), ids)
    return _encode(call, ids, call.rank, str(a["output_mode"]), len(vocab) + offset)
