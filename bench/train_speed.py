"""Training speed: nndsl's train step against a hand-written JAX + optax step and Keras 3 `fit`.

    .venv/bin/python bench/train_speed.py            # the table; JSON in bench/results/
    .venv/bin/python bench/train_speed.py --repeats 1 --steps 50   # quicker, noisier

Each figure is the median of `--repeats` fresh processes (`--worker` runs one measurement and
prints JSON). Workloads, all Adam(1e-3), batch 128, synthetic data:
- mlp: 784-512-512-10; cnn: Conv 32 -> pool -> Conv 64 -> pool -> Dense 128 -> 10 on 28x28x1;
  small: 64-128-10 (dispatch-bound), also with 50 steps per call (nndsl `steps_per_execution`,
  a hand-written `lax.scan`, Keras `steps_per_execution`).
- steps/s after the first step; compile = the first step's time (tracing + compilation).
- epoch: one epoch over 60,000 samples end to end (nndsl `fit`, a hand-written loop with NumPy
  batching, Keras `fit`), the MLP, compile included.
- startup: `nnrun` on the MLP for a few steps, first with an empty compilation cache, then again.
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
BATCH = 128

MODELS = {
    "mlp": (
        "f32[B, 784]",
        'x |> Dense(512, activation = "relu") |> Dense(512, activation = "relu") |> Dense(10)',
    ),
    "cnn": (
        "f32[B, 28, 28, 1]",
        'x |> Conv2D(32, 3, activation = "relu") |> MaxPool2D(2) '
        '|> Conv2D(64, 3, activation = "relu") |> MaxPool2D(2) |> Flatten() '
        '|> Dense(128, activation = "relu") |> Dense(10)',
    ),
    "small": ("f32[B, 64]", 'x |> Dense(128, activation = "relu") |> Dense(10)'),
}
SHAPES = {"mlp": (784,), "cnn": (28, 28, 1), "small": (64,)}


def source(model: str, epochs: int = 1, per_call: int = 1) -> str:
    kind, body = MODELS[model]
    return f"""
