"""A layered (Sugiyama-style) layout of one level of a directed acyclic graph, top to bottom.

Pure arithmetic on boxes and edges, no IR and no drawing: the model picture
(`nndsl.plot.model`) lays out each block's contents with it, innermost first, and treats a laid
out block as one box one level up. The steps are the classic ones:

1. ranks by longest path from the sources (ports pinned to the first or last rank);
2. an edge spanning several ranks becomes a chain of thin dummy boxes, one per rank between,
   so a residual connection is drawn beside the boxes it skips, never through them;
3. the order inside each rank by barycenter sweeps, keeping the order with fewest crossings;
4. x by repeated pulls towards neighbours, each rank solved exactly by isotonic regression with
   minimum gaps (boxes never overlap and keep their order);
5. y from the ranks' heights (`place_ranks`), which the HTML page's collapse re-runs in
   JavaScript with the same formula (`nndsl/plot/html.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

RANK_GAP = 30.0  # vertical space between ranks, where edges bend
NODE_GAP = 18.0  # horizontal space between neighbouring boxes of a rank
DUMMY_WIDTH = 4.0  # the width a passing edge takes in a rank
SWEEPS = 12  # barycenter sweeps (each down then up)
PULLS = 9  # x-coordinate passes, alternately down and up; odd, so the last goes down

Pin = Literal["first", "last"]


@dataclass(frozen=True)
class Box:
    """Something to place: `pin` puts a port on the first or last rank."""

    id: str
    width: float
    height: float
    pin: Pin | None = None


@dataclass
class Placed:
    id: str
    rank: int
    x: float  # centre
    y: float  # top
    width: float
    height: float


@dataclass
class Route:
    """An edge of the input and the x of each rank it passes through (its dummies)."""

    source: str
    target: str
    passes: list[tuple[float, int]] = field(default_factory=list)  # (x, rank)


@dataclass
class Layout:
    boxes: dict[str, Placed]
    routes: list[Route]
    rank_tops: list[float]
    rank_heights: list[float]
    width: float
    height: float


def layout(boxes: Sequence[Box], edges: Iterable[tuple[str, str]]) -> Layout:
    """Place `boxes` (in a topological order, which breaks ties) with `edges` between them;
    an edge against that order (a cycle) is drawn but does not constrain the ranks."""
    index = {b.id: i for i, b in enumerate(boxes)}
    pairs = [(s, t) for s, t in dict.fromkeys(edges) if s in index and t in index and s != t]
    rank = _ranks(boxes, pairs, index)
    # the graph of ranks: real boxes and one dummy per rank an edge passes through
    n_ranks = max(rank.values(), default=-1) + 1
    width = {b.id: b.width for b in boxes}
    height = {b.id: b.height for b in boxes}
    succ: dict[str, list[str]] = {b.id: [] for b in boxes}
    pred: dict[str, list[str]] = {b.id: [] for b in boxes}
    chains: list[tuple[str, str, list[str]]] = []
    for s, t in pairs:
        lo, hi = (s, t) if rank[s] < rank[t] else (t, s)
        chain = []
        previous = lo
        for r in range(rank[lo] + 1, rank[hi]):
            d = f"\0{len(chains)}:{r}"
            rank[d], width[d], height[d] = r, DUMMY_WIDTH, 0.0
            succ[d], pred[d] = [], []
            succ[previous].append(d)
            pred[d].append(previous)
            chain.append(d)
            previous = d
        succ[previous].append(hi)
        pred[hi].append(previous)
        chains.append((s, t, chain))
    layers: list[list[str]] = [[] for _ in range(n_ranks)]
    for v in _initial_order(boxes, succ, rank):
        layers[rank[v]].append(v)
    layers = _order(layers, succ, pred)
    x = _coordinates(layers, succ, pred, width)
    tops, heights, total = place_ranks(
        [max((height[v] for v in layer), default=0.0) for layer in layers]
    )
    placed = {
        b.id: Placed(
            b.id,
            rank[b.id],
            x[b.id],
            tops[rank[b.id]] + (heights[rank[b.id]] - b.height) / 2,
            b.width,
            b.height,
        )
        for b in boxes
    }
    routes = [Route(s, t, [(x[d], rank[d]) for d in chain]) for s, t, chain in chains]
    for route in routes:  # an edge drawn upwards passes its ranks in reverse
        if rank[route.source] > rank[route.target]:
            route.passes.reverse()
    right = max((x[v] + width[v] / 2 for layer in layers for v in layer), default=0.0)
    return Layout(placed, routes, tops, heights, right, total)


def place_ranks(heights: Sequence[float]) -> tuple[list[float], list[float], float]:
    """(top of each rank, its height, total height): ranks stacked with `RANK_GAP` between.
    The HTML page's collapse/expand runs the same formula (`reflow` in its script)."""
    tops: list[float] = []
    y = 0.0
    for h in heights:
        tops.append(y)
        y += h + RANK_GAP
    return tops, list(heights), max(0.0, y - RANK_GAP)


