"""ONNX export of a collapsed `repeat`: unrolled copies against `Scan` / `Loop`, in ONNX Runtime.

    .venv/bin/python bench/onnx_repeat.py                      # dense and conv, 8 and 64 copies
    .venv/bin/python bench/onnx_repeat.py --kinds dense --depths 8 --rounds 3   # quicker

The models are bench/compile_depth.py's: a residual dense block (`LayerNorm`, `Dense(64,
relu)`, `Dense(64)`, plus the skip) between `Dense(64)` and `Dense(10)`, and a residual conv
block (two `Conv2D(8, 3)`, `BatchNorm`, 16x16x8), repeated N times, with nndsl's initial
weights. Forms, each run by `onnxruntime.InferenceSession` with its default options (every
graph optimisation, one thread per core unless `--threads`):
- `unrolled`: `nnrun export` with `NNDSL_ONNX_REPEAT=unroll`, N copies one after the other;
- `scan`: `nnrun export` as it is (nndsl/backend/onnx/repeat.py): one `Scan` whose scan inputs
  are the copies' weights stacked `[N, ...]`, the activation its state;
- dense only, prototypes written here with `onnx.helper`: `loop (hand)`, one `Loop` of N
  iterations whose body `Gather`s copy `i`'s weights from the stacked initializers, and
  `scan (hand)`, the `Scan` written by hand (a control for the exporter's).
For each: file size, the `.ort` converter's output size (`nnrun export --format ort`; "fails"
if it refuses the form), session creation (median of `--sessions` fresh sessions from the
bytes), latency at batch 1 and 32 (median of `--iterations` calls after warm-up; a fifth of them
at batch 32), in
`--rounds` interleaved rounds (each form in turn, then again); medians of the rounds' medians,
ratios against `unrolled`, and the largest output difference from it. JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from compile_depth import source  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nndsl.backend.jax.compile import compile_graph  # noqa: E402
from nndsl.backend.onnx import export_onnx  # noqa: E402
from nndsl.backend.onnx.builder import IR_VERSION, OPSET  # noqa: E402
from nndsl.backend.onnx.ort_format import OrtConversionError, to_ort  # noqa: E402
from nndsl.backend.onnx.repeat import FORM_ENV  # noqa: E402
from nndsl.frontend import check_source  # noqa: E402

WIDTH = 64
# One block's weights, in the order its body reads them: (layer, weight).
BLOCK = (
    ("layer_normalization", "gamma"),
    ("layer_normalization", "beta"),
    ("dense", "kernel"),
    ("dense", "bias"),
    ("dense_1", "kernel"),
    ("dense_1", "bias"),
)


def exports(
    kind: str, depth: int
) -> tuple[dict[str, onnx.ModelProto], dict[str, dict[str, np.ndarray]]]:
    """nndsl's own exports of the model, unrolled and scanned (`NNDSL_ONNX_REPEAT`), and its
    weights."""
    graph = check_source(source(kind, depth), "deep.nn").graph("Deep")
    assert graph is not None
    params, state = compile_graph(graph).init(jax.random.key(0))
    np_params = {p: {k: np.asarray(v) for k, v in ws.items()} for p, ws in params.items()}
    out = {}
    for form in ("unroll", "scan"):
        os.environ[FORM_ENV] = form
        out["unrolled" if form == "unroll" else "scan"] = export_onnx(graph, params, state)
    del os.environ[FORM_ENV]
    return out, np_params


def block_nodes(
    x: str, w: dict[str, str], out: str, prefix: str, epsilon: float
) -> list[onnx.NodeProto]:
    """The block as nndsl lowers it (same ops, same attributes), reading weights `w`."""
    n = helper.make_node
    p = prefix
    return [
        n(
            "LayerNormalization",
            [x, w["layer_normalization/gamma"], w["layer_normalization/beta"]],
            [f"{p}ln"],
            axis=-1,
            epsilon=epsilon,
            stash_type=1,
        ),
        n("MatMul", [f"{p}ln", w["dense/kernel"]], [f"{p}mm1"]),
        n("Add", [f"{p}mm1", w["dense/bias"]], [f"{p}a1"]),
        n("Relu", [f"{p}a1"], [f"{p}r1"]),
        n("MatMul", [f"{p}r1", w["dense_1/kernel"]], [f"{p}mm2"]),
        n("Add", [f"{p}mm2", w["dense_1/bias"]], [f"{p}a2"]),
        n("Add", [x, f"{p}a2"], [out]),
    ]


def _io(name: str, dims: list[Any]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def collapsed(
    depth: int, params: dict[str, dict[str, np.ndarray]], op: str, epsilon: float
) -> onnx.ModelProto:
    """The model with its repeat as one `Loop` or `Scan` over stacked weights."""
    names = [f"res_{i}" if i else "res" for i in range(depth)]
    init = [
        numpy_helper.from_array(params["dense"]["kernel"], "dense/kernel"),
        numpy_helper.from_array(params["dense"]["bias"], "dense/bias"),
        numpy_helper.from_array(params["dense_1"]["kernel"], "dense_1/kernel"),
        numpy_helper.from_array(params["dense_1"]["bias"], "dense_1/bias"),
    ]
    stacked = {}
    for layer, weight in BLOCK:
        key = f"{layer}/{weight}"
        arr = np.stack([params[f"{n}/{layer}"][weight] for n in names])
        stacked[key] = f"res/stacked/{key}"
        init.append(numpy_helper.from_array(arr, stacked[key]))
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "dense/kernel"], ["dense/MatMul"]),
        n("Add", ["dense/MatMul", "dense/bias"], ["h0"]),
    ]
    if op == "loop":
        gathers = [n("Gather", [stacked[k], "i"], [f"body/{k}"], axis=0) for k in stacked]
        body_nodes = [*gathers, n("Identity", ["cond_in"], ["cond_out"])]
        body_nodes += block_nodes("h", {k: f"body/{k}" for k in stacked}, "h_out", "b/", epsilon)
        body = helper.make_graph(
            body_nodes,
            "res_body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                _io("h", ["B", WIDTH]),
            ],
            [
                helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                _io("h_out", ["B", WIDTH]),
            ],
        )
        init.append(numpy_helper.from_array(np.array(depth, np.int64), "res/count"))
        nodes.append(n("Loop", ["res/count", "", "h0"], ["hN"], body=body))
    else:
        slices = {k: f"slice/{k}" for k in stacked}
        body = helper.make_graph(
            block_nodes("h", slices, "h_out", "b/", epsilon),
            "res_body",
            [_io("h", ["B", WIDTH])]
            + [
                _io(slices[k], list(np.shape(params[f"res/{k.split('/')[0]}"][k.split("/")[1]])))
                for k in stacked
            ],
            [_io("h_out", ["B", WIDTH])],
        )
        nodes.append(
            n("Scan", ["h0", *stacked.values()], ["hN"], body=body, num_scan_inputs=len(stacked))
        )
    nodes += [
        n("MatMul", ["hN", "dense_1/kernel"], ["dense_1/MatMul"]),
        n("Add", ["dense_1/MatMul", "dense_1/bias"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "Deep", [_io("x", ["B", 32])], [_io("output", ["B", 10])], initializer=init
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="nndsl-bench",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def median_time(fn: Callable[[], Any], n: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def measure(
    blob: bytes, x1: np.ndarray, x32: np.ndarray, args: argparse.Namespace
) -> dict[str, float]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads

    def session() -> ort.InferenceSession:
        return ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])

    create = median_time(session, args.sessions, warmup=1)
    sess = session()
    return {
        "session_ms": create * 1e3,
        "b1_ms": median_time(lambda: sess.run(None, {"x": x1}), args.iterations) * 1e3,
        "b32_ms": median_time(lambda: sess.run(None, {"x": x32}), max(5, args.iterations // 5))
        * 1e3,
    }


def run_forms(
    models: dict[str, onnx.ModelProto],
    x1: np.ndarray,
    x32: np.ndarray,
    args: argparse.Namespace,
    label: str,
) -> dict[str, Any]:
    blobs = {k: m.SerializeToString() for k, m in models.items()}
    ref = ort.InferenceSession(blobs["unrolled"]).run(None, {"x": x32})[0]
    row: dict[str, Any] = {}
    for k, blob in blobs.items():
        got = ort.InferenceSession(blob).run(None, {"x": x32})[0]
        try:
            ort_bytes: int | None = len(to_ort(models[k]))
        except OrtConversionError as err:
            print(f"  {label} {k}: .ort conversion failed: {err}", file=sys.stderr)
            ort_bytes = None
        row[k] = {
            "bytes": len(blob),
            "nodes": len(models[k].graph.node),
            "max_abs_diff": float(np.abs(got - ref).max()),
            "max_rel_diff": float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-30)),
            "ort_bytes": ort_bytes,
            "rounds": [],
        }
    for r in range(args.rounds):
        for k, blob in blobs.items():
            got = measure(blob, x1, x32, args)
            row[k]["rounds"].append(got)
            print(
                f"  {label} round {r + 1} {k:11s} "
                + " ".join(f"{m} {v:.3f}" for m, v in got.items()),
                file=sys.stderr,
                flush=True,
            )
    for k in blobs:
        for m in ("session_ms", "b1_ms", "b32_ms"):
            row[k][m] = statistics.median(x[m] for x in row[k]["rounds"])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="dense,conv")
    parser.add_argument("--depths", default="8,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=0, help="ONNX Runtime's intra-op threads (0: one a core)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "onnxruntime": ort.__version__,
        "opset": OPSET,
        "rounds": args.rounds,
        "iterations": args.iterations,
        "sessions": args.sessions,
        "threads": args.threads,
        "load_average": os.getloadavg(),
    }
    for kind in args.kinds.split(","):
        rng = np.random.default_rng(0)
        shape = (32,) if kind == "dense" else (16, 16, 3)
        x1 = rng.normal(size=(1, *shape)).astype(np.float32)
        x32 = rng.normal(size=(32, *shape)).astype(np.float32)
        for depth in (int(d) for d in args.depths.split(",")):
            models, params = exports(kind, depth)
            if kind == "dense":  # the hand-written prototypes: a `Loop`, a `Scan`
                eps = next(
                    helper.get_attribute_value(a)
                    for node in models["unrolled"].graph.node
                    if node.op_type == "LayerNormalization"
                    for a in node.attribute
                    if a.name == "epsilon"
                )
                models["loop (hand)"] = collapsed(depth, params, "loop", eps)
                models["scan (hand)"] = collapsed(depth, params, "scan", eps)
            results[f"{kind} x{depth}"] = run_forms(models, x1, x32, args, f"{kind} x{depth}")
    print(table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"onnx_repeat-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        f"onnxruntime {results['onnxruntime']}, opset {results['opset']}, "
        f"{results['threads'] or 'default'} intra-op threads, median of "
        f"{results['rounds']} interleaved rounds",
        "",
        "| model | form | nodes | .onnx KB | .ort KB | session ms | batch 1 ms | batch 32 ms "
        "| / unrolled (session, b1, b32) | max diff (relative) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in results.items():
        if not isinstance(row, dict):
            continue
        base = row["unrolled"]
        for k, r in row.items():
            ort_kb = f"{r['ort_bytes'] / 1024:.0f}" if r["ort_bytes"] else "fails"
            ratios = ", ".join(f"{r[m] / base[m]:.2f}" for m in ("session_ms", "b1_ms", "b32_ms"))
            lines.append(
                f"| {label} | {k} | {r['nodes']} | {r['bytes'] / 1024:.0f} | {ort_kb} "
                f"| {r['session_ms']:.2f} | {r['b1_ms']:.3f} | {r['b32_ms']:.3f} | {ratios} "
                f"| {r['max_abs_diff']:.1e} ({r['max_rel_diff']:.1e}) |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
