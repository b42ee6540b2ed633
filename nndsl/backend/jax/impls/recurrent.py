"""JAX implementations of the recurrent specs, each one `jax.lax.scan` over time.

The API is batch-major (`[B, T, F]`); inside, the input projection `x @ kernel (+ bias)` is
done for all steps at once and the scan runs time-major over it. Arithmetic follows Keras 3's
cells (implementation 2; implementation 1's per-gate dropout masks when `recurrent_dropout`
is on), so outputs match Keras with its weights copied over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from nndsl.backend.jax.impls.activation import activate
from nndsl.backend.jax.registry import ApplyCall, impl, implementation
from nndsl.ops import Configured, configured, lookup
from nndsl.ops.attrs import declared, to_float
from nndsl.ops.spec import OpKind

Params = Mapping[str, jax.Array]
State = tuple[jax.Array, ...]
# (projected input of one step `[B, G*units]`, state) -> (output `[B, units]`, new state)
Step = Callable[[jax.Array, State], tuple[jax.Array, State]]

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
CELLS = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


def _masks(
    key: jax.Array | None, rate: float, count: int, shape: tuple[int, ...], dtype: Any
) -> jax.Array | None:
    """`count` dropout masks (kept entries scaled by `1/(1-rate)`), or None without dropout."""
    if key is None or not 0.0 < rate < 1.0:
        return None
    keep = jax.random.bernoulli(key, 1.0 - rate, (count, *shape))
    return keep.astype(dtype) / (1.0 - rate)


def _gated_matmul(v: jax.Array, w: jax.Array, mask: jax.Array | None) -> jax.Array:
    """`v @ w` where `w` is `[in, G*units]`; a mask `[G, ..., in]` gives each gate's block its
    own dropped copy of `v` (Keras's implementation 1), a mask `[1, ..., in]` one for all."""
    if mask is None:
        return v @ w
    if mask.shape[0] == 1:
        return (v * mask[0]) @ w
    g = mask.shape[0]
    blocks = jnp.split(w, g, axis=-1)
    return jnp.concatenate([(v * mask[i]) @ blocks[i] for i in range(g)], axis=-1)


def _run(
    layer: str,
    attrs: Mapping[str, Any],
    params: Params,
    x: jax.Array,
    mask: jax.Array | None,
    *,
    training: bool,
    key: jax.Array | None,
    go_backwards: bool,
    zero_output_for_mask: bool = False,
) -> tuple[jax.Array, ...]:
    """One recurrent layer over `x [B, T, F]`: (output, *final states)."""
    cell = CELLS[layer]
    kernel = params[f"{cell}.kernel"]
    rkernel = params[f"{cell}.recurrent_kernel"]
    bias = params.get(f"{cell}.bias")
    units = rkernel.shape[0]
    gates = GATES[layer]
    batch = x.shape[0]
    dtype = x.dtype
    act = str(attrs["activation"])
    ract = str(declared(attrs, "recurrent_activation", "sigmoid"))
    reset_after = layer == "GRU" and bool(attrs["reset_after"])

    # Dropout masks are drawn once per sequence and shared by every step, as in Keras.
    rate, rrate = to_float(attrs["dropout"]), to_float(attrs["recurrent_dropout"])
    count = gates if 0.0 < rrate < 1.0 else 1  # Keras uses per-gate masks with recurrent dropout
    kx, kh = jax.random.split(key) if (training and key is not None) else (None, None)
    in_mask = _masks(kx, rate, count, (batch, 1, x.shape[-1]), dtype)
    rec_mask = _masks(kh, rrate, count, (batch, units), dtype)

    # The input side of every step at once: `[B, T, G*units]`, with the input bias.
    input_bias = recurrent_bias = None
    if bias is not None:
        if reset_after:
            input_bias, recurrent_bias = bias[0], bias[1]
        else:
            input_bias = bias
    xw = _gated_matmul(x, kernel, in_mask)
    if input_bias is not None:
        xw = xw + input_bias
    xs = jnp.swapaxes(xw, 0, 1)  # time-major

    def rec(h: jax.Array) -> jax.Array:
        return _gated_matmul(h, rkernel, rec_mask)

    def simple_step(z: jax.Array, state: State) -> tuple[jax.Array, State]:
        h = activate(act, z + rec(state[0]))
        return h, (h,)

    def lstm_step(z: jax.Array, state: State) -> tuple[jax.Array, State]:
        h_tm1, c_tm1 = state
        zi, zf, zc, zo = jnp.split(z + rec(h_tm1), 4, axis=-1)
        c = activate(ract, zf) * c_tm1 + activate(ract, zi) * activate(act, zc)
        h = activate(ract, zo) * activate(act, c)
        return h, (h, c)

    def gru_step(z: jax.Array, state: State) -> tuple[jax.Array, State]:
        (h_tm1,) = state
        x_z, x_r, x_h = jnp.split(z, 3, axis=-1)
        if reset_after:
            inner = rec(h_tm1)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            r_z, r_r, r_h = jnp.split(inner, 3, axis=-1)
            zg = activate(ract, x_z + r_z)
            r = activate(ract, x_r + r_r)
            hh = activate(act, x_h + r * r_h)
        else:
            h_in = [h_tm1 * m for m in rec_mask] if rec_mask is not None else [h_tm1] * 3
            if len(h_in) == 1:
                h_in = h_in * 3
            rk_z, rk_r, rk_h = jnp.split(rkernel, 3, axis=-1)
            zg = activate(ract, x_z + h_in[0] @ rk_z)
            r = activate(ract, x_r + h_in[1] @ rk_r)
            hh = activate(act, x_h + (r * h_in[2]) @ rk_h)
        h = zg * h_tm1 + (1 - zg) * hh
        return h, (h,)

    step: Step = {"SimpleRNN": simple_step, "LSTM": lstm_step, "GRU": gru_step}[layer]
    zeros = jnp.zeros((batch, units), dtype)
    init: State = (zeros, zeros) if layer == "LSTM" else (zeros,)
    return_sequences = bool(attrs["return_sequences"])

    if mask is None:

        def body(state: State, z: jax.Array) -> tuple[State, jax.Array | None]:
            out, new = step(z, state)
            return new, out if return_sequences else None

        final, outs = jax.lax.scan(body, init, xs, reverse=go_backwards)
    else:
        ms = jnp.swapaxes(mask, 0, 1)[..., None]  # [T, B, 1]

        def masked(state: State, inp: tuple[jax.Array, jax.Array]) -> tuple[State, Any]:
            z, keep = inp
            out, new = step(z, state)
            # A masked step keeps the state and repeats the previous output (zeros instead
            # with `zero_output_for_mask`, as Bidirectional asks for sequences).
            held = jnp.zeros_like(out) if zero_output_for_mask else state[0]
            new = tuple(jnp.where(keep, n, s) for n, s in zip(new, state, strict=True))
            return new, jnp.where(keep, out, held) if return_sequences else None

        final, outs = jax.lax.scan(masked, init, (xs, ms), reverse=go_backwards)

    if return_sequences:
        assert outs is not None
        if go_backwards:  # Keras returns the outputs in the order they were computed
            outs = jnp.flip(outs, axis=0)
        y = jnp.swapaxes(outs, 0, 1)
    else:
        y = final[0]  # the last output is the final h for all three cells
    if attrs["return_state"]:
        return (y, *final)
    return (y,)


def _layer(name: str) -> Callable[[ApplyCall], Any]:
    def run(call: ApplyCall) -> Any:
        mask = call.inputs[1] if len(call.inputs) > 1 else None
        out = _run(
            name,
            call.attrs,
            call.params,
            call.x,
            mask,
            training=call.training,
            key=call.key,
            go_backwards=bool(call.attrs["go_backwards"]),
        )
        return out if len(out) > 1 else out[0]

    run.__name__ = name.lower()
    run.__doc__ = f"{name} over `[B, T, F]`, a `jax.lax.scan` over time."
    return run


for _name in GATES:
    impl(_name)(_layer(_name))


@impl("Bidirectional")
def bidirectional(call: ApplyCall) -> Any:
    """The forward and backward copies (Keras's `forward_*` / `backward_*` weights), the
    backward sequence flipped back into time order, then merged."""
    cfg = call.attrs["layer"]
    assert isinstance(cfg, Configured)
    spec = lookup(cfg.name)
    assert spec is not None
    inner = cfg.options
    prefix = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[spec.name]
    mask = call.inputs[1] if len(call.inputs) > 1 else None
    seqs = bool(inner["return_sequences"])
    keys = jax.random.split(call.key) if call.key is not None else (None, None)
    results = []
    for i, direction in enumerate(("forward", "backward")):
        head = f"{direction}_{prefix}."
        params = {k[len(head) :]: v for k, v in call.params.items() if k.startswith(head)}
        results.append(
            _run(
                spec.name,
                inner,
                params,
                call.x,
                mask,
                training=call.training,
                key=keys[i],
                go_backwards=direction == "backward",
                zero_output_for_mask=seqs,
            )
        )
    (y, *fstates), (y_rev, *bstates) = results
    if seqs:
        y_rev = jnp.flip(y_rev, axis=1)
    mode = call.attrs["merge_mode"]
    if mode is None:
        return (y, y_rev, *fstates, *bstates)
    if mode == "concat":
        merged = jnp.concatenate([y, y_rev], axis=-1)
    elif mode == "sum":
        merged = y + y_rev
    elif mode == "ave":
        merged = (y + y_rev) / 2
    else:
        merged = y * y_rev
    out = (merged, *fstates, *bstates)
    return out if len(out) > 1 else out[0]


@impl("lstm_bias")
def lstm_bias(cfg: Configured, key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """Keras builds it piecewise: `base` for i, ones for f, `base` for c and o together."""
    units = shape[0] // 4
    base = configured(cfg["base"], OpKind.INITIALIZER)
    assert base is not None
    fill: Callable[..., jax.Array] = implementation(base.name)
    k1, k2 = jax.random.split(key)
    return jnp.concatenate(
        [
            fill(base, k1, (units,), dtype),
            jnp.ones((units,), dtype),
            fill(base, k2, (2 * units,), dtype),
        ]
    )
