"""A laid-out model picture as self-contained SVG (inline style, no fonts or scripts to fetch).

With `interactive`, every level also gets what the HTML page's collapse needs: each cluster a
folded face (hidden), and the data the page's `reflow` reads (`reflow_data`), the same numbers
this module draws with.
"""

from __future__ import annotations

from html import escape
from typing import Any

from nndsl.plot.layout import RANK_GAP, edge_points, svg_path
from nndsl.plot.model import (
    BOX_PAD_X,
    BOX_PAD_Y,
    CLUSTER_PAD_BOTTOM,
    HEADER,
    LINE_HEIGHT,
    Cluster,
    Leaf,
    ModelPicture,
)

MARGIN = 16.0
TITLE = 28.0

# fill colours by op family (the module of nndsl/ops that declares the op)
FAMILY_FILL = {
    "input": "#e5e7eb",
    "conv": "#dbeafe",
    "core": "#e0e7ff",
    "norm": "#fef3c7",
    "activation": "#dcfce7",
    "merging": "#fce7f3",
    "operators": "#fce7f3",
    "pool": "#ede9fe",
    "reshaping": "#f1f5f9",
    "regularization": "#f3f4f6",
    "attention": "#ffedd5",
    "recurrent": "#cffafe",
    "preprocessing": "#ecfccb",
    "repeat": "#fde68a",
}

STYLE = """
.nnplot text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
font-size:11px;fill:#111827}
.nnplot .title{font-size:14px;font-weight:bold}
.nnplot .box{stroke:#6b7280;stroke-width:1}
.nnplot .node .name{font-weight:bold}
.nnplot .frame{fill:#f9fafb;fill-opacity:.6;stroke:#9ca3af;stroke-dasharray:4 3}
.nnplot .ctitle{font-weight:bold;fill:#374151;paint-order:stroke;stroke:#f9fafb;stroke-width:3px}
.nnplot .edge{fill:none;stroke:#4b5563;stroke-width:1.2}
.nnplot .edge.skip{stroke:#dc2626;stroke-width:1.5}
"""


def model_svg(pic: ModelPicture, *, interactive: bool = False) -> str:
    """The whole picture as one `<svg>` element (with an XML declaration-free header, so it
    can be written as a .svg file or inlined in HTML)."""
    root = pic.root
    assert root.layout is not None
    total = pic.trainable + pic.non_trainable
    title = f"{pic.model}: {total:,} params ({pic.trainable:,} trainable)"
    width = max(root.layout.width, len(title) * 8.4) + 2 * MARGIN
    height = root.layout.height + 2 * MARGIN + TITLE
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nnplot" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#4b5563"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text class="title" x="{MARGIN}" y="{MARGIN + 12}">{escape(title)}</text>',
        f'<g id="model" class="level" transform="translate({MARGIN},{MARGIN + TITLE})">',
    ]
    _level(root, out, interactive)
    out += ["</g>", "</svg>"]
    return "\n".join(out)


def _level(c: Cluster, out: list[str], interactive: bool) -> None:
    """A level's edges, then its items, in the level's content coordinates."""
    assert c.layout is not None
    lay = c.layout
    routes = {(r.source, r.target): r.passes for r in lay.routes}
    items = {i.id: i for i in c.items}
    for edge in c.edges:
        start = _endpoint(c, items, edge.source, edge.source_port, source=True)
        end = _endpoint(c, items, edge.target, edge.target_port, source=False)
        passes = routes.get((edge.source, edge.target), [])
        d = svg_path(edge_points(start, end, passes, lay.rank_tops, lay.rank_heights))
        into_port = edge.target_port is not None or "|" in edge.target
        cls = "edge skip" if passes else "edge"
        marker = "" if into_port else ' marker-end="url(#arrow)"'
        out.append(f'<path class="{cls}" d="{d}"{marker}/>')
    for item in c.items:
        p = lay.boxes[item.id]
        left, top = p.x - item.width / 2, p.y
        if isinstance(item, Leaf):
            out.append(_leaf(item, left, top))
            continue
        out.append(
            f'<g class="cluster" id="{escape(item.id)}" '
            f'transform="translate({left:.1f},{top:.1f})">'
        )
        out.append(f"<title>{escape(item.id[2:])}</title>")
        out.append(
            f'<rect class="frame" width="{item.width:.1f}" height="{item.height:.1f}" rx="6"/>'
        )
        mark = "▾ " if interactive else ""
        out.append(f'<text class="ctitle" x="8" y="15">{mark}{escape(item.title)}</text>')
        out.append(f'<g class="content" transform="translate({item.content_x:.1f},{HEADER})">')
        _level(item, out, interactive)
        out.append("</g>")
        if interactive:
            w, h = item.collapsed_size
            out.append('<g class="folded" style="display:none">')
            out.append(_face(item.collapsed_lines, w, h, "block"))
            out.append("</g>")
        out.append("</g>")


