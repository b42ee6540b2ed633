"""Normalization layers, as Keras 3 has them: Batch-, Layer-, Group-, Unit- and RMSNormalization.

Weight names and shapes are Keras's (`gamma`, `beta`, `moving_mean`, `moving_variance`,
`scale`), so Keras weights copy over unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.flops import BATCH_NORM, LAYER_NORM, RMS_NORM, UNIT_NORM
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    ShapeError,
    WeightSpec,
    as_int,
    require_rank,
)
from nndsl.ops.weights import weight, weight_args
from nndsl.shapes import Dim, DType, TensorType, format_shape


def axes_of(value: ArgValue) -> tuple[int, ...]:
    """The `axis` argument as Keras sorts it: one int, or a list of ints (raw, not normalized)."""
    raw = value if isinstance(value, tuple) else (value,)
    out: list[int] = []
    for a in raw:
        n = as_int(a)
        if n is None:
            raise ShapeError(f"axis `{a}` must be a known integer", arg="axis")
        out.append(n)
    return tuple(sorted(out))


def checked_axes(value: ArgValue, x: TensorType) -> tuple[int, ...]:
    """`axis` normalized to `0 <= a < rank`, in Keras's (sorted raw) order; a `ShapeError`
    naming `axis` when one is out of range or repeated."""
    out: list[int] = []
    for a in axes_of(value):
        if not -x.rank <= a < x.rank:
            raise ShapeError(
                f"`axis` {a} is out of range for `{x}` of rank {x.rank}",
                arg="axis",
                help=f"axes of a rank-{x.rank} tensor are {-x.rank} .. {x.rank - 1}",
            )
        a %= x.rank
        if a in out:
            raise ShapeError(f"`axis` {a} is given twice (counting from the end too)", arg="axis")
        out.append(a)
    if not out:
        raise ShapeError("`axis` must name at least one axis", arg="axis")
    return tuple(out)


# Keras's epsilon and the optional learned scale and offset, shared by the affine layers.
_AFFINE = (
    Arg("epsilon", "float", 1e-3, "added to the variance", min=0.0, min_exclusive=True),
    Arg("center", "bool", True, "learn an offset `beta`"),
    Arg("scale", "bool", True, "learn a scale `gamma`"),
)
_BETA_GAMMA = (*weight_args("beta", "zeros"), *weight_args("gamma", "ones"))


def _scale_and_offset(
    attrs: Attrs, shape: tuple[Dim, ...], *, scale: bool, center: bool
) -> dict[str, WeightSpec]:
    out: dict[str, WeightSpec] = {}
    if scale:
        out["gamma"] = weight(attrs, "gamma", shape)
    if center:
        out["beta"] = weight(attrs, "beta", shape)
    return out


@register
class BatchNormalization(Layer):
    """Batch normalization: batch statistics while training, moving averages at inference.

    The moving mean and variance are non-trainable state, updated while training as
    `moving = moving * momentum + batch * (1 - momentum)`, exactly as in Keras.
    """

    name = "BatchNormalization"
    flops_per_element = BATCH_NORM  # see `nndsl.ops.flops`
    aliases = ("BatchNorm",)
    args = (
        Arg("axis", "int", -1, "the feature axis (kept; every other axis is reduced)"),
        Arg("momentum", "float", 0.99, "decay of the moving statistics", min=0.0, max=1.0),
        *_AFFINE,
        *_BETA_GAMMA,
        Arg(
            "moving_mean_initializer",
            "initializer",
            "zeros",
            "how the moving mean starts",
            keyword_only=True,
        ),
        Arg(
            "moving_variance_initializer",
            "initializer",
            "ones",
            "how the moving variance starts",
            keyword_only=True,
        ),
    )
    optional_inputs = ("mask",)
    rule = (
        "`[B, ..., C]` -> `[B, ..., C]`; `gamma`, `beta` and moving statistics `[C]`; "
        "mask `bool[B, ...]` (the input's shape without its last axis)"
    )
    example = "h = x |> BatchNormalization()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, at_least=2)
        checked_axes(attrs["axis"], x)
        if len(inputs) > 1:  # Keras's `mask`: the batch statistics leave out masked entries
            mask, want = inputs[1], x.shape[:-1]
            if mask.dtype is not DType.BOOL:
                raise ShapeError(
                    f"the mask must be `bool`, found `{mask}`", input_index=1, code="E0301"
                )
            if mask.shape != want:
                raise ShapeError(
                    f"the mask must be `bool[{format_shape(want)[1:-1]}]` (the input's shape "
                    f"without its last axis), found `{mask}`",
                    input_index=1,
                )
        return x

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        (axis,) = checked_axes(attrs["axis"], inputs[0])
        c = (inputs[0].shape[axis],)
        out = _scale_and_offset(attrs, c, scale=bool(attrs["scale"]), center=bool(attrs["center"]))
        out["moving_mean"] = WeightSpec(c, attrs["moving_mean_initializer"], trainable=False)
        out["moving_variance"] = WeightSpec(
            c, attrs["moving_variance_initializer"], trainable=False
        )
        return out


@register
class LayerNormalization(Layer):
    """Layer normalization: each example normalized over `axis` (one axis or several).

    `rms_scaling` is Keras's deprecated flag (divides by the standard deviation without
    centering, and learns only `gamma`); prefer `RMSNormalization`.
    """

    name = "LayerNormalization"
    flops_per_element = LAYER_NORM  # see `nndsl.ops.flops`
    aliases = ("LayerNorm",)
    args = (
        Arg("axis", "ints", -1, "the normalized axis or axes"),
        *_AFFINE,
        Arg("rms_scaling", "bool", False, "Keras's deprecated variance-only scaling"),
        *_BETA_GAMMA,
    )
    rule = "`[B, ...]` -> `[B, ...]`; `gamma`, `beta` sized as the `axis` axes"
    example = "h = x |> LayerNormalization()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=1)
        checked_axes(attrs["axis"], inputs[0])
        return inputs[0]

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        x = inputs[0]
        checked_axes(attrs["axis"], x)
        shape = tuple(x.shape[a] for a in axes_of(attrs["axis"]))  # Keras's order
        rms = bool(attrs["rms_scaling"])
        return _scale_and_offset(
            attrs,
            shape,
            scale=bool(attrs["scale"]) or rms,
            center=bool(attrs["center"]) and not rms,
        )


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


@register
class GroupNormalization(Layer):
    """Group normalization: the channels split into `groups`, each normalized per example.

    `groups = -1` makes one group per channel (instance normalization); `groups = 1` is layer
    normalization over all non-batch axes.
    """

    name = "GroupNormalization"
    flops_per_element = LAYER_NORM  # see `nndsl.ops.flops`
    args = (
        Arg("groups", "int", 32, "number of channel groups (-1: one per channel)", min=-1),
        Arg("axis", "int", -1, "the channel axis"),
        *_AFFINE,
        *_BETA_GAMMA,
    )
    rule = "`[B, ..., C]` -> `[B, ..., C]`, C a known multiple of `groups`"
    example = "h = x |> GroupNormalization(groups = 4)"

    def validate(self, attrs: Attrs) -> None:
        if attrs["groups"] == 0:
            raise ArgError(
                "groups",
                "`groups` is 0, but must be a positive number of groups or -1",
                help="use -1 for one group per channel (instance normalization)",
            )

    def _channels(self, attrs: Attrs, x: TensorType) -> Dim:
        require_rank(x, at_least=2)
        (axis,) = checked_axes(attrs["axis"], x)
        if axis == 0:
            raise ShapeError("the channel axis cannot be the batch axis 0", arg="axis")
        c = x.shape[axis]
        n = c.as_int()
        if n is None:
            raise ShapeError(
                f"the channel axis of `{x}` has symbolic size `{c}`; groups need a known size",
                arg="axis",
                help=f"give `{c}` a concrete size in the input's type, or pick another `axis`",
            )
        groups = as_int(attrs["groups"])
        g = n if groups == -1 or groups is None else groups
        if g > n or n % g:
            raise ShapeError(
                f"`groups = {g}` does not split the {n} channels into equal groups",
                arg="groups",
                help=f"`groups` must divide {n}: one of {_divisors(n)}, or -1 (one per channel)",
            )
        return c

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        self._channels(attrs, inputs[0])
        return inputs[0]

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        c = self._channels(attrs, inputs[0])
        return _scale_and_offset(
            attrs, (c,), scale=bool(attrs["scale"]), center=bool(attrs["center"])
        )


@register
class UnitNormalization(Layer):
    """Scales each example to unit L2 norm over `axis` (`x * rsqrt(sum(x^2))`, capped at 1e12)."""

    name = "UnitNormalization"
    flops_per_element = UNIT_NORM  # see `nndsl.ops.flops`
    args = (Arg("axis", "ints", -1, "the axis or axes the norm is taken over"),)
    rule = "`[B, ...]` -> `[B, ...]`"
    example = "h = x |> UnitNormalization()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=1)
        checked_axes(attrs["axis"], inputs[0])
        return inputs[0]


@register
class RMSNormalization(Layer):
    """Root-mean-square normalization: `x * rsqrt(mean(x^2) + epsilon) * scale`, no centering.

    The learned `scale` has the shape of the normalized axes.
    """

    name = "RMSNormalization"
    flops_per_element = RMS_NORM  # see `nndsl.ops.flops`
    args = (
        Arg("axis", "ints", -1, "the normalized axis or axes"),
        Arg("epsilon", "float", 1e-6, "added to the mean square", min=0.0, min_exclusive=True),
    )
    rule = "`[B, ...]` -> `[B, ...]`; `scale` sized as the `axis` axes"
    example = "h = x |> RMSNormalization()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        require_rank(inputs[0], at_least=1)
        checked_axes(attrs["axis"], inputs[0])
        return inputs[0]

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        x = inputs[0]
        checked_axes(attrs["axis"], x)
        return {"scale": WeightSpec(tuple(x.shape[a] for a in axes_of(attrs["axis"])), "ones")}
