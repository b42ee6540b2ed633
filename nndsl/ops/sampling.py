"""Random sampling inside a model: normal, uniform and categorical draws (`keras.random`).

While training, a draw comes from the training PRNG stream (the key the runtime folds with
the node's id for every stochastic spec), so a run is deterministic per seed and a resumed
run draws what the uninterrupted one would have. At inference (`predict`, `evaluate`, ONNX
export) the result is, by default, the distribution's mean (`sample_normal`'s `mean`,
`sample_uniform`'s midpoint, `random_categorical`'s most likely class): a VAE decodes
`z_mean` then. `inference = "sample"` keeps drawing at inference, from a key made of `seed`
(the same draws for the same inputs each call; not exportable to ONNX).

`random_normal(z_mean)` and `random_uniform(x)` with a tensor (positionally, piped, or as
`shape_like = z_mean`) are these functions; without one they stay the initializers of the
same names. The reparameterisation trick is then
`z = z_mean + exp(0.5 * log_var) * random_normal(shape_like = z_mean)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, ArgError, Attrs, OpKind, OpSpec, ShapeError, dim
from nndsl.shapes import DType, TensorType

# Initializer names that, given a tensor, mean the sampling function (see the module doc).
TENSOR_FORMS = {"random_normal": "sample_normal", "random_uniform": "sample_uniform"}

_SEED = Arg("seed", "int", 0, 'the key\'s seed at inference with `inference = "sample"`')


def _inference(at_rest: str) -> Arg:
    return Arg(
        "inference",
        "str",
        at_rest,
        f'what it gives at inference: "{at_rest}" (deterministic) or "sample" (draws from `seed`)',
        choices=(at_rest, "sample"),
    )


class Sampler(OpSpec):
    kind = OpKind.FUNCTION
    stochastic = True
    float_inputs = False
    inputs = ("shape_like",)
    rule = "`shape_like` -> its shape (a float dtype: its own, else `f32`)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        return TensorType(x.dtype if x.dtype.is_float else DType.F32, x.shape)


@register
class SampleNormal(Sampler):
    """Normal draws of `shape_like`'s shape (`keras.random.normal`); also written
    `random_normal(z)` with a tensor. At inference: `mean`, unless `inference = "sample"`."""

    name = "sample_normal"
    args = (
        Arg("mean", "float", 0.0, "the mean of the draws"),
        Arg("stddev", "float", 1.0, "the standard deviation of the draws", min=0.0),
        _inference("mean"),
        _SEED,
    )
    example = "eps = random_normal(shape_like = x)"


@register
class SampleUniform(Sampler):
    """Uniform draws in `[minval, maxval)` of `shape_like`'s shape (`keras.random.uniform`);
    also written `random_uniform(x)` with a tensor. At inference: the midpoint, unless
    `inference = "sample"`."""

    name = "sample_uniform"
    args = (
        Arg("minval", "float", 0.0, "the lower bound (inclusive)"),
        Arg("maxval", "float", 1.0, "the upper bound (exclusive)"),
        _inference("mean"),
        _SEED,
    )
    example = "u = x |> sample_uniform(minval = -1.0, maxval = 1.0)"

    def validate(self, attrs: Attrs) -> None:
        lo, hi = attrs["minval"], attrs["maxval"]
        if isinstance(lo, float) and isinstance(hi, float) and lo >= hi:
            raise ArgError("maxval", f"`maxval` ({hi}) must be above `minval` ({lo})")


@register
class RandomCategorical(OpSpec):
    """Class indices drawn from `logits` (unnormalized log-probabilities over the last axis),
    `num_samples` per row (`keras.random.categorical`). At inference: the most likely class,
    repeated, unless `inference = "sample"`."""

    name = "random_categorical"
    aliases = ("sample_categorical",)
    kind = OpKind.FUNCTION
    stochastic = True
    inputs = ("logits",)
    args = (
        Arg("num_samples", "int", 1, "draws per row", min=1),
        _inference("mode"),
        _SEED,
    )
    rule = "`[..., classes]` -> `i32[..., num_samples]`"
    example = "ids = random_categorical(logits, num_samples = 2)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if x.rank < 1:
            raise ShapeError(f"logits need a class axis, found `{x}`", input_index=0)
        return TensorType(DType.I32, (*x.shape[:-1], dim(attrs["num_samples"])))