model Bench() {{
    input x: {kind}
    return {body}
}}
data d = npz("data.npz", test_split = 0)
train Bench on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    epochs = {epochs}
    batch = {BATCH}
    validation_split = 0
    shuffle = true
    steps_per_execution = {per_call}
}}
"""


def data(model: str, n: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(n, *SHAPES[model])).astype(np.float32),
        rng.integers(0, 10, n).astype(np.int32),
    )


# -- workers: one measurement each, in a fresh process ---------------------------------------
def nndsl_run(model: str, steps: int, per_call: int, epoch: bool) -> dict[str, float]:
    import numpy as np

    from nndsl.frontend import check_source
    from nndsl.runtime import StepEnd, fit

    n = 60_000 if epoch else steps * BATCH
    with tempfile.TemporaryDirectory() as tmp:
        x, y = data(model, n)
        np.savez(Path(tmp) / "data.npz", x=x, y=y)
        path = Path(tmp) / "bench.nn"
        text = source(model, per_call=per_call)
        path.write_text(text)
        checked = check_source(text, str(path))
        assert checked.program is not None and checked.program.train is not None
        stamps: list[float] = []

        def on_event(e: object) -> None:
            if isinstance(e, StepEnd):
                stamps.append(time.perf_counter())

        start = time.perf_counter()
        fit(checked.program.train, on_event=None if epoch else on_event, run_dir=Path(tmp))
        total = time.perf_counter() - start
    if epoch:
        return {"epoch_s": total}
    first = per_call  # the first call holds `per_call` steps
    return {
        "steps_per_s": (len(stamps) - first) / (stamps[-1] - stamps[first - 1]),
        "compile_s": stamps[0] - start,
    }


def jax_run(model: str, steps: int, per_call: int, epoch: bool) -> dict[str, float]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    def dense(key: Any, i: int, o: int) -> dict[str, Any]:
        lim = (6 / (i + o)) ** 0.5
        return {"w": jax.random.uniform(key, (i, o), minval=-lim, maxval=lim), "b": jnp.zeros(o)}

    keys = jax.random.split(jax.random.key(0), 4)
    if model == "cnn":

        def conv(key: Any, i: int, o: int) -> dict[str, Any]:
            lim = (6 / (9 * i + 9 * o)) ** 0.5
            w = jax.random.uniform(key, (3, 3, i, o), minval=-lim, maxval=lim)
            return {"w": w, "b": jnp.zeros(o)}

        params = [conv(keys[0], 1, 32), conv(keys[1], 32, 64), dense(keys[2], 1600, 128)]
        params.append(dense(keys[3], 128, 10))

        def forward(p: Any, x: Any) -> Any:
            for layer in p[:2]:
                x = jax.lax.conv_general_dilated(
                    x, layer["w"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                x = jax.nn.relu(x + layer["b"])
                x = jax.lax.reduce_window(
                    x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
                )
            x = x.reshape(x.shape[0], -1)
            x = jax.nn.relu(x @ p[2]["w"] + p[2]["b"])
            return x @ p[3]["w"] + p[3]["b"]
    else:
        sizes = [784, 512, 512, 10] if model == "mlp" else [64, 128, 10]
        params = [dense(k, i, o) for k, i, o in zip(keys, sizes, sizes[1:], strict=False)]

        def forward(p: Any, x: Any) -> Any:
            for layer in p[:-1]:
                x = jax.nn.relu(x @ layer["w"] + layer["b"])
            return x @ p[-1]["w"] + p[-1]["b"]

    tx = optax.adam(1e-3)

    def step(p: Any, o: Any, x: Any, y: Any) -> Any:
        def loss(p: Any) -> Any:
            return optax.softmax_cross_entropy_with_integer_labels(forward(p, x), y).mean()

        value, g = jax.value_and_grad(loss)(p)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, value

    def multi(p: Any, o: Any, xs: Any, ys: Any) -> Any:
        def body(c: Any, b: Any) -> Any:
            p, o, v = step(*c, *b)
            return (p, o), v

        (p, o), v = jax.lax.scan(body, (p, o), (xs, ys))
        return p, o, v

    opt = tx.init(params)
    if epoch:
        x, y = data(model, 60_000)
        start = time.perf_counter()
        fn = jax.jit(step, donate_argnums=(0, 1))
        order = np.random.default_rng(0).permutation(len(x))
        for i in range(0, len(x) - BATCH + 1, BATCH):
            idx = order[i : i + BATCH]
            params, opt, v = fn(params, opt, x[idx], y[idx])
        float(v)
        return {"epoch_s": time.perf_counter() - start}
    x, y = data(model, per_call * BATCH)
    if per_call > 1:
        fn = jax.jit(multi, donate_argnums=(0, 1))
        x = x.reshape(per_call, BATCH, *x.shape[1:])
        y = y.reshape(per_call, BATCH)
    else:
        fn = jax.jit(step, donate_argnums=(0, 1))
    start = time.perf_counter()
    params, opt, v = fn(params, opt, x, y)
    jax.block_until_ready(v)
    compile_s = time.perf_counter() - start
    calls = max(1, steps // per_call)
    start = time.perf_counter()
    for _ in range(calls):
        params, opt, v = fn(params, opt, x, y)
    jax.block_until_ready(v)
    return {"steps_per_s": calls * per_call / (time.perf_counter() - start), "compile_s": compile_s}


def keras_run(model: str, steps: int, per_call: int, epoch: bool) -> dict[str, float]:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    layers = keras.layers
    if model == "cnn":
        stack = [
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ]
    elif model == "mlp":
        stack = [layers.Dense(512, activation="relu"), layers.Dense(512, activation="relu")]
        stack.append(layers.Dense(10))
    else:
        stack = [layers.Dense(128, activation="relu"), layers.Dense(10)]
    net = keras.Sequential([keras.Input(SHAPES[model]), *stack])
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=per_call,
    )
    n = 60_000 if epoch else steps * BATCH
    x, y = data(model, n)
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    net.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[Stamp()], shuffle=True)
    total = time.perf_counter() - start
    if epoch:
        return {"epoch_s": total}
    return {
        "steps_per_s": (len(stamps) - 1) * per_call / (stamps[-1] - stamps[0]),
        "compile_s": stamps[0] - start,
    }


def startup(cache: Path) -> float:
    """Wall time of `nnrun` training the MLP for a few steps, with `cache` as its cache."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        x, y = data("mlp", 4 * BATCH)
        np.savez(Path(tmp) / "data.npz", x=x, y=y)
        (Path(tmp) / "bench.nn").write_text(source("mlp"))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NNDSL_CACHE_DIR": str(cache)}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nndsl", "bench.nn", "--quiet", "--out", "out"],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


