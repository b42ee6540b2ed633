"""Small self-contained SVG charts for the training report: line charts and a heat map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = 'font-family="system-ui,-apple-system,Segoe UI,sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]
    colour: str
    dashed: bool = False


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2g}"
    return f"{v:.4g}"


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    xlabel: str,
    width: int = 440,
    height: int = 250,
    integer_x: bool = True,
) -> str:
    """Lines through each series' points (a dot where a series has one point)."""
    left, right, top, bottom = 56, 12, 28, 40
    pts = [p for s in series for p in s.points if math.isfinite(p[1])]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not pts:
        out.append(f'<text x="{left}" y="{height / 2}" fill="#6b7280">no values</text></svg>')
        return "".join(out)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    else:
        pad = (y1 - y0) * 0.05
        y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#d1d5db"/>'
    )
    for t in nice_ticks(y0, y1):
        y = sy(t)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#f3f4f6"/>'
        )
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    xt = [t for t in nice_ticks(x0, x1) if not integer_x or float(t).is_integer()]
    for t in xt:
        x = sx(t)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" '
            'stroke="#6b7280"/>'
        )
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt(t)}</text>')
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" fill="#374151">'
        f"{escape(xlabel)}</text>"
    )
    for k, s in enumerate(series):
        good = [(x, y) for x, y in s.points if math.isfinite(y)]
        if not good:
            continue
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        if len(good) > 1:
            d = " ".join(
                f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(good)
            )
            out.append(
                f'<path class="line" d="{d}" fill="none" stroke="{s.colour}" '
                f'stroke-width="2"{dash}/>'
            )
        if len(good) <= 60:
            for x, y in good:
                out.append(
                    f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{s.colour}">'
                    f"<title>{escape(s.name)} {fmt(x)}: {y:.6g}</title></circle>"
                )
        lx = left + 8 + 110 * k
        out.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{top + 10}" y2="{top + 10}" stroke="{s.colour}" '
            f'stroke-width="2"{dash}/><text x="{lx + 22}" y="{top + 14}">{escape(s.name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def heat_map(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """A confusion matrix: rows the true class, columns the predicted one, shaded by the
    share of the row, with the counts."""
    k = len(labels)
    cell = max(14, min(44, 520 // max(k, 1)))
    names = [lab if len(lab) <= 12 else lab[:11] + "…" for lab in labels]
    margin = 14 + 7 * max((len(n) for n in names), default=1)
    top = margin + 24
    size_w, size_h = margin + k * cell + 20, top + k * cell + 36
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heat" width="{size_w}" '
        f'height="{size_h}" viewBox="0 0 {size_w} {size_h}" {FONT}>',
        f'<rect width="{size_w}" height="{size_h}" fill="#fff"/>',
        f'<text x="{margin + k * cell / 2}" y="14" text-anchor="middle" fill="#374151">'
        "predicted</text>",
        f'<text x="10" y="{top + k * cell / 2}" fill="#374151" '
        f'transform="rotate(-90 10 {top + k * cell / 2})" text-anchor="middle">true</text>',
    ]
    for j, name in enumerate(names):
        x = margin + j * cell + cell / 2
        out.append(
            f'<text x="{x:.1f}" y="{top - 6}" text-anchor="start" '
            f'transform="rotate(-45 {x:.1f} {top - 6})">{escape(name)}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        y = top + i * cell
        out.append(
            f'<text x="{margin - 4}" y="{y + cell / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(names[i])}</text>"
        )
        for j, count in enumerate(row):
            share = count / total
            shade = _blue(share)
            x = margin + j * cell
            out.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="{shade}" stroke="#fff"><title>true {escape(labels[i])}, predicted '
                f"{escape(labels[j])}: {count} ({share:.1%} of the row)</title></rect>"
            )
            if cell >= 20 and count:
                colour = "#fff" if share > 0.5 else "#111827"
                out.append(
                    f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" '
                    f'text-anchor="middle" fill="{colour}">{count}</text>'
                )
    out.append("</svg>")
    return "".join(out)


def _blue(share: float) -> str:
    """White to dark blue."""
    lo, hi = (255, 255, 255), (30, 64, 175)
    r, g, b = (round(a + (c - a) * share) for a, c in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
