"""JAX implementations of the preprocessing and augmentation specs, following Keras 3's JAX
backend: `jax.image.resize` for resizing, Keras's affine-matrix convention and
`jax.scipy.ndimage.map_coordinates` for rotation, zoom and translation.

Augmentations draw one transform per example from `call.key` while training and return the
input unchanged otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops import ArgValue
from nndsl.ops.attrs import to_float, to_int
from nndsl.ops.preprocessing import kept_axes

EPSILON = 1e-7  # Keras's `backend.epsilon()`, the floor of the standard deviation


def _floats(value: ArgValue) -> jax.Array:
    items = value if isinstance(value, tuple) else (value,)
    out = jnp.asarray([to_float(v) for v in items], jnp.float32)
    return out if isinstance(value, tuple) else out[0]


def _as_float(x: jax.Array) -> jax.Array:
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _channels_first(call: ApplyCall) -> bool:
    return call.attrs["data_format"] == "channels_first"


def _nhwc(call: ApplyCall, fn: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """Runs `fn` on `[B, H, W, C]` images whatever the layer's data format."""
    x = _as_float(call.x)
    if _channels_first(call):
        return jnp.transpose(fn(jnp.transpose(x, (0, 2, 3, 1))), (0, 3, 1, 2))
    return fn(x)


def _key(call: ApplyCall) -> jax.Array | None:
    """The layer's key while training (with `seed` folded in), else None: the identity."""
    if not call.training or call.key is None:
        return None
    seed = call.attrs["seed"]
    return call.key if seed is None else jax.random.fold_in(call.key, to_int(seed))


def _factor_range(value: ArgValue) -> tuple[float, float]:
    if isinstance(value, tuple):
        lo, hi = sorted(to_float(v) for v in value)
        return lo, hi
    f = abs(to_float(value))
    return -f, f


# -- Normalization ----------------------------------------------------------------------------
@impl("Normalization")
def normalization(call: ApplyCall) -> jax.Array:
    x = _as_float(call.x)
    kept = kept_axes(call.attrs["axis"], x.ndim)
    shape = tuple(x.shape[d] if d in kept else 1 for d in range(x.ndim))
    if call.attrs["mean"] is not None:
        mean, variance = _floats(call.attrs["mean"]), _floats(call.attrs["variance"])
        if mean.ndim:  # a list lines up with the last kept axis, as Keras aligns it
            expanded = [1] * x.ndim
            expanded[kept[-1]] = mean.shape[0]
            mean, variance = mean.reshape(expanded), variance.reshape(expanded)
        mean, variance = jnp.broadcast_to(mean, shape), jnp.broadcast_to(variance, shape)
    else:
        mean = call.state["mean"].reshape(shape)
        variance = call.state["variance"].reshape(shape)
    mean, variance = mean.astype(x.dtype), variance.astype(x.dtype)
    std = jnp.maximum(jnp.sqrt(variance), EPSILON)
    if call.attrs["invert"]:
        return mean + x * std
    return (x - mean) / std


@impl("Rescaling")
def rescaling(call: ApplyCall) -> jax.Array:
    x = _as_float(call.x)
    return x * _floats(call.attrs["scale"]) + _floats(call.attrs["offset"])


# -- resizing and cropping --------------------------------------------------------------------
def aspect_box(height: int, width: int, target_h: int, target_w: int) -> tuple[int, ...]:
    """Keras's largest centred window with the target aspect ratio: (top, left, h, w)."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def resize(x: jax.Array, height: int, width: int, method: str = "bilinear") -> jax.Array:
    out: jax.Array = jax.image.resize(
        x, (x.shape[0], height, width, x.shape[3]), method=method, antialias=False
    )
    return out


def smart_resize(x: jax.Array, height: int, width: int) -> jax.Array:
    """Keras's `smart_resize`: the aspect-ratio window, resized bilinearly."""
    top, left, h, w = aspect_box(x.shape[1], x.shape[2], height, width)
    return resize(x[:, top : top + h, left : left + w, :], height, width)


