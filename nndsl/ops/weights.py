"""How weights start, what penalty they add to the loss, and what they are projected onto.

Initializers, regularizers and constraints are specs like layers: users pass them as argument
values (`kernel_initializer = truncated_normal(stddev = 0.02)`, `kernel_regularizer =
l2(1e-4)`, `kernel_constraint = max_norm(3)`), and a bare name means the defaults
(`kernel_initializer = he_normal`, or the string `"he_normal"` as in Keras).
"""

from __future__ import annotations

from nndsl.ops.registry import configured, lookup, register
from nndsl.ops.spec import Arg, ArgError, ArgValue, Attrs, OpKind, OpSpec, WeightSpec
from nndsl.shapes import Dim, format_shape


class Initializer(OpSpec):
    kind = OpKind.INITIALIZER
    inputs = ()

    def check_shape(self, attrs: Attrs, shape: tuple[Dim, ...]) -> str | None:
        """Why this initializer cannot fill a weight of `shape`, or None when it can."""
        return None


class Regularizer(OpSpec):
    kind = OpKind.REGULARIZER
    inputs = ()


class Constraint(OpSpec):
    kind = OpKind.CONSTRAINT
    inputs = ()


# -- initializers (Keras 3's names, arguments and defaults) -----------------------------------
# Keras's VarianceScaling family takes the kernel axes its fans count (EinsumDense sets them).
FAN_AXES = (
    Arg(
        "input_axes",
        "ints",
        None,
        "kernel axes whose sizes multiply into fan_in; none: Keras's default fans",
        nullable=True,
        keyword_only=True,
    ),
    Arg(
        "output_axes",
        "ints",
        None,
        "kernel axes whose sizes multiply into fan_out; none: Keras's default fans",
        nullable=True,
        keyword_only=True,
    ),
)


def _fixed(
    name: str, doc: str, aliases: tuple[str, ...] = (), args: tuple[Arg, ...] = FAN_AXES
) -> type[Initializer]:
    """A variance-scaling preset (or, with `args = ()`, zeros and ones)."""
    cls = type(
        name,
        (Initializer,),
        {
            "__doc__": doc,
            "name": name,
            "aliases": aliases,
            "args": args,
            "example": f"h = x |> Dense(64, kernel_initializer = {name})",
        },
    )
    return register(cls)  # type: ignore[return-value]


_fixed(
    "glorot_uniform",
    "Uniform in `±sqrt(6 / (fan_in + fan_out))` (Xavier).",
    ("GlorotUniform",),
)
_fixed(
    "glorot_normal",
    "Truncated normal, std `sqrt(2 / (fan_in + fan_out))` (Xavier).",
    ("GlorotNormal",),
)
_fixed("he_uniform", "Uniform in `±sqrt(6 / fan_in)`; suits ReLU layers.", ("HeUniform",))
_fixed("he_normal", "Truncated normal, std `sqrt(2 / fan_in)`; suits ReLU layers.", ("HeNormal",))
_fixed("lecun_uniform", "Uniform in `±sqrt(3 / fan_in)`; suits SELU layers.", ("LecunUniform",))
_fixed(
    "lecun_normal",
    "Truncated normal, std `sqrt(1 / fan_in)`; suits SELU layers.",
    ("LecunNormal",),
)
_fixed("zeros", "All zeros (the default for biases).", ("Zeros", "zero"), ())
_fixed("ones", "All ones (the default for normalization scales).", ("Ones", "one"), ())


@register
class RandomNormal(Initializer):
    """Independent normal draws with `mean` and `stddev`."""

    name = "random_normal"
    aliases = ("RandomNormal", "normal")
    args = (
        Arg("mean", "float", 0.0, "the mean of the draws"),
        Arg("stddev", "float", 0.05, "the standard deviation of the draws", min=0.0),
    )
    example = "h = x |> Dense(64, kernel_initializer = random_normal(stddev = 0.02))"


