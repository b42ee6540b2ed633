"""The front end's optimizer-state table (`nndsl.ir.distribute.optimizer_state`, what
`nnrun summary --distribute`, E0905 and the run's memory pre-flight count) against the state
optax really allocates: `jax.eval_shape` of the runtime optimizer's `init` over the model's
parameters, in bytes. Every optimizer the language registers is covered, so a new one, or a
change of the optax composition, fails here until the table follows."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from nndsl.backend.jax import implementation
from nndsl.backend.jax.training import frozen_masked
from nndsl.frontend import check_source
from nndsl.ir import TrainConfig
from nndsl.ir.distribute import Distribution, optimizer_state, per_device
from nndsl.ops.registry import iter_specs
from nndsl.ops.spec import OpKind

# Weights of rank 1, 2 and 4, a dimension of 1, and a non-trainable one (BatchNorm's moving
# statistics, which no optimizer state follows).
MODEL = """
model Net() {{
    input x: f32[B, 6, 6, 2]
    return x |> Conv2D(4, 3) |> Flatten() |> Dense(8) |> BatchNormalization() |> Dense(1)
        |> Dense(3)
}}
data d = npz("d.npz", x = "x", y = "y")
train Net on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = {optimizer}
    batch = 4
}}
"""

ALL = sorted(spec.name for spec in iter_specs(OpKind.OPTIMIZER))
# Every optimizer with its defaults, then the settings that change what it keeps.
CASES = [f"{name}()" for name in ALL] + [
    "sgd(momentum = 0.9)",
    "sgd(momentum = 0.9, nesterov = true)",
    "rmsprop(momentum = 0.9)",
    "rmsprop(centered = true)",
    "rmsprop(centered = true, momentum = 0.5)",
    "adam(amsgrad = true)",
    "adamw(amsgrad = true)",
    "adam(gradient_accumulation_steps = 4)",
    "adam(use_ema = true)",
    "adafactor(gradient_accumulation_steps = 2, use_ema = true)",
    "sgd(momentum = 0.9, use_ema = true, clipnorm = 1.0)",
]


def _train(optimizer: str) -> TrainConfig:
    result = check_source(MODEL.format(optimizer=optimizer), "net.nn")
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None and result.program.train is not None
    return result.program.train


def _bytes(tree: Any) -> int:
    return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))


def _params(train: TrainConfig) -> dict[str, dict[str, jax.ShapeDtypeStruct]]:
    """The params tree's shapes (trainable weights by node path), as the runtime builds it."""
    out: dict[str, dict[str, jax.ShapeDtypeStruct]] = {}
    for node, w in train.graph.weights():
        if w.trainable:
            dtype = np.dtype(w.dtype.numpy_name)
            out.setdefault(node.path, {})[w.name] = jax.ShapeDtypeStruct(tuple(w.shape), dtype)
    return out


def test_every_optimizer_is_covered() -> None:
    named = {case.split("(")[0] for case in CASES}
    assert named == set(ALL)
    from nndsl.ir import distribute

    assert set(distribute._COPIES) == set(ALL), "add the optimizer to `_COPIES`"


@pytest.mark.parametrize("optimizer", CASES)
def test_state_bytes_equal_optax(optimizer: str) -> None:
    train = _train(optimizer)
    opt = train.optimizer
    tx = frozen_masked(train.graph, implementation(opt.op)(opt.attrs))
    params = _params(train)
    scalars = _bytes(jax.eval_shape(tx.init, {}))  # step counts: not per weight
    real = _bytes(jax.eval_shape(tx.init, params)) - scalars
    state = optimizer_state(opt.op.name, opt.attrs)
    table = sum(
        state.bytes(tuple(w.shape), w.dtype.itemsize)
        for _, w in train.graph.weights()
        if w.trainable and not w.frozen
    )
    assert table == real, f"{optimizer}: the table says {table} bytes, optax keeps {real}"
    # per device on one device: the same number
    one = Distribution((("data", 1),), "data")
    assert per_device(train.graph, one, train.batch, state).optimizer == real
