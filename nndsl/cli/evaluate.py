"""`nnrun evaluate`: saved weights on labelled data, as Keras's `model.evaluate` (the JAX side
of the CLI, imported only when used)."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK
from nndsl.ir import TrainConfig

MAX_SHOWN_CLASSES = 20  # a wider confusion matrix is summarised, not printed


def run_evaluate(config: TrainConfig, args: argparse.Namespace) -> int:
    from nndsl.cli.train import use_compile_cache
    from nndsl.runtime import CheckpointError, DataError
    from nndsl.runtime.evaluate import evaluate_weights

    use_compile_cache(args)
    try:
        result = evaluate_weights(config, args.weights, args.data)
    except (DataError, CheckpointError, OSError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    out = Console(highlight=False)
    out.print(f"[bold]Evaluated[/] {config.graph.name} on {result.where}", soft_wrap=True)
    table = Table(title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.logs.items():
        table.add_row(k, f"{v:.4f}")
    out.print(table)
    matrix = result.confusion
    if matrix is None:
        return EXIT_OK
    classes = len(matrix)
    names = list(result.class_names) or [str(i) for i in range(classes)]
    if classes > MAX_SHOWN_CLASSES:
        right = int(matrix.trace())
        out.print(f"confusion matrix: {classes} classes, {right} of {int(matrix.sum())} right")
        return EXIT_OK
    out.print("Confusion matrix (rows: true class, columns: predicted class)", soft_wrap=True)
    cm = Table()
    cm.add_column("")
    for name in names:
        cm.add_column(name, justify="right")
    for name, row in zip(names, matrix, strict=True):
        cm.add_row(name, *(str(int(v)) for v in row))
    out.print(cm)
    return EXIT_OK
