"""One device against all of them (issue 16): ResNet-50 at 224 x 224 trained from a synthetic
image folder, on one device and with `distribute { devices = "all" }`, at the same batch per
device (weak scaling), with the data in memory (what the step consumes) and streamed (decoded
on the fly: whether the pipeline keeps the devices fed), plus the pipeline alone.

    .venv/bin/python bench/scale_devices.py              # the GPU machine: every visible GPU
    .venv/bin/python bench/scale_devices.py --smoke      # CPU check of the script: ResNet18,
                                                         # 32 x 32, 2 simulated devices

Each figure comes from a fresh process: images/s of the last of `--epochs` epochs (the first
compiles). Efficiency is images/s on N devices over N times images/s on one. No timing
assertions; figures belong in bench/README.md with the device they came from.
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
RESULTS = ROOT / "bench" / "results" / "scale_devices.json"

SOURCE = """
import std.resnet
data pics = image_folder("pics", image_size = [{size}, {size}], test_split = 0.0, stream = {stream})
train {model}(classes = 10, size = {size}) on pics {{
    loss = cross_entropy
    optimizer = sgd(learning_rate = 0.05, momentum = 0.9)
    epochs = {epochs}
    batch = {batch}
    precision = "{precision}"
    validation_split = 0.0
    {distribute}
}}
"""


def _image_folder(folder: Path, images: int, side: int) -> None:
    """JPEGs of smooth random colour fields (decode cost like photos', unlike noise PNGs)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        sub = folder / "pics" / f"class{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((side, side), Image.BILINEAR).save(
            sub / f"{i:05d}.jpg", quality=90
        )


def _worker(args: argparse.Namespace, kind: str, devices: str, folder: Path) -> dict[str, Any]:
    """One measurement in a fresh process (`kind`: memory, stream or pipeline)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    if args.smoke:
        env["JAX_PLATFORMS"] = "cpu"
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    command = [sys.executable, __file__, *sys.argv[1:], "--worker", kind, devices]
    command += ["--folder", str(folder)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0][:300]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _measure(args: argparse.Namespace, kind: str, devices: str) -> dict[str, Any]:
    import jax

    from nndsl.frontend import check_source
    from nndsl.runtime import fit, load_data
    from nndsl.runtime.data import train_calls

    n = 1 if devices == "one" else jax.device_count()
    distribute = 'distribute {\n        devices = "all"\n    }' if devices == "all" else ""
    text = SOURCE.format(
        size=args.size,
        stream="false" if kind == "memory" else "true",
        model=args.model,
        epochs=args.epochs,
        batch=args.per_device_batch * n,
        precision=args.precision,
        distribute=distribute,
    )
    path = Path(args.folder) / f"{kind}-{devices}.nn"
    path.write_text(text)
    checked = check_source(text, str(path))
    if checked.program is None or checked.program.train is None or checked.has_errors:
        raise SystemExit(f"does not check: {[d.message for d in checked.diagnostics]}")
    config = checked.program.train
    started = time.perf_counter()
    splits = load_data(config)
    loaded_s = time.perf_counter() - started
    images = len(splits.train)
    out: dict[str, Any] = {"devices": n, "device": str(jax.devices()[0].device_kind)}
    if kind == "pipeline":  # read, decode and resize one epoch, nothing else
        started = time.perf_counter()
        for _ in train_calls(splits.train, config.batch, seed=0, epoch=1):
            pass
        return {**out, "images_s": images / (time.perf_counter() - started)}
    result = fit(config, run_dir=path.with_suffix(""), data=splits)
    seconds = result.history[-1].seconds
    return {
        **out,
        "images_s": images / seconds,
        "load_s": loaded_s,
        "loss": result.history[-1].train["loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick CPU check of the script")
    parser.add_argument("--model", default=None, help="a std.resnet model (default ResNet50)")
    parser.add_argument("--size", type=int, default=None, help="image side (default 224)")
    parser.add_argument("--images", type=int, default=None, help="images (default 2560)")
    parser.add_argument("--per-device-batch", type=int, default=None, help="default 64")
    parser.add_argument("--epochs", type=int, default=3, help="the last one is timed")
    parser.add_argument("--precision", default="float32", help="float32 or bfloat16")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    small = args.smoke
    args.model = args.model or ("ResNet18" if small else "ResNet50")
    args.size = args.size or (32 if small else 224)
    args.images = args.images or (64 if small else 2560)
    args.per_device_batch = args.per_device_batch or (4 if small else 64)
    if small:
        args.epochs = min(args.epochs, 2)
    if args.worker:
        print(json.dumps(_measure(args, *args.worker)))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "settings": {k: v for k, v in vars(args).items() if k not in ("worker", "folder")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        console.print(f"writing {args.images} JPEGs ...")
        _image_folder(Path(tmp), args.images, args.size + args.size // 7)
        for kind in ("pipeline", "memory", "stream"):
            for devices in ("one", "all"):
                if kind == "pipeline" and devices == "all":
                    continue
                console.print(f"{kind}, {devices} device(s) ...")
                results[f"{kind}/{devices}"] = _worker(args, kind, devices, Path(tmp))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    one, every = results["memory/one"], results["memory/all"]
    n = every.get("devices", 1)
    table = Table(
        title=f"{args.model} {args.size} x {args.size}, batch {args.per_device_batch} per device, "
        f"{args.precision} ({one.get('device', '?')})"
    )
    for col in ("data", "1 device, images/s", f"{n} devices, images/s", "efficiency"):
        table.add_column(col, justify="left" if col == "data" else "right")
    for kind, label in (("memory", "in memory"), ("stream", "streamed (decoded on the fly)")):
        a, b = results[f"{kind}/one"], results[f"{kind}/all"]
        if "error" in a or "error" in b:
            table.add_row(label, a.get("error", "")[:40], b.get("error", "")[:40], "")
            continue
        ratio = b["images_s"] / (n * a["images_s"])
        table.add_row(label, f"{a['images_s']:.0f}", f"{b['images_s']:.0f}", f"{ratio:.0%}")
    pipeline = results["pipeline/one"]
    table.add_row("pipeline alone", f"{pipeline.get('images_s', 0):.0f}", "", "")
    console.print(table)
    console.print(f"JSON: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
