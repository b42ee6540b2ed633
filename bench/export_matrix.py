"""The export matrix: every example and stdlib model (the small configurations of
tests/export/test_models.py) as ONNX fp32, ONNX int8 (dynamic), `.ort` and StableHLO, each
reloaded in its runtime and compared with nndsl's JAX outputs (max |difference| over batches
1, 3 and 64). Random weights: the figures say how faithfully the artefact computes the same
function, not how accurate a trained model is (`nnrun export --quantize int8` reports that).

    .venv/bin/python bench/export_matrix.py      # a table; JSON in bench/results/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from nndsl.backend.jax.export import export_stablehlo  # noqa: E402
from nndsl.backend.onnx import export_onnx  # noqa: E402
from nndsl.backend.onnx.ort_format import to_ort  # noqa: E402
from nndsl.backend.onnx.quantize import quantize_int8  # noqa: E402
from nndsl.frontend import check_file  # noqa: E402
from nndsl.ir import Graph  # noqa: E402
from tests.export.harness import random_inputs, random_weights  # noqa: E402
from tests.export.test_models import STDLIB  # noqa: E402
from tests.stdlib.support import probe  # noqa: E402


def models() -> dict[str, Graph]:
    out: dict[str, Graph] = {}
    for path in sorted((ROOT / "examples").glob("*.nn")):
        g = check_file(path).graph()
        if g is not None:
            out[path.stem] = g
    for module, model, input_type, args in STDLIB:
        extra = {"maxlen": 12} if "{length}" in input_type else {}
        out[model] = probe(module, model, input_type.format(length=12), **args, **extra)
    return out


def diff(want: list[np.ndarray], got: list[Any]) -> float:
    return max(
        float(np.max(np.abs(np.asarray(g, np.float64) - w))) for w, g in zip(want, got, strict=True)
    )


def row(graph: Graph) -> dict[str, float]:
    params, state = random_weights(graph)
    feed = random_inputs(graph, 64, seed=1, T=7)
    reference = jax.jit(lambda p, s, f: graph_apply(graph, p, s, f))
    want = [np.asarray(y, np.float64) for y in reference(params, state, feed)]
    fp32 = export_onnx(graph, params, state)
    artefacts = {
        "onnx_fp32": fp32.SerializeToString(),
        "onnx_int8": quantize_int8(fp32).SerializeToString(),
        "ort": to_ort(fp32),
    }
    out: dict[str, float] = {}
    for name, blob in artefacts.items():
        session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        out[name] = max(
            diff([w[:n] for w in want], session.run(None, {k: v[:n] for k, v in feed.items()}))
            for n in (1, 3, 64)
        )
    art = export_stablehlo(graph, params, state)
    exported = jax.export.deserialize(bytearray(art.blob))
    xs = [feed[i.name] for i in graph.inputs]
    out["stablehlo"] = max(
        diff([w[:n] for w in want], exported.call(*[x[:n] for x in xs])) for n in (1, 3, 64)
    )
    return out


def graph_apply(graph: Graph, p: Any, s: Any, f: Any) -> Any:
    from nndsl.backend.jax.compile import compile_graph

    return compile_graph(graph).apply(p, s, f, training=False)[0]


def main() -> int:
    results = {}
    print(f"{'model':24s} {'onnx fp32':>10s} {'onnx int8':>10s} {'ort':>10s} {'stablehlo':>10s}")
    for name, graph in models().items():
        r = row(graph)
        results[name] = r
        print(
            f"{name:24s} {r['onnx_fp32']:10.1e} {r['onnx_int8']:10.1e} {r['ort']:10.1e} "
            f"{r['stablehlo']:10.1e}",
            flush=True,
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_matrix.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
