"""Recurrent layers: SimpleRNN, LSTM, GRU and Bidirectional, with Keras 3's weights.

Weights keep Keras's paths relative to the layer (`lstm_cell.kernel`, and under
`Bidirectional` `forward_lstm.lstm_cell.kernel`), so Keras checkpoints copy over by name.
Inputs are batch-major `[B, T, F]`; an optional `mask: bool[B, T]` makes masked steps carry
the state over and repeat the previous output, as Keras does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from nndsl.ops.activation import ACTIVATION_NAMES
from nndsl.ops.core import ACTIVITY_REGULARIZER, Layer
from nndsl.ops.flops import prod
from nndsl.ops.registry import lookup, register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    Attrs,
    Configured,
    ShapeError,
    WeightSpec,
    dim,
)
from nndsl.ops.weights import Initializer, weight, weight_args
from nndsl.shapes import Dim, DType, TensorType, format_shape


def _rate(name: str, what: str) -> Arg:
    return Arg(
        name,
        "float",
        0.0,
        f"fraction of the {what} dropped while training (one mask per sequence)",
        min=0.0,
        max=1.0,
        max_exclusive=True,
        keyword_only=True,
    )


def _flag(name: str, doc: str, default: bool = False) -> Arg:
    return Arg(name, "bool", default, doc, keyword_only=True)


# What follows the cell's own arguments in every recurrent layer, as in Keras.
SEQUENCE_ARGS = (
    ACTIVITY_REGULARIZER,
    _rate("dropout", "inputs"),
    _rate("recurrent_dropout", "recurrent state"),
    _flag("return_sequences", "return the output of every step `[B, T, units]`, not the last"),
    _flag("return_state", "also return the final state (`h`, and `c` for LSTM)"),
    _flag("go_backwards", "run over the sequence from its end (outputs in that order too)"),
)

# Weights of every recurrent cell; `bias` depends on the cell.
CELL_WEIGHT_ARGS = (
    *weight_args("kernel", "glorot_uniform"),
    # Keras says `recurrent_initializer` for the recurrent kernel's.
    *(
        replace(a, doc=a.doc.replace("the recurrent", "the recurrent kernel"))
        for a in weight_args("recurrent", "orthogonal")
    ),
    *weight_args("bias", "zeros"),
)

ACTIVATION = Arg(
    "activation",
    "str",
    "tanh",
    "applied to the candidate state and output",
    choices=ACTIVATION_NAMES,
)
RECURRENT_ACTIVATION = Arg(
    "recurrent_activation", "str", "sigmoid", "applied to the gates", choices=ACTIVATION_NAMES
)
USE_BIAS = Arg("use_bias", "bool", True, "add learned biases")
UNITS = Arg("units", "int", doc="size of the state and of the output's last axis", min=1)


def check_mask(inputs: Sequence[TensorType]) -> None:
    """The optional second input must be `bool[B, T]` for an `[B, T, F]` sequence."""
    if len(inputs) < 2:
        return
    x, mask = inputs[0], inputs[1]
    if mask.dtype is not DType.BOOL:
        raise ShapeError(
            f"the mask must be `bool`, found `{mask}`",
            input_index=1,
            code="E0301",
            help="build it with a comparison, e.g. `mask = tokens != 0`",
        )
    expected = x.shape[:2]
    if mask.shape != expected:
        raise ShapeError(
            f"the mask must have shape `{format_shape(expected)}` (batch, time) for input "
            f"`{x}`, found `{mask}`",
            input_index=1,
        )


def check_sequence(x: TensorType) -> None:
    if x.rank != 3:
        raise ShapeError(
            f"input must have rank 3 ([B, T, features]), found `{x}` of rank {x.rank}",
            input_index=0,
            help="a recurrent layer reads a batch of sequences of feature vectors",
        )


class Recurrent(Layer):
    """Shared rule of SimpleRNN, LSTM and GRU; subclasses name their cell and gates."""

    stochastic = True  # dropout and recurrent_dropout, while training
    optional_inputs = ("mask",)
    keras_name: ClassVar[str]  # Keras's default layer name, prefix of the weights under
    gates: ClassVar[int]  # blocks of `units` columns in the kernels
    # FLOPs per unit per step after the matrix products: activations and gating
    cell_flops: ClassVar[int]
    n_states: ClassVar[int] = 1

    @property
    def cell(self) -> str:
        return f"{self.keras_name}_cell"

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        x = inputs[0]
        check_sequence(x)
        check_mask(inputs)
        units = dim(attrs["units"])
        batch = x.shape[0]
        seq = (batch, x.shape[1], units) if attrs["return_sequences"] else (batch, units)
        y = x.with_shape(seq)
        if attrs["return_state"]:
            return (y, *([x.with_shape((batch, units))] * self.n_states))
        return (y,)

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return self.outputs(attrs, inputs)[0]

    def bias_shape(self, attrs: Attrs, units: Dim) -> tuple[Dim, ...]:
        return (units * self.gates,)

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        units = dim(attrs["units"])
        width = units * self.gates
        cell = self.cell
        out = {
            f"{cell}.kernel": weight(attrs, "kernel", (inputs[0].shape[-1], width)),
            f"{cell}.recurrent_kernel": weight(
                attrs, "recurrent_kernel", (units, width), prefix="recurrent"
            ),
        }
        if attrs["use_bias"]:
            out[f"{cell}.bias"] = self.bias(attrs, self.bias_shape(attrs, units))
        return out

    def bias(self, attrs: Attrs, shape: tuple[Dim, ...]) -> WeightSpec:
        return weight(attrs, "bias", shape)

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Per step and example: `2 * (features + units) * gates * units` for the input and
        recurrent products, their sum, the bias, and `cell_flops` per unit for the gates'
        activations and products; times `B * T` (every step runs, `return_sequences` or not)."""
        x = inputs[0]
        units = dim(attrs["units"])
        width = units * self.gates
        step = (x.shape[-1] + units) * width * 2 + width + units * self.cell_flops
        if attrs["use_bias"]:
            step = step + prod(self.bias_shape(attrs, units))
        return x.shape[0] * x.shape[1] * step


