"""Lay out the digits page as a static site, and optionally serve it on 127.0.0.1.

    python examples/web/build_site.py --weights runs/DigitsMLP/model.safetensors --serve
    python examples/web/build_site.py --onnx model.onnx --out build/web

The site is a folder that any static server can host: the page (index.html, app.js,
onnx_metadata.js, style.css), the exported model (model.onnx), test digits to click
(digits.json: the first `--count` rows of the .nn file's held-out test split, so digits the
model never trained on), and onnxruntime-web's ESM build with its .wasm in ort/, copied from
node_modules (run `npm ci` in examples/web first). The files are copied rather than served from
node_modules so that the folder is self-contained and can be deployed as it is.
tests/export/test_web.py builds and serves the page with these same functions.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_NN = ROOT / "examples" / "digits_mlp.nn"
PAGE_FILES = ("index.html", "app.js", "onnx_metadata.js", "style.css")
# the wasm-only build: the page imports ort/ort.wasm.min.mjs, which loads the other two
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_DIST = HERE / "node_modules" / "onnxruntime-web" / "dist"


class SiteError(Exception):
    """A missing prerequisite, said in one line with what to run."""


def held_out_digits(
    nn_file: Path = DEFAULT_NN, count: int = 36
) -> tuple[list[list[float]], list[int]]:
    """The first `count` rows of the file's test split, exactly as nndsl splits them (the
    same seed and fractions as `nnrun train`), flattened to 64 values in 0..1."""
    import numpy as np

    from nndsl.frontend import check_file
    from nndsl.runtime.data import load_data

    checked = check_file(nn_file)
    if checked.has_errors or checked.program is None or checked.program.train is None:
        raise SiteError(f"{nn_file}: needs a checked `train` section to find its test split")
    test = load_data(checked.program.train).test
    x = np.asarray(test.x[:count], dtype=np.float32).reshape(min(count, len(test.x)), -1)
    y = np.asarray(test.y[:count]).reshape(len(x), -1)
    labels = y[:, 0] if y.shape[1] == 1 else np.argmax(y, axis=1)
    return [[float(v) for v in row] for row in x], [int(v) for v in labels]


def export_model(weights: Path, out: Path, nn_file: Path = DEFAULT_NN) -> Path:
    """`nnrun export FILE --weights W --format onnx -o out` (the CLI, as a user would run it)."""
    cmd = [sys.executable, "-m", "nndsl", "export", str(nn_file), "--weights", str(weights)]
    cmd += ["--format", "onnx", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out.is_file():
        raise SiteError(f"`{' '.join(cmd)}` failed:\n{proc.stdout}{proc.stderr}")
    return out


def build_site(
    out: Path,
    onnx_model: Path,
    *,
    nn_file: Path = DEFAULT_NN,
    count: int = 36,
    ort_dist: Path = ORT_DIST,
) -> Path:
    """Write the site into `out` (created if needed) and return it."""
    missing = [f for f in ORT_FILES if not (ort_dist / f).is_file()]
    if missing:
        raise SiteError(
            f"{ort_dist} lacks {', '.join(missing)}: run `npm ci` in {HERE} (or `make test-web`)"
        )
    (out / "ort").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(HERE / name, out / name)
    for name in ORT_FILES:
        shutil.copyfile(ort_dist / name, out / "ort" / name)
    if onnx_model.resolve() != (out / "model.onnx").resolve():
        shutil.copyfile(onnx_model, out / "model.onnx")
    images, labels = held_out_digits(nn_file, count)
    digits = {"source": f"{nn_file.name}: test split", "labels": labels, "images": images}
    (out / "digits.json").write_text(json.dumps(digits, separators=(",", ":")) + "\n")
    return out


class _Handler(SimpleHTTPRequestHandler):
    """Static files with the MIME types the page needs (ES modules must be JavaScript; wasm
    streaming compilation wants application/wasm), and no per-request logging."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_server(site: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server for `site` on 127.0.0.1 (port 0: a free one, see `server.server_port`); the
    caller runs `serve_forever` (in a thread for tests) and `shutdown`."""
    handler = functools.partial(_Handler, directory=str(site))
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", type=Path, help="an ONNX model from `nnrun export`")
    source.add_argument("--weights", type=Path, help="trained weights: export them first")
    parser.add_argument("--nn", type=Path, default=DEFAULT_NN, help="the .nn file")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "web", help="site folder")
    parser.add_argument("--count", type=int, default=36, help="test digits to show")
    parser.add_argument("--serve", type=int, nargs="?", const=8000, metavar="PORT")
    args = parser.parse_args(argv)
    try:
        onnx_model = args.onnx
        if onnx_model is None:
            args.out.mkdir(parents=True, exist_ok=True)
            onnx_model = export_model(args.weights, args.out / "model.onnx", args.nn)
        site = build_site(args.out, onnx_model, nn_file=args.nn, count=args.count)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"site written to {site}")
    if args.serve is not None:
        server = make_server(site, args.serve)
        print(f"serving on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
