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

    .venv/bin/python bench/train_speed.py --e2e --rounds 3   # whole processes; --only mlp,cnn

`--e2e`: the whole process `nnrun FILE` (a `.nn` file with its `npy` data and train section)
against a Keras 3 script (`fit`) and a hand-written JAX + optax script, the same training: the
same `.npy` files (written once to a temp dir), epochs, batch, Adam(1e-3), cross-entropy from
logits, shuffling, accuracy, weights saved at the end. Wall time and peak RSS of each process
(`os.wait4` of a child forked from a small launcher), with no compilation cache ("cold"), an
empty persistent cache ("fill") and the same cache again ("warm"); rounds interleave the three
frameworks; medians, ratios, and each run's final epoch loss and accuracy.
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


def _keras_model(keras: Any, model: str) -> Any:
    """The Keras 3 counterpart of each benchmarked model, built the same way by both the
    step-timing and the end-to-end runs."""
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
    else:
        hidden = [512, 512] if model == "mlp" else [128]
        stack = [layers.Dense(h, activation="relu") for h in hidden] + [layers.Dense(10)]
    return keras.Sequential([keras.Input(SHAPES[model]), *stack])


def keras_run(model: str, steps: int, per_call: int, epoch: bool) -> dict[str, float]:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    net = _keras_model(keras, model)
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


# -- end to end (--e2e): whole processes, `nnrun FILE` against a Keras and a JAX script --------
# Each workload: (examples, epochs). The data is learnable, so the three trainings' final loss
# and accuracy can be compared: the MLPs' labels come from a random linear teacher; the CNN's
# images are a class template plus noise (a linear teacher on pixel noise is barely learnt by
# a CNN in a few epochs).
E2E = {"mlp": (8192, 3), "cnn": (1024, 2), "small": (8192, 3)}
E2E_FRAMEWORKS = ("nndsl", "keras", "jax")
E2E_PHASES = ("cold", "fill", "warm")

# Wall time and peak RSS of one whole process. The launcher forks and the child execs the
# command, so `wait4`'s `ru_maxrss` is the command's own peak: Linux folds the pre-exec address
# space's high-water mark into `ru_maxrss` at `execve`, and a child forked from this small
# launcher starts from a few MB (see tests/hardening/test_pathological.py). The clock runs in
# the launcher, around fork ... wait4, so the launcher's own start-up is not counted.
LAUNCH = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as f:
    json.dump({"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
               "cpu_s": usage.ru_utime + usage.ru_stime}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def e2e_source(model: str) -> str:
    kind, body = MODELS[model]
    _, epochs = E2E[model]
    return f"""model Bench() {{
    input x: {kind}
    return {body}
}}
data d = npy(x = "x_{model}.npy", y = "y_{model}.npy", test_split = 0)
train Bench on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    metrics = [accuracy]
    epochs = {epochs}
    batch = {BATCH}
    validation_split = 0
    shuffle = true
    seed = 0
}}
"""


def e2e_data(model: str, folder: Path) -> None:
    """`x_<model>.npy`, `y_<model>.npy` and `<model>.nn` in `folder`, written once per run."""
    import numpy as np

    n, _ = E2E[model]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *SHAPES[model])).astype(np.float32)
    if model == "cnn":
        y = rng.integers(0, 10, n).astype(np.int32)
        x += 0.5 * rng.normal(size=(10, *SHAPES[model])).astype(np.float32)[y]
    else:
        teacher = rng.normal(size=(x[0].size, 10)).astype(np.float32)
        y = (x.reshape(n, -1) @ teacher).argmax(axis=1).astype(np.int32)
    np.save(folder / f"x_{model}.npy", x)
    np.save(folder / f"y_{model}.npy", y)
    (folder / f"{model}.nn").write_text(e2e_source(model))


