"""One function per `nnrun` command. Only `train` and `predict` import JAX."""

from __future__ import annotations

import argparse
import sys

from nndsl.cli.errors import EXIT_ERRORS, EXIT_INTERNAL, EXIT_OK, UsageError, require_file
from nndsl.cli.output import ErrorStream
from nndsl.diagnostics import Diagnostic
from nndsl.frontend import CheckResult, check_file
from nndsl.ir import Graph
from nndsl.limits import MAX_GRAPH_NODES


def _stderr() -> ErrorStream:
    return ErrorStream()


def _check(path: str, err: ErrorStream) -> CheckResult:
    require_file(path)
    result = check_file(path)
    if result.diagnostics:
        err.diagnostics(result.diagnostics)
    return result


def _exit_code(results: list[CheckResult]) -> int:
    if any(d.code == "E9999" for r in results for d in r.diagnostics):
        return EXIT_INTERNAL
    return EXIT_ERRORS if any(r.has_errors for r in results) else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    import gc

    gc.disable()  # a short-lived process that allocates many small objects: skip collections
    err = _stderr()
    results = []
    for path in args.files:
        require_file(path)
    for path in args.files:
        results.append(_check(path, err))
    export_problems: list[Diagnostic] = []
    if getattr(args, "target", None) == "onnx":
        from nndsl.cli.export import all_graphs, onnx_problems

        for r in results:
            if not r.has_errors:
                problems = onnx_problems(all_graphs(r))
                err.diagnostics(problems)
                export_problems.extend(problems)
    errors = sum(len(r.errors) for r in results) + len(export_problems)
    warnings = sum(len(r.diagnostics) - len(r.errors) for r in results)
    if errors or warnings or not args.quiet:
        files = len(results)
        err.status(
            "failed" if errors else "ok",
            f"{files} file{'s' if files != 1 else ''} checked, "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}",
            ok=not errors,
        )
    return EXIT_ERRORS if export_problems else _exit_code(results)


def _graph_or_fail(result: CheckResult, model: str | None) -> Graph | None:
    if result.has_errors:
        return None
    graph = result.graph(model)
    if graph is None:
        available = sorted(result.program.graphs) if result.program else []
        if model is not None:
            raise UsageError(
                f"no model `{model}` with default arguments in {result.file.path}"
                + (f" (models: {', '.join(available)})" if available else "")
            )
        if not available:
            raise UsageError(
                f"{result.file.path} defines no model whose parameters all have defaults"
            )
        raise UsageError(
            f"{result.file.path} defines several models; choose one with --model "
            f"({', '.join(available)})"
        )
    return graph


def cmd_summary(args: argparse.Namespace) -> int:
    from rich.console import Console

    from nndsl.cli.summary import summary_table, summary_totals
    from nndsl.ir.summary import summarize

    result = _check(args.file, _stderr())
    graph = _graph_or_fail(result, args.model)
    if graph is None:
        return _exit_code([result])
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    expand = bool(getattr(args, "expand", False))
    if expand and graph.node_total() > MAX_GRAPH_NODES:
        raise UsageError(
            f"`--expand` would list {graph.node_total():,} layers, over {MAX_GRAPH_NODES:,}; "
            "without it each repeat is one row"
        )
    sizes = _sizes(getattr(args, "size", None) or [])
    notes = [f"{k} = {v:,}" for k, v in sizes.items()]
    train = result.program.train if result.program is not None else None
    if train is not None and train.graph.name == graph.name:  # the data may fix a length
        from nndsl.ir.flops import data_sizes

        for k, v in data_sizes(train).items():
            if k not in sizes:
                sizes[k] = v
                notes.append(f"{k} = {v:,} (from data `{train.data_name}`)")
    summary = summarize(graph, expand=expand, sizes=sizes)
    out.print(summary_table(summary))
    out.print(summary_totals(summary), end="")
    if notes:
        out.print(f" FLOPs with {', '.join(notes)}")
    if getattr(args, "distribute", False):
        from nndsl.cli.summary import distribute_report

        train = result.program.train if result.program is not None else None
        if train is None or train.distribute is None:
            raise UsageError(
                f"{result.file.path} has no `distribute {{ ... }}` in its train section"
            )
        if train.graph.name != graph.name:
            raise UsageError(f"the train section trains `{train.graph.name}`, not `{graph.name}`")
        out.print(distribute_report(train, args.devices))
    return EXIT_OK


def _sizes(given: list[str]) -> dict[str, int]:
    """`--size T=128 --size S=64` as {"T": 128, "S": 64}."""
    out: dict[str, int] = {}
    for item in given:
        name, _, value = item.partition("=")
        name = name.strip()
        try:
            n = int(value)
        except ValueError:
            n = -1
        if not name.isidentifier() or n < 0:
            raise UsageError(f"`--size {item}`: write a symbolic dim and a size, e.g. `T=128`")
        out[name] = n
    return out


def cmd_plot(args: argparse.Namespace) -> int:
    from nndsl.cli.plot import run_plot

    result = _check(args.file, _stderr())
    graph = _graph_or_fail(result, args.model)
    if graph is None:
        return _exit_code([result])
    return run_plot(graph, args)


