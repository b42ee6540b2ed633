"""`nnrun import-keras`: a Keras 3 model's weights as an nndsl weights file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK, UsageError

if TYPE_CHECKING:  # the parser is built for every command: import nothing heavy at the top
    from nndsl.backend.jax.compile import Tree
    from nndsl.ir import Graph


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-keras",
        help="convert a Keras 3 .keras or .weights.h5 file to weights for an nndsl model",
        description="Map a Keras 3 model's weights onto an nndsl model by structure, checking "
        "every shape, and write them as a .safetensors file for `predict`, `export` and "
        "`train`. Nothing from the Keras file is executed.",
    )
    p.add_argument("file", help="the .nn file")
    p.add_argument("source", help="a Keras 3 .keras archive or .weights.h5 file")
    p.add_argument("-o", "--output", required=True, help="the .safetensors file to write")
    p.add_argument("--model", help="the model to fill (default: the trained or only one)")


def run_import(graph: Graph, args: argparse.Namespace) -> int:
    from nndsl.runtime.checkpoint import CheckpointError, save_checkpoint
    from nndsl.runtime.keras_import import KerasImportError, import_keras

    if not Path(args.source).exists():
        raise UsageError(f"no such file: {args.source}")
    try:
        params, state = import_keras(graph, args.source)
        # NumPy arrays where JAX's would be: the checkpoint reads each with np.asarray
        written = save_checkpoint(
            args.output,
            graph,
            cast("Tree", params),
            cast("Tree", state),
            extra={"source": str(args.source)},
        )
    except (KerasImportError, CheckpointError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    layers = len({path for path in params} | {path for path in state})
    print(f"imported {layers} layers from {args.source} into {graph.name}: wrote {written}")
    return EXIT_OK