def edge_points(
    start: tuple[float, float],
    end: tuple[float, float],
    passes: Sequence[tuple[float, int]],
    tops: Sequence[float],
    heights: Sequence[float],
) -> list[tuple[float, float]]:
    """The polyline of an edge: its start, the top and bottom of each rank it passes through
    (a vertical run beside the boxes of that rank), its end."""
    points = [start]
    for x, r in passes:
        points += [(x, tops[r]), (x, tops[r] + heights[r])]
    points.append(end)
    return points


def svg_path(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path through `points`: straight where x does not change, else an S-curve
    leaving and arriving vertically."""
    (x0, y0), *rest = points
    out = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if abs(x1 - x0) < 0.05:
            out.append(f"L{x1:.1f},{y1:.1f}")
        else:
            m = (y0 + y1) / 2
            out.append(f"C{x0:.1f},{m:.1f} {x1:.1f},{m:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(out)


# -- ranks ------------------------------------------------------------------------------------
def _ranks(
    boxes: Sequence[Box], pairs: list[tuple[str, str]], index: dict[str, int]
) -> dict[str, int]:
    """Longest path from the sources over the edges that follow the given order; pinned
    ports on the first rank, or on a rank of their own below everything else."""
    incoming: dict[str, list[str]] = {b.id: [] for b in boxes}
    for s, t in pairs:
        if index[s] < index[t]:
            incoming[t].append(s)
    base = 1 if any(b.pin == "first" for b in boxes) else 0  # ports alone on the first rank
    rank: dict[str, int] = {}
    for b in boxes:  # the order is topological for the forward edges
        if b.pin == "first":
            rank[b.id] = 0
        else:
            rank[b.id] = max((rank[p] + 1 for p in incoming[b.id]), default=base)
            rank[b.id] = max(rank[b.id], base)
    last = max((rank[b.id] for b in boxes if b.pin != "last"), default=-1) + 1
    for b in boxes:
        if b.pin == "last":
            rank[b.id] = last
    return rank


# -- order within ranks -----------------------------------------------------------------------
def _initial_order(
    boxes: Sequence[Box], succ: dict[str, list[str]], rank: dict[str, int]
) -> list[str]:
    """Depth first from the boxes in their given order: a chain's boxes and the dummies of
    its long edges come out together, a good start for the sweeps."""
    seen: set[str] = set()
    out: list[str] = []
    for b in boxes:
        stack = [b.id]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            out.append(v)
            stack.extend(reversed([w for w in succ[v] if rank[w] > rank[v]]))
    return out


def _order(
    layers: list[list[str]], succ: dict[str, list[str]], pred: dict[str, list[str]]
) -> list[list[str]]:
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, succ)
    current = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        if best_crossings == 0:
            break
        for r in range(1, len(current)):
            current[r] = _by_barycenter(current[r], current[r - 1], pred)
        for r in range(len(current) - 2, -1, -1):
            current[r] = _by_barycenter(current[r], current[r + 1], succ)
        crossings = _crossings(current, succ)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in current], crossings
        elif sweep > 3:
            break
    return best


def _by_barycenter(
    layer: list[str], fixed: list[str], neighbours: dict[str, list[str]]
) -> list[str]:
    position = {v: i for i, v in enumerate(fixed)}
    keys = []
    for i, v in enumerate(layer):
        ps = [position[w] for w in neighbours[v] if w in position]
        keys.append((sum(ps) / len(ps) if ps else float(i), i))
    return [layer[i] for _, i in sorted(keys)]


def _crossings(layers: list[list[str]], succ: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        below = {v: i for i, v in enumerate(lower)}
        ends = [(i, below[w]) for i, v in enumerate(upper) for w in succ[v] if w in below]
        ends.sort()
        for a in range(len(ends)):
            for b in range(a + 1, len(ends)):
                if ends[a][0] < ends[b][0] and ends[a][1] > ends[b][1]:
                    total += 1
    return total


# -- x coordinates ----------------------------------------------------------------------------
def _weight(a: str, b: str) -> float:
    """Dummies pull hardest on each other, so long edges run straight."""
    dummies = a.startswith("\0") + b.startswith("\0")
    return (1.0, 2.0, 8.0)[dummies]


def _coordinates(
    layers: list[list[str]],
    succ: dict[str, list[str]],
    pred: dict[str, list[str]],
    width: dict[str, float],
) -> dict[str, float]:
    x: dict[str, float] = {}
    for layer in layers:
        left = 0.0
        for v in layer:
            x[v] = left + width[v] / 2
            left += width[v] + NODE_GAP
    for layer in layers:  # centre each rank on the widest before pulling
        shift = (max(_right(layers, x, width), 0.0) - _extent(layer, x, width)) / 2
        for v in layer:
            x[v] += shift
    for p in range(PULLS):
        down = p % 2 == 0
        sequence = layers if down else list(reversed(layers))
        for layer in sequence:
            _pull(layer, x, width, (pred,) if down else (succ,))
    left = min((x[v] - width[v] / 2 for layer in layers for v in layer), default=0.0)
    return {v: c - left for v, c in x.items()}


def _right(layers: list[list[str]], x: dict[str, float], width: dict[str, float]) -> float:
    return max((_extent(layer, x, width) for layer in layers), default=0.0)


def _extent(layer: list[str], x: dict[str, float], width: dict[str, float]) -> float:
    if not layer:
        return 0.0
    return x[layer[-1]] + width[layer[-1]] / 2 - (x[layer[0]] - width[layer[0]] / 2)


def _pull(
    layer: list[str],
    x: dict[str, float],
    width: dict[str, float],
    sides: tuple[dict[str, list[str]], ...],
) -> None:
    """Move each box of `layer` towards the weighted mean x of its neighbours, keeping the
    order and the gaps: isotonic regression of (wish - offset) by pool-adjacent-violators."""
    if not layer:
        return
    wishes, weights = [], []
    for v in layer:
        total = s = 0.0
        for side in sides:
            for w in side[v]:
                k = _weight(v, w)
                total += k
                s += k * x[w]
        wishes.append(s / total if total else x[v])
        weights.append(total if total else 0.01)
    offsets = [0.0]
    for a, b in itertools.pairwise(layer):
        offsets.append(offsets[-1] + (width[a] + width[b]) / 2 + NODE_GAP)
    fitted = isotonic([w - o for w, o in zip(wishes, offsets, strict=True)], weights)
    for v, y, o in zip(layer, fitted, offsets, strict=True):
        x[v] = y + o


def isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            weight = w1 + w2
            blocks.append([(m1 * w1 + m2 * w2) / weight, weight, c1 + c2])
    out: list[float] = []
    for mean, _, count in blocks:
        out += [mean] * int(count)
    return out
