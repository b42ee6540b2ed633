"""`nnrun predict` on image files, folders and CSV files: one row per file (or CSV row) with
its best classes by name (`--top-k`), or a CSV / .npy file (`--output`). The JAX side of the
CLI, imported when used."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nndsl.cli.errors import EXIT_ERRORS, EXIT_OK
from nndsl.ir import Graph


def run_predict_images(
    graph: Graph, args: argparse.Namespace, source: Path, *, table: bool = False
) -> int:
    """Images (`table`: a CSV file read as the training `csv(...)` read its inputs)."""
    import numpy as np

    from nndsl.cli.train import load_model_weights, use_compile_cache
    from nndsl.runtime import CheckpointError, DataError, predict, read_metadata
    from nndsl.runtime.checkpoint import metadata_path
    from nndsl.runtime.data import check_inputs
    from nndsl.runtime.predict_files import (
        image_settings,
        read_csv_inputs,
        read_images,
        rows_csv,
        rows_text,
        top_classes,
    )

    data = getattr(args, "train_data", None)
    use_compile_cache(args)
    try:
        if table and data is not None:
            names, x = read_csv_inputs(source, data)
        else:
            names, x = read_images(source, image_settings(graph, data))
        meta = read_metadata(args.weights) if metadata_path(args.weights).is_file() else {}
        classes = [str(n) for n in meta.get("class_names") or []]
        params, state = load_model_weights(args.weights, graph)
        x = check_inputs(graph, x, str(source), "input")
        y = np.asarray(predict(graph, params, state, x, seed=getattr(args, "seed", None)))
    except (CheckpointError, DataError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    output = getattr(args, "output", None)
    if output and output.endswith(".npy"):
        np.save(output, y)
        print(f"wrote predictions {list(y.shape)} for {len(names)} files to {output}")
        return EXIT_OK
    scores = y.reshape(len(y), -1)
    tops = top_classes(scores, int(getattr(args, "top_k", None) or 1), classes)
    if output:
        if not output.endswith(".csv"):
            print(f"nnrun: error: --output {output}: write .csv or .npy", file=sys.stderr)
            return EXIT_ERRORS
        Path(output).write_text(rows_csv(names, tops), encoding="utf-8")
        print(f"wrote {len(names)} rows to {output}")
        return EXIT_OK
    sys.stdout.write(rows_text(names, tops))
    return EXIT_OK
