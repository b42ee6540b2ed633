"""Scale (issue 16): the streaming input pipeline, memory of streamed data, and data-parallel
steps/s on simulated CPU devices.

    .venv/bin/python bench/scale.py           # the table; JSON in bench/results/scale.json
    .venv/bin/python bench/scale.py --quick   # fewer images and steps, noisier
    .venv/bin/python bench/scale.py --only csv  # one part (here the CSV reader, ~30 s)

Four parts, each in fresh processes:
- pipeline: a synthetic image folder (PNG, 128 x 128 RGB, resized to 64 x 64) read with
  `stream = true`: images/s the pipeline produces alone (decode + resize in worker threads,
  batches gathered on the prefetch thread), against images/s the train step of a small CNN
  with augmentation (RandomFlip, RandomRotation) consumes from memory, and end to end
  (training while streaming). Epoch 2 of each run, after compilation.
- memory: peak RSS of `nnrun` training one epoch on a 1 GiB `.npy` (a sparse file, every row
  read) with `stream = true` and with `stream = false`, measured on a forked grandchild
  (`ru_maxrss` of a child that `execve`d from a fresh launcher).
- scaling: steps/s of the MLP (784-512-512-10, batch 128) and of the Transformer classifier
  (`std.transformer`, 64 tokens, batch 64) with `distribute { devices = "all" }` on 1, 2 and 4
  devices from `XLA_FLAGS=--xla_force_host_platform_device_count=N`. Simulated devices share the
  machine's cores: this shows the shape of the scaling and that the sharded step runs, not
  speed-ups (on 2 cores, 4 devices cannot be faster than 1).
- csv: a generated CSV (200,000 rows x 32 number columns and a label; 50,000 with --quick)
  read by the in-memory reader, and by the load pass of `stream = true` (every row checked,
  byte offsets kept), plain and as two column groups of 16: rows/s and MB/s of each; then the
  streamed source's batches (256 shuffled rows, as training reads them): read + parse rows/s.

No timing assertions; figures belong in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"

CNN = """
model Net() {{
    input image: f32[B, 64, 64, 3]
    return image |> Rescaling(1 / 255) |> RandomFlip("horizontal") |> RandomRotation(0.1)
        |> Conv2D(16, 3, activation = "relu") |> MaxPool2D(2)
        |> Conv2D(32, 3, activation = "relu") |> GlobalAveragePooling2D() |> Dense(4)
}}
data pics = image_folder("pics", image_size = [64, 64], test_split = 0.0, stream = {stream})
train Net on pics {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    epochs = 2
    batch = 32
    validation_split = 0.0
}}
"""

WIDE = """
model Wide() {{
    input x: f32[B, 4096]
    return x |> Dense(1)
}}
data d = npy(x = "x.npy", y = "y.npy", test_split = 0.0, stream = {stream})
train Wide on d {{
    loss = mse
    optimizer = sgd(learning_rate = 0.001)
    epochs = 1
    batch = 1024
    validation_split = 0.0
}}
"""

MLP = """
model Mlp() {{
    input x: f32[B, 784]
    return x |> Dense(512, activation = "relu") |> Dense(512, activation = "relu") |> Dense(10)
}}
data d = npz("data.npz", test_split = 0.0)
train Mlp on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    epochs = 2
    batch = 128
    validation_split = 0.0
    {distribute}
}}
"""

TRANSFORMER = """
import std.transformer
data d = npz("data.npz", test_split = 0.0)
train TransformerClassifier(vocab = 1000, maxlen = 64, dim = 32, ff_dim = 64) on d {{
    loss = cross_entropy
    optimizer = adam(learning_rate = 1e-3)
    epochs = 2
    batch = 64
    validation_split = 0.0
    {distribute}
}}
"""

LAUNCH = """
import json, os, sys
report, args = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "nndsl", *args])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    json.dump({"rss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _env(devices: int = 1) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _worker(kind: str, folder: Path, devices: int = 1) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(folder)],
        env=_env(devices),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0][:300]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- workers (one measurement each, JSON on the last line) --------------------------------------
def _config(folder: Path, text: str) -> Any:
    from nndsl.frontend import check_source

    path = folder / "model.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    errors = [d.message for d in result.diagnostics if d.severity.name == "ERROR"]
    if errors or result.program is None or result.program.train is None:
        raise SystemExit(f"the benchmark's model does not check: {errors}")
    return result.program.train


def _pipeline(folder: Path) -> dict[str, Any]:
    from nndsl.runtime import fit, load_data
    from nndsl.runtime.data import train_calls
    from nndsl.runtime.streaming import DECODE_WORKERS

    streamed_config = _config(folder, CNN.format(stream="true"))
    splits = load_data(streamed_config)
    n = len(splits.train)
    started = time.perf_counter()
    for _ in train_calls(splits.train, 32, seed=0, epoch=1):
        pass
    produced = n / (time.perf_counter() - started)
    started = time.perf_counter()
    memory_config = _config(folder, CNN.format(stream="false"))
    memory = load_data(memory_config)
    load_s = time.perf_counter() - started
    consumed = n / fit(memory_config, run_dir=folder / "m", data=memory).history[-1].seconds
    end_to_end = n / fit(streamed_config, run_dir=folder / "s").history[-1].seconds
    return {
        "images": n,
        "decode_workers": DECODE_WORKERS,
        "pipeline_images_s": produced,
        "step_images_s": consumed,
        "streamed_training_images_s": end_to_end,
        "in_memory_decode_all_s": load_s,
    }


def _scaling(folder: Path, model: str) -> dict[str, Any]:
    import jax

    from nndsl.runtime import fit

    devices = jax.device_count()
    section = 'distribute {\n        devices = "all"\n    }'
    text = (MLP if model == "mlp" else TRANSFORMER).format(distribute=section)
    result = fit(_config(folder, text), run_dir=folder / f"run-{model}-{devices}")
    seconds = result.history[-1].seconds
    batch = 128 if model == "mlp" else 64
    steps = 4096 // batch
    return {
        "devices": devices,
        "steps_s": steps / seconds,
        "loss": result.history[-1].train["loss"],
    }


def _csv(folder: Path) -> dict[str, Any]:
    import numpy as np

    from nndsl.backend.jax.impls.data import csv_file
    from nndsl.ops.spec import Keyed
    from nndsl.runtime.streaming import open_csv_source

    path = folder / "table.csv"
    rows = sum(1 for _ in path.open("rb")) - 1
    mb = path.stat().st_size / 1e6
    attrs: dict[str, Any] = {
        "path": path.name,
        "label": "label",
        "header": True,
        "columns": None,
        "delimiter": ",",
        "sample_weight": None,
        "x": None,
        "y": None,
    }
    halves = Keyed(
        (("a", tuple(f"c{i}" for i in range(16))), ("b", tuple(f"c{i}" for i in range(16, 32))))
    )
    out: dict[str, Any] = {"rows": rows, "columns": 32, "file_mb": mb}
    for name, read, given in [
        ("in_memory", csv_file, attrs),
        ("stream_pass", open_csv_source, attrs),
        ("stream_pass_groups", open_csv_source, {**attrs, "x": halves}),
    ]:
        started = time.perf_counter()
        read(given, folder)
        seconds = time.perf_counter() - started
        out[name] = {"s": seconds, "rows_s": rows / seconds, "mb_s": mb / seconds}
    streamed = open_csv_source(attrs, folder)["x"]
    order = np.random.default_rng(0).permutation(rows)
    batches = [order[i : i + 256] for i in range(0, min(rows, 256 * 200), 256)]
    started = time.perf_counter()
    for index in batches:
        streamed[index]
    seconds = time.perf_counter() - started
    read_rows = sum(len(b) for b in batches)
    out["stream_batches"] = {
        "batch": 256,
        "batches": len(batches),
        "rows_s": read_rows / seconds,
        "ms_per_batch": 1000 * seconds / len(batches),
    }
    return out


def _csv_data(folder: Path, rows: int) -> None:
    """`rows` rows of 32 numbers (6 significant digits) and a label 0-9: a block of 10,000
    distinct rows repeated (parse cost is per cell, not per distinct value)."""
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    block = np.column_stack([rng.normal(size=(10_000, 32)), rng.integers(0, 10, 10_000)])
    text = io.StringIO()
    np.savetxt(text, block, fmt=["%.6g"] * 32 + ["%d"], delimiter=",")
    header = ",".join([*(f"c{i}" for i in range(32)), "label"]) + "\n"
    lines = text.getvalue().splitlines(keepends=True)
    with (folder / "table.csv").open("w") as f:
        f.write(header)
        for start in range(0, rows, len(lines)):
            f.writelines(lines[: rows - start])


def _run_worker(kind: str, folder: Path) -> None:
    if kind == "pipeline":
        out = _pipeline(folder)
    elif kind == "csv":
        out = _csv(folder)
    else:
        out = _scaling(folder, kind)
    print(json.dumps(out))


# -- setup -----------------------------------------------------------------------------------
def _image_folder(folder: Path, per_class: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(4):
        sub = folder / "pics" / f"class{c}"
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(sub / f"{i}.png", compress_level=1)


def _scaling_data(folder: Path, model: str) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.normal(size=(4096, 784)).astype(np.float32)
        y = rng.integers(0, 10, 4096)
    else:
        x = rng.integers(0, 1000, (4096, 64)).astype(np.int32)
        y = rng.integers(0, 2, 4096)
    np.savez(folder / "data.npz", x=x, y=y)


def _memory(folder: Path) -> dict[str, Any]:
    import numpy as np

    rows = 65536  # x 4096 float32 = 1 GiB
    x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (rows, 4096))
    x[::4096] = 1.0
    x.flush()
    del x
    np.save(folder / "y.npy", np.zeros((rows, 1), np.float32))
    out: dict[str, Any] = {"file_mb": (folder / "x.npy").stat().st_size / 2**20}
    for stream in ("true", "false"):
        (folder / "wide.nn").write_text(WIDE.format(stream=stream))
        report = folder / "usage.json"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCH, str(report), "wide.nn", "--quiet", "--out", "run"],
            cwd=folder,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            out[f"stream_{stream}"] = {"error": proc.stderr.strip()[-300:]}
            continue
        usage = json.loads(report.read_text())
        out[f"stream_{stream}"] = {
            "peak_rss_mb": usage["rss_kb"] / 1024,
            "cpu_s": usage["cpu"],
            "wall_s": time.perf_counter() - started,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images")
    parser.add_argument(
        "--only", choices=["pipeline", "memory", "scaling", "csv"], help="run one part"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _run_worker(args.worker[0], Path(args.worker[1]))
        return
    from rich.console import Console

    console = Console()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average": os.getloadavg()[0],
    }
    parts = [args.only] if args.only else ["pipeline", "memory", "scaling", "csv"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "pipeline" in parts:
            console.print("pipeline: writing the image folder, then measuring ...")
            _image_folder(folder, 64 if args.quick else 256)
            results["pipeline"] = _worker("pipeline", folder)
        if "memory" in parts:
            console.print("memory: 1 GiB .npy, streamed and in memory ...")
            results["memory"] = _memory(folder)
        for model in ("mlp", "transformer") if "scaling" in parts else ():
            results.setdefault("scaling", {})
            _scaling_data(folder, model)
            for devices in (1, 2, 4):
                console.print(f"scaling: {model} on {devices} simulated device(s) ...")
                got = _worker(model, folder, devices)
                results["scaling"][f"{model}/{devices}"] = got
                if "error" in got:
                    console.print(f"  skipped: {got['error']}")
        if "csv" in parts:
            console.print("csv: the in-memory reader, the streamed load pass and batches ...")
            _csv_data(folder, 50_000 if args.quick else 200_000)
            results["csv"] = _worker("csv", folder)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    _tables(console, results)
    console.print(f"JSON: {RESULTS.relative_to(ROOT)}")


def _tables(console: Any, results: dict[str, Any]) -> None:
    from rich.table import Table

    if "pipeline" in results:
        _pipeline_table(console, results["pipeline"])
    if "memory" in results:
        _memory_table(console, results["memory"])
    if "scaling" in results:
        _scaling_table(console, results["scaling"])
    c = results.get("csv")
    if c is None:
        return
    if "error" in c:
        console.print(f"csv: failed: {c['error']}")
        return
    title = f"CSV reading ({c['rows']:,} rows x {c['columns']} columns, {c['file_mb']:.0f} MB)"
    table = Table(title=title)
    for col in ("what", "seconds", "rows/s", "MB/s"):
        table.add_column(col, justify="left" if col == "what" else "right")
    for key, what in [
        ("in_memory", "in-memory reader (stream = false)"),
        ("stream_pass", "stream = true: load pass"),
        ("stream_pass_groups", "stream = true: load pass, two column groups"),
    ]:
        r = c[key]
        table.add_row(what, f"{r['s']:.1f}", f"{r['rows_s']:,.0f}", f"{r['mb_s']:.1f}")
    b = c["stream_batches"]
    table.add_row(
        f"stream = true: {b['batches']} shuffled batches of {b['batch']} (read + parse)",
        f"{b['ms_per_batch']:.1f} ms/batch",
        f"{b['rows_s']:,.0f}",
        "",
    )
    console.print(table)


def _pipeline_table(console: Any, p: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Image-folder pipeline (stream = true, 64 x 64 x 3, batch 32)")
    table.add_column("what")
    table.add_column("images/s", justify="right")
    if "error" in p:
        table.add_row("failed", p["error"])
    else:
        table.add_row(
            f"pipeline alone ({p['decode_workers']} decode threads)",
            f"{p['pipeline_images_s']:.0f}",
        )
        table.add_row("train step consumes (data in memory)", f"{p['step_images_s']:.0f}")
        table.add_row("training while streaming", f"{p['streamed_training_images_s']:.0f}")
    console.print(table)


def _memory_table(console: Any, m: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Peak RSS, one epoch over a {m['file_mb']:.0f} MB .npy")
    for col in ("stream", "peak RSS MB", "CPU s", "wall s"):
        table.add_column(col, justify="right" if col != "stream" else "left")
    for stream in ("true", "false"):
        r = m[f"stream_{stream}"]
        if "error" in r:
            table.add_row(stream, "failed", r["error"][:60], "")
        else:
            table.add_row(
                stream, f"{r['peak_rss_mb']:.0f}", f"{r['cpu_s']:.1f}", f"{r['wall_s']:.1f}"
            )
    console.print(table)


def _scaling_table(console: Any, scaling: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Data parallel on simulated CPU devices (steps/s, epoch 2)")
    table.add_column("model")
    for devices in (1, 2, 4):
        table.add_column(f"{devices} device{'s' if devices > 1 else ''}", justify="right")
    for model in ("mlp", "transformer"):
        cells = []
        for devices in (1, 2, 4):
            r = scaling[f"{model}/{devices}"]
            cells.append("skipped" if "error" in r else f"{r['steps_s']:.1f}")
        table.add_row(model, *cells)
    console.print(table)


if __name__ == "__main__":
    main()