@register
class RandomUniform(Initializer):
    """Independent uniform draws in `[minval, maxval)`."""

    name = "random_uniform"
    aliases = ("RandomUniform", "uniform")
    args = (
        Arg("minval", "float", -0.05, "the lower bound (inclusive)"),
        Arg("maxval", "float", 0.05, "the upper bound (exclusive)"),
    )
    example = "h = x |> Dense(64, kernel_initializer = random_uniform(-0.1, 0.1))"

    def validate(self, attrs: Attrs) -> None:
        lo, hi = attrs["minval"], attrs["maxval"]
        assert isinstance(lo, int | float) and isinstance(hi, int | float)
        if lo > hi:
            raise ArgError(
                "maxval",
                f"`maxval` ({hi}) is below `minval` ({lo})",
                help="the draws lie in [minval, maxval)",
            )


@register
class TruncatedNormal(Initializer):
    """Normal draws with `mean` and `stddev`, redrawn beyond two standard deviations (as Keras:
    `stddev` is the scale before truncation)."""

    name = "truncated_normal"
    aliases = ("TruncatedNormal",)
    args = (
        Arg("mean", "float", 0.0, "the mean of the draws"),
        Arg("stddev", "float", 0.05, "the standard deviation before truncation", min=0.0),
    )
    example = "h = x |> Dense(64, kernel_initializer = truncated_normal(stddev = 0.02))"


@register
class ConstantInit(Initializer):
    """Every entry `value`. (`constant` is the scalar-constant operator, so this initializer
    answers to Keras's class name only.)"""

    name = "Constant"
    args = (Arg("value", "float", 0.0, "the value of every entry"),)
    example = "h = x |> Dense(64, bias_initializer = Constant(0.1))"


@register
class IdentityInit(Initializer):
    """`gain` times the identity matrix (a rectangular one for non-square weights); 2-D weights
    only. Keras's class name `Identity` is the identity layer here."""

    name = "identity"
    aliases = ("IdentityInitializer",)
    args = (Arg("gain", "float", 1.0, "the factor on the identity matrix"),)
    example = "h = x |> Dense(16, kernel_initializer = identity)"

    def check_shape(self, attrs: Attrs, shape: tuple[Dim, ...]) -> str | None:
        if len(shape) != 2:
            return f"`identity` initializes 2-D weights only, not `{format_shape(shape)}`"
        return None


@register
class Orthogonal(Initializer):
    """An orthogonal matrix (from the QR decomposition of normal draws) times `gain`; weights of
    rank > 2 are flattened to `[prod(shape[:-1]), shape[-1]]` first, as in Keras."""

    name = "orthogonal"
    aliases = ("Orthogonal", "OrthogonalInitializer")
    args = (Arg("gain", "float", 1.0, "the factor on the orthogonal matrix"),)
    example = "h = x |> Dense(16, kernel_initializer = orthogonal(gain = 2.0))"

    def check_shape(self, attrs: Attrs, shape: tuple[Dim, ...]) -> str | None:
        if len(shape) < 2:
            return f"`orthogonal` needs weights of rank >= 2, not `{format_shape(shape)}`"
        return None


@register
class VarianceScaling(Initializer):
    """Draws with variance `scale / n`, `n` the weight's fan in, fan out or their mean (fans as
    Keras computes them: a conv kernel's receptive field times its in/out channels)."""

    name = "variance_scaling"
    aliases = ("VarianceScaling",)
    args = (
        Arg("scale", "float", 1.0, "the variance numerator", min=0.0, min_exclusive=True),
        Arg("mode", "str", "fan_in", "which fan divides", choices=("fan_in", "fan_out", "fan_avg")),
        Arg(
            "distribution",
            "str",
            "truncated_normal",
            '"normal" means "truncated_normal", as in Keras',
            choices=("truncated_normal", "untruncated_normal", "normal", "uniform"),
        ),
        *FAN_AXES,
    )
    example = 'h = x |> Dense(64, kernel_initializer = variance_scaling(2.0, mode = "fan_out"))'


# -- regularizers: a penalty on the weight, added to the training loss ----------------------


@register
class L1(Regularizer):
    """Adds `l1 * sum(abs(w))` to the training loss."""

    name = "l1"
    args = (Arg("l1", "float", 0.01, "the penalty factor", min=0.0),)
    example = "h = x |> Dense(64, kernel_regularizer = l1(1e-5))"


