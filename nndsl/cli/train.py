"""`nnrun train` and `nnrun predict`: the JAX side of the CLI, imported only when used."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from nndsl.cli.errors import EXIT_ERRORS, EXIT_INTERRUPTED, EXIT_OK, UsageError
from nndsl.ir import Graph, TrainConfig
from nndsl.terminal.interrupt import StopOnCtrlC
from nndsl.terminal.progress import ProgressView


def use_compile_cache(args: argparse.Namespace) -> None:
    """The persistent compilation cache is on unless `--no-cache`."""
    if getattr(args, "no_cache", False):
        return
    from nndsl.runtime import enable_compile_cache

    try:
        enable_compile_cache(getattr(args, "cache_dir", None))
    except OSError as err:  # an unwritable cache must not stop training
        print(f"nnrun: warning: compilation cache disabled: {err}", file=sys.stderr)


def run_training(config: TrainConfig, args: argparse.Namespace) -> int:
    from nndsl.runtime import (
        CheckpointError,
        DataError,
        TrainingError,
        fit,
        load_data,
        save_checkpoint,
    )

    if args.epochs is not None:
        if args.epochs < 1:
            raise UsageError("--epochs must be at least 1")
        config = dataclasses.replace(config, epochs=args.epochs)
    writer = True
    if getattr(args, "distributed", False) or getattr(args, "coordinator", None) is not None:
        from nndsl.cli.supervise import is_supervised, supervise

        if not is_supervised():  # a dead peer aborts from C++: train in a watched child
            return supervise(sys.argv[1:])
        from nndsl.runtime.multihost import initialize, is_writer

        try:
            initialize(
                args.coordinator,
                args.num_processes,
                args.process_id,
                heartbeat_s=args.peer_timeout,
            )
        except DataError as err:
            print(f"nnrun: error: {err}", file=sys.stderr)
            return EXIT_ERRORS
        writer = is_writer()
    console = Console(stderr=False, highlight=False)
    view = ProgressView(console, args.quiet or not writer)

    def on_first() -> None:
        print(
            "nnrun: interrupted; stopping after this step (Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def on_again() -> None:  # a checkpoint being written is left for `--resume` to remove
        view.stop_bar()
        print("nnrun: interrupted again; stopping now", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    use_compile_cache(args)
    out_dir = Path(args.out) if args.out else Path("runs") / config.graph.name
    if not writer:  # only process 0 writes; the others' files go to a scratch folder
        import tempfile

        out_dir = Path(tempfile.mkdtemp(prefix="nndsl-peer-"))
    splits = None
    # after a Ctrl-C the handler stays: a second one must still end the process quietly
    with StopOnCtrlC(on_first=on_first, on_again=on_again, keep_after_stop=True) as ctrl_c:
        try:
            splits = load_data(config)  # here, to save a text source's vocabulary with weights
            result = fit(
                config,
                data=splits,
                on_event=view,
                stop=lambda: ctrl_c.requested,
                run_dir=out_dir,
                resume=bool(getattr(args, "resume", False)),
                checkpoint_on_stop=True,
                report=True,  # runs/<Model>/history.json and report.html
            )
        except (DataError, TrainingError, CheckpointError, OSError) as err:
            view.stop_bar()  # an OSError: a log file on a full disk, say; its str names the file
            print(f"nnrun: error: {err}", file=sys.stderr)
            return EXIT_INTERRUPTED if ctrl_c.requested else EXIT_ERRORS
        finally:
            view.stop_bar()
    if result.stopped and not result.history:  # stopped before a step: nothing to save
        print("nnrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    target = out_dir / "model.safetensors"
    if getattr(args, "distributed", False) or getattr(args, "coordinator", None) is not None:
        # the gather is collective: every process takes part, in the same order
        import jax

        from nndsl.runtime.checkpoint import host_array

        result.params, result.state = jax.tree.map(host_array, (result.params, result.state))
    if not writer:  # process 0 writes the weights
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)
        return EXIT_OK
    try:
        metrics = dict(result.test or {})
        written = save_checkpoint(
            target,
            config.graph,
            result.params,
            result.state,
            seed=config.seed,
            epochs=len(result.history),
            metrics=metrics,
            extra={
                "source": str(config.file.path) if config.file else "",
                # folder and named-label sources: what each output index means, for predict
                **({"class_names": list(splits.class_names)} if splits.class_names else {}),
            },
            vectorizer=splits.vectorizer,
        )
    except (CheckpointError, OSError) as err:
        print(f"nnrun: error: cannot save weights: {err}", file=sys.stderr)
        return EXIT_ERRORS
    what = "metadata and text vocabulary" if splits.vectorizer else "metadata"
    console.print(f"Weights saved to [bold]{written}[/] ({what} in {written.with_suffix('.json')})")
    if (out_dir / "report.html").is_file():
        console.print(f"Training report: [bold]{out_dir / 'report.html'}[/]")
    if result.stopped:
        print("nnrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def run_predict(graph: Graph, args: argparse.Namespace) -> int:
    """Predict from a .npy array, or from raw text (a .txt file with one example per line, a
    folder of .txt files) for a model trained on a text source, vectorized with the
    vocabulary saved beside its weights."""
    import numpy as np

    from nndsl.runtime import CheckpointError, DataError, predict, read_metadata
    from nndsl.runtime.checkpoint import load_vectorizer, metadata_path
    from nndsl.runtime.data import check_inputs
    from nndsl.runtime.predict import check_token_ids, is_text_input, read_texts

    given = args.input if isinstance(args.input, list) else [args.input]
    named = _named_inputs(graph, given)
    if named is not None or len(graph.outputs) > 1:
        return _predict_named(graph, args, named or {graph.inputs[0].name: given[0]})
    args.input = given[0]
    source = Path(args.input)
    if not source.exists():
        raise UsageError(f"no such file or folder: {args.input}")
    from nndsl.runtime.predict_files import is_image_input

    if is_image_input(source):  # read as the training source read its images
        from nndsl.cli.predict_images import run_predict_images

        return run_predict_images(graph, args, source)
    data = getattr(args, "train_data", None)
    if source.suffix.lower() == ".csv" and data is not None and data.op.name == "csv":
        from nndsl.cli.predict_images import run_predict_images  # the same columns as training

        return run_predict_images(graph, args, source, table=True)
    try:
        vectorizer = load_vectorizer(args.weights)
        if is_text_input(source):
            if vectorizer is None:
                raise DataError(
                    f"{args.input} is raw text, but {args.weights} has no saved text vocabulary "
                    "(its model was not trained on text_folder or text_file data); pass a .npy "
                    "array of inputs"
                )
            x = vectorizer(read_texts(source))
        else:
            x = _read_npy(source)
            if x.dtype.kind in "US":  # an array of strings: raw text as well
                if vectorizer is None:
                    raise DataError(
                        f"{args.input} holds strings, but {args.weights} has no saved text "
                        "vocabulary to turn them into numbers"
                    )
                x = vectorizer([str(t) for t in x.reshape(-1)])
            elif vectorizer is not None:
                check_token_ids(x, vectorizer, args.input)
    except (CheckpointError, DataError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    use_compile_cache(args)
    try:
        meta = read_metadata(args.weights) if metadata_path(args.weights).is_file() else {}
        names = [str(n) for n in meta.get("class_names") or []]
        params, state = load_model_weights(args.weights, graph)
        x = check_inputs(graph, x, args.input, "input")
        _note_unused_seed(graph, getattr(args, "seed", None))
        y = predict(graph, params, state, x, seed=getattr(args, "seed", None))
    except (CheckpointError, DataError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    if is_text_input(source) and y.ndim == 2 and not str(args.output or "").endswith(".npy"):
        # raw text: one row per file (or line) with its best classes, as for images
        from nndsl.runtime.predict_files import rows_csv, rows_text, text_names, top_classes

        rows = (text_names(source), top_classes(y, int(getattr(args, "top_k", None) or 1), names))
        if not args.output:
            sys.stdout.write(rows_text(*rows))
            return EXIT_OK
        if not args.output.endswith(".csv"):
            print(f"nnrun: error: --output {args.output}: write .csv or .npy", file=sys.stderr)
            return EXIT_ERRORS
        Path(args.output).write_text(rows_csv(*rows), encoding="utf-8")
        print(f"wrote {len(rows[0])} rows to {args.output}")
        return EXIT_OK
    if args.output:
        np.save(args.output, y)
        print(f"wrote predictions {list(y.shape)} to {args.output}")
        return EXIT_OK
    np.set_printoptions(precision=4, suppress=True, threshold=200)
    if y.ndim == 2 and y.shape[1] > 1:
        print("class:", np.argmax(y, axis=-1))
        if len(names) == y.shape[1]:
            print("class name:", " ".join(names[int(i)] for i in np.argmax(y, axis=-1)))
    print(y)
    return EXIT_OK


def _named_inputs(graph: Graph, given: list[str]) -> dict[str, str] | None:
    """`--input NAME=FILE` for each input by name; None for one `--input FILE` of a model with
    one input. Every mistake (an unknown, repeated or missing name) is a `UsageError`."""
    names = [i.name for i in graph.inputs]
    listed = ", ".join(f"`{n}`" for n in names)
    if len(given) == 1 and not _is_named(given[0], names):
        if len(names) == 1:
            return None
        raise UsageError(
            f"{graph.name} has {len(names)} inputs ({listed}); give each as --input NAME=FILE"
        )
    out: dict[str, str] = {}
    for spec in given:
        if not _is_named(spec, names) and "=" not in spec:
            raise UsageError(
                f"--input {spec}: with several --input, name each: --input NAME=FILE "
                f"(inputs of {graph.name}: {listed})"
            )
        name, _, path = spec.partition("=")
        if name not in names:
            from nndsl.check.report import did_you_mean

            hint = did_you_mean(name, names)
            raise UsageError(
                f"--input {spec}: {graph.name} has no input `{name}`; "
                + (str(hint) if hint else f"its inputs are {listed}")
            )
        if name in out:
            raise UsageError(f"--input {spec}: input `{name}` is given twice")
        out[name] = path
    missing = [n for n in names if n not in out]
    if missing:
        raise UsageError(
            f"{graph.name} needs --input for "
            + ", ".join(f"`{n}`" for n in missing)
            + f" (its inputs are {listed})"
        )
    return out


def _is_named(spec: str, names: list[str]) -> bool:
    name, eq, _ = spec.partition("=")
    return bool(eq) and (name in names or name.isidentifier()) and not Path(spec).exists()


def _predict_named(graph: Graph, args: argparse.Namespace, inputs: dict[str, str]) -> int:
    """Arrays by input name in, every output out: printed, or one `<output>.npy` each in the
    `--output` folder (a `.npy` file for a model with one output)."""
    import numpy as np

    from nndsl.runtime import CheckpointError, DataError
    from nndsl.runtime.data import check_inputs
    from nndsl.runtime.predict import predict_outputs

    outputs = [o.name for o in graph.outputs]
    target = Path(args.output) if args.output else None
    if target is not None and len(outputs) > 1 and target.suffix.lower() == ".npy":
        raise UsageError(
            f"{graph.name} has {len(outputs)} outputs; give --output a folder, to hold one "
            "<output>.npy each"
        )
    arrays = {}
    for name, file in inputs.items():
        if not Path(file).is_file():
            raise UsageError(f"no such file: {file} (--input {name})")
        arrays[name] = _read_npy(Path(file))
    use_compile_cache(args)
    try:
        params, state = load_model_weights(args.weights, graph)
        checked = {n: check_inputs(graph, a, inputs[n], n, name=n) for n, a in arrays.items()}
        rows = {n: len(a) for n, a in checked.items()}
        if len(set(rows.values())) > 1:
            raise DataError(
                "the inputs have different numbers of rows: "
                + ", ".join(f"{n} {r}" for n, r in rows.items())
            )
        _note_unused_seed(graph, getattr(args, "seed", None))
        ys = predict_outputs(graph, params, state, checked, seed=getattr(args, "seed", None))
    except (CheckpointError, DataError) as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_ERRORS
    if target is not None and (len(outputs) > 1 or target.is_dir()):
        target.mkdir(parents=True, exist_ok=True)
        for name, y in ys.items():
            np.save(target / f"{name}.npy", y)
            print(f"wrote {name} {list(y.shape)} to {target / f'{name}.npy'}")
        return EXIT_OK
    if target is not None:
        y = ys[outputs[0]]
        np.save(target, y)
        print(f"wrote predictions {list(y.shape)} to {target}")
        return EXIT_OK
    np.set_printoptions(precision=4, suppress=True, threshold=200)
    for name, y in ys.items():
        if len(ys) > 1:
            print(f"{name}:")
        print(y)
    return EXIT_OK


def _note_unused_seed(graph: Graph, seed: int | None) -> None:
    """`--seed` seeds only sampling layers kept on at inference; say so when there is none."""
    if seed is not None and not any(
        n.op.stochastic and n.attrs.get("inference") == "sample" for n in graph.nodes
    ):
        print(
            f"note: --seed has no effect: no sampling layer of {graph.name} draws at inference "
            '(`inference = "sample"`)',
            file=sys.stderr,
        )


def load_model_weights(path: str, graph: Graph) -> tuple[Any, Any]:
    """The model's weights from `path`, matched by path (for `predict` and `export`). A larger
    model's file serves a sub-model that applies the same blocks (a VAE's decoder): what the
    model does not have is left out, with a note naming it; a weight the model needs and the
    file lacks is an error."""
    from nndsl.runtime import load_weights

    ignored: list[str] = []
    params, state = load_weights(path, graph, ignored=ignored)
    if ignored:
        print(
            f"note: {path}: ignored {len(ignored)} weight{'s' if len(ignored) > 1 else ''} "
            f"that {graph.name} does not have: "
            + ", ".join(ignored[:5])
            + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""),
            file=sys.stderr,
        )
    return params, state


def _read_npy(path: Path) -> Any:
    import numpy as np

    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot read {path} as a .npy array ({err}); pass a .npy array, a .txt file with "
            "one text per line, or a folder of .txt files"
        ) from None
    if not isinstance(x, np.ndarray):
        raise UsageError(f"{path} holds several arrays; pass a single .npy array")
    return x
