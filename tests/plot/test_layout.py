"""The layered layout (nndsl/plot/layout.py): pure, no IR."""

from __future__ import annotations

import random

import pytest

from nndsl.plot.layout import (
    NODE_GAP,
    RANK_GAP,
    Box,
    Layout,
    edge_points,
    isotonic,
    layout,
    place_ranks,
    svg_path,
)


def _no_overlap(lay: Layout) -> None:
    boxes = list(lay.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.width == 0 or b.width == 0:
                continue
            apart_x = a.x + a.width / 2 + NODE_GAP - 1e-6 <= b.x - b.width / 2 or (
                b.x + b.width / 2 + NODE_GAP - 1e-6 <= a.x - a.width / 2
            )
            apart_y = a.y + a.height <= b.y or b.y + b.height <= a.y
            assert apart_x or apart_y, f"{a.id} and {b.id} overlap"


def _random_dag(seed: int, n: int) -> tuple[list[Box], list[tuple[str, str]]]:
    rng = random.Random(seed)
    boxes = [Box(f"v{i}", rng.uniform(40, 220), rng.uniform(20, 60)) for i in range(n)]
    edges = []
    for j in range(1, n):
        for i in rng.sample(range(j), k=min(j, rng.choice([1, 1, 1, 2, 3]))):
            edges.append((f"v{i}", f"v{j}"))
    return boxes, edges


@pytest.mark.parametrize("seed", range(8))
def test_random_dags_boxes_never_overlap_and_edges_go_down(seed: int) -> None:
    boxes, edges = _random_dag(seed, 40)
    lay = layout(boxes, edges)
    _no_overlap(lay)
    for s, t in edges:
        assert lay.boxes[t].rank > lay.boxes[s].rank
        assert lay.boxes[t].y >= lay.boxes[s].y + lay.boxes[s].height + RANK_GAP - 1e-6
    routes = {(r.source, r.target): r for r in lay.routes}
    for s, t in edges:  # one pass per rank strictly between the ends, in order
        ranks = [r for _, r in routes[(s, t)].passes]
        assert ranks == list(range(lay.boxes[s].rank + 1, lay.boxes[t].rank))
    # everything (boxes and passing edges) lies in [0, width]
    assert min(b.x - b.width / 2 for b in lay.boxes.values()) >= -1e-6
    assert lay.width >= max(b.x + b.width / 2 for b in lay.boxes.values()) - 1e-6
    assert all(0 <= x <= lay.width for r in lay.routes for x, _ in r.passes)


def test_a_chain_is_one_straight_column() -> None:
    boxes = [Box(f"v{i}", 80 + 30 * (i % 3), 30) for i in range(6)]
    lay = layout(boxes, [(f"v{i}", f"v{i + 1}") for i in range(5)])
    assert {round(b.x, 6) for b in lay.boxes.values()} == {round(lay.boxes["v0"].x, 6)}
    assert [b.rank for b in lay.boxes.values()] == list(range(6))


def test_a_residual_edge_runs_beside_the_layers_it_skips() -> None:
    # x -> a -> b -> c -> add, x -> add: the skip passes ranks 2..4 beside a, b, c
    names = ["x", "a", "b", "c", "add"]
    boxes = [Box(n, 100, 30) for n in names]
    edges = [("x", "a"), ("a", "b"), ("b", "c"), ("c", "add"), ("x", "add")]
    lay = layout(boxes, edges)
    skip = next(r for r in lay.routes if (r.source, r.target) == ("x", "add"))
    assert [r for _, r in skip.passes] == [1, 2, 3]
    for x, r in skip.passes:
        beside = next(b for b in lay.boxes.values() if b.rank == r)
        assert abs(x - beside.x) >= beside.width / 2 + NODE_GAP - 1e-6
    assert len({round(x, 6) for x, _ in skip.passes}) == 1  # straight


def test_ports_are_pinned_to_the_first_and_last_rank() -> None:
    boxes = [
        Box("in", 0, 0, "first"),
        Box("a", 50, 20),
        Box("b", 50, 20),
        Box("free", 50, 20),  # a source inside: not on the ports' rank
        Box("out", 0, 0, "last"),
    ]
    lay = layout(boxes, [("in", "a"), ("a", "b"), ("in", "out"), ("b", "out")])
    assert lay.boxes["in"].rank == 0
    assert lay.boxes["free"].rank >= 1
    last = max(b.rank for b in lay.boxes.values())
    assert lay.boxes["out"].rank == last and lay.boxes["b"].rank < last


def test_cycles_and_unknown_ends_do_not_break_it() -> None:
    boxes = [Box("a", 10, 10), Box("b", 10, 10), Box("c", 10, 10)]
    lay = layout(boxes, [("a", "b"), ("b", "c"), ("c", "a"), ("a", "zz"), ("a", "a")])
    assert set(lay.boxes) == {"a", "b", "c"}
    assert layout([], []).width == 0.0


def test_isotonic_is_the_least_squares_nondecreasing_fit() -> None:
    assert isotonic([1, 3, 2, 4], [1, 1, 1, 1]) == [1, 2.5, 2.5, 4]
    assert isotonic([5, 1], [3, 1]) == [4, 4]
    out = isotonic([3, 2, 1], [1, 1, 1])
    assert out == [2, 2, 2]


def test_ranks_stack_and_paths_follow_the_points() -> None:
    tops, heights, total = place_ranks([10, 0, 20])
    assert tops == [0, 10 + RANK_GAP, 10 + 2 * RANK_GAP]
    assert total == 30 + 2 * RANK_GAP
    pts = edge_points((0, 10), (5, tops[2]), [(5, 1)], tops, heights)
    assert pts == [(0, 10), (5, tops[1]), (5, tops[1]), (5, tops[2])]
    d = svg_path([(0, 0), (0, 10), (20, 40)])
    assert d == "M0.0,0.0 L0.0,10.0 C0.0,25.0 20.0,25.0 20.0,40.0"