def e2e_keras(model: str, folder: Path, out: Path) -> None:
    """What a user writes in Keras 3: load, build, `fit`, save the weights."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    import numpy as np

    x = np.load(folder / f"x_{model}.npy")
    y = np.load(folder / f"y_{model}.npy")
    keras.utils.set_random_seed(0)
    net = _keras_model(keras, model)
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    _, epochs = E2E[model]
    hist = net.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    net.save_weights(out / "model.weights.h5")
    final = {"loss": hist.history["loss"][-1], "accuracy": hist.history["accuracy"][-1]}
    (out / "final.json").write_text(json.dumps(final))


def e2e_jax(model: str, folder: Path, out: Path) -> None:
    """What a user writes in JAX + optax: load, init, a jitted step, an epoch loop with NumPy
    shuffling and batching, per-epoch mean loss and accuracy, save the weights."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    x = np.load(folder / f"x_{model}.npy")
    y = np.load(folder / f"y_{model}.npy")

    def glorot(key: Any, shape: tuple[int, ...], fan_in: int, fan_out: int) -> Any:
        lim = (6 / (fan_in + fan_out)) ** 0.5
        return jax.random.uniform(key, shape, minval=-lim, maxval=lim)

    keys = list(jax.random.split(jax.random.key(0), 4))
    params: list[dict[str, Any]]
    if model == "cnn":
        params = [
            {"w": glorot(keys[0], (3, 3, 1, 32), 9, 9 * 32), "b": jnp.zeros(32)},
            {"w": glorot(keys[1], (3, 3, 32, 64), 9 * 32, 9 * 64), "b": jnp.zeros(64)},
            {"w": glorot(keys[2], (1600, 128), 1600, 128), "b": jnp.zeros(128)},
            {"w": glorot(keys[3], (128, 10), 128, 10), "b": jnp.zeros(10)},
        ]

        def forward(p: Any, h: Any) -> Any:
            for layer in p[:2]:
                h = jax.lax.conv_general_dilated(
                    h, layer["w"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                h = jax.nn.relu(h + layer["b"])
                h = jax.lax.reduce_window(
                    h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
                )
            h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p[2]["w"] + p[2]["b"])
            return h @ p[3]["w"] + p[3]["b"]
    else:
        sizes = [784, 512, 512, 10] if model == "mlp" else [64, 128, 10]
        params = [
            {"w": glorot(k, (i, o), i, o), "b": jnp.zeros(o)}
            for k, i, o in zip(keys, sizes, sizes[1:], strict=False)
        ]

        def forward(p: Any, h: Any) -> Any:
            for layer in p[:-1]:
                h = jax.nn.relu(h @ layer["w"] + layer["b"])
            return h @ p[-1]["w"] + p[-1]["b"]

    tx = optax.adam(1e-3)

    @jax.jit
    def step(p: Any, o: Any, xb: Any, yb: Any) -> Any:
        def loss(p: Any) -> Any:
            logits = forward(p, xb)
            value = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
            return value, (logits.argmax(-1) == yb).mean()

        (value, acc), g = jax.value_and_grad(loss, has_aux=True)(p)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, value, acc

    opt = tx.init(params)
    rng = np.random.default_rng(0)
    _, epochs = E2E[model]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        sums = []
        for i in range(0, len(x), BATCH):  # the last batch may be short, as in the others
            idx = order[i : i + BATCH]
            params, opt, value, acc = step(params, opt, x[idx], y[idx])
            sums.append((value, acc, len(idx)))
        n = sum(k for _, _, k in sums)
        final = {
            "loss": sum(float(v) * k for v, _, k in sums) / n,
            "accuracy": sum(float(a) * k for _, a, k in sums) / n,
        }
    out.mkdir(parents=True, exist_ok=True)
    flat = {f"{i}/{k}": np.asarray(v) for i, layer in enumerate(params) for k, v in layer.items()}
    np.savez(out / "weights.npz", **flat)
    (out / "final.json").write_text(json.dumps(final))


def e2e_command(fw: str, model: str, folder: Path, out: Path, cache: Path | None) -> list[str]:
    if fw == "nndsl":
        cmd = [sys.executable, "-m", "nndsl", str(folder / f"{model}.nn"), "--quiet"]
        cmd += ["--out", str(out)]
        return cmd + (["--cache-dir", str(cache)] if cache else ["--no-cache"])
    return [sys.executable, __file__, "--e2e-worker", fw, model, str(folder), str(out)]


def e2e_final(fw: str, out: Path) -> dict[str, float]:
    if fw == "nndsl":
        last = json.loads((out / "history.json").read_text())["epochs"][-1]["train"]
        return {"loss": float(last["loss"]), "accuracy": float(last["accuracy"])}
    return dict(json.loads((out / "final.json").read_text()))


def e2e_run(fw: str, model: str, folder: Path, cache: Path | None, tag: str) -> dict[str, Any]:
    """One whole process: wall time, peak RSS, CPU time, and the final epoch's loss/accuracy."""
    out = folder / "runs" / f"{fw}-{model}-{tag}"
    report = folder / "runs" / f"{fw}-{model}-{tag}.usage.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "jax"}
    for key in ("NNDSL_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR"):
        env.pop(key, None)
    if cache is not None and fw != "nndsl":  # the settings `nnrun` gives its cache
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    cmd = [sys.executable, "-c", LAUNCH, str(report), *e2e_command(fw, model, folder, out, cache)]
    proc = subprocess.run(cmd, env=env, cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {fw} {model} failed:\n{proc.stdout}\n{proc.stderr}")
    return {**json.loads(report.read_text()), **e2e_final(fw, out)}


def e2e(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    models = args.only.split(",") if args.only else list(E2E)
    # runs[model][phase][fw] = one dict per round
    runs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        m: {p: {fw: [] for fw in E2E_FRAMEWORKS} for p in E2E_PHASES} for m in models
    }
    with tempfile.TemporaryDirectory(prefix="nndsl-e2e-") as tmp:
        folder = Path(tmp)
        for model in models:
            e2e_data(model, folder)
        for r in range(args.rounds):
            for model in models:
                caches = {fw: folder / "cache" / f"{fw}-{model}-{r}" for fw in E2E_FRAMEWORKS}
                for phase in E2E_PHASES:  # cold: no cache; fill: an empty one; warm: it again
                    for fw in E2E_FRAMEWORKS:
                        cache = None if phase == "cold" else caches[fw]
                        got = e2e_run(fw, model, folder, cache, f"{phase}-{r}")
                        runs[model][phase][fw].append(got)
                        console.print(
                            f"  round {r + 1} {model:5s} {phase:4s} {fw:5s} "
                            f"{got['wall_s']:6.2f} s {got['rss_mb']:6.0f} MB "
                            f"loss {got['loss']:.4f} acc {got['accuracy']:.3f}",
                            style="dim",
                            highlight=False,
                        )
    keys = ("wall_s", "rss_mb", "cpu_s", "loss", "accuracy")
    medians = {
        m: {
            p: {fw: {k: statistics.median(x[k] for x in rs) for k in keys} for fw, rs in ph.items()}
            for p, ph in mp.items()
        }
        for m, mp in runs.items()
    }
    table = Table(
        title=f"whole process, median of {args.rounds} interleaved rounds "
        "(cold: no compilation cache; fill: an empty one; warm: the same again)"
    )
    for col in ("model", "run", "nndsl", "Keras", "JAX+optax", "nndsl/Keras", "nndsl/JAX"):
        table.add_column(col, justify="left" if col in ("model", "run") else "right")
    for model, mp in medians.items():
        for phase, ph in mp.items():
            for key, unit in (("wall_s", "s"), ("rss_mb", "MB")):
                a, k, j = (ph[fw][key] for fw in E2E_FRAMEWORKS)
                fmt = "{:.2f}" if unit == "s" else "{:.0f}"
                table.add_row(
                    model,
                    f"{phase} {unit}",
                    fmt.format(a),
                    fmt.format(k),
                    fmt.format(j),
                    f"{a / k:.2f}",
                    f"{a / j:.2f}",
                )
        for key in ("loss", "accuracy"):  # the same training: compare the warm runs' results
            a, k, j = (mp["warm"][fw][key] for fw in E2E_FRAMEWORKS)
            table.add_row(model, f"final {key[:4]}", f"{a:.4f}", f"{k:.4f}", f"{j:.4f}", "", "")
        table.add_section()
    console.print(table)
    import jax

    results = {
        "mode": "e2e",
        "platform": jax.default_backend(),
        "rounds": args.rounds,
        "workloads": {m: {"examples": E2E[m][0], "epochs": E2E[m][1]} for m in models},
        "load_average": os.getloadavg(),
        "median": medians,
        "runs": runs,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"train_speed-e2e-{results['platform']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODEL"))
    parser.add_argument("--steps", type=int, default=200, help="timed steps (cnn: a quarter)")
    parser.add_argument("--per-call", type=int, default=1)
    parser.add_argument("--epoch", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated rows to run (mlp,cnn,small,small50,...)")
    parser.add_argument("--e2e", action="store_true", help="whole processes (see the docstring)")
    parser.add_argument("--rounds", type=int, default=3, help="--e2e: interleaved rounds")
    parser.add_argument("--e2e-worker", nargs=4, metavar=("FRAMEWORK", "MODEL", "DIR", "OUT"))
    args = parser.parse_args()
    if args.e2e_worker:
        fw, model, folder, out = args.e2e_worker
        (e2e_keras if fw == "keras" else e2e_jax)(model, Path(folder), Path(out))
        return
    if args.e2e:
        e2e(args)
        return
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
