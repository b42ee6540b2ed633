"""Counting the nodes the checker builds, for tests that check work in nodes, not seconds."""

from __future__ import annotations

import pytest

from nndsl.check.builder import GraphBuilder


def counting_nodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting the checker's `GraphBuilder.add_node` calls from now on (set
    `calls[0] = 0` to restart)."""
    calls = [0]
    add = GraphBuilder.add_node

    def counting(self: GraphBuilder, *args: object, **kwargs: object) -> int:
        calls[0] += 1
        return add(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GraphBuilder, "add_node", counting)
    return calls
