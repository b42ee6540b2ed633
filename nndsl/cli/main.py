"""Entry point of `nnrun`: argument parsing and dispatch to one function per command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nndsl.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError

if TYPE_CHECKING:
    import argparse

COMMANDS = (
    "train",
    "check",
    "summary",
    "plot",
    "report",
    "predict",
    "evaluate",
    "export",
    "import-keras",
    "explain",
    "fmt",
    "repl",
    "lsp",
)


def build_parser() -> argparse.ArgumentParser:
    import argparse  # here: `nnrun lsp` starts without it

    parser = argparse.ArgumentParser(
        prog="nnrun",
        description="Check, summarise, train and run nndsl models.",
        epilog="`nnrun model.nn` is short for `nnrun train model.nn`.",
    )
    parser.add_argument("--version", action="version", version=f"nndsl {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train the model of a file's `train` section")
    p.add_argument("file", help="the .nn file")
    p.add_argument("--epochs", type=int, help="override the file's epochs")
    p.add_argument("--out", help="where to write weights (default: runs/<model>/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in the run directory (see `checkpoint(...)`)",
    )
    g = p.add_argument_group("several processes (jax.distributed; see docs/distributed.md)")
    g.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    g.add_argument("--num-processes", type=int, metavar="N", help="processes in the run")
    g.add_argument("--process-id", type=int, metavar="I", help="this process, 0..N-1")
    g.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run the environment describes (SLURM, TPU pod, Open MPI)",
    )
    g.add_argument(
        "--peer-timeout",
        type=int,
        default=30,
        metavar="S",
        help="give up on a silent peer after S seconds (default 30)",
    )
    _cache_flags(p)
    _project_flag(p)

    p = sub.add_parser("check", help="report syntax, name, type and shape errors (no JAX)")
    p.add_argument("files", nargs="+", help=".nn files")
    p.add_argument("--quiet", action="store_true", help="print nothing when a file is clean")
    p.add_argument(
        "--target",
        choices=["onnx"],
        help="also check that every model can be exported to this format (needs `onnx`)",
    )
    _project_flag(p)

    p = sub.add_parser("summary", help="print a model's layers, shapes and parameter counts")
    p.add_argument("file", help="the .nn file")
    p.add_argument("--model", help="the model to show (default: the trained or only one)")
    p.add_argument(
        "--expand",
        action="store_true",
        help="list every copy of a repeated block (by default one row: `Res x 64`)",
    )
    p.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=N",
        help="a value for a symbolic dim in the FLOPs (`--size T=128`); FLOPs are per example "
        "(the batch is 1) unless this sets the batch symbol too",
    )
    p.add_argument(
        "--distribute",
        action="store_true",
        help="also what each device holds under the train section's `distribute` layout",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=None,
        metavar="N",
        help='with --distribute: the device count `devices = "all"` means (default 1)',
    )
    _project_flag(p)

    p = sub.add_parser("predict", help="run a trained model on inputs from a .npy file or text")
    p.add_argument("file", help="the .nn file")
    p.add_argument("--weights", required=True, help="a .safetensors file written by training")
    p.add_argument(
        "--input",
        required=True,
        action="append",
        help="a .npy array of inputs; an image file or a folder of images (read as the "
        "training source reads them); for a model trained on text, also a .txt file with one "
        "text per line or a folder of .txt files; for a model with several inputs, "
        "NAME=FILE once per input",
    )
    p.add_argument("--model", help="the model to run (default: the trained or only one)")
    p.add_argument(
        "--output",
        help="write predictions to this .npy file (images: or a .csv of the top classes per "
        "file) instead of printing; a folder: one "
        "<output>.npy per output of the model",
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        metavar="K",
        help="image, CSV and text inputs: the K best classes of each file or row, with their "
        "scores (default 1)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        help='seeds the draws of sampling layers kept on at inference (inference = "sample"): '
        "the same seed gives the same output (default: each layer's own `seed` argument)",
    )
    _cache_flags(p)
    _project_flag(p)

    p = sub.add_parser(
        "evaluate",
        help="the test metrics and confusion matrix of trained weights (Keras's evaluate)",
        description="The loss and metrics of the train section on the test split training "
        "held out, or on every row of --data (read by the same source with the same "
        "settings); for a classifier, the confusion matrix.",
    )
    p.add_argument("file", help="the .nn file")
    p.add_argument("--weights", required=True, help="a .safetensors file written by training")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="labelled data to evaluate on instead: a file or folder the train section's "
        "data source reads in place of its path (all rows)",
    )
    _cache_flags(p)
    _project_flag(p)

    p = sub.add_parser(
        "export",
        help="write a trained model as ONNX, ONNX Runtime's .ort or StableHLO",
        description="Export a model with its trained weights. ONNX runs in ONNX Runtime "
        "(servers, Android/iOS, the web, the JVM, .NET); .ort is ONNX Runtime Mobile's format; "
        "StableHLO runs in JAX/XLA without the .nn file.",
    )
    p.add_argument("file", help="the .nn file")
    p.add_argument("--weights", required=True, help="a .safetensors file written by training")
    p.add_argument("--format", default="onnx", choices=["onnx", "ort", "stablehlo"])
    p.add_argument("-o", "--output", help="the artefact (default: beside the weights)")
    p.add_argument("--model", help="the model to export (default: the trained or only one)")
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="ONNX/ort: int8 weights (dynamic, or static with "
        "--calibrate); reports the accuracy change on the test split",
    )
    p.add_argument(
        "--calibrate",
        metavar="DATA",
        help="static quantization: the name of the file's data declaration or a .npy of inputs",
    )
    p.add_argument(
        "--platforms",
        default="cpu",
        help="StableHLO: comma-separated platforms the artefact runs on (cpu,cuda,rocm,tpu)",
    )
    p.add_argument(
        "--weights-separate",
        action="store_true",
        help="StableHLO: keep the weights in a .safetensors file beside the artefact",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="reload the artefact in its runtime and compare with nndsl's predict",
    )
    _cache_flags(p)
    _project_flag(p)

    p = sub.add_parser("fmt", help="format .nn files in place (comments are kept)")
    p.add_argument("files", nargs="+", help=".nn files")
    p.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would be reformatted"
    )
    p.add_argument("--stdout", action="store_true", help="print the result instead of writing")

    p = sub.add_parser("repl", help="interactive session: definitions and shapes as you type")
    p.add_argument("file", nargs="?", help="a .nn file to load first")
    _project_flag(p)

    sub.add_parser("lsp", help="start the language server on stdio (for editors)")

    p = sub.add_parser("explain", help="explain a diagnostic code, e.g. E0201")
    p.add_argument("code", help="the code")

    from nndsl.cli.import_keras import add_parser as add_import_keras

    add_import_keras(sub)
    from nndsl.cli.plot import add_parsers as add_plot

    add_plot(sub)
    return parser


def _project_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-outside-project",
        action="store_true",
        help="let the model file import and read data outside its project (see docs/language.md)",
    )


def _seed(text: str) -> int:
    """A PRNG seed: a whole number from 0 to 2**32 - 1 (what `jax.random.key` takes)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is not in 0..{2**32 - 1}")
    return value