@impl("CenterCrop")
def center_crop(call: ApplyCall) -> jax.Array:
    height, width = to_int(call.attrs["height"]), to_int(call.attrs["width"])

    def run(x: jax.Array) -> jax.Array:
        dh, dw = x.shape[1] - height, x.shape[2] - width
        if dh >= 0 and dw >= 0:
            return x[:, dh // 2 : dh // 2 + height, dw // 2 : dw // 2 + width, :]
        return smart_resize(x, height, width)

    return _nhwc(call, run)


def _pad_to_aspect(x: jax.Array, height: int, width: int, fill: float) -> jax.Array:
    """Keras's padding: `fill` bands of equal size on both sides of one axis."""
    h, w = x.shape[1], x.shape[2]
    pad_h = max(h, int(float(w * height) / width))
    pad_w = max(w, int(float(h * width) / height))
    top, left = int(float(pad_h - h) / 2), int(float(pad_w - w) / 2)
    if top > 0:
        return jnp.pad(x, ((0, 0), (top, top), (0, 0), (0, 0)), constant_values=fill)
    if left > 0:
        return jnp.pad(x, ((0, 0), (0, 0), (left, left), (0, 0)), constant_values=fill)
    return x


@impl("Resizing")
def resizing(call: ApplyCall) -> jax.Array:
    a = call.attrs
    height, width = to_int(a["height"]), to_int(a["width"])

    def run(x: jax.Array) -> jax.Array:
        if a["crop_to_aspect_ratio"]:
            top, left, h, w = aspect_box(x.shape[1], x.shape[2], height, width)
            x = x[:, top : top + h, left : left + w, :]
        elif a["pad_to_aspect_ratio"]:
            x = _pad_to_aspect(x, height, width, to_float(a["fill_value"]))
        out: jax.Array = jax.image.resize(
            x,
            (x.shape[0], height, width, x.shape[3]),
            method=str(a["interpolation"]),
            antialias=bool(a["antialias"]),
        )
        return out

    return _nhwc(call, run)


# -- augmentation -----------------------------------------------------------------------------
@impl("RandomFlip")
def random_flip(call: ApplyCall) -> jax.Array:
    key = _key(call)
    if key is None:
        return _as_float(call.x)
    mode = str(call.attrs["mode"])

    def run(x: jax.Array) -> jax.Array:
        flips = jax.random.uniform(key, (x.shape[0], 1, 1, 1)) <= 0.5
        if mode in ("horizontal", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=2), x)
        if mode in ("vertical", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=1), x)
        return x

    return _nhwc(call, run)


def contrast_bounds(factor: ArgValue) -> tuple[float, float]:
    """Keras 3's draw range: `f` -> `[1, 1 + f]`; `[a, b]` -> `[1 - a, 1 + b]`."""
    if isinstance(factor, tuple):
        lo, hi = sorted(to_float(v) for v in factor)
    else:
        lo, hi = max(-to_float(factor), 0.0), to_float(factor)
    return 1.0 - lo, 1.0 + hi


@impl("RandomContrast")
def random_contrast(call: ApplyCall) -> jax.Array:
    key = _key(call)
    if key is None:
        return _as_float(call.x)
    lo, hi = contrast_bounds(call.attrs["factor"])
    low, high = (to_float(v) for v in call.attrs["value_range"])  # type: ignore[union-attr]

    def run(x: jax.Array) -> jax.Array:
        factor = jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype, lo, hi)
        mean = jnp.mean(jnp.mean(x, axis=1, keepdims=True), axis=2, keepdims=True)
        return jnp.clip((x - mean) * factor + mean, low, high)

    return _nhwc(call, run)


@impl("RandomCrop")
def random_crop(call: ApplyCall) -> jax.Array:
    key = _key(call)
    height, width = to_int(call.attrs["height"]), to_int(call.attrs["width"])

    def run(x: jax.Array) -> jax.Array:
        h, w = x.shape[1], x.shape[2]
        if key is not None and h > height and w > width:
            k_top, k_left = jax.random.split(key)
            tops = jax.random.randint(k_top, (x.shape[0],), 0, h - height + 1)
            lefts = jax.random.randint(k_left, (x.shape[0],), 0, w - width + 1)

            def crop(img: jax.Array, top: jax.Array, left: jax.Array) -> jax.Array:
                return jax.lax.dynamic_slice(
                    img, (top, left, jnp.zeros((), top.dtype)), (height, width, img.shape[2])
                )

            out: jax.Array = jax.vmap(crop)(x, tops, lefts)
            return out
        if (h, w) == (height, width):
            return x
        return smart_resize(x, height, width)

    return _nhwc(call, run)


