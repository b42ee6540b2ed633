"""The JAX implementation table and the call records implementations receive.

Signatures by kind:
- LAYER / FUNCTION / OPERATOR: `fn(call: ApplyCall) -> jax.Array`
- LOSS: `fn(call: LabelCall) -> jax.Array` of per-example values `[B]` (or one value for the
  batch, computed under `call.mask`), so padded rows can be masked and averages are exact.
- METRIC: a `Streaming` (see `impls/metrics.py`): per-batch sums under `call.mask`, added up
  over an epoch, then `finalize`d into the value.
- OPTIMIZER: `fn(attrs) -> optax.GradientTransformation`
- DATA: `fn(attrs, base_dir: pathlib.Path) -> dict[str, numpy.ndarray]` (raises `DataError`)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax

from nndsl.backend.table import ImplTable
from nndsl.ops import ArgValue, OpSpec
from nndsl.ops.registry import FAMILIES, ImportOnce

Attrs = Mapping[str, ArgValue]

TABLE: ImplTable[Callable[..., Any]] = ImplTable("jax")


@dataclass
class ApplyCall:
    """One application of a layer, function or operator inside the compiled graph."""

    attrs: Attrs
    inputs: list[jax.Array]
    params: Mapping[str, jax.Array] = field(default_factory=dict)  # trainable
    state: Mapping[str, jax.Array] = field(default_factory=dict)  # non-trainable, read
    training: bool = False
    key: jax.Array | None = None  # only for stochastic specs while training
    new_state: dict[str, jax.Array] = field(default_factory=dict)  # written by the impl
    losses: list[jax.Array] = field(default_factory=list)  # scalars added to the training loss

    @property
    def x(self) -> jax.Array:
        return self.inputs[0]

    def add_loss(self, value: jax.Array) -> None:
        """A term for the training objective (Keras's `add_loss`), e.g. an activity penalty."""
        self.losses.append(value)


@dataclass(frozen=True)
class LabelCall:
    """A loss or metric evaluated on one batch; `from_logits` comes from the loss's attrs."""

    attrs: Attrs
    y_pred: jax.Array
    y_true: jax.Array
    from_logits: bool = False
    mask: jax.Array | None = None  # `[B]` 0/1 weights of real rows; None: all rows count


def impl(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the JAX implementation of the spec called `name`."""
    return TABLE.register(name)


def implementation(spec: OpSpec | str) -> Callable[..., Any]:
    _load()
    return TABLE.get(spec)


def missing_implementations() -> list[str]:
    _load()
    return TABLE.missing()


# Implementation modules beside the families': `tensorboard` (a callback needing an optional
# package at run time) builds on `callbacks`, so it cannot be imported from there.
EXTRA_MODULES = ("tensorboard",)
_load = ImportOnce(
    lambda: (f"nndsl.backend.jax.impls.{name}" for name in (*FAMILIES, *EXTRA_MODULES))
)
