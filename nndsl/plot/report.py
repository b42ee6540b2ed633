"""The training report: one self-contained HTML page from a run's `history.json`.

`nndsl.runtime.report` writes history.json during training and calls `report_html` at its end;
`nnrun report runs/<Model>` calls `render_run`, which reads history.json, or, for a run
without one (written before nndsl had it), the epochs of a `csv_log` or `jsonl_log` file.
Everything is inline (SVG charts, a few lines of script, CSS): it opens offline.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import Any

from nndsl.plot.charts import Series, heat_map, line_chart

TRAIN_COLOUR, VAL_COLOUR = "#2563eb", "#ea580c"

STYLE = """
body{margin:0 auto;max-width:1000px;padding:16px 24px;font:14px system-ui,-apple-system,
"Segoe UI",sans-serif;color:#111827}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #e5e7eb}
.facts{color:#374151}.facts span{margin-right:18px}
.charts{display:flex;flex-wrap:wrap;gap:12px}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #e5e7eb;
padding:3px 10px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#92400e}
"""

# Counts what the browser drew (a test reads it from `<body data-rendered>`).
SCRIPT = """
(function(){
const charts = Array.from(document.querySelectorAll('svg.chart'));
const drawn = charts.filter(s => { const b = s.getBoundingClientRect();
  const marks = s.querySelectorAll('path.line,circle,rect.cell').length;
  return b.width > 0 && b.height > 0 && marks > 0; });
document.body.dataset.rendered = JSON.stringify({charts: charts.length, drawn: drawn.length});
})();
"""


class ReportError(Exception):
    """The run directory has no log to make a report from; one line."""


def render_run(run_dir: Path, out: Path | None = None) -> Path:
    doc = load_history(run_dir)
    target = out if out is not None else run_dir / "report.html"
    target.write_text(report_html(doc), encoding="utf-8")
    return target


def load_history(run_dir: Path) -> dict[str, Any]:
    history = run_dir / "history.json"
    if history.is_file():
        try:
            doc = json.loads(history.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ReportError(f"{history}: not a history file nndsl wrote ({err})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("epochs"), list):
            raise ReportError(f"{history}: not a history file nndsl wrote (no epochs)")
        return doc
    for log in sorted(run_dir.glob("*.jsonl")) + sorted(run_dir.glob("*.csv")):
        epochs = _epochs_from_log(log)
        if epochs:
            return {"model": run_dir.name, "epochs": epochs, "source": "", "from_log": str(log)}
    raise ReportError(
        f"{run_dir} has no history.json (written by `nnrun train`) and no csv_log or "
        "jsonl_log file with epochs"
    )


def _epochs_from_log(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if path.suffix == ".jsonl":
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "epoch" in entry:
                rows.append(entry)
    else:
        rows = [dict(r) for r in csv.DictReader(text.splitlines()) if r.get("epoch")]
    epochs = []
    for row in rows:
        try:
            logs = {k: float(v) for k, v in row.items() if k not in ("epoch", "step") and v != ""}
            epoch = int(float(row["epoch"]))
        except (TypeError, ValueError):
            continue
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        epochs.append({"epoch": epoch, "train": train, "validation": val or None})
    return epochs


def report_html(doc: dict[str, Any]) -> str:
    model = str(doc.get("model", "model"))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(model)}: training report</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(model)}: training report</h1>",
        _facts(doc),
        "<h2>Training curves</h2>",
        f'<div class="charts">{_curves(doc)}</div>',
    ]
    rates = doc.get("learning_rate") or []
    if rates:
        parts += [
            "<h2>Learning rate</h2>",
            line_chart(
                "learning rate",
                [Series("rate", [(float(s), float(r)) for s, r in rates], "#059669")],
                xlabel="step",
                width=640,
            ),
        ]
    parts.append(_test(doc))
    confusion = doc.get("confusion")
    if confusion:
        parts += [
            "<h2>Confusion matrix (test split)</h2>",
            heat_map([str(x) for x in confusion["labels"]], confusion["matrix"]),
        ]
    parts.append(_summary(doc))
    notes = doc.get("notes") or []
    if notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f'<li class="note">{escape(str(n))}</li>' for n in notes]
        parts.append("</ul>")
    parts += [f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts)


def _facts(doc: dict[str, Any]) -> str:
    epochs = doc.get("epochs") or []
    facts = []
    if doc.get("source"):
        facts.append(f"file {doc['source']}")
    if doc.get("started"):
        facts.append(f"started {doc['started']}")
    planned = doc.get("epochs_planned")
    facts.append(
        f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''}"
        + (f" of {planned}" if planned else "")
    )
    if doc.get("seconds") is not None:
        facts.append(f"{float(doc['seconds']):.1f} s")
    sizes = doc.get("sizes") or {}
    if sizes:
        facts.append(", ".join(f"{k} {v:,}" for k, v in sizes.items()) + " examples")
    for key in ("batch", "optimizer", "loss"):
        if doc.get(key) is not None:
            facts.append(f"{key} {doc[key]}")
    if doc.get("stopped"):
        facts.append("interrupted")
    if doc.get("from_log"):
        facts.append(f"from {doc['from_log']}")
    return '<p class="facts">' + "".join(f"<span>{escape(f)}</span>" for f in facts) + "</p>"


def _curves(doc: dict[str, Any]) -> str:
    epochs = doc.get("epochs") or []
    keys: list[str] = []
    for e in epochs:
        for k in e.get("train") or {}:
            if k not in keys:
                keys.append(k)
        for k in e.get("validation") or {}:
            if k not in keys:
                keys.append(k)
    if "loss" in keys:
        keys.remove("loss")
        keys.insert(0, "loss")
    charts = []
    for key in keys:
        series = []
        for name, part, colour, dashed in (
            ("train", "train", TRAIN_COLOUR, False),
            ("validation", "validation", VAL_COLOUR, True),
        ):
            pts = [
                (float(e["epoch"]), float(v))
                for e in epochs
                if (v := (e.get(part) or {}).get(key)) is not None
            ]
            if pts:
                series.append(Series(name, pts, colour, dashed))
        charts.append(line_chart(key, series, xlabel="epoch"))
    return "".join(charts) or "<p>No epoch finished.</p>"


def _test(doc: dict[str, Any]) -> str:
    test = doc.get("test")
    if not test:
        return "<h2>Test metrics</h2><p>No test split was evaluated.</p>"
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td class=num>{'' if v is None else f'{float(v):.6g}'}</td></tr>"
        for k, v in test.items()
    )
    return f"<h2>Test metrics</h2><table><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _summary(doc: dict[str, Any]) -> str:
    summary = doc.get("summary")
    if not summary:
        return ""
    rows = []
    for name, kind, shape, params, connected in summary.get("rows", []):
        rows.append(
            f"<tr><td>{escape(str(name))} ({escape(str(kind))})</td><td>{escape(str(shape))}</td>"
            f"<td class=num>{int(params):,}</td><td>{escape(str(connected))}</td></tr>"
        )
    trainable, frozen = int(summary.get("trainable", 0)), int(summary.get("non_trainable", 0))
    return (
        "<h2>Model summary</h2><table><tr><th>Layer (type)</th><th>Output shape</th>"
        "<th>Param #</th><th>Connected to</th></tr>"
        + "".join(rows)
        + "</table>"
        + f'<p class="facts">Total params: {trainable + frozen:,} &nbsp; Trainable: '
        f"{trainable:,} &nbsp; Non-trainable: {frozen:,}</p>"
    )