def affine_transform(
    images: jax.Array, transform: jax.Array, interpolation: str, fill_mode: str, fill: float
) -> jax.Array:
    """Keras's JAX `affine_transform` on `[B, H, W, C]`: `transform[b]` is `[a0, a1, a2, b0,
    b1, b2, 0, 0]`, taking output pixel (x, y) to input (a0 x + a1 y + a2, b0 x + b1 y + b2)."""
    batch = images.shape[0]
    grid = jnp.meshgrid(*[jnp.arange(n) for n in images.shape[1:]], indexing="ij")
    indices = jnp.stack(grid, axis=-1)  # [H, W, C, 3]: (row, column, channel)
    t = transform
    matrix = jnp.stack(
        [
            jnp.stack([t[:, 4], t[:, 1], jnp.zeros(batch)], axis=-1),
            jnp.stack([t[:, 3], t[:, 0], jnp.zeros(batch)], axis=-1),
            jnp.stack([t[:, 6], t[:, 7], jnp.ones(batch)], axis=-1),
        ],
        axis=1,
    )  # [B, 3, 3], acting on (row, column, channel) row vectors
    offset = jnp.stack([t[:, 5], t[:, 2], jnp.zeros(batch)], axis=-1)
    coords = jnp.einsum("hwcj,bjk->bhwck", indices.astype(t.dtype), matrix)
    coords = jnp.moveaxis(coords, -1, 1) + offset[:, :, None, None, None]
    order = {"nearest": 0, "bilinear": 1}[interpolation]

    def one(image: jax.Array, where: jax.Array) -> jax.Array:
        out: jax.Array = jax.scipy.ndimage.map_coordinates(
            image, list(where), order=order, mode=fill_mode, cval=fill
        )
        return out

    out: jax.Array = jax.vmap(one)(images, coords)
    return out


def _affine(
    call: ApplyCall, matrices: Callable[[jax.Array, int, int, int], jax.Array]
) -> jax.Array:
    """Resamples each image through `matrices(key, batch, height, width)` while training."""
    key = _key(call)
    if key is None:
        return _as_float(call.x)
    a = call.attrs

    def run(x: jax.Array) -> jax.Array:
        t = matrices(key, x.shape[0], x.shape[1], x.shape[2])
        return affine_transform(
            x, t, str(a["interpolation"]), str(a["fill_mode"]), to_float(a["fill_value"])
        ).astype(x.dtype)

    return _nhwc(call, run)


@impl("RandomRotation")
def random_rotation(call: ApplyCall) -> jax.Array:
    lo, hi = _factor_range(call.attrs["factor"])

    def matrices(key: jax.Array, batch: int, height: int, width: int) -> jax.Array:
        angle = jax.random.uniform(key, (batch,), jnp.float32, lo * 360.0, hi * 360.0)
        angle = angle * (math.pi / 180.0)
        cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        a0, a1, b0, b1 = cos, -sin, sin, cos
        zero = jnp.zeros_like(angle)
        a2 = cx - cx * a0 - cy * a1
        b2 = cy - cx * b0 - cy * b1
        return jnp.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)

    return _affine(call, matrices)


@impl("RandomZoom")
def random_zoom(call: ApplyCall) -> jax.Array:
    h_lo, h_hi = _factor_range(call.attrs["height_factor"])
    wf = call.attrs["width_factor"]

    def matrices(key: jax.Array, batch: int, height: int, width: int) -> jax.Array:
        k_h, k_w = jax.random.split(key)
        zy = jax.random.uniform(k_h, (batch,), jnp.float32, 1.0 + h_lo, 1.0 + h_hi)
        if wf is None:
            zx = zy
        else:
            w_lo, w_hi = _factor_range(wf)
            zx = jax.random.uniform(k_w, (batch,), jnp.float32, 1.0 + w_lo, 1.0 + w_hi)
        zero = jnp.zeros_like(zx)
        x_off = (width - 1.0) / 2.0 * (1.0 - zx)
        y_off = (height - 1.0) / 2.0 * (1.0 - zy)
        return jnp.stack([zx, zero, x_off, zero, zy, y_off, zero, zero], axis=1)

    return _affine(call, matrices)


