"""Start-up cost of `nndsl.records.record` against `dataclasses.dataclass` (issue 14).

`python bench/record_startup.py [--runs 41]` times, as separate processes and interleaved so
load drifts hit both alike, the import of what the language server and `nnrun check` load
before their first diagnostic, once with `record` as it is and once with `record` replaced by
`dataclasses.dataclass` before the front end is imported (the same keyword arguments; nothing
else changes). Bytecode is compiled first, as a wheel install does. Prints medians and quartiles
of wall-clock and CPU time.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("nndsl.frontend", "nndsl.ide")
SWITCH = "import dataclasses, nndsl.records as r; r.record = dataclasses.dataclass; "


def one_run(code: str) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one process; CPU time suffers less
    from other jobs on a shared machine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "nndsl"), quiet=1)
    variants = {"python -c pass": "pass"}
    for target in TARGETS:
        variants[f"import {target}, record"] = f"import {target}"
        variants[f"import {target}, dataclass"] = SWITCH + f"import {target}"
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for code in variants.values():  # one warm-up each (file cache)
        one_run(code)
    for _ in range(args.runs):
        for name, code in variants.items():
            wall, cpu = one_run(code)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"{args.runs} runs each, interleaved; seconds, whole process: median [q1, q3]")
    print(f"{'command':<36} {'wall':>24} {'cpu':>24}")
    for name in variants:
        cells = []
        for ts in (walls[name], cpus[name]):
            q1, _, q3 = statistics.quantiles(ts, n=4)
            cells.append(f"{statistics.median(ts):.3f} [{q1:.3f}, {q3:.3f}]")
        print(f"{name:<36} {cells[0]:>24} {cells[1]:>24}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