RUNNERS = {"nndsl": nndsl_run, "jax": jax_run, "keras": keras_run}


def worker(args: argparse.Namespace) -> None:
    fn = RUNNERS[args.framework]
    print(json.dumps(fn(args.model, args.steps, args.per_call, args.epoch)))


def measure(framework: str, model: str, steps: int, per_call: int, epoch: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", framework, model, "--steps", str(steps)]
    cmd += ["--per-call", str(per_call)] + (["--epoch"] if epoch else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "jax"}
    env.pop("NNDSL_CACHE_DIR", None)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODEL"))
    parser.add_argument("--steps", type=int, default=200, help="timed steps (cnn: a quarter)")
    parser.add_argument("--per-call", type=int, default=1)
    parser.add_argument("--epoch", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated rows to run (mlp,cnn,small,small50,...)")
    args = parser.parse_args()
    if args.worker:
        args.framework, args.model = args.worker
        worker(args)
        return

    import jax

    rows: list[tuple[str, str, int, bool]] = [
        ("mlp", "mlp", 1, False),
        ("cnn", "cnn", 1, False),
        ("small", "small", 1, False),
        ("small50", "small", 50, False),
        ("epoch60k", "mlp", 1, True),
    ]
    only = set(args.only.split(",")) if args.only else None
    results: dict[str, Any] = {"platform": jax.default_backend(), "repeats": args.repeats}
    for name, model, per_call, epoch in rows:
        if only and name not in only:
            continue
        steps = max(per_call * 4, args.steps // (4 if model == "cnn" else 1))
        row: dict[str, Any] = {}
        for fw in RUNNERS:
            runs = [measure(fw, model, steps, per_call, epoch) for _ in range(args.repeats)]
            row[fw] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"  {name:9s} {fw:6s} {row[fw]}", file=sys.stderr, flush=True)
        results[name] = row
    if not only or "startup" in only:
        firsts, seconds = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                firsts.append(startup(Path(cache)))
                seconds.append(startup(Path(cache)))
        results["startup"] = {
            "first_s": statistics.median(firsts),
            "second_s": statistics.median(seconds),
        }
    print(table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"train_speed-{results['platform']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")


def table(results: dict[str, Any]) -> str:
    lines = [
        f"platform {results['platform']}, median of {results['repeats']} fresh processes",
        f"{'':22s} {'nndsl':>10s} {'JAX+optax':>10s} {'Keras':>10s} "
        f"{'nndsl/JAX':>10s} {'nndsl/Keras':>11s}",
    ]
    for name, row in results.items():
        if not isinstance(row, dict) or "nndsl" not in row:
            continue
        for key, unit in (("steps_per_s", "steps/s"), ("compile_s", "compile s"), ("epoch_s", "s")):
            if key not in row["nndsl"]:
                continue
            a, b, c = (row[fw][key] for fw in ("nndsl", "jax", "keras"))
            lines.append(
                f"{name + ' ' + unit:22s} {a:10.2f} {b:10.2f} {c:10.2f} {a / b:10.2f} {a / c:11.2f}"
            )
    if "startup" in results:
        s = results["startup"]
        lines.append(
            f"nnrun start-up: {s['first_s']:.2f} s with an empty cache, "
            f"{s['second_s']:.2f} s with the cache"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