@register
class SimpleRNN(Recurrent):
    """Fully connected recurrence `h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel
    + bias)`; the output is `h_t`."""

    name = "SimpleRNN"
    keras_name = "simple_rnn"
    gates = 1
    cell_flops = 1  # the activation
    args = (UNITS, ACTIVATION, USE_BIAS, *CELL_WEIGHT_ARGS, *SEQUENCE_ARGS)
    rule = "`[B, T, F]` -> `[B, units]` (`[B, T, units]` with return_sequences)"
    example = "input t: f32[B, 10, 8]\nh = t |> SimpleRNN(16)"


@register
class LSTM(Recurrent):
    """Long short-term memory: gates i, f, c, o in blocks of `units` columns of `kernel
    [F, 4*units]`, `recurrent_kernel [units, 4*units]` and `bias [4*units]`, as in Keras.

    With `return_state` it returns `(output, h, c)`: `y, h, c = t |> LSTM(32, return_state =
    true)`.
    """

    name = "LSTM"
    keras_name = "lstm"
    gates = 4
    cell_flops = 9  # 4 gate activations, c = f*c + i*g (3), tanh(c), o * tanh(c)
    n_states = 2
    args = (
        UNITS,
        ACTIVATION,
        RECURRENT_ACTIVATION,
        USE_BIAS,
        *CELL_WEIGHT_ARGS,
        _flag("unit_forget_bias", "start the forget gate's bias at 1 (Jozefowicz et al.)", True),
        *SEQUENCE_ARGS,
    )
    rule = "`[B, T, F]` -> `[B, units]` (`[B, T, units]` with return_sequences; h, c `[B, units]`)"
    example = "input t: f32[B, 10, 8]\nh = t |> LSTM(16)"

    def bias(self, attrs: Attrs, shape: tuple[Dim, ...]) -> WeightSpec:
        w = weight(attrs, "bias", shape)
        if not attrs["unit_forget_bias"]:
            return w
        return replace(w, init=Configured("lstm_bias", (("base", w.init),)))


@register
class GRU(Recurrent):
    """Gated recurrent unit: gates z (update), r (reset), h (candidate) in blocks of `units`
    columns, as in Keras. `reset_after = true` (Keras 3's default, cuDNN's convention) applies
    the reset gate after the recurrent matmul and keeps separate input and recurrent biases
    `bias [2, 3*units]`; false applies it before and has one `bias [3*units]`."""

    name = "GRU"
    keras_name = "gru"
    gates = 3
    cell_flops = 8  # 3 gate activations, r * (h @ U_h), h = z*h + (1-z)*n (4)
    args = (
        UNITS,
        ACTIVATION,
        RECURRENT_ACTIVATION,
        USE_BIAS,
        *CELL_WEIGHT_ARGS,
        *SEQUENCE_ARGS,
        _flag("reset_after", "reset gate after the recurrent matmul (two biases)", True),
    )
    rule = "`[B, T, F]` -> `[B, units]` (`[B, T, units]` with return_sequences)"
    example = "input t: f32[B, 10, 8]\nh = t |> GRU(16, return_sequences = true)"

    def bias_shape(self, attrs: Attrs, units: Dim) -> tuple[Dim, ...]:
        if attrs["reset_after"]:
            return (Dim.const(2), units * 3)
        return (units * 3,)


