"""ONNX lowerings of the `recurrent` family (see `nndsl.ops.recurrent`).

Two forms, both keeping batch and time symbolic:

- ONNX's own `RNN`/`LSTM`/`GRU` ops (what runtimes fuse and accelerate) when the activations
  are ones ONNX names and there is no mask. Keras's gate blocks are reordered at export (LSTM
  i,f,c,o -> ONNX i,o,f,c; GRU z,r,h is ONNX's order), kernels transposed to `[gates*units,
  in]`, GRU's `reset_after` is `linear_before_reset`, and its two biases are ONNX's `Wb`/`Rb`.
  `go_backwards` runs forwards over the flipped sequence (Keras returns the outputs in the
  order they were computed); Bidirectional is `direction = "bidirectional"`.
- A `Scan` over time otherwise (masks: a masked step keeps the state and repeats the
  previous output, which ONNX's `sequence_lens` cannot say for masks that are not a prefix;
  activations ONNX's RNN ops do not know), with the JAX impl's step arithmetic in its body.

Inference only: dropout and recurrent dropout are the identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nndsl.backend.onnx.builder import onnx_dtype
from nndsl.backend.onnx.lowerings.activation import activate
from nndsl.backend.onnx.registry import LowerCall, Result, Unsupported, lowering
from nndsl.ops import ArgValue, Configured, lookup
from nndsl.shapes import DType, TensorType

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
CELLS = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}
PREFIXES = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
ONNX_OPS = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
# Keras's activations that ONNX's recurrent ops name: (ONNX name, alpha, beta); alpha/beta
# only for the functions that take them. Keras's hard_sigmoid is relu6(x + 3) / 6.
ONNX_ACTIVATIONS: dict[str, tuple[str, tuple[float, ...], tuple[float, ...]]] = {
    "tanh": ("Tanh", (), ()),
    "sigmoid": ("Sigmoid", (), ()),
    "relu": ("Relu", (), ()),
    "linear": ("Affine", (1.0,), (0.0,)),
    "hard_sigmoid": ("HardSigmoid", (1.0 / 6.0,), (0.5,)),
}
# ONNX's LSTM gate blocks, as indices of Keras's (i, f, c, o): i, o, f, c.
LSTM_ORDER = (0, 3, 1, 2)
INT64_MIN = -(2**63)


@dataclass
class Cell:
    """One recurrent layer's arguments and weights (one direction of a Bidirectional)."""

    layer: str  # SimpleRNN, LSTM, GRU
    attrs: Mapping[str, ArgValue]
    kernel: np.ndarray  # [F, G*units]
    recurrent: np.ndarray  # [units, G*units]
    bias: np.ndarray | None  # [G*units], GRU reset_after: [2, G*units]
    name: str  # the weights' prefix, for initializer names

    @property
    def units(self) -> int:
        return int(self.recurrent.shape[0])

    @property
    def activation(self) -> str:
        return _canonical(self.attrs["activation"])

    @property
    def recurrent_activation(self) -> str:
        if self.layer == "SimpleRNN":
            return "sigmoid"
        return _canonical(self.attrs["recurrent_activation"])

    @property
    def reset_after(self) -> bool:
        return self.layer == "GRU" and bool(self.attrs["reset_after"])

    def biases(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(input bias, recurrent bias), each `[G*units]` or None."""
        if self.bias is None:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None


def _canonical(name: ArgValue) -> str:
    spec = lookup(str(name))
    return spec.name if spec is not None else str(name)


def _cell(
    layer: str, attrs: Mapping[str, ArgValue], weights: Mapping[str, np.ndarray], head: str
) -> Cell:
    cell = f"{head}{CELLS[layer]}."
    return Cell(
        layer=layer,
        attrs=attrs,
        kernel=weights[f"{cell}kernel"],
        recurrent=weights[f"{cell}recurrent_kernel"],
        bias=weights.get(f"{cell}bias"),
        name=f"{head}{CELLS[layer]}",
    )


def _native(cell: Cell, dtype: DType, masked: bool) -> bool:
    """Whether ONNX's own op computes this cell as the JAX impl does."""
    acts = {cell.activation, cell.recurrent_activation}
    return not masked and dtype is DType.F32 and acts <= ONNX_ACTIVATIONS.keys()


# --- shared helpers -------------------------------------------------------------------------


def _flip_time(call: LowerCall, x: str, axis: int) -> str:
    """`x` reversed along `axis` (of symbolic length): a Slice with step -1."""
    ints = call.g.ints
    return call.op("Slice", x, ints([-1]), ints([INT64_MIN]), ints([axis]), ints([-1]))


def _squeeze(call: LowerCall, x: str, axis: int) -> str:
    return call.op("Squeeze", x, call.g.ints([axis]))


def _take(call: LowerCall, x: str, index: int, axis: int) -> str:
    """`x[..., index, ...]` along `axis`, that axis dropped."""
    return call.op("Gather", x, call.g.const(index, "int64"), axis=axis)


# --- ONNX's RNN / LSTM / GRU ---------------------------------------------------------------


def _gate_blocks(cell: Cell, a: np.ndarray) -> np.ndarray:
    """The last axis's gate blocks in ONNX's order (LSTM i,f,c,o -> i,o,f,c)."""
    if cell.layer != "LSTM":
        return a
    blocks = np.split(a, 4, axis=-1)
    return np.concatenate([blocks[i] for i in LSTM_ORDER], axis=-1)


def _onnx_activations(cells: Sequence[Cell]) -> tuple[list[str], list[float], list[float]]:
    names: list[str] = []
    alphas: list[float] = []
    betas: list[float] = []
    for cell in cells:
        act, ract = cell.activation, cell.recurrent_activation
        order = {"SimpleRNN": [act], "LSTM": [ract, act, act], "GRU": [ract, act]}[cell.layer]
        for a in order:
            onnx_name, alpha, beta = ONNX_ACTIVATIONS[a]
            names.append(onnx_name)
            alphas.extend(alpha)
            betas.extend(beta)
    return names, alphas, betas


def _onnx_rnn(call: LowerCall, cells: Sequence[Cell], x: str) -> list[str]:
    """ONNX's op over `x [B, T, F]` with one cell per direction (two: bidirectional).
    Returns ONNX's outputs: Y `[T, D, B, units]`, Y_h `[D, B, units]` (and Y_c for LSTM)."""
    layer = cells[0].layer
    units = cells[0].units
    dt = np.dtype(call.dtype.numpy_name)
    w = np.stack([_gate_blocks(c, np.asarray(c.kernel, dt)).T for c in cells])
    r = np.stack([_gate_blocks(c, np.asarray(c.recurrent, dt)).T for c in cells])
    inputs = [
        call.op("Transpose", x, perm=[1, 0, 2]),  # time-major
        call.weight(f"{cells[0].name}.kernel", w),
        call.weight(f"{cells[0].name}.recurrent_kernel", r),
    ]
    if cells[0].bias is not None:
        rows = []
        for c in cells:
            ib, rb = c.biases()
            assert ib is not None
            ib = _gate_blocks(c, np.asarray(ib, dt))
            rb = np.zeros_like(ib) if rb is None else _gate_blocks(c, np.asarray(rb, dt))
            rows.append(np.concatenate([ib, rb]))
        inputs.append(call.weight(f"{cells[0].name}.bias", np.stack(rows)))
    names, alphas, betas = _onnx_activations(cells)
    extra: dict[str, object] = {}
    if layer == "GRU":
        extra["linear_before_reset"] = int(cells[0].reset_after)
    outputs = 3 if layer == "LSTM" else 2
    return call.g.op_multi(
        ONNX_OPS[layer],
        inputs,
        call.path,
        outputs=outputs,
        hidden_size=units,
        direction="bidirectional" if len(cells) == 2 else "forward",
        activations=names,
        activation_alpha=alphas or None,
        activation_beta=betas or None,
        **extra,
    )


# --- Scan over time ------------------------------------------------------------------------


def _body_info(name: str, dtype: DType, width: int | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, onnx_dtype(dtype), [None, width])


def _scan(
    call: LowerCall,
    cell: Cell,
    x: str,
    mask: str | None,
    *,
    reverse: bool,
    outputs_in_time_order: bool,
    zero_output_for_mask: bool,
) -> tuple[str | None, list[str]]:
    """The JAX impl's `_run` as a `Scan`: (the outputs `[B, T, units]` when the layer returns
    sequences, else None; the final states `[B, units]`)."""
    dtype = call.dtype
    dt = np.dtype(dtype.numpy_name)
    units, gates = cell.units, GATES[cell.layer]
    ib, rb = cell.biases()
    xw = call.op("MatMul", x, call.weight(f"{cell.name}.kernel", np.asarray(cell.kernel, dt)))
    if ib is not None:
        xw = call.op("Add", xw, call.weight(f"{cell.name}.bias", np.asarray(ib, dt)))
    scans = [call.op("Transpose", xw, perm=[1, 0, 2])]  # [T, B, G*units]
    if mask is not None:
        keep = call.op("Transpose", mask, perm=[1, 0])
        scans.append(call.op("Unsqueeze", keep, call.g.ints([-1])))  # [T, B, 1]
    batch = call.op("Slice", call.op("Shape", x), call.g.ints([0]), call.g.ints([1]))
    zeros = call.op(
        "ConstantOfShape",
        call.op("Concat", batch, call.g.ints([units]), axis=0),
        value=numpy_helper.from_array(np.zeros(1, dt)),
    )
    n_states = 2 if cell.layer == "LSTM" else 1
    seqs = bool(cell.attrs["return_sequences"])

    body = call.g.subgraph()
    b = LowerCall(
        g=body,
        attrs=cell.attrs,
        inputs=[],
        types=[TensorType(dtype, ())],
        outputs=[],
        path=f"{call.path}/{cell.name}/step",
    )
    state_in = [body.fresh(f"{b.path}/h"), body.fresh(f"{b.path}/c")][:n_states]
    z = body.fresh(f"{b.path}/z")
    keep_in = body.fresh(f"{b.path}/keep") if mask is not None else None
    new, out = _step(b, cell, z, state_in, rb)
    if keep_in is not None:
        new = [b.op("Where", keep_in, n, s) for n, s in zip(new, state_in, strict=True)]
        held = b.g.scalar(0.0, dtype) if zero_output_for_mask else state_in[0]
        out = b.op("Where", keep_in, out, held)
    body_outputs = [b.op("Identity", n) for n in new]
    if seqs:
        body_outputs.append(b.op("Identity", out))
    graph = helper.make_graph(
        body.nodes,
        f"{call.path}/{cell.name}/step",
        [
            *(_body_info(s, dtype, units) for s in state_in),
            _body_info(z, dtype, units * gates),
            *([] if keep_in is None else [_body_info(keep_in, DType.BOOL, 1)]),
        ],
        [_body_info(o, dtype, units) for o in body_outputs],
    )
    results = call.g.op_multi(
        "Scan",
        [zeros] * n_states + scans,
        call.path,
        outputs=n_states + int(seqs),
        body=graph,
        num_scan_inputs=len(scans),
        scan_input_directions=[int(reverse)] * len(scans),
        scan_output_directions=[int(reverse and outputs_in_time_order)] if seqs else None,
    )
    y = call.op("Transpose", results[-1], perm=[1, 0, 2]) if seqs else None
    return y, results[:n_states]


def _step(
    b: LowerCall, cell: Cell, z: str, state: list[str], rb: np.ndarray | None
) -> tuple[list[str], str]:
    """One step of the JAX impl's cells on the projected input `z [B, G*units]`:
    (new states, output)."""
    dt = np.dtype(b.dtype.numpy_name)
    act, ract = cell.activation, cell.recurrent_activation
    rk = np.asarray(cell.recurrent, dt)

    def rec(h: str, kernel: np.ndarray, role: str) -> str:
        return b.op("MatMul", h, b.weight(f"{cell.name}.{role}", kernel))

    def split(v: str, n: int) -> list[str]:
        return b.g.op_multi("Split", [v], b.path, outputs=n, axis=-1, num_outputs=n)

    h_tm1 = state[0]
    if cell.layer == "SimpleRNN":
        h = activate(b, act, b.op("Add", z, rec(h_tm1, rk, "recurrent_kernel")))
        return [h], h
    if cell.layer == "LSTM":
        zi, zf, zc, zo = split(b.op("Add", z, rec(h_tm1, rk, "recurrent_kernel")), 4)
        c_tm1 = state[1]
        forget = b.op("Mul", activate(b, ract, zf), c_tm1)
        write = b.op("Mul", activate(b, ract, zi), activate(b, act, zc))
        c = b.op("Add", forget, write)
        h = b.op("Mul", activate(b, ract, zo), activate(b, act, c))
        return [h, c], h
    x_z, x_r, x_h = split(z, 3)
    if cell.reset_after:
        inner = rec(h_tm1, rk, "recurrent_kernel")
        if rb is not None:
            inner = b.op("Add", inner, b.weight(f"{cell.name}.recurrent_bias", np.asarray(rb, dt)))
        r_z, r_r, r_h = split(inner, 3)
        zg = activate(b, ract, b.op("Add", x_z, r_z))
        r = activate(b, ract, b.op("Add", x_r, r_r))
        hh = activate(b, act, b.op("Add", x_h, b.op("Mul", r, r_h)))
    else:
        rk_z, rk_r, rk_h = np.split(rk, 3, axis=-1)
        zg = activate(b, ract, b.op("Add", x_z, rec(h_tm1, rk_z, "recurrent_kernel_z")))
        r = activate(b, ract, b.op("Add", x_r, rec(h_tm1, rk_r, "recurrent_kernel_r")))
        hh = activate(
            b, act, b.op("Add", x_h, rec(b.op("Mul", r, h_tm1), rk_h, "recurrent_kernel_h"))
        )
    one = b.g.scalar(1.0, b.dtype)
    h = b.op("Add", b.op("Mul", zg, h_tm1), b.op("Mul", b.op("Sub", one, zg), hh))
    return [h], h


# --- the layers ----------------------------------------------------------------------------


def _mask(call: LowerCall) -> str | None:
    return call.inputs[1] if len(call.inputs) > 1 else None


def _layer(call: LowerCall, layer: str) -> Result:
    cell = _cell(layer, call.attrs, call.weights, "")
    mask = _mask(call)
    go_backwards = bool(call.attrs["go_backwards"])
    seqs = bool(call.attrs["return_sequences"])
    if _native(cell, call.dtype, mask is not None):
        x = _flip_time(call, call.x, 1) if go_backwards else call.x
        y_all, *finals = _onnx_rnn(call, [cell], x)
        states = [_squeeze(call, s, 0) for s in finals]
        if seqs:
            y = call.op("Transpose", _squeeze(call, y_all, 1), perm=[1, 0, 2])
        else:
            y = states[0]
    else:
        y_seq, states = _scan(
            call,
            cell,
            call.x,
            mask,
            reverse=go_backwards,
            outputs_in_time_order=False,
            zero_output_for_mask=False,
        )
        y = y_seq if y_seq is not None else states[0]
    if call.attrs["return_state"]:
        return (y, *states)
    return y


@lowering("SimpleRNN")
def simple_rnn(call: LowerCall) -> Result:
    return _layer(call, "SimpleRNN")


@lowering("LSTM")
def lstm(call: LowerCall) -> Result:
    return _layer(call, "LSTM")


@lowering("GRU")
def gru(call: LowerCall) -> Result:
    return _layer(call, "GRU")


@lowering("Bidirectional")
def bidirectional(call: LowerCall) -> Result:
    """Forward and backward copies, the backward outputs in time order, then merged."""
    cfg = call.attrs["layer"]
    if not isinstance(cfg, Configured):
        raise Unsupported(f"`layer` is `{cfg}`, not a recurrent layer")
    layer = lookup(cfg.name)
    assert layer is not None and layer.name in GATES
    inner = cfg.options
    prefix = PREFIXES[layer.name]
    cells = [
        _cell(layer.name, inner, call.weights, f"{d}_{prefix}.") for d in ("forward", "backward")
    ]
    mask = _mask(call)
    seqs = bool(inner["return_sequences"])
    if _native(cells[0], call.dtype, mask is not None):
        y_all, *finals = _onnx_rnn(call, cells, call.x)
        states = [[_take(call, s, d, 0) for s in finals] for d in (0, 1)]
        if seqs:
            ys = [call.op("Transpose", _take(call, y_all, d, 1), perm=[1, 0, 2]) for d in (0, 1)]
        else:
            ys = [states[0][0], states[1][0]]
    else:
        ys, states = [], []
        for i, c in enumerate(cells):
            y_seq, st = _scan(
                call,
                c,
                call.x,
                mask,
                reverse=i == 1,
                outputs_in_time_order=True,
                zero_output_for_mask=seqs,
            )
            ys.append(y_seq if y_seq is not None else st[0])
            states.append(st)
    y, y_rev = ys
    fstates, bstates = states if inner["return_state"] else ([], [])
    mode = call.attrs["merge_mode"]
    if mode is None:
        return (y, y_rev, *fstates, *bstates)
    if mode == "concat":
        merged = call.op("Concat", y, y_rev, axis=-1)
    elif mode == "sum":
        merged = call.op("Add", y, y_rev)
    elif mode == "ave":
        merged = call.op("Div", call.op("Add", y, y_rev), call.g.scalar(2.0, call.dtype))
    else:
        merged = call.op("Mul", y, y_rev)
    out = (merged, *fstates, *bstates)
    return out if len(out) > 1 else out[0]
