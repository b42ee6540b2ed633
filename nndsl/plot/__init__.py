"""Pictures: the model graph (`nnrun plot`, the REPL's `:plot`, the editor's "show graph") and
the training report (`runs/<Model>/report.html`, `nnrun report`).

Pure Python over the checked IR and the run's logs, written as self-contained SVG and HTML; PNG
through headless Chromium (`nndsl.plot.browser`, which says why). The front end never imports
this package; it imports no JAX or NumPy (import-linter's "plot stays light").
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from nndsl.ir import Graph
from nndsl.plot.model import ModelPicture, picture

FORMATS = (".svg", ".html", ".png")

__all__ = ["FORMATS", "ModelPicture", "picture", "write_model_picture"]


def write_model_picture(graph: Graph, out: str | Path, *, expand: bool = False) -> ModelPicture:
    """Write `graph`'s picture to `out`, as its suffix says (.svg, .html or .png); raises
    `ValueError` for another suffix, `BrowserError` when PNG has no Chromium, `OSError`."""
    from nndsl.plot.html import model_html
    from nndsl.plot.svg import model_svg

    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: write .svg, .html or .png, not `{suffix or path.name}`")
    pic = picture(graph, expand=expand)
    if suffix == ".html":
        path.write_text(model_html(pic), encoding="utf-8")
    elif suffix == ".svg":
        path.write_text(model_svg(pic), encoding="utf-8")
    else:
        svg_to_png(model_svg(pic), path)
    return pic


def svg_to_png(svg: str, png: Path) -> Path:
    """Rasterize an SVG from this package with Chromium, scaled down to fit its largest
    screenshot when taller or wider."""
    from nndsl.plot.browser import MAX_SIDE, screenshot

    size = re.search(r'width="([\d.]+)" height="([\d.]+)"', svg)
    width, height = (float(size.group(1)), float(size.group(2))) if size else (800.0, 600.0)
    scale = min(1.0, MAX_SIDE / width, MAX_SIDE / height)
    if scale < 1.0:
        svg = svg.replace(
            f'width="{size.group(1)}" height="{size.group(2)}"',  # type: ignore[union-attr]
            f'width="{width * scale:.0f}" height="{height * scale:.0f}"',
            1,
        )
    with tempfile.TemporaryDirectory(prefix="nndsl-plot-") as tmp:
        page = Path(tmp) / "picture.svg"
        page.write_text(svg, encoding="utf-8")
        return screenshot(page, png, round(width * scale), round(height * scale))