RECURRENT_LAYERS = ("SimpleRNN", "LSTM", "GRU")
MERGE_MODES = ("concat", "sum", "mul", "ave")


def inner_layer(attrs: Attrs) -> tuple[Recurrent, Attrs]:
    """Bidirectional's configured layer: its spec and its arguments."""
    cfg = attrs["layer"]
    spec = lookup(cfg.name) if isinstance(cfg, Configured) else None
    if not isinstance(cfg, Configured) or not isinstance(spec, Recurrent):
        shown = cfg.name if isinstance(cfg, Configured) else str(cfg)
        raise ArgError(
            "layer",
            f"`layer` must be a recurrent layer, one of {', '.join(RECURRENT_LAYERS)}; "
            f"found `{shown}`",
            help="e.g. `Bidirectional(LSTM(16, return_sequences = true))`",
        )
    return spec, cfg.options


@register
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges
    the two outputs (the backward one put back in time order when it is a sequence).

    Weights are Keras's: `forward_lstm.lstm_cell.kernel`, `backward_lstm.lstm_cell.kernel`, ...
    With the inner layer's `return_state` the forward then backward final states follow the
    merged output.
    """

    name = "Bidirectional"
    stochastic = True
    optional_inputs = ("mask",)
    args = (
        Arg("layer", "layer", doc="the recurrent layer to run both ways, e.g. `LSTM(16)`"),
        Arg(
            "merge_mode",
            "str",
            "concat",
            "how the two outputs combine; `none` returns both, forward then backward",
            choices=MERGE_MODES,
            nullable=True,
        ),
    )
    rule = "`[B, T, F]` -> the inner layer's output, with last axis `2*units` for concat"
    example = "input t: f32[B, 10, 8]\nh = t |> Bidirectional(LSTM(16, return_sequences = true))"

    def validate(self, attrs: Attrs) -> None:
        _, inner = inner_layer(attrs)
        if inner.get("go_backwards"):
            raise ArgError(
                "layer",
                "the wrapped layer must run forwards (`go_backwards = false`); the backward "
                "copy is added by Bidirectional itself",
                help="remove `go_backwards = true`",
            )

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        self.validate(attrs)
        spec, inner = inner_layer(attrs)
        y, *states = spec.outputs(inner, inputs)
        if attrs["merge_mode"] is None:  # Keras's merge_mode=None: both outputs, unmerged
            return (y, y, *states, *states)
        if attrs["merge_mode"] == "concat":
            y = y.with_shape((*y.shape[:-1], y.shape[-1] * 2))
        return (y, *states, *states)

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return self.outputs(attrs, inputs)[0]

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Twice the inner layer's, plus the merge (one operation per merged element, two to
        average)."""
        spec, inner = inner_layer(attrs)
        one = spec.flops(inner, inputs[:1], spec.outputs(inner, inputs[:1]))
        if one is None:
            return None
        merge = {"sum": 1, "mul": 1, "ave": 2}.get(str(attrs["merge_mode"]), 0)
        return one * 2 + outputs[0].numel() * merge

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        spec, inner = inner_layer(attrs)
        ws = spec.weights(inner, inputs)
        out: dict[str, WeightSpec] = {}
        for direction in ("forward", "backward"):
            for name, w in ws.items():
                out[f"{direction}_{spec.keras_name}.{name}"] = w
        return out


@register
class LSTMBias(Initializer):
    """Keras's LSTM bias with `unit_forget_bias`: `base` on the i, c and o gates, ones on the
    forget gate (the second quarter), so the cell starts out remembering."""

    name = "lstm_bias"
    args = (Arg("base", "initializer", "zeros", "how the i, c and o gates' biases start"),)
    example = "h = x |> Dense(64, bias_initializer = lstm_bias)"

    def check_shape(self, attrs: Attrs, shape: tuple[Dim, ...]) -> str | None:
        n = shape[0].as_int() if len(shape) == 1 else None
        if len(shape) != 1 or (n is not None and n % 4):
            return f"`lstm_bias` fills a bias of 4 * units entries, not `{format_shape(shape)}`"
        return None
