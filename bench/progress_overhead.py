"""What the progress bar costs training: steps/s with no events, with the plain per-epoch
lines (`--quiet` or a pipe), and with the live bar redrawn on a terminal.

    .venv/bin/python bench/progress_overhead.py            # the table
    .venv/bin/python bench/progress_overhead.py --epochs 4 --repeats 3

Workload: the dispatch-bound model 64-128-10 (Adam, batch 32, one step per call), where the
host's share of a step is largest, so a slow view would show most. steps/s is over epochs 2..N
(epoch 1 holds the compilation); the three variants alternate, best of `--repeats`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE = """
model Small() {
    input x: f32[B, 64]
    return x |> Dense(128, activation = "relu") |> Dense(10)
}
data d = npz("data.npz", test_split = 0)
train Small on d {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 1e-3)
    epochs = EPOCHS
    batch = 32
    validation_split = 0
    metrics = [accuracy]
}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=500, help="steps per epoch")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from rich.console import Console

    from nndsl.frontend import check_source
    from nndsl.runtime import EpochEnd, fit
    from nndsl.terminal.progress import REFRESH_PER_SECOND, ProgressView

    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as null:
        rng = np.random.default_rng(0)
        n = args.steps * 32
        np.savez(
            Path(tmp) / "data.npz",
            x=rng.normal(size=(n, 64)).astype(np.float32),
            y=rng.integers(0, 10, n).astype(np.int32),
        )
        path = Path(tmp) / "small.nn"
        text = SOURCE.replace("EPOCHS", str(args.epochs))
        path.write_text(text)
        checked = check_source(text, str(path))
        assert checked.program is not None and checked.program.train is not None
        config = checked.program.train

        def run(variant: str) -> float:
            epochs: list[EpochEnd] = []
            view = None
            if variant != "none":
                console = Console(file=null, force_terminal=variant == "bar", width=120)
                view = ProgressView(console, quiet=False)

            def on_event(e: object) -> None:
                if isinstance(e, EpochEnd):
                    epochs.append(e)
                if view is not None:
                    view(e)

            fit(config, on_event=on_event, run_dir=Path(tmp) / "run")
            later = epochs[1:]
            return args.steps * len(later) / sum(e.seconds for e in later)

        best: dict[str, float] = {}
        for _ in range(args.repeats):
            for variant in ("none", "lines", "bar"):
                t = run(variant)
                best[variant] = max(best.get(variant, 0.0), t)
                time.sleep(0.5)
    print(f"bar redraws {REFRESH_PER_SECOND}/s; {args.steps} steps/epoch, best of {args.repeats}")
    print(f"{'variant':<8} {'steps/s':>9} {'vs none':>8}")
    for variant, rate in best.items():
        print(f"{variant:<8} {rate:>9.0f} {rate / best['none'] - 1:>+8.1%}")


if __name__ == "__main__":
    main()