@register
class L2(Regularizer):
    """Adds `l2 * sum(w ** 2)` to the training loss (Keras's L2; no factor 1/2)."""

    name = "l2"
    args = (Arg("l2", "float", 0.01, "the penalty factor", min=0.0),)
    example = "h = x |> Dense(64, kernel_regularizer = l2(1e-4))"


@register
class L1L2(Regularizer):
    """Adds `l1 * sum(abs(w)) + l2 * sum(w ** 2)` to the training loss."""

    name = "l1_l2"
    args = (
        Arg("l1", "float", 0.0, "the L1 factor", min=0.0),
        Arg("l2", "float", 0.0, "the L2 factor", min=0.0),
    )
    example = "h = x |> Dense(64, kernel_regularizer = l1_l2(l1 = 1e-5, l2 = 1e-4))"


# -- constraints: a projection applied to the weight after every optimizer update ------------
_AXIS = Arg("axis", "int", 0, "the axis along which norms are taken (Keras's default 0)")


@register
class MaxNorm(Constraint):
    """Rescales each slice whose L2 norm along `axis` exceeds `max_value` down to it."""

    name = "max_norm"
    args = (Arg("max_value", "float", 2.0, "the largest norm allowed", min=0.0), _AXIS)
    example = "h = x |> Dense(64, kernel_constraint = max_norm(3))"


@register
class NonNeg(Constraint):
    """Clips negative entries to zero."""

    name = "non_neg"
    example = "h = x |> Dense(64, kernel_constraint = non_neg)"


@register
class UnitNorm(Constraint):
    """Rescales each slice along `axis` to unit L2 norm."""

    name = "unit_norm"
    args = (_AXIS,)
    example = "h = x |> Dense(64, kernel_constraint = unit_norm)"


@register
class MinMaxNorm(Constraint):
    """Keeps each slice's L2 norm along `axis` in `[min_value, max_value]`, moving it there
    at `rate` (1 = at once)."""

    name = "min_max_norm"
    args = (
        Arg("min_value", "float", 0.0, "the smallest norm allowed", min=0.0),
        Arg("max_value", "float", 1.0, "the largest norm allowed", min=0.0),
        Arg("rate", "float", 1.0, "how far to move toward the allowed range", min=0.0, max=1.0),
        _AXIS,
    )
    example = "h = x |> Dense(64, kernel_constraint = min_max_norm(0.5, 2.0))"


# -- the weight arguments of layers ----------------------------------------------------------
def weight_args(weight: str, init: str) -> tuple[Arg, ...]:
    """`{weight}_initializer`, `_regularizer`, `_constraint`, as every Keras layer has them."""
    return (
        Arg(
            f"{weight}_initializer",
            "initializer",
            init,
            f"how the {weight} starts",
            keyword_only=True,
        ),
        Arg(
            f"{weight}_regularizer",
            "regularizer",
            None,
            f"penalty on the {weight}, added to the loss",
            nullable=True,
            keyword_only=True,
        ),
        Arg(
            f"{weight}_constraint",
            "constraint",
            None,
            f"projection of the {weight} after each update",
            nullable=True,
            keyword_only=True,
        ),
    )


def check_initializer(init: ArgValue, shape: tuple[Dim, ...], arg: str) -> None:
    """Reject an initializer that cannot fill `shape` (`identity` on a bias) in the checker,
    so the error never waits for JAX."""
    cfg = configured(init, OpKind.INITIALIZER)
    spec = lookup(cfg.name) if cfg is not None else None
    if cfg is not None and isinstance(spec, Initializer):
        problem = spec.check_shape(cfg.options, shape)
        if problem is not None:
            raise ArgError(arg, problem, help="choose an initializer for this weight's rank")


def weight(attrs: Attrs, name: str, shape: tuple[Dim, ...], prefix: str = "") -> WeightSpec:
    """The trainable weight `name` with the initializer, regularizer and constraint the layer's
    `{prefix or name}_*` arguments give."""
    key = prefix or name
    init = attrs[f"{key}_initializer"]
    check_initializer(init, shape, f"{key}_initializer")
    return WeightSpec(
        shape,
        init,
        regularizer=attrs[f"{key}_regularizer"],
        constraint=attrs[f"{key}_constraint"],
    )
