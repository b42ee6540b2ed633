"""A loss written as an expression in `train` (`loss = mse(x, x_hat) + ...`), checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nndsl.records import record
from nndsl.source import Span

if TYPE_CHECKING:
    from nndsl.ir.graph import Graph


@record(frozen=True)
class LossExpr:
    """The expression as a graph over one batch; its one output, `loss`, is a float scalar,
    the training objective. Each graph input is fed, by its name, from `sources[name]`:
    `("output", name)` a model output, `("input", name)` a model input, `("label", name)` the
    labels of the output `name`. Built-in losses in it are `ops.loss_functions` nodes."""

    graph: Graph
    sources: Mapping[str, tuple[str, str]]
    span: Span

    def labels(self) -> dict[str, str]:
        """Graph input name -> the output it labels, for the labels the expression can read."""
        return {n: s[1] for n, s in self.sources.items() if s[0] == "label"}