def cmd_report(args: argparse.Namespace) -> int:
    from nndsl.cli.plot import run_report

    return run_report(args)


def cmd_fmt(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nndsl.syntax.printer import FORMAT_BLOCKERS, format_source

    err = _stderr()
    paths = [require_file(f) for f in args.files]
    changed = failed = 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # reported as `check` reports it (E0103)
            text = None
        formatted = None if text is None else format_source(text, str(path))
        if formatted is None:
            failed += 1
            result = check_file(path)
            err.diagnostics([d for d in result.diagnostics if d.code in FORMAT_BLOCKERS])
            continue
        if args.stdout:
            sys.stdout.write(formatted)
        elif formatted != text:
            changed += 1
            if args.check:
                print(f"would reformat {path}", file=sys.stderr)
            else:
                Path(path).write_text(formatted, encoding="utf-8")
    if not args.stdout:
        verb = "would be reformatted" if args.check else "reformatted"
        err.status(
            "failed" if failed or (args.check and changed) else "ok",
            f"{changed} file{'s' if changed != 1 else ''} {verb}, "
            f"{len(paths) - changed - failed} unchanged, {failed} with syntax errors",
            ok=not failed and not (args.check and changed),
        )
    if failed:
        return EXIT_ERRORS
    return EXIT_ERRORS if args.check and changed else EXIT_OK


def cmd_repl(args: argparse.Namespace) -> int:
    from nndsl.repl.app import run

    if args.file:
        require_file(args.file)
    return run(args.file)


def cmd_lsp(args: argparse.Namespace) -> int:
    # answers the first exchange before importing pygls (see the module), then serves
    from nndsl.lsp.bootstrap import main

    return main()


def cmd_explain(args: argparse.Namespace) -> int:
    from rich.console import Console

    from nndsl.diagnostics import CODES

    code = args.code.upper()
    if code not in CODES:
        raise UsageError(f"unknown code {args.code!r}; codes are {', '.join(sorted(CODES))}")
    entry = CODES[code]
    out = Console(highlight=False)
    out.print(f"[bold]{entry.id}: {entry.title}[/]\n")
    out.print(entry.explanation, markup=False, soft_wrap=True)
    out.print(_example_text(code), markup=False, soft_wrap=True, end="")
    return EXIT_OK


def _example_text(code: str) -> str:
    """The failing example and its fix (`nndsl.diagnostics.examples`), indented as code."""
    from nndsl.diagnostics.examples import EXAMPLES, NO_EXAMPLE

    def block(text: str) -> str:
        return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())

    if code not in EXAMPLES:
        return f"\nNo example: {NO_EXAMPLE.get(code, 'none yet')}.\n"
    ex = EXAMPLES[code]
    text = f"\nExample (fails with {code}):\n\n" + block(ex.shown or ex.broken)
    if ex.shown_fixed:
        fixed = ex.shown_fixed
    else:
        fixed = ex.shown.replace(ex.old, ex.new, 1) if ex.shown else ex.fixed()
    return text + "\nFixed:\n\n" + block(fixed)


def cmd_train(args: argparse.Namespace) -> int:
    from nndsl.cli.train import run_training

    result = _check(args.file, _stderr())
    if result.has_errors or result.program is None:
        return _exit_code([result])
    if result.program.train is None:
        raise UsageError(f"{args.file} has no `train` section")
    return run_training(result.program.train, args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nndsl.cli.evaluate import run_evaluate

    result = _check(args.file, _stderr())
    if result.has_errors or result.program is None:
        return _exit_code([result])
    if result.program.train is None:
        raise UsageError(f"{args.file} has no `train` section (its loss and metrics evaluate)")
    require_file(args.weights)
    return run_evaluate(result.program.train, args)


def cmd_predict(args: argparse.Namespace) -> int:
    from nndsl.cli.train import run_predict

    result = _check(args.file, _stderr())
    graph = _graph_or_fail(result, args.model)
    if graph is None:
        return _exit_code([result])
    require_file(args.weights)
    train = result.program.train if result.program is not None else None
    # image inputs are read with the training source's settings (size, colour mode)
    args.train_data = train.data if train is not None and train.graph.name == graph.name else None
    return run_predict(graph, args)  # its input may be a folder of texts or images


def cmd_export(args: argparse.Namespace) -> int:
    from nndsl.cli.export import cmd_export as export

    result = _check(args.file, _stderr())
    graph = _graph_or_fail(result, args.model)
    if graph is None:
        return _exit_code([result])
    require_file(args.weights)
    return export(args, result, graph)


def cmd_import_keras(args: argparse.Namespace) -> int:
    from nndsl.cli.import_keras import run_import

    result = _check(args.file, _stderr())
    graph = _graph_or_fail(result, args.model)
    if graph is None:
        return _exit_code([result])
    require_file(args.source)
    return run_import(graph, args)


__all__ = [
    "cmd_check",
    "cmd_explain",
    "cmd_export",
    "cmd_fmt",
    "cmd_import_keras",
    "cmd_plot",
    "cmd_repl",
    "cmd_predict",
    "cmd_report",
    "cmd_summary",
    "cmd_train",
    "sys",
]
