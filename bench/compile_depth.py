"""Deep models: check, compile and whole-process time against the `repeat` count (issue 17).

For a residual dense block and a residual conv block, at `repeat` 1, 8, 64 and 256:
- check: `check_source` in this process (median of --runs), also for `repeat 10**9`; besides
  the two blocks, a repeated layer (`layer`) and a `repeat N { ... }` statement (`stmt`);
- compile: `jax.jit(train step).lower().compile()` of one loss-and-gradient step, per lowering
  (`scan`, `unroll`), and the run time of a compiled step (median) for the per-platform rule;
- whole process: `nnrun FILE --no-cache` training one epoch of a tiny data set (cold cache);
- peak memory: XLA's temporary buffers of the compiled step, with and without `remat = true`;
- predict: compile and first call of `nnrun predict`'s inference (`runtime.predict.predict`)
  on per-copy weights as saved, packed once on the host (now) or passed per copy (before).

    python bench/compile_depth.py                      # everything (several minutes)
    python bench/compile_depth.py --only check,compile --depths 1,8,64
    python bench/compile_depth.py --only predict --depths 8,64

Prints Markdown tables (bench/README.md, "compile_depth.py") and writes
bench/results/compile_depth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DENSE = """
block Res(width: int{remat_param}) {{
    input x: f32[B, width]
    h = x |> LayerNorm() |> Dense(width, activation = "relu")
    return x + (h |> Dense(width))
}}
model Deep(width: int = {width}) {{
    input x: f32[B, 32]
    h = x |> Dense(width)
    h = h |> repeat {depth} Res(width{remat})
    return h |> Dense(10)
}}
"""

CONV = """
block Res(filters: int) {{
    input x: f32[B, 16, 16, filters]
    h = x |> Conv2D(filters, 3, padding = "same") |> BatchNorm() |> relu
    return x + (h |> Conv2D(filters, 3, padding = "same"))
}}
model Deep(filters: int = 8) {{
    input x: f32[B, 16, 16, 3]
    h = x |> Conv2D(filters, 3, padding = "same")
    h = h |> repeat {depth} Res(filters{remat})
    return h |> GlobalAvgPool2D() |> Dense(10)
}}
"""

# The flat forms (a repeated layer, `repeat N { ... }`): one node as well, since issue 17.
LAYER = """
model Deep(width: int = {width}) {{
    input x: f32[B, 32]
    h = x |> Dense(width)
    h = h |> repeat {depth} Dense(width, activation = "relu")
    return h |> Dense(10)
}}
"""

STMT = """
model Deep(width: int = {width}) {{
    input x: f32[B, 32]
    h = x |> Dense(width)
    repeat {depth} {{
        t = h |> LayerNorm() |> Dense(width, activation = "relu")
        h = h + (t |> Dense(width))
    }}
    return h |> Dense(10)
}}
"""

TRAIN = """
data blobs = npz("data.npz", x = "x", y = "y", test_split = 0.0)
train Deep on blobs {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.001)
    epochs = 1
    batch = 32
    validation_split = 0.0
}}
"""


def source(kind: str, depth: int, remat: bool = False, width: int = 64) -> str:
    text = {"dense": DENSE, "conv": CONV, "layer": LAYER, "stmt": STMT}[kind]
    return text.format(
        depth=depth, remat=", remat = true" if remat else "", remat_param="", width=width
    )


def time_check(text: str, runs: int) -> float:
    from nndsl.frontend import check_source

    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = check_source(text, "deep.nn")
        times.append(time.perf_counter() - t)
        assert not result.has_errors, [d.message for d in result.diagnostics]
    return statistics.median(times)


BATCH = 32


def _step(text: str) -> tuple[Any, Any, Any]:
    import jax
    import jax.numpy as jnp

    from nndsl.backend.jax.compile import compile_graph
    from nndsl.backend.jax.stacking import pack
    from nndsl.frontend import check_source

    result = check_source(text, "deep.nn")
    assert result.program is not None
    graph = result.program.graphs["Deep"]
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    # as training keeps them: a scanned repeat's weights stacked [N, ...] (stacking.py)
    params, state = pack(graph, params), pack(graph, state)
    dims = graph.inputs[0].type.shape
    shape = tuple(BATCH if d.as_int() is None else d.as_int() for d in dims)
    x = jnp.ones(shape, jnp.float32)

    def loss(p: Any, s: Any, x: Any) -> Any:
        outs, new_state = model.apply(p, s, [x], training=True, key=jax.random.key(1))
        return jnp.mean(outs[0] ** 2), new_state

    step = jax.jit(jax.value_and_grad(loss, has_aux=True))
    return step, (params, state, x), graph


def compile_and_run(text: str, mode: str, runs: int) -> dict[str, float]:
    import jax

    os.environ["NNDSL_REPEAT_LOWERING"] = mode
    step, args, _ = _step(text)
    t = time.perf_counter()
    lowered = step.lower(*args)
    trace = time.perf_counter() - t
    t = time.perf_counter()
    compiled = lowered.compile()
    comp = time.perf_counter() - t
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
    mem = compiled.memory_analysis()
    temp = getattr(mem, "temp_size_in_bytes", 0) if mem is not None else 0
    return {
        "trace_s": trace,
        "compile_s": comp,
        "step_ms": statistics.median(times) * 1e3,
        "temp_mb": temp / 2**20,
    }


def time_predict(text: str, packed: bool) -> dict[str, float]:
    """Compile and first call of `predict` on one batch, from per-copy numpy weights (what
    `load_weights` gives): `packed` as `predict` now does, else with its host packing
    (`packed_weights`) skipped, as before: each scanned repeat stacked its copies in the jit."""
    import importlib

    import jax
    import numpy as np

    from nndsl.backend.jax.compile import compile_graph
    from nndsl.frontend import check_source

    os.environ["NNDSL_REPEAT_LOWERING"] = "scan"
    module: Any = importlib.import_module("nndsl.runtime.predict")  # not the function `predict`
    result = check_source(text, "deep.nn")
    assert result.program is not None
    graph = result.program.graphs["Deep"]
    model = compile_graph(graph)
    params, state = jax.device_get(model.init(jax.random.key(0)))
    x = np.ones((BATCH, 32), np.float32)
    given = module.packed_weights(graph, params, state) if packed else (params, state)
    original = module.packed_weights
    if not packed:
        module.packed_weights = lambda graph, params, state: (params, state)
    try:
        t = time.perf_counter()
        module.predict(model, params, state, x, batch=BATCH)
        first = time.perf_counter() - t
    finally:
        module.packed_weights = original
    return {"first_call_s": first, "leaves": len(jax.tree.leaves(given))}


def whole_process(text: str, mode: str, tmp: Path) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (64, 32) if "f32[B, 32]" in text else (64, 16, 16, 3)
    np.savez(
        tmp / "data.npz", x=rng.normal(size=shape).astype("float32"), y=rng.integers(0, 10, 64)
    )
    (tmp / "deep.nn").write_text(text + TRAIN.format())
    env = {**os.environ, "NNDSL_REPEAT_LOWERING": mode, "JAX_PLATFORMS": "cpu"}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nndsl", "deep.nn", "--quiet", "--no-cache", "--out", "run"],
        cwd=tmp,
        env=env,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depths", default="1,8,64,256")
    ap.add_argument("--kinds", default="dense,conv")
    ap.add_argument("--modes", default="scan,unroll")
    ap.add_argument("--only", default="check,compile,process,memory,predict")
    ap.add_argument(
        "--check-kinds",
        default="dense,conv,layer,stmt",
        help="models of the check section: also `layer` (`repeat N Dense(...)`) and `stmt`",
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32, help="batch of the compiled step")
    args = ap.parse_args()
    global BATCH
    BATCH = args.batch
    depths = [int(d) for d in args.depths.split(",")]
    kinds = args.kinds.split(",")
    modes = args.modes.split(",")
    only = set(args.only.split(","))
    out: dict[str, Any] = {"check": {}, "compile": {}, "process": {}, "memory": {}, "predict": {}}

    if "check" in only:
        print("| block | " + " | ".join(f"repeat {d}" for d in [*depths, 10**9]) + " |")
        for kind in args.check_kinds.split(","):
            os.environ["NNDSL_MAX_PARAMS"] = str(10**15)
            row = [time_check(source(kind, d), args.runs) for d in [*depths, 10**9]]
            out["check"][kind] = row
            print(f"| {kind} | " + " | ".join(f"{t * 1e3:.1f} ms" for t in row) + " |", flush=True)
        os.environ.pop("NNDSL_MAX_PARAMS", None)

    if "compile" in only:
        print("\n| block | lowering | repeat | trace | compile | step | temp |")
        for kind in kinds:
            for mode in modes:
                for d in depths:
                    r = compile_and_run(source(kind, d), mode, args.runs)
                    out["compile"][f"{kind}/{mode}/{d}"] = r
                    print(
                        f"| {kind} | {mode} | {d} | {r['trace_s']:.2f} s | {r['compile_s']:.2f} s"
                        f" | {r['step_ms']:.2f} ms | {r['temp_mb']:.1f} MB |",
                        flush=True,
                    )

    if "process" in only:
        print("\n| block | lowering | " + " | ".join(f"repeat {d}" for d in depths) + " |")
        for kind in kinds:
            for mode in [*modes, "auto"]:
                row = []
                for d in depths:
                    with tempfile.TemporaryDirectory() as tmp:
                        row.append(whole_process(source(kind, d), mode, Path(tmp)))
                out["process"][f"{kind}/{mode}"] = row
                print(
                    f"| {kind} | {mode} | " + " | ".join(f"{t:.1f} s" for t in row) + " |",
                    flush=True,
                )

    if "memory" in only:
        print("\n| model | lowering | remat | temp buffers | step |")
        for mode in modes:
            for remat in (False, True):
                text = source("dense", 32, remat, width=512)
                r = compile_and_run(text, mode, 3)
                out["memory"][f"{mode}/{remat}"] = r
                print(
                    f"| dense 512 x 32, batch {BATCH} | {mode} | {remat} | {r['temp_mb']:.1f} MB"
                    f" | {r['step_ms']:.1f} ms |",
                    flush=True,
                )

    if "predict" in only:
        time_predict(source("dense", 1), True)  # warm up: JAX's first jit in the process
        print("\n| block | weights | repeat | compile + first call | weight leaves |")
        for d in depths:
            for packed in (False, True):
                r = time_predict(source("dense", d), packed)
                out["predict"][f"dense/{'packed' if packed else 'per copy'}/{d}"] = r
                weights = "packed on the host (after)" if packed else "per copy (before)"
                print(
                    f"| dense | {weights} | {d} | {r['first_call_s']:.2f} s | {r['leaves']} |",
                    flush=True,
                )

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "compile_depth.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
