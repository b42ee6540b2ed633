"""Before/after: the speed benchmarks for two revisions, interleaved in one run, as ratios.

    python bench/compare_revisions.py BEFORE [AFTER] [--rounds 3] [--only check,lsp,train]

BEFORE and AFTER are git revisions (AFTER defaults to the working tree). Each is checked out into
a temporary worktree (the working tree is used as is), and each benchmark runs alternately on the
two (A B A B ...) so that the load of a shared machine falls on both alike; the table shows the
median of each metric per side and after/before. Lower is better for times, higher for rates.

    check   bench/check_speed.py: whole-process `nnrun check` of a ~1,000-line file
    lsp     bench/lsp_latency.py: start to first diagnostics, an edit to its diagnostics, hover
    train   bench/train_speed.py --worker nndsl: MLP steps/s and compile time, small model 50
            steps per call

Results go to bench/results/compare_revisions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "compare_revisions.json"

Metrics = dict[str, float]


def _run(tree: Path, argv: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("NNDSL_CACHE_DIR", None)  # every run compiles from an empty cache, as in train_speed
    env["NNDSL_LSP_CHECK_BUDGET_S"] = "300"  # a loaded machine must not turn latency into errors
    done = subprocess.run(
        [sys.executable, *argv], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {tree}:\n{done.stderr[-2000:]}")
    return done.stdout


def check(tree: Path) -> Metrics:
    _run(tree, ["bench/check_speed.py", "--runs", "5"])
    data = json.loads((tree / "bench/results/check_speed.json").read_text())
    medians = data["median_s"]
    big = next(k for k in medians if k.startswith("nnrun check (") and "lines" in k)
    small = next(k for k in medians if "one small model" in k)
    return {"check ~1,000 lines s": medians[big], "check small model s": medians[small]}


def lsp(tree: Path) -> Metrics:
    _run(tree, ["bench/lsp_latency.py", "--starts", "3", "--edits", "10", "--queries", "20"])
    data = json.loads((tree / "bench/results/lsp_latency.json").read_text())
    out = {
        "lsp start -> diagnostics ms": data["start_to_first_diagnostics_ms"],
        "lsp edit -> diagnostics p50 ms": data["diagnostics"]["p50"],
        "lsp typing p50 ms": data["typing"]["p50"],
    }
    if "hover" in data:
        out["lsp hover p50 ms"] = data["hover"]["p50"]
    return out


def train(tree: Path) -> Metrics:
    out: Metrics = {}
    for label, model, steps, per_call in (("mlp", "mlp", 200, 1), ("small x50", "small", 400, 50)):
        argv = ["bench/train_speed.py", "--worker", "nndsl", model, "--steps", str(steps)]
        row = json.loads(_run(tree, [*argv, "--per-call", str(per_call)]).strip().splitlines()[-1])
        out[f"train {label} steps/s"] = row["steps_per_s"]
        out[f"train {label} compile s"] = row["compile_s"]
    return out


BENCHES: dict[str, Callable[[Path], Metrics]] = {"check": check, "lsp": lsp, "train": train}


def _worktree(rev: str, base: Path) -> Path:
    path = base / rev.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", help="default: the working tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(BENCHES))
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    with tempfile.TemporaryDirectory(prefix="nndsl-revs-") as tmp:
        trees = {"before": _worktree(args.before, Path(tmp))}
        trees["after"] = _worktree(args.after, Path(tmp)) if args.after else ROOT
        samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        try:
            for name in names:
                for round_ in range(args.rounds):
                    for side in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                        print(f"{name} round {round_ + 1} {side}", file=sys.stderr, flush=True)
                        try:
                            measured = BENCHES[name](trees[side])
                        except SystemExit as failed:  # one failed run: say so, keep the others
                            print(failed, file=sys.stderr, flush=True)
                            continue
                        for metric, value in measured.items():
                            samples[side].setdefault(metric, []).append(value)
                            print(f"  {metric}: {value:.3f}", file=sys.stderr, flush=True)
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                        check=False,
                        capture_output=True,
                    )
    rows: list[dict[str, Any]] = []
    print(f"{'metric':34s} {'before':>10s} {'after':>10s} {'after/before':>13s}")
    for metric, values in samples["before"].items():
        if metric not in samples["after"]:
            continue
        b, a = statistics.median(values), statistics.median(samples["after"][metric])
        rows.append({"metric": metric, "before": b, "after": a, "ratio": a / b if b else None})
        print(f"{metric:34s} {b:10.3f} {a:10.3f} {a / b if b else float('nan'):13.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"before": args.before, "after": args.after or "working tree", "rows": rows}, indent=2
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
