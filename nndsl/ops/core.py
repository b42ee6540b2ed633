"""Core layers (Dense, Identity, Embedding, EinsumDense) and the arguments every
kernel layer takes after its own."""

from __future__ import annotations

import re
from collections.abc import Sequence

from nndsl.ops.activation import ACTIVATION_NAMES
from nndsl.ops.flops import kernel_layer, numel, prod
from nndsl.ops.registry import configured, register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    Attrs,
    Configured,
    OpKind,
    OpSpec,
    ShapeError,
    WeightSpec,
    as_int,
    dim,
    require_rank,
)
from nndsl.ops.weights import weight, weight_args
from nndsl.records import record
from nndsl.shapes import Dim, DType, TensorType

ACTIVITY_REGULARIZER = Arg(
    "activity_regularizer",
    "regularizer",
    None,
    "penalty on the layer's output, added to the loss",
    nullable=True,
    keyword_only=True,
)

# Arguments every kernel layer (Dense, Conv2D, ...) takes after its own, as in Keras.
KERNEL_ARGS = (
    Arg("activation", "str", "linear", "applied to the result", choices=ACTIVATION_NAMES),
    Arg("use_bias", "bool", True, "add a learned bias"),
    *weight_args("kernel", "glorot_uniform"),
    *weight_args("bias", "zeros"),
    ACTIVITY_REGULARIZER,
)


def kernel_and_bias(
    attrs: Attrs, kernel_shape: tuple[Dim, ...], bias_shape: tuple[Dim, ...]
) -> dict[str, WeightSpec]:
    """`kernel` and, with `use_bias`, `bias`, configured by `KERNEL_ARGS`."""
    out = {"kernel": weight(attrs, "kernel", kernel_shape)}
    if attrs["use_bias"]:
        out["bias"] = weight(attrs, "bias", bias_shape)
    return out


class Layer(OpSpec):
    kind = OpKind.LAYER