def _cache_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache-dir",
        help="JAX's compilation cache (default: $NNDSL_CACHE_DIR, else ~/.cache/nndsl/jax)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not use the compilation cache")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["lsp"]:  # an editor waits for this one: no argument parser to build
        import gc

        gc.disable()  # for imports too, not only the first check: see nndsl.lsp.bootstrap.main
        from nndsl.lsp.bootstrap import main as serve

        return serve()
    if args_list and args_list[0] not in COMMANDS and not args_list[0].startswith("-"):
        unknown = _unknown_command(args_list[0])
        if unknown is not None:
            print(f"nnrun: error: {unknown}", file=sys.stderr)
            return EXIT_USAGE
        args_list.insert(0, "train")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "lsp":
        import gc

        gc.disable()  # for imports too, not only the first check: see nndsl.lsp.bootstrap.main
    from nndsl.check.paths import allow_outside_project
    from nndsl.cli import commands

    handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
    try:
        with allow_outside_project(bool(getattr(args, "allow_outside_project", False))):
            return int(handler(args))
    except UsageError as err:
        print(f"nnrun: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nnrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _unknown_command(word: str) -> str | None:
    """The error for a first word that is neither a command nor a model file (`nnrun sumary
    x.nn`), or None when it may be a file (`nnrun model.nn` trains it)."""
    from pathlib import Path

    if "." in word or "/" in word or "\\" in word or Path(word).exists():
        return None
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    if close:
        return f"unknown command `{word}`, did you mean `{close[0]}`?"
    return (
        f"unknown command `{word}` (and no such file); the commands are "
        + ", ".join(COMMANDS)
        + "; see `nnrun --help`"
    )


def _version() -> str:
    from nndsl import __version__

    return __version__
