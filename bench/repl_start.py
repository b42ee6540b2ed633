"""Time from starting `nnrun repl` to its first prompt (issue 6): `python bench/repl_start.py`.

Starts the real REPL in a pseudo-terminal (pexpect, a dev dependency) `--runs` times with an
empty home directory, waits for `>>>`, exits with Ctrl-D; prints the median and writes
`bench/results/repl_start.json`. No JAX is imported before the prompt, which is why it is fast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]


def one_start() -> float:
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "TERM": "xterm", "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        child = pexpect.spawn(
            sys.executable, ["-m", "nndsl", "repl"], env=env, encoding="utf-8", timeout=60
        )
        child.expect_exact(">>>")
        elapsed = time.perf_counter() - start
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = [one_start() for _ in range(args.runs)]
    median = statistics.median(times)
    print(f"nnrun repl, start to first prompt: median {median:.2f} s, min {min(times):.2f} s")
    print("  runs: " + ", ".join(f"{t:.2f}" for t in times))
    out = ROOT / "bench" / "results" / "repl_start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"median_s": median, "runs_s": times}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
