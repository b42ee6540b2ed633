"""A loss written as an expression in `train` (`loss = mse(x, x_hat) + ...`), checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nndsl.records import field, record
from nndsl.source import Span

if TYPE_CHECKING:
    from nndsl.ir.graph import Graph, OpCall


@record(frozen=True)
class LossExpr:
    """The expression as a graph over one batch; its one output, `loss`, is a float scalar,
    the training objective. Each graph input is fed, by its name, from `sources[name]`:
    `("output", name)` a model output, `("input", name)` a model input, `("label", name)` the
    labels of the output `name`. Built-in losses in it are `ops.loss_functions` nodes.

    `label_losses`: for labels read only as the `y_true` of built-in losses of one label kind,
    that loss: its rule reads the array (class ids or one-hot for `cross_entropy`, ids for
    `sparse_categorical_crossentropy`); other labels are read as the output's type."""

    graph: Graph
    sources: Mapping[str, tuple[str, str]]
    span: Span
    label_losses: Mapping[str, OpCall] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        """Graph input name -> the output it labels, for the labels the expression can read."""
        return {n: s[1] for n, s in self.sources.items() if s[0] == "label"}