@register
class Dense(Layer):
    """Affine map over the last axis: `y = activation(x @ kernel + bias)`.

    The kernel has shape `[in, units]`, as in Keras, so weights move over unchanged.
    """

    name = "Dense"
    args = (
        Arg("units", "int", doc="size of the output's last axis", min=1),
        *KERNEL_ARGS,
    )
    rule = "`[..., in]` -> `[..., units]`"
    example = 'h = x |> Dense(128, activation = "relu")'

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, at_least=1)
        return x.with_shape((*x.shape[:-1], dim(attrs["units"])))

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        units = dim(attrs["units"])
        return kernel_and_bias(attrs, (inputs[0].shape[-1], units), (units,))

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 * in * units` per row, plus the bias and the activation per output element."""
        return kernel_layer(attrs, outputs[0], numel(inputs[0]) * dim(attrs["units"]))


@register
class Identity(Layer):
    """Returns its input unchanged (a placeholder, as Keras's `Identity`)."""

    name = "Identity"
    float_inputs = False
    flops_per_element = 0
    rule = "`[...]` -> `[...]`, unchanged"
    example = "h = x |> Identity()"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0]


@register
class Embedding(Layer):
    """Looks up integer ids in a learned `[input_dim, output_dim]` table.

    `mask_zero` is accepted for Keras compatibility only: nndsl masks are explicit tensors
    (`mask = tokens != 0`) passed to the layers that take one.
    """

    name = "Embedding"
    float_inputs = False
    flops_per_element = 0  # a lookup
    args = (
        Arg("input_dim", "int", doc="vocabulary size: ids lie in [0, input_dim)", min=1),
        Arg("output_dim", "int", doc="size of each embedding vector", min=1),
        *weight_args("embeddings", "uniform"),
        Arg("mask_zero", "bool", False, "Keras compatibility; build masks explicitly"),
        ACTIVITY_REGULARIZER,
    )
    rule = "`[B, ...]` integer ids -> `[B, ..., output_dim]`"
    example = "input t: i32[B, 10]\nh = t |> Embedding(1000, 64)"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        if not x.dtype.is_int:
            raise ShapeError(
                f"looks up integer ids, found `{x}`",
                input_index=0,
                code="E0301",
                help="give the ids an integer type such as `i32`",
            )
        return TensorType(DType.F32, (*x.shape, dim(attrs["output_dim"])))

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        shape = (dim(attrs["input_dim"]), dim(attrs["output_dim"]))
        return {"embeddings": weight(attrs, "embeddings", shape)}


@register
class PositionEmbedding(Layer):
    """A learned table of position vectors, one per position: `[B, T, D]` -> its first `T`
    rows broadcast to `[B, T, D]` (KerasHub's `PositionEmbedding`). Add it to the token
    embeddings: `h + (h |> PositionEmbedding(maxlen))`. The table `embeddings` is
    `[sequence_length, D]`, the same array as a Keras `Embedding(maxlen, D)` of the positions.
    """

    name = "PositionEmbedding"
    flops_per_element = 0  # the table's rows, broadcast; the add that uses them is counted there
    args = (
        Arg("sequence_length", "int", doc="the longest sequence the table covers", min=1),
        *weight_args("embeddings", "glorot_uniform"),
    )
    rule = "`[B, T, D]` -> `[B, T, D]`, T <= sequence_length"
    example = "input t: f32[B, 10, 16]\nh = t + (t |> PositionEmbedding(10))"

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        x = inputs[0]
        require_rank(x, 3, layout="[B, T, D]")
        length, table = as_int(x.shape[1]), as_int(attrs["sequence_length"])
        if length is not None and table is not None and length > table:
            raise ShapeError(
                f"the input has {length} positions, the table only {table}",
                arg="sequence_length",
                help=f"use sequence_length >= {length}",
            )
        return x

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        shape = (dim(attrs["sequence_length"]), inputs[0].shape[2])
        return {"embeddings": weight(attrs, "embeddings", shape)}


@record(frozen=True)
class Einsum:
    """An EinsumDense equation `input,kernel->output`, with an optional `...` on the left
    (leading axes pass through) or on the right (trailing axes pass through)."""

    x: str
    kernel: str
    out: str
    ellipsis: str  # "", "left" or "right"

    @staticmethod
    def parse(equation: str) -> Einsum:
        form = re.fullmatch(
            r"(\.\.\.)?([a-zA-Z]+)(\.\.\.)?,([a-zA-Z]+)->(\.\.\.)?([a-zA-Z]+)(\.\.\.)?", equation
        )
        help = 'write it as "ab,bc->ac", "...b,bc->...c" or "ab...,bc->ac..."'
        if form is None:
            raise ArgError("equation", f'"{equation}" is not an einsum equation', help=help)
        lx, x, rx, kernel, lo, out, ro = form.groups()
        if (
            (lx, lo) not in ((None, None), ("...", "..."))
            or (rx, ro)
            not in (
                (None, None),
                ("...", "..."),
            )
            or (lx and rx)
        ):
            raise ArgError(
                "equation",
                f'"{equation}": `...` must open (or close) both the input and the output',
                help=help,
            )
        if rx and len(x) < 2:
            raise ArgError(
                "equation",
                f'"{equation}": with a trailing `...` the input needs 2 labels',
                help=help,
            )
        for part, what in ((x, "input"), (kernel, "kernel"), (out, "output")):
            repeated = sorted({c for c in part if part.count(c) > 1})
            if repeated:
                raise ArgError(
                    "equation", f'"{equation}": label `{repeated[0]}` repeats in the {what}'
                )
        for c in out:
            if c not in x and c not in kernel:
                raise ArgError(
                    "equation",
                    f'"{equation}": output label `{c}` is in neither the input nor the kernel',
                )
        for c in kernel:
            if c not in x and c not in out:
                raise ArgError(
                    "equation",
                    f'"{equation}": kernel label `{c}` is in neither the input nor the output, '
                    "so its size is unknown",
                )
        if not lx and out[0] != x[0]:
            raise ArgError(
                "equation",
                f'"{equation}": the output must start with the input\'s first (batch) label '
                f"`{x[0]}`",
                help=help,
            )
        return Einsum(x, kernel, out, "left" if lx else "right" if rx else "")


@register
class EinsumDense(Layer):
    """A dense layer written as an einsum between the input and a kernel, plus a bias over
    `bias_axes` (Keras's `EinsumDense`; multi-head projections are one such layer)."""

    name = "EinsumDense"
    args = (
        Arg("equation", "str", doc='e.g. "abc,cd->abd"; `...` stands for passed-through axes'),
        Arg(
            "output_shape",
            "ints",
            doc="the output's shape without the batch (and `...`) axes; -1: from the input",
        ),
        Arg("activation", "str", "linear", "applied to the result", choices=ACTIVATION_NAMES),
        Arg(
            "bias_axes", "str", None, "output labels that get a bias; none: no bias", nullable=True
        ),
        *weight_args("kernel", "glorot_uniform"),
        *weight_args("bias", "zeros"),
        ACTIVITY_REGULARIZER,
    )
    rule = "`[B, ...]` -> `[B, *output_shape]` by the equation"
    example = (
        'input t: f32[B, 10, 16]\nh = t |> EinsumDense("abc,cd->abd", [10, 32], bias_axes = "d")'
    )

    def validate(self, attrs: Attrs) -> None:
        eq = Einsum.parse(str(attrs["equation"]))
        bias_axes = attrs["bias_axes"]
        if isinstance(bias_axes, str):
            for c in bias_axes:
                if c not in eq.out:
                    raise ArgError(
                        "bias_axes",
                        f'bias label `{c}` is not an output label of "{attrs["equation"]}"',
                        help=f"choose among the output labels `{eq.out}`",
                    )
        sizes = attrs["output_shape"]
        given = len(sizes) if isinstance(sizes, tuple) else 1
        want = len(eq.out) if eq.ellipsis == "left" else len(eq.out) - 1
        if given != want:
            raise ArgError(
                "output_shape",
                f'`output_shape` has {given} entries, but "{attrs["equation"]}" needs {want}',
                help="one size per output label"
                + (" (the `...` axes are not given)" if eq.ellipsis else " except the batch axis"),
            )

    def _analyze(
        self, attrs: Attrs, x: TensorType
    ) -> tuple[tuple[Dim, ...], tuple[Dim, ...], tuple[Dim, ...] | None]:
        """(output shape, kernel shape, bias shape or None), as Keras's `_analyze_einsum_string`."""
        eq = Einsum.parse(str(attrs["equation"]))
        equation = attrs["equation"]
        elided = x.rank - len(eq.x)
        if elided < (1 if eq.ellipsis == "left" else 0) or (not eq.ellipsis and elided):
            raise ShapeError(
                f'"{equation}" names {len(eq.x)} input axes, but the input is `{x}`',
                arg="equation",
                input_index=0,
                help="one label per input axis" + (", `...` for the rest" if eq.ellipsis else ""),
            )
        sizes = attrs["output_shape"]
        given = list(sizes) if isinstance(sizes, tuple) else [sizes]
        if eq.ellipsis == "left":
            x_axes = {c: elided + i for i, c in enumerate(eq.x)}
            lead, trail = list(x.shape[:elided]), []
            declared = dict(zip(eq.out, given, strict=True))
        else:  # the batch axis passes through first; the sizes after it are given
            x_axes = {c: i for i, c in enumerate(eq.x)}
            lead, trail = [], list(x.shape[len(eq.x) :])
            declared = dict(zip(eq.out[1:], given, strict=True))
        label_sizes: dict[str, Dim] = {c: x.shape[i] for c, i in x_axes.items()}
        out_sizes: dict[str, Dim] = {}
        for c in eq.out:
            n = as_int(declared.get(c, -1))
            if c in label_sizes:
                have = label_sizes[c].as_int()
                if n not in (None, -1) and have is not None and have != n:
                    raise ShapeError(
                        f"`output_shape` gives label `{c}` size {n}, but the input has {have}",
                        arg="output_shape",
                        help="use the input's size there, or -1 to take it from the input",
                    )
                out_sizes[c] = label_sizes[c]
            elif n == -1:
                raise ShapeError(
                    f"label `{c}` is only in the kernel, so `output_shape` must give its size",
                    arg="output_shape",
                )
            else:
                if n is not None and n < 1:
                    raise ArgError("output_shape", f"sizes must be positive (or -1), found {n}")
                out_sizes[c] = dim(declared[c])
        sizes_all = {**label_sizes, **out_sizes}
        kernel = tuple(sizes_all[c] for c in eq.kernel)
        if eq.ellipsis == "left":
            out = (*lead, *(out_sizes[c] for c in eq.out))
        else:
            out = (*(out_sizes[c] for c in eq.out), *trail)
        bias_axes = attrs["bias_axes"]
        bias: tuple[Dim, ...] | None = None
        if isinstance(bias_axes, str) and bias_axes:
            first = min(eq.out.index(c) for c in bias_axes)
            bias = tuple(out_sizes[c] if c in bias_axes else dim(1) for c in eq.out[first:])
            if eq.ellipsis == "right":
                bias = (*bias, *(dim(1) for _ in trail))
        return out, kernel, bias

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return inputs[0].with_shape(self._analyze(attrs, inputs[0])[0])

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """`2 *` every output element `*` the sizes of the contracted labels (in the input and
        the kernel, not in the output), plus the bias and the activation per output element."""
        eq = Einsum.parse(str(attrs["equation"]))
        _, kernel, bias = self._analyze(attrs, inputs[0])
        sizes = dict(zip(eq.kernel, kernel, strict=True))
        contracted = prod(sizes[c] for c in eq.kernel if c in eq.x and c not in eq.out)
        return kernel_layer(attrs, outputs[0], numel(outputs[0]) * contracted, bias is not None)

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        _, kernel, bias = self._analyze(attrs, inputs[0])
        eq = Einsum.parse(str(attrs["equation"]))
        # Keras counts the fans of a variance-scaling kernel initializer over the kernel axes
        # that are contracted (fan_in) and that reach the output (fan_out).
        init = configured(attrs["kernel_initializer"], OpKind.INITIALIZER)
        if init is not None and "input_axes" in init.options:
            if init["input_axes"] is None or init["output_axes"] is None:
                out_axes = tuple(i for i, c in enumerate(eq.kernel) if c in eq.out)
                in_axes = tuple(i for i, c in enumerate(eq.kernel) if c not in eq.out)
                options = {**init.options, "input_axes": in_axes, "output_axes": out_axes}
                attrs = {
                    **attrs,
                    "kernel_initializer": Configured(init.name, tuple(options.items())),
                }
        out = {"kernel": weight(attrs, "kernel", kernel)}
        if bias is not None:
            out["bias"] = weight(attrs, "bias", bias)
        return out
