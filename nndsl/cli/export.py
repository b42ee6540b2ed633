"""`nnrun export` and `nnrun check --target onnx`: the checks before any weight is read, then
the artefact, then a rich summary of what was written and how it compares with `predict`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK, UsageError
from nndsl.cli.output import ErrorStream
from nndsl.diagnostics import Diagnostic
from nndsl.frontend import CheckResult
from nndsl.ir import Graph

if TYPE_CHECKING:
    import numpy as np

EXTRA_HINT = "install the export tools with `pip install 'nndsl[export]'` (onnx, onnxruntime)"


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UsageError(f"`{module}` is not installed: {EXTRA_HINT}")


def onnx_problems(graphs: list[Graph]) -> list[Diagnostic]:
    """E0701 for every layer of `graphs` that ONNX cannot express (reads no weight)."""
    _require("onnx")
    from nndsl.backend.onnx import check_exportable

    seen: set[tuple[str, int, int]] = set()
    out = []
    for graph in graphs:
        for d in check_exportable(graph):
            key = (d.file.path, d.primary.span.start, d.primary.span.end)
            if key not in seen:  # a block used by several models: one report
                seen.add(key)
                out.append(d)
    return out


def all_graphs(result: CheckResult) -> list[Graph]:
    program = result.program
    if program is None:
        return []
    graphs = list(program.graphs.values())
    if program.train is not None and program.train.graph not in graphs:
        graphs.append(program.train.graph)
    return graphs


def cmd_export(args: argparse.Namespace, result: CheckResult, graph: Graph) -> int:
    from rich.console import Console

    err = ErrorStream()
    fmt = str(args.format)
    if fmt != "stablehlo":
        if args.weights_separate or args.platforms != "cpu":
            raise UsageError("--platforms and --weights-separate are for --format stablehlo")
        problems = onnx_problems([graph])
        if problems:
            err.diagnostics(problems)
            return EXIT_ERRORS
        if args.quantize or args.format == "ort":
            _require("onnxruntime")
    elif args.quantize or args.calibrate:
        raise UsageError("--quantize is for --format onnx or ort")
    if args.calibrate and not args.quantize:
        raise UsageError("--calibrate goes with --quantize int8")
    out = _output_path(args, fmt)

    from nndsl.cli.train import load_model_weights, use_compile_cache
    from nndsl.runtime import CheckpointError, DataError
    from nndsl.runtime.export import ExportFailure, export

    use_compile_cache(args)
    try:
        params, state = load_model_weights(args.weights, graph)
        calibration = _calibration(args, result, graph) if args.calibrate else None
        config = result.program.train if result.program is not None else None
        report = export(
            graph,
            params,
            state,
            weights=Path(args.weights),
            format=fmt,
            out=out,
            quantize=args.quantize,
            calibration=calibration,
            platforms=[p.strip() for p in str(args.platforms).split(",") if p.strip()],
            separate_weights=bool(args.weights_separate),
            check=bool(args.check),
            config=config,
        )
    except (CheckpointError, DataError, ExportFailure, OSError) as exc:
        print(f"nnrun: error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    _print_report(console, report, graph)
    return EXIT_ERRORS if report.notes and args.check else EXIT_OK


def _output_path(args: argparse.Namespace, fmt: str) -> Path:
    from nndsl.runtime.export import SUFFIXES

    if args.output:
        out = Path(args.output)
        if out.is_dir():
            raise UsageError(f"{out} is a folder; give the artefact's file name")
        return out
    weights = Path(args.weights)
    stem = weights.stem + (".int8" if args.quantize else "")
    return weights.with_name(stem + SUFFIXES[fmt])


def _calibration(
    args: argparse.Namespace, result: CheckResult, graph: Graph
) -> dict[str, np.ndarray]:
    """Inputs for static quantization: a `.npy` file, or the training rows of the file's data
    declaration (at most 512, as ONNX Runtime's examples use a few hundred)."""
    import numpy as np

    from nndsl.runtime.data import check_inputs, load_data

    name = str(args.calibrate)
    if len(graph.inputs) != 1:
        raise UsageError("--calibrate supports models with one input")
    program = result.program
    train = program.train if program is not None else None
    if name.endswith(".npy"):
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"no such file: {name}")
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {name} as a .npy array ({exc})") from None
        x = check_inputs(graph, x, name, "calibration")
    elif train is not None and train.data_name == name:
        x = load_data(train).train.x
    else:
        known = f" (this file's data: `{train.data_name}`)" if train is not None else ""
        raise UsageError(f"--calibrate takes a data declaration's name or a .npy file{known}")
    return {graph.inputs[0].name: np.asarray(x[:512])}


def _print_report(console: Any, report: Any, graph: Graph) -> None:
    from rich.table import Table

    size = report.size
    human = f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"
    kind = {"onnx": "ONNX", "ort": "ONNX Runtime (.ort)", "stablehlo": "StableHLO"}[report.format]
    if report.quantized:
        kind += ", int8"
    console.print(
        f"[bold green]Exported[/] {graph.name} to [bold]{report.path}[/] "
        f"({kind}, {human}, {report.seconds:.2f} s)"
    )
    for extra in report.files:
        console.print(f"  and {extra}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("name")
    table.add_column("type")
    for i in graph.inputs:
        table.add_row("input", i.name, str(i.type))
    for o in graph.outputs:
        table.add_row("output", o.name, str(o.type))
    console.print(table)
    if report.comparisons:
        worst = max(report.comparisons, key=lambda c: c.max_abs_diff)
        against = "ONNX Runtime" if report.format != "stablehlo" else "the reloaded artefact"
        inputs = "random inputs, " if report.quantized else ""
        console.print(
            f"Checked: {against} against nndsl's predict at "
            f"{', '.join(c.what for c in report.comparisons)} ({inputs}float32 reference): "
            f"max |difference| {worst.max_abs_diff:.2e}"
        )
        if len(graph.outputs) > 1:  # every output compared: each one's worst
            each = {
                o.name: max(c.outputs.get(o.name, 0.0) for c in report.comparisons)
                for o in graph.outputs
            }
            console.print(
                "  per output: " + ", ".join(f"{name} {d:.2e}" for name, d in each.items())
            )
    if report.accuracy is not None:
        a = report.accuracy
        change = (a.int8 - a.float32) * 100
        console.print(
            f"Test accuracy ({a.rows} rows): float32 {a.float32:.2%}, int8 {a.int8:.2%} "
            f"({change:+.2f} points)"
        )
    for note in report.notes:
        console.print(f"[yellow]warning:[/] {note}")