@impl("RandomTranslation")
def random_translation(call: ApplyCall) -> jax.Array:
    h_lo, h_hi = _factor_range(call.attrs["height_factor"])
    w_lo, w_hi = _factor_range(call.attrs["width_factor"])

    def matrices(key: jax.Array, batch: int, height: int, width: int) -> jax.Array:
        k_h, k_w = jax.random.split(key)
        dy = jax.random.uniform(k_h, (batch,), jnp.float32, h_lo, h_hi) * height
        dx = jax.random.uniform(k_w, (batch,), jnp.float32, w_lo, w_hi) * width
        one, zero = jnp.ones_like(dx), jnp.zeros_like(dx)
        return jnp.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)

    return _affine(call, matrices)


# -- categorical ------------------------------------------------------------------------------
def encode(ids: jax.Array, mode: str, depth: int) -> jax.Array:
    """Keras's `encode_categorical_inputs` (ids outside `[0, depth)` encode as zeros)."""
    if mode == "int":
        return ids
    if mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids.reshape(ids.shape[:-1])
        return jax.nn.one_hot(ids, depth, dtype=jnp.float32)
    axis = 1 if ids.ndim > 1 else 0
    hot = jax.nn.one_hot(ids, depth, dtype=jnp.float32)
    return jnp.max(hot, axis=axis) if mode == "multi_hot" else jnp.sum(hot, axis=axis)


@impl("CategoryEncoding")
def category_encoding(call: ApplyCall) -> jax.Array:
    return encode(
        call.x.astype(jnp.int32), str(call.attrs["output_mode"]), to_int(call.attrs["num_tokens"])
    )


@impl("Discretization")
def discretization(call: ApplyCall) -> jax.Array:
    bins = jnp.atleast_1d(_floats(call.attrs["bin_boundaries"]))
    ids = jnp.digitize(call.x, bins).astype(jnp.int32)
    return encode(ids, str(call.attrs["output_mode"]), int(bins.shape[0]) + 1)


@impl("IntegerLookup")
def integer_lookup(call: ApplyCall) -> jax.Array:
    """Vocabulary hits by comparison against the (small, static) vocabulary; misses go to
    `token mod num_oov_indices` (or, with no OOV indices, to -1 as Keras errors there)."""
    attrs = call.attrs
    raw = attrs["vocabulary"]
    vocab = jnp.asarray(raw if isinstance(raw, tuple) else (raw,), dtype=jnp.int32)
    n_oov = to_int(attrs["num_oov_indices"])
    mask = attrs["mask_token"]
    offset = n_oov + (1 if mask is not None else 0)
    x = call.x.astype(jnp.int32)
    if attrs["invert"]:
        table = jnp.concatenate(
            [
                jnp.asarray([to_int(mask)] if mask is not None else [], jnp.int32),
                jnp.full((n_oov,), to_int(attrs["oov_token"]), jnp.int32),
                vocab,
            ]
        )
        inside = (x >= 0) & (x < table.shape[0])
        return jnp.where(
            inside, table[jnp.clip(x, 0, table.shape[0] - 1)], to_int(attrs["oov_token"])
        )
    hits = x[..., None] == vocab
    found = jnp.any(hits, axis=-1)
    index = jnp.argmax(hits, axis=-1).astype(jnp.int32) + offset
    first_oov = 1 if mask is not None else 0
    oov = jnp.mod(x, n_oov) + first_oov if n_oov > 0 else jnp.full_like(x, -1)
    ids = jnp.where(found, index, oov)
    if mask is not None:
        ids = jnp.where(x == to_int(mask), 0, ids)
    mode = str(attrs["output_mode"])
    if mode == "int":
        return ids
    return encode(ids, mode, int(vocab.shape[0]) + offset)
