"""What streaming costs training (issue 16): steps/s with the inputs streamed from disk
(`stream = true`) against in memory (`stream = false`), side by side in one process.

    .venv/bin/python bench/stream_cost.py              # the table; JSON in bench/results/
    .venv/bin/python bench/stream_cost.py --reps 5 --rows 50000

Two data sets, each trained by an MLP with the digits example's widths (128, 128, dropout):
- digits: `examples/data/digits.npz` (1,797 images of 64 pixels, batch 64) re-saved with
  `np.savez` (the example's is compressed, which cannot stream), the example's model as
  written (`examples/digits_mlp.nn`);
- synthetic: an `.npy` of `--rows` x 784 float32 (50,000 rows: 157 MB, batch 128).

Both are loaded once per mode before timing (the streamed load maps the file; the in-memory one
reads it, which also warms the page cache, so the streamed reads come from memory, as they do
on a machine whose data set fits its page cache). `validation_split = 0` and `test_split = 0`,
so an epoch is training steps only. Each repetition trains both modes in turn, alternating
which goes first, from the same seed; a mode's figure is the steps of an epoch over the median
epoch time of epochs 2 and after (epoch 1 compiles), and the ratio is the median of each
repetition's (its two runs are adjacent, so they share the machine's load, which moves on a
shared machine). The input pipeline alone is also timed: CPU ms a batch over one epoch, no
training. Over several processes each process would read only its share of each batch; here
one process reads every row, the most a process can read. No timing assertions; the figures
belong in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "stream_cost.json"

SYNTHETIC = """
model Mlp() {{
    input x: f32[B, 784]
    h = x |> Dense(128, activation = "relu") |> Dropout(0.2)
    h = h |> Dense(128, activation = "relu") |> Dropout(0.2)
    return h |> Dense(10)
}}
data d = npy(x = "x.npy", y = "y.npy", test_split = 0.0, stream = {stream})
train Mlp on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    epochs = {epochs}
    batch = 128
    seed = 0
    validation_split = 0.0
}}
"""


def _digits(stream: str, epochs: int) -> str:
    """The example as written, with `stream`, `epochs` and no held-out rows."""
    text = (ROOT / "examples" / "digits_mlp.nn").read_text()
    for old, new in (
        ('y = "labels", test_split = 0.2)', f'y = "labels", test_split = 0.0, stream = {stream})'),
        ("epochs = 30", f"epochs = {epochs}"),
        ("validation_split = 0.1", "validation_split = 0.0"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def _config(folder: Path, name: str, text: str) -> Any:
    from nndsl.frontend import check_source

    path = folder / f"{name}.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    if result.has_errors or result.program is None or result.program.train is None:
        raise SystemExit(f"{name}: the benchmark's model does not check")
    return result.program.train


def _steps_s(folder: Path, config: Any, splits: Any, run: str) -> float:
    """Steps an epoch over the median time of epochs 2 and after."""
    from nndsl.runtime import fit
    from nndsl.runtime.data import steps_per_epoch

    result = fit(config, run_dir=folder / run, data=splits)
    shutil.rmtree(folder / run, ignore_errors=True)
    seconds = statistics.median(e.seconds for e in result.history[1:])
    return steps_per_epoch(len(splits.train), config.batch) / seconds


def _pipeline_ms(splits: Any, batch: int) -> float:
    """CPU milliseconds the input pipeline alone spends on a batch (one epoch, no training,
    gathered on this thread)."""
    from nndsl.runtime.data import train_calls

    started = time.process_time()
    calls = sum(k for k, _, _ in train_calls(splits.train, batch, seed=0, epoch=1, prefetch=0))
    return (time.process_time() - started) / calls * 1e3


def _measure(folder: Path, texts: dict[str, str], reps: int) -> dict[str, Any]:
    from nndsl.runtime import load_data
    from nndsl.runtime.streaming import Rows

    configs = {mode: _config(folder, f"{folder.name}-{mode}", t) for mode, t in texts.items()}
    splits = {mode: load_data(config) for mode, config in configs.items()}
    assert isinstance(splits["stream"].train.x, Rows)
    assert not isinstance(splits["memory"].train.x, Rows)
    runs: dict[str, list[float]] = {mode: [] for mode in texts}
    for rep in range(reps):
        order = ["memory", "stream"] if rep % 2 == 0 else ["stream", "memory"]
        for mode in order:
            runs[mode].append(_steps_s(folder, configs[mode], splits[mode], f"run-{mode}"))
            print(f"  {folder.name} {mode} rep {rep + 1}: {runs[mode][-1]:.0f} steps/s")
    memory, stream = (statistics.median(runs[m]) for m in ("memory", "stream"))
    batch = configs["memory"].batch
    return {
        "rows": len(splits["memory"].train),
        "pipeline_cpu_ms_a_batch": {m: _pipeline_ms(splits[m], batch) for m in texts},
        "runs": runs,
        "memory_steps_s": memory,
        "stream_steps_s": stream,
        # each repetition's two runs are adjacent: their ratio shares the machine's load
        "stream_over_memory": statistics.median(
            s / m for s, m in zip(runs["stream"], runs["memory"], strict=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each mode")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the synthetic .npy")
    parser.add_argument("--epochs", type=int, default=4, help="epochs a run (the first compiles)")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import numpy as np

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {jax.devices()[0].platform}",
        "load_average_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        digits = Path(tmp) / "digits"
        (digits / "data").mkdir(parents=True)
        with np.load(ROOT / "examples" / "data" / "digits.npz") as found:  # compressed
            np.savez(digits / "data" / "digits.npz", **dict(found))  # rows readable in place
        epochs = 4 * args.epochs  # 21 steps an epoch: more epochs to time
        texts = {m: _digits(s, epochs) for m, s in (("memory", "false"), ("stream", "true"))}
        results["digits"] = _measure(digits, texts, args.reps)

        synthetic = Path(tmp) / "synthetic"
        synthetic.mkdir()
        rng = np.random.default_rng(0)
        np.save(synthetic / "x.npy", rng.normal(size=(args.rows, 784)).astype(np.float32))
        np.save(synthetic / "y.npy", rng.integers(0, 10, args.rows))
        texts = {
            m: SYNTHETIC.format(stream=s, epochs=args.epochs)
            for m, s in (("memory", "false"), ("stream", "true"))
        }
        results["synthetic"] = _measure(synthetic, texts, args.reps)
    results["load_average_after"] = os.getloadavg()[0]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(
        f"\n{results['machine']}; load average {results['load_average_before']:.1f} before, "
        f"{results['load_average_after']:.1f} after"
    )
    print(
        "| data | rows trained | in memory, steps/s | streamed, steps/s | streamed / in memory "
        "| pipeline CPU ms a batch, in memory / streamed |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("digits", "synthetic"):
        r = results[name]
        ms = r["pipeline_cpu_ms_a_batch"]
        print(
            f"| {name} | {r['rows']:,} | {r['memory_steps_s']:.0f} | {r['stream_steps_s']:.0f} "
            f"| {r['stream_over_memory']:.2f} | {ms['memory']:.2f} / {ms['stream']:.2f} |"
        )


if __name__ == "__main__":
    main()