def _leaf(leaf: Leaf, left: float, top: float) -> str:
    return (
        f'<g class="node" id="{escape(leaf.id)}" transform="translate({left:.1f},{top:.1f})">'
        f"<title>{escape(leaf.tooltip)}</title>"
        + _face(leaf.lines, leaf.width, leaf.height, leaf.family)
        + "</g>"
    )


def _face(lines: list[str], width: float, height: float, family: str) -> str:
    fill = FAMILY_FILL.get(family, "#ffffff")
    parts = [f'<rect class="box" width="{width:.1f}" height="{height:.1f}" rx="4" fill="{fill}"/>']
    for i, line in enumerate(lines):
        y = BOX_PAD_Y + LINE_HEIGHT * i + 11
        cls = ' class="name"' if i == 0 else ""
        parts.append(f'<text{cls} x="{BOX_PAD_X}" y="{y:.1f}">{escape(line)}</text>')
    return "".join(parts)


def _endpoint(
    c: Cluster,
    items: dict[str, Leaf | Cluster],
    item_id: str,
    port: str | None,
    *,
    source: bool,
) -> tuple[float, float]:
    """Where an edge of level `c` leaves or reaches an item, in `c`'s content coordinates."""
    assert c.layout is not None
    lay = c.layout
    p = lay.boxes[item_id]
    if item_id not in items:  # one of `c`'s own ports: on its border
        y = -HEADER if source else lay.height + CLUSTER_PAD_BOTTOM
        return p.x, y
    item = items[item_id]
    left = p.x - item.width / 2
    x = p.x if port is None or not isinstance(item, Cluster) else left + item.port_x(port)
    return x, p.y + item.height if source else p.y


def reflow_data(pic: ModelPicture) -> dict[str, Any]:
    """What the page's `reflow` needs for each level: the items' ranks, x and sizes (unfolded
    and folded), the edges' endpoints and passes, the ports' x: the numbers drawn above."""
    levels: dict[str, Any] = {}
    for c in [pic.root, *pic.root.clusters()]:
        assert c.layout is not None
        lay = c.layout
        routes = {(r.source, r.target): r.passes for r in lay.routes}
        items: list[dict[str, Any]] = []
        for box_id, p in lay.boxes.items():
            entry: dict[str, Any] = {"id": box_id, "r": p.rank, "x": round(p.x, 3)}
            entry["w"], entry["h"] = round(p.width, 3), round(p.height, 3)
            found = next((i for i in c.items if i.id == box_id), None)
            entry["k"] = "p" if found is None else "c" if isinstance(found, Cluster) else "l"
            items.append(entry)
        levels[c.id] = {
            "ranks": len(lay.rank_tops),
            "w": round(c.width, 3),
            "cx": round(c.content_x, 3) if c is not pic.root else 0.0,
            "folded": [round(v, 3) for v in c.collapsed_size],
            "ports": {p: round(c.port_x(p), 3) for p in [*c.in_ports, *c.out_ports]},
            "items": items,
            "edges": [
                {
                    "s": e.source,
                    "sp": e.source_port,
                    "t": e.target,
                    "tp": e.target_port,
                    "p": [[round(x, 3), r] for x, r in routes.get((e.source, e.target), [])],
                }
                for e in c.edges
            ],
        }
    return {
        "levels": levels,
        "gap": RANK_GAP,
        "header": HEADER,
        "padBottom": CLUSTER_PAD_BOTTOM,
        "margin": MARGIN,
        "title": TITLE,
    }
