"""`nnrun plot` (the model graph as SVG, HTML or PNG) and `nnrun report` (a run's training
report re-rendered from its logs). Neither imports JAX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK, UsageError
from nndsl.ir import Graph


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plot",
        help="draw a model's graph (boxes with shapes and parameters) as .svg, .html or .png",
        description="Draw the checked model: one box per layer with its output shape, dtype "
        "and parameter count, one frame per block instance, residual edges in red. .html "
        "folds and unfolds blocks; .png needs Chromium.",
    )
    p.add_argument("file", help="the .nn file")
    p.add_argument("--model", help="the model to draw (default: the trained or only one)")
    p.add_argument(
        "--expand", action="store_true", help="draw every copy of a `repeat` (default: one box)"
    )
    p.add_argument(
        "-o",
        "--output",
        help="the picture: .svg, .html or .png (default: <model>.svg in the current folder)",
    )
    p.add_argument(
        "--allow-outside-project",
        action="store_true",
        help="let the model file import and read data outside its project (see docs/language.md)",
    )

    p = sub.add_parser(
        "report",
        help="re-render a run's training report (report.html) from its logs",
        description="Read runs/<Model>/history.json, which every `nnrun train` writes, and "
        "write runs/<Model>/report.html: loss and metric curves, the learning rate, the test "
        "metrics, the confusion matrix of a classifier and the summary table.",
    )
    p.add_argument("run", help="the run directory, e.g. runs/DigitsNet")
    p.add_argument("-o", "--output", help="the page to write (default: <run>/report.html)")


def run_plot(graph: Graph, args: argparse.Namespace) -> int:
    from nndsl.plot import write_model_picture
    from nndsl.plot.browser import BrowserError

    out = Path(args.output) if args.output else Path(f"{graph.name}.svg")
    try:
        pic = write_model_picture(graph, out, expand=bool(args.expand))
    except ValueError as err:
        raise UsageError(str(err)) from None
    except (BrowserError, OSError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    blocks = len(pic.root.clusters())
    print(f"wrote {out}: {graph.name}, {pic.boxes} boxes, {blocks} blocks")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from nndsl.plot.report import ReportError, render_run

    run = Path(args.run)
    if not run.is_dir():
        raise UsageError(f"no such run directory: {run}")
    try:
        written = render_run(run, Path(args.output) if args.output else None)
    except (ReportError, OSError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"wrote {written}")
    return EXIT_OK
