"""Preprocessing and augmentation layers, as Keras 3 has them.

Image layers take `[B, H, W, C]` (or `[B, C, H, W]` with `data_format = "channels_first"`).
Augmentation layers (`Random*`) draw a transform per example while training and are the
identity in inference, as in Keras. `Normalization` without `mean`/`variance` is adapted from
the training data before the first step (`nndsl.backend.jax.adapt`).

Not here: `TextVectorization` and `StringLookup` need string tensors, which belong to the data
pipeline, not to a JAX graph.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import ClassVar

from nndsl.ops.attrs import to_int
from nndsl.ops.conv import DATA_FORMATS
from nndsl.ops.core import Layer
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    Configured,
    ShapeError,
    WeightSpec,
    as_int,
    dim,
    require_rank,
)
from nndsl.shapes import Dim, DType, TensorType

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def kept_axes(axis: ArgValue, rank: int) -> tuple[int, ...]:
    """Keras's `_keep_axis` for a checked `axis`: the axes with their own statistics,
    normalized and sorted (both backends and the adapt pass read them so)."""
    raw = () if axis is None else axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(to_int(a) % rank for a in raw))


def _data_format() -> Arg:
    return Arg(
        "data_format",
        "str",
        "channels_last",
        '"channels_last" (`[B, H, W, C]`) or "channels_first" (`[B, C, H, W]`)',
        choices=DATA_FORMATS,
    )


def _seed() -> Arg:
    return Arg(
        "seed",
        "int",
        None,
        "folded into the layer's random key; none: the key the training seed gives",
        nullable=True,
        keyword_only=True,
    )


def _hw_axes(attrs: Attrs) -> tuple[int, int]:
    return (2, 3) if attrs["data_format"] == "channels_first" else (1, 2)


def _image(attrs: Attrs, x: TensorType) -> TensorType:
    layout = "[B, C, H, W]" if attrs["data_format"] == "channels_first" else "[B, H, W, C]"
    require_rank(x, 4, what="image batch", layout=layout)
    return x


def _size_arg(attrs: Attrs, name: str) -> Dim:
    value = attrs[name]
    n = as_int(value)
    if n is not None and n < 1:
        raise ArgError(name, f"`{name}` must be >= 1, found {n}")
    return dim(value)


def _with_hw(attrs: Attrs, x: TensorType, height: Dim, width: Dim) -> TensorType:
    shape = list(x.shape)
    h, w = _hw_axes(attrs)
    shape[h], shape[w] = height, width
    dtype = x.dtype if x.dtype.is_float else DType.F32
    return TensorType(dtype, tuple(shape))


def _factor(name: str, doc: str, low: float, low_open: bool = False) -> Arg:
    return Arg(name, "floats", doc=doc, min=low, min_exclusive=low_open, max=1.0, length=2)


class _Preprocessing(Layer):
    float_inputs = False  # images may arrive as integers (`u8`); outputs are floats

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = _image(attrs, inputs[0])
        return x if x.dtype.is_float else TensorType(DType.F32, x.shape)


# -- Normalization ----------------------------------------------------------------------------
@register
class Normalization(Layer):
    """Shifts and scales features to mean 0 and variance 1: `(x - mean) / sqrt(variance)`.

    With `mean` and `variance` given it is a fixed map. Without them the statistics are state
    (`mean`, `variance`, `count`) adapted from the training inputs that reach the layer before
    the first step (Keras's `adapt()`), and saved with the checkpoint; until then they are NaN,
    so an unadapted layer never passes data through silently.
    """

    name = "Normalization"
    flops_per_element = 2  # subtract the mean, divide by the deviation
    adapts: ClassVar[bool] = True  # `nndsl.backend.jax.adapt` fills its state from the data
    args = (
        Arg(
            "axis",
            "ints",
            -1,
            "axes that keep their own mean and variance; `[]` or none: one for all",
            nullable=True,
        ),
        Arg("mean", "floats", None, "fixed mean (a number, or one per kept entry)", nullable=True),
        Arg("variance", "floats", None, "fixed variance, given with `mean`", nullable=True),
        Arg("invert", "bool", False, "apply the inverse map: `x * sqrt(variance) + mean`"),
    )
    rule = "`[B, ...]` -> `[B, ...]`, with statistics of shape `[kept axes]`"
    example = "h = x |> Normalization()"

    def validate(self, attrs: Attrs) -> None:
        mean, variance = attrs["mean"], attrs["variance"]
        if (mean is None) != (variance is None):
            given, missing = ("mean", "variance") if variance is None else ("variance", "mean")
            raise ArgError(
                given,
                f"`{given}` is given without `{missing}`",
                help=f"give `{missing}` too, or neither to adapt both from the training data",
            )
        if mean is not None:
            m = len(mean) if isinstance(mean, tuple) else 0
            v = len(variance) if isinstance(variance, tuple) else 0
            if m != v:
                raise ArgError(
                    "variance",
                    f"`variance` has {v or 'a single'} value(s), `mean` {m or 'a single'}",
                    help="give them the same shape",
                )
            for value in variance if isinstance(variance, tuple) else (variance,):
                if isinstance(value, float) and value < 0:
                    raise ArgError("variance", f"`variance` must be >= 0, found {value:g}")

    def kept_axes(self, attrs: Attrs, x: TensorType) -> tuple[int, ...]:
        """The axes with their own statistics, normalized and sorted (Keras's `_keep_axis`)."""
        axis = attrs["axis"]
        raw = () if axis is None else axis if isinstance(axis, tuple) else (axis,)
        out: list[int] = []
        for a in raw:
            n = as_int(a)
            if n is None or not -x.rank <= n < x.rank:
                raise ShapeError(
                    f"`axis` {a} is out of range for `{x}` of rank {x.rank}",
                    arg="axis",
                    help=f"axes of a rank-{x.rank} tensor are {-x.rank} .. {x.rank - 1}",
                )
            n %= x.rank
            if n in out:
                raise ShapeError(f"`axis` {n} is given twice", arg="axis")
            out.append(n)
        for n in out:
            if x.shape[n].as_int() is None:
                raise ShapeError(
                    f"`axis` {n} has size `{x.shape[n]}`, not known before the data is seen",
                    arg="axis",
                    help="keep statistics only for axes of fixed size (not the batch axis); "
                    "`axis = []` normalizes with one mean and variance",
                )
        return tuple(sorted(out))

    def stat_shape(self, attrs: Attrs, x: TensorType) -> tuple[Dim, ...]:
        return tuple(x.shape[a] for a in self.kept_axes(attrs, x))

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        shape = self.stat_shape(attrs, x)
        mean = attrs["mean"]
        if isinstance(mean, tuple):
            if not shape:
                raise ShapeError(
                    f"`mean` has {len(mean)} values, but `axis = []` keeps one statistic",
                    arg="mean",
                    help="give single numbers",
                )
            last = shape[-1].as_int()
            if len(mean) not in (1, last):
                raise ShapeError(
                    f"`mean` has {len(mean)} values, but the kept axis has size {last}",
                    arg="mean",
                    help=f"give 1 or {last} values",
                )
        return x

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        if attrs["mean"] is not None:
            return {}
        shape = self.stat_shape(attrs, inputs[0])
        unset = Configured("Constant", (("value", math.nan),))
        return {
            "mean": WeightSpec(shape, unset, trainable=False),
            "variance": WeightSpec(shape, unset, trainable=False),
            "count": WeightSpec((), "zeros", trainable=False, dtype=DType.I32),
        }


# -- deterministic image layers ---------------------------------------------------------------
@register
class Rescaling(Layer):
    """`x * scale + offset`, e.g. `Rescaling(1 / 255)` maps `u8` pixels to [0, 1]."""

    name = "Rescaling"
    flops_per_element = 2  # a multiply and an add
    float_inputs = False
    args = (
        Arg("scale", "floats", doc="the factor (a number, or one per channel)"),
        Arg("offset", "floats", 0.0, "added after scaling (a number, or one per channel)"),
    )
    rule = "`[B, ...]` -> `[B, ...]` (integer inputs become `f32`)"
    example = "h = x |> Rescaling(1.0 / 255)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        for name in ("scale", "offset"):
            value = attrs[name]
            if isinstance(value, tuple):
                last = x.shape[-1].as_int() if x.rank else 1
                if x.rank == 0 or len(value) not in (1, last):
                    raise ShapeError(
                        f"`{name}` has {len(value)} values, but the last axis of `{x}` has "
                        f"size {last}",
                        arg=name,
                        help=f"give one number, or {last} (one per channel)",
                    )
        return x if x.dtype.is_float else TensorType(DType.F32, x.shape)


def _cropped(attrs: Attrs, image: TensorType) -> TensorType:
    """CenterCrop's and RandomCrop's rule: the image's own size must be known to crop it."""
    x = _image(attrs, image)
    h_axis, w_axis = _hw_axes(attrs)
    for axis, name in ((h_axis, "height"), (w_axis, "width")):
        if x.shape[axis].as_int() is None:
            raise ShapeError(
                f"the image {name} `{x.shape[axis]}` must be known to crop it",
                input_index=0,
                help="give the input a fixed height and width",
            )
    return _with_hw(attrs, x, _size_arg(attrs, "height"), _size_arg(attrs, "width"))


@register
class CenterCrop(_Preprocessing):
    """The central `height x width` window of each image; an image smaller than that is first
    cropped to the target aspect ratio and resized, as Keras does."""

    name = "CenterCrop"
    flops_per_element = 0
    args = (
        Arg("height", "int", doc="output height", min=1),
        Arg("width", "int", doc="output width", min=1),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, height, width, C]`"
    example = "h = image |> CenterCrop(4, 4)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return _cropped(attrs, inputs[0])


@register
class Resizing(_Preprocessing):
    """Resizes each image to `height x width`, optionally cropping or padding it to the target
    aspect ratio first so nothing is stretched."""

    name = "Resizing"
    args = (
        Arg("height", "int", doc="output height", min=1),
        Arg("width", "int", doc="output width", min=1),
        Arg(
            "interpolation",
            "str",
            "bilinear",
            "how new pixels are computed",
            choices=RESIZE_INTERPOLATIONS,
        ),
        Arg("crop_to_aspect_ratio", "bool", False, "crop the largest centred window first"),
        Arg("pad_to_aspect_ratio", "bool", False, "pad evenly with `fill_value` first"),
        Arg("fill_mode", "str", "constant", "how padding is filled", choices=("constant",)),
        Arg("fill_value", "float", 0.0, "the padding value"),
        Arg("antialias", "bool", False, "filter when downsampling"),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, height, width, C]`"
    example = "h = image |> Resizing(16, 16)"

    def validate(self, attrs: Attrs) -> None:
        if attrs["crop_to_aspect_ratio"] and attrs["pad_to_aspect_ratio"]:
            raise ArgError(
                "pad_to_aspect_ratio",
                "`crop_to_aspect_ratio` and `pad_to_aspect_ratio` cannot both be true",
                help="choose one way to keep the aspect ratio",
            )

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = _image(attrs, inputs[0])
        if attrs["crop_to_aspect_ratio"] or attrs["pad_to_aspect_ratio"]:
            h_axis, w_axis = _hw_axes(attrs)
            for axis, name in ((h_axis, "height"), (w_axis, "width")):
                if x.shape[axis].as_int() is None:
                    raise ShapeError(
                        f"the image {name} `{x.shape[axis]}` must be known to keep the aspect "
                        "ratio",
                        input_index=0,
                    )
        return _with_hw(attrs, x, _size_arg(attrs, "height"), _size_arg(attrs, "width"))


# -- augmentation -----------------------------------------------------------------------------
class _Augmentation(_Preprocessing):
    stochastic = True
    flops_per_element = 0  # the identity in inference


@register
class RandomFlip(_Augmentation):
    """Mirrors each image with probability 1/2 while training; identity in inference.

    As in Keras, `"horizontal_and_vertical"` flips both axes or neither (one draw per image).
    """

    name = "RandomFlip"
    args = (
        Arg(
            "mode",
            "str",
            "horizontal_and_vertical",
            "which axes may be flipped",
            choices=("horizontal", "vertical", "horizontal_and_vertical"),
        ),
        _seed(),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = 'h = image |> RandomFlip("horizontal")'


@register
class RandomContrast(_Augmentation):
    """Scales each image's deviation from its per-channel mean by a random factor while
    training, then clips to `value_range`; identity in inference.

    Keras 3's factor draw: `factor = f` gives `[1, 1 + f]`, `factor = [a, b]` gives
    `[1 - a, 1 + b]`.
    """

    name = "RandomContrast"
    args = (
        _factor("factor", "contrast change: a number or [lower, upper], each in [0, 1]", 0.0),
        Arg(
            "value_range",
            "floats",
            (0.0, 255.0),
            "[low, high] of the pixel values; outputs are clipped to it",
            length=2,
        ),
        _seed(),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = "h = image |> RandomContrast(0.2)"

    def validate(self, attrs: Attrs) -> None:
        vr = attrs["value_range"]
        if not isinstance(vr, tuple) or len(vr) != 2:
            raise ArgError("value_range", "`value_range` must be a pair [low, high]")
        if float(vr[0]) >= float(vr[1]):  # type: ignore[arg-type]
            raise ArgError("value_range", f"`value_range` must rise, found [{vr[0]:g}, {vr[1]:g}]")


@register
class RandomCrop(_Augmentation):
    """A random `height x width` window of each image while training. In inference (and for
    images smaller than the window) the largest centred window of the target aspect ratio,
    resized to `height x width`, as Keras documents it."""

    name = "RandomCrop"
    args = (
        Arg("height", "int", doc="output height", min=1),
        Arg("width", "int", doc="output width", min=1),
        _seed(),
        _data_format(),
    )
    rule = "`[B, H, W, C]` -> `[B, height, width, C]`"
    example = "h = image |> RandomCrop(6, 6)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return _cropped(attrs, inputs[0])


class _Affine(_Augmentation):
    """Shared arguments of the augmentations that resample through an affine map."""

    tail: ClassVar[tuple[Arg, ...]] = (
        Arg(
            "fill_mode",
            "str",
            "reflect",
            "how points outside the image are filled",
            choices=FILL_MODES,
        ),
        Arg(
            "interpolation",
            "str",
            "bilinear",
            "how pixels are sampled",
            choices=AFFINE_INTERPOLATIONS,
        ),
        _seed(),
        Arg("fill_value", "float", 0.0, 'the value outside the image with fill_mode "constant"'),
        _data_format(),
    )


@register
class RandomRotation(_Affine):
    """Rotates each image about its centre by a random angle while training (`factor` in
    turns: 0.1 is up to 36 degrees); identity in inference."""

    name = "RandomRotation"
    args = (
        _factor("factor", "angle range in fractions of a full turn: f or [lower, upper]", -1.0),
        *_Affine.tail,
    )
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = "h = image |> RandomRotation(0.1)"


@register
class RandomZoom(_Affine):
    """Zooms each image about its centre by a random factor while training (positive factors
    zoom out, negative in); identity in inference. Without `width_factor` both axes share one
    zoom."""

    name = "RandomZoom"
    args = (
        _factor("height_factor", "zoom range: f or [lower, upper], each in (-1, 1]", -1.0, True),
        Arg(
            "width_factor",
            "floats",
            None,
            "zoom range of the width; none: the height's zoom, keeping the aspect ratio",
            min=-1.0,
            min_exclusive=True,
            max=1.0,
            length=2,
            nullable=True,
        ),
        *_Affine.tail,
    )
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = "h = image |> RandomZoom(0.2)"


@register
class RandomTranslation(_Affine):
    """Shifts each image by random fractions of its height and width while training; identity
    in inference."""

    name = "RandomTranslation"
    args = (
        _factor("height_factor", "vertical shift range in fractions of the height", -1.0),
        _factor("width_factor", "horizontal shift range in fractions of the width", -1.0),
        *_Affine.tail,
    )
    rule = "`[B, H, W, C]` -> `[B, H, W, C]`"
    example = "h = image |> RandomTranslation(0.1, 0.1)"


# -- categorical ------------------------------------------------------------------------------
OUTPUT_MODES = ("one_hot", "multi_hot", "count")


def _require_int(name: str, x: TensorType) -> None:
    if not x.dtype.is_int:
        raise ShapeError(
            f"ids must have an integer type, found `{x}`",
            input_index=0,
            code="E0301",
            help="give the input an integer type such as `i32`",
        )


def encoded_type(mode: str, x: TensorType, depth: Dim) -> TensorType:
    """Keras's `encode_categorical_inputs` shapes: one_hot adds an axis (replacing a trailing
    1); multi_hot and count replace the last axis (rank 1 or 2 inputs)."""
    if mode == "one_hot":
        shape = x.shape[:-1] if x.rank > 1 and x.shape[-1].as_int() == 1 else x.shape
        return TensorType(DType.F32, (*shape, depth))
    if x.rank not in (1, 2):
        raise ShapeError(
            f'output_mode "{mode}" takes ids `[B]` or `[B, n]`, found `{x}`',
            arg="output_mode",
            input_index=0,
        )
    return TensorType(DType.F32, (x.shape[0], depth) if x.rank == 2 else (depth,))


@register
class CategoryEncoding(Layer):
    """Integer ids in `[0, num_tokens)` as one-hot, multi-hot or count vectors (ids outside
    the range encode as zeros, as Keras's JAX backend does)."""

    name = "CategoryEncoding"
    float_inputs = False
    args = (
        Arg("num_tokens", "int", doc="number of ids: the size of the output's last axis", min=1),
        Arg("output_mode", "str", "multi_hot", "the encoding", choices=OUTPUT_MODES),
        Arg("sparse", "bool", False, "Keras compatibility only: outputs are dense"),
    )
    rule = "`[B, n]` ids -> `[B, num_tokens]` (one_hot: `[B, n, num_tokens]`)"
    example = 'input t: i32[B, 5]\nh = t |> CategoryEncoding(10, output_mode = "count")'

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        _require_int(self.name, x)
        require_rank(x, at_least=1)
        return encoded_type(str(attrs["output_mode"]), x, dim(attrs["num_tokens"]))


@register
class Discretization(Layer):
    """Buckets numbers by `bin_boundaries`: bucket `i` holds `boundaries[i-1] <= x <
    boundaries[i]` (`numpy.digitize`), as ids or encoded like `CategoryEncoding`.

    Boundaries must be given; adapting them from data (`num_bins`) is not supported.
    """

    name = "Discretization"
    float_inputs = False
    args = (
        Arg("bin_boundaries", "floats", doc="rising boundaries between the buckets"),
        Arg(
            "output_mode",
            "str",
            "int",
            "bucket ids, or their encoding",
            choices=("int", *OUTPUT_MODES),
        ),
        Arg("sparse", "bool", False, "Keras compatibility only: outputs are dense"),
    )
    rule = "`[B, ...]` -> `[B, ...]` `i32` bucket ids (or their encoding)"
    example = "h = x |> Discretization([0.0, 1.0, 2.0])"

    def validate(self, attrs: Attrs) -> None:
        b = attrs["bin_boundaries"]
        values = [float(v) for v in b] if isinstance(b, tuple) else [float(b)]  # type: ignore[arg-type]
        for lo, hi in itertools.pairwise(values):
            if hi < lo:
                raise ArgError(
                    "bin_boundaries",
                    f"`bin_boundaries` must not fall, found {lo:g} before {hi:g}",
                    help="sort the boundaries",
                )

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        b = attrs["bin_boundaries"]
        depth = Dim.const((len(b) if isinstance(b, tuple) else 1) + 1)
        mode = str(attrs["output_mode"])
        if mode == "int":
            return TensorType(DType.I32, x.shape)
        require_rank(x, at_least=1)
        return encoded_type(mode, x, depth)


@register
class IntegerLookup(Layer):
    """Maps integer tokens to contiguous indices through a fixed `vocabulary` (Keras's
    layout): index 0 is `mask_token` when one is set, then `num_oov_indices` indices for
    tokens outside the vocabulary (token `t` goes to `t mod num_oov_indices`), then the
    vocabulary in the order given. `invert = true` maps indices back to tokens (`oov_token`
    for the out-of-vocabulary indices).

    The vocabulary must be given; adapting it from data is not supported.
    """

    name = "IntegerLookup"
    flops_per_element = 0  # a lookup
    float_inputs = False
    args = (
        Arg("vocabulary", "ints", doc="the known tokens, in index order"),
        Arg("num_oov_indices", "int", 1, "indices for tokens outside the vocabulary", min=0),
        Arg("mask_token", "int", None, "a token mapped to index 0 (padding)", nullable=True),
        Arg("oov_token", "int", -1, "the token `invert` gives for out-of-vocabulary indices"),
        Arg(
            "output_mode",
            "str",
            "int",
            "indices, or their encoding",
            choices=("int", *OUTPUT_MODES),
        ),
        Arg("invert", "bool", False, "map indices back to tokens"),
    )
    rule = "`[B, ...]` integer tokens -> `[B, ...]` `i32` indices (or their encoding)"
    example = "input t: i32[B, 5]\nh = t |> IntegerLookup([7, 11, 42])"

    def validate(self, attrs: Attrs) -> None:
        vocab = _int_list(attrs["vocabulary"])
        if len(set(vocab)) != len(vocab):
            raise ArgError("vocabulary", "the vocabulary lists a token twice")
        mask = attrs["mask_token"]
        if mask is not None and mask in vocab:
            raise ArgError("mask_token", f"the mask token {mask} is also in the vocabulary")
        if attrs["invert"] and attrs["output_mode"] != "int":
            raise ArgError("output_mode", '`invert = true` needs output_mode "int"')

    def depth(self, attrs: Attrs) -> int:
        extra = 1 if attrs["mask_token"] is not None else 0
        oov = attrs["num_oov_indices"]
        return len(_int_list(attrs["vocabulary"])) + (oov if isinstance(oov, int) else 0) + extra

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        _require_int(self.name, x)
        mode = str(attrs["output_mode"])
        if mode == "int":
            return TensorType(DType.I32, x.shape)
        require_rank(x, at_least=1)
        return encoded_type(mode, x, Dim.const(self.depth(attrs)))


def _int_list(value: object) -> list[int]:
    items = value if isinstance(value, tuple) else (value,)
    return [int(v) for v in items if isinstance(v, int)]
