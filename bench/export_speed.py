"""Exported models against nndsl's own jitted JAX `predict`, on CPU, side by side in one run.

    .venv/bin/python bench/export_speed.py                 # the table; JSON in bench/results/
    .venv/bin/python bench/export_speed.py --models mlp --iterations 50   # quicker

Models (random weights: speed does not depend on them): the digits MLP (64-128-128-10), the
digits CNN (examples/digits_cnn.nn) and MobileNetV2 at 96x96 (std.mobilenet, 10 classes).
For each: the export time and artefact size of ONNX fp32 and int8 (dynamic for the MLP,
static QDQ with 64 calibration inputs for the convolutional nets, as `nnrun export
--quantize int8 [--calibrate]` does), then latency at batch 1 (median and p95 of
`--iterations` calls after warm-up) and throughput at batch 64 (rows/s), for JAX `predict`
(jitted, the fixed-batch path `nnrun predict` uses), ONNX Runtime fp32 and ONNX Runtime int8.
Ratios are against JAX in the same run. Both runtimes use every core they see.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from nndsl.backend.jax.compile import compile_graph  # noqa: E402
from nndsl.backend.onnx import export_onnx  # noqa: E402
from nndsl.backend.onnx.quantize import quantize_int8  # noqa: E402
from nndsl.frontend import check_file, check_source  # noqa: E402
from nndsl.ir import Graph  # noqa: E402
from nndsl.runtime.predict import _inference  # noqa: E402

MOBILENET = """import std.mobilenet
model Net() {
    input image: f32[B, 96, 96, 3]
    return image |> MobileNetV2(classes = 10, size = 96)
}
"""


def graphs() -> dict[str, Graph]:
    out: dict[str, Graph] = {}
    for name, path in (("mlp", "digits_mlp.nn"), ("cnn", "digits_cnn.nn")):
        g = check_file(ROOT / "examples" / path).graph()
        assert g is not None
        out[name] = g
    g = check_source(MOBILENET, "mobilenet.nn").graph("Net")
    assert g is not None
    out["mobilenet"] = g
    return out


def timed(fn: Callable[[], Any], iterations: int) -> list[float]:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def measure(name: str, graph: Graph, iterations: int) -> dict[str, Any]:
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    shape = [d.as_int() or 1 for d in graph.inputs[0].type.shape[1:]]
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(1, *shape)).astype(np.float32)
    x64 = rng.normal(size=(64, *shape)).astype(np.float32)
    t = time.perf_counter()
    fp32 = export_onnx(graph, params, state)
    export_s = time.perf_counter() - t
    calibration = None if name == "mlp" else {graph.inputs[0].name: x64}
    t = time.perf_counter()
    int8 = quantize_int8(fp32, calibration)
    quantize_s = time.perf_counter() - t
    run = _inference(model)
    feed = graph.inputs[0].name
    sessions = {
        "onnx_fp32": ort.InferenceSession(fp32.SerializeToString()),
        "onnx_int8": ort.InferenceSession(int8.SerializeToString()),
    }
    runners: dict[str, Callable[[np.ndarray], Any]] = {
        "jax": lambda x: np.asarray(run(params, state, x)),
        **{k: (lambda x, s=s: s.run(None, {feed: x})) for k, s in sessions.items()},
    }
    row: dict[str, Any] = {
        "export_s": export_s,
        "quantize_s": quantize_s,
        "fp32_bytes": len(fp32.SerializeToString()),
        "int8_bytes": len(int8.SerializeToString()),
    }
    for key, fn in runners.items():
        lat = timed(lambda fn=fn: fn(x1), iterations)
        thr = timed(lambda fn=fn: fn(x64), max(5, iterations // 5))
        row[key] = {
            "b1_median_ms": statistics.median(lat) * 1e3,
            "b1_p95_ms": statistics.quantiles(lat, n=20)[-1] * 1e3,
            "b64_rows_per_s": 64 / statistics.median(thr),
        }
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn,mobilenet")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    wanted = args.models.split(",")
    results = {n: measure(n, g, args.iterations) for n, g in graphs().items() if n in wanted}

    from rich.console import Console
    from rich.table import Table

    table = Table(title="Exported models on CPU (ratios against JAX predict in this run)")
    for col in (
        "model",
        "runtime",
        "b1 median ms",
        "b1 p95 ms",
        "b1 speed-up",
        "b64 rows/s",
        "b64 ratio",
        "file kB",
    ):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name, row in results.items():
        base = row["jax"]
        for key in ("jax", "onnx_fp32", "onnx_int8"):
            r = row[key]
            size = {"jax": "", "onnx_fp32": row["fp32_bytes"], "onnx_int8": row["int8_bytes"]}[key]
            table.add_row(
                name,
                key,
                f"{r['b1_median_ms']:.3f}",
                f"{r['b1_p95_ms']:.3f}",
                f"{base['b1_median_ms'] / r['b1_median_ms']:.2f}x",
                f"{r['b64_rows_per_s']:,.0f}",
                f"{r['b64_rows_per_s'] / base['b64_rows_per_s']:.2f}x",
                f"{size / 1e3:.1f}" if size else "",
            )
        table.add_row(
            name,
            "export",
            f"fp32 {row['export_s']:.2f} s",
            f"int8 +{row['quantize_s']:.2f} s",
            "",
            "",
            "",
            f"int8 = {row['int8_bytes'] / row['fp32_bytes']:.0%}",
            end_section=True,
        )
    Console(width=130).print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_speed.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON in {out / 'export_speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
