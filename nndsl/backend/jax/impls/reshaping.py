"""JAX implementations of the reshaping layers (channels last unless `data_format` says so)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndsl.backend.jax.registry import ApplyCall, impl
from nndsl.ops.attrs import declared, to_int, to_ints
from nndsl.ops.reshaping import pairs


def _channels_first(call: ApplyCall) -> bool:
    return declared(call.attrs, "data_format", "channels_last") == "channels_first"


@impl("Flatten")
def flatten(call: ApplyCall) -> jax.Array:
    """channels_first inputs are moved to channels last first, so the order matches Keras."""
    x = call.x
    if _channels_first(call) and x.ndim > 2:
        x = x.transpose(0, *range(2, x.ndim), 1)
    return x.reshape(x.shape[0], -1)


@impl("Reshape")
def reshape(call: ApplyCall) -> jax.Array:
    shape = call.attrs["target_shape"]
    dims = tuple(to_int(s) for s in shape) if isinstance(shape, tuple) else (to_int(shape),)
    return call.x.reshape(call.x.shape[0], *dims)


def _spatial(call: ApplyCall, n: int) -> range:
    first = 2 if _channels_first(call) else 1
    return range(first, first + n)


@impl("Permute")
def permute(call: ApplyCall) -> jax.Array:
    dims = call.attrs["dims"]
    assert isinstance(dims, tuple)
    return call.x.transpose(0, *(to_int(d) for d in dims))


@impl("RepeatVector")
def repeat_vector(call: ApplyCall) -> jax.Array:
    return jnp.repeat(call.x[:, None, :], to_int(call.attrs["n"]), axis=1)


def _upsample(call: ApplyCall, n: int) -> jax.Array:
    """Nearest: each entry repeated (Keras's `ops.repeat`); otherwise `jax.image.resize`."""
    x = call.x
    sizes = to_ints(call.attrs["size"], n)
    axes = _spatial(call, n)
    method = str(declared(call.attrs, "interpolation", "nearest"))
    if method == "nearest":
        for axis, s in zip(axes, sizes, strict=True):
            x = jnp.repeat(x, s, axis=axis)
        return x
    shape = list(x.shape)
    for axis, s in zip(axes, sizes, strict=True):
        shape[axis] *= s
    if jnp.issubdtype(x.dtype, jnp.floating):
        out: jax.Array = jax.image.resize(x, tuple(shape), _RESIZE[method], antialias=False)
        return out
    # integer images keep their dtype (the checker's type): interpolate in float32, round
    smooth = jax.image.resize(x.astype(jnp.float32), tuple(shape), _RESIZE[method], antialias=False)
    return jnp.round(smooth).astype(x.dtype)


_RESIZE = {"bilinear": "linear", "bicubic": "cubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


@impl("UpSampling1D")
def up_sampling_1d(call: ApplyCall) -> jax.Array:
    return _upsample(call, 1)


@impl("UpSampling2D")
def up_sampling_2d(call: ApplyCall) -> jax.Array:
    return _upsample(call, 2)


@impl("UpSampling3D")
def up_sampling_3d(call: ApplyCall) -> jax.Array:
    return _upsample(call, 3)


def _pairs(call: ApplyCall, name: str, n: int) -> list[tuple[int, int]]:
    return [(to_int(a), to_int(b)) for a, b in pairs(call.attrs[name], n)]


def _pad(call: ApplyCall, n: int) -> jax.Array:
    widths = [(0, 0)] * call.x.ndim
    for axis, pair in zip(_spatial(call, n), _pairs(call, "padding", n), strict=True):
        widths[axis] = pair
    return jnp.pad(call.x, widths)


def _crop(call: ApplyCall, n: int) -> jax.Array:
    index = [slice(None)] * call.x.ndim
    for axis, (a, b) in zip(_spatial(call, n), _pairs(call, "cropping", n), strict=True):
        index[axis] = slice(a, call.x.shape[axis] - b)
    return call.x[tuple(index)]


@impl("ZeroPadding1D")
def zero_padding_1d(call: ApplyCall) -> jax.Array:
    return _pad(call, 1)


@impl("ZeroPadding2D")
def zero_padding_2d(call: ApplyCall) -> jax.Array:
    return _pad(call, 2)


@impl("ZeroPadding3D")
def zero_padding_3d(call: ApplyCall) -> jax.Array:
    return _pad(call, 3)


@impl("Cropping1D")
def cropping_1d(call: ApplyCall) -> jax.Array:
    return _crop(call, 1)


@impl("Cropping2D")
def cropping_2d(call: ApplyCall) -> jax.Array:
    return _crop(call, 2)


@impl("Cropping3D")
def cropping_3d(call: ApplyCall) -> jax.Array:
    return _crop(call, 3)
