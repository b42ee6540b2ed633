"""The long fuzz run: N generated and mutated programs through check, fmt, summary and the IDE.

    python bench/fuzz.py [--cases 100000] [--seed 0] [--jobs 2] [--timeout 20]
    python bench/fuzz.py --seed 0 --case 4711        # rebuild one case and show its outcome

Cases and oracles are those of tests/hardening/fuzzing.py (the fast suite runs a few thousand of
them in `make test`); case `i` of seed `s` is the same on every machine. Workers take chunks of
cases; each case runs under an alarm (`--timeout`, a failure of its own) and each worker under a
memory limit. At the end every distinct failure (oracle and message shape) is minimized and
written to bench/results/fuzz/ (git-ignored) with its message, and a summary table is printed
and saved as bench/results/fuzz/summary.json. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hardening.fuzzing import (  # noqa: E402
    HEAVY,
    KINDS,
    ORACLES,
    Failure,
    make_cases,
    minimize,
    run_case,
)

RESULTS = ROOT / "bench" / "results" / "fuzz"
MEMORY_LIMIT = 4 << 30  # per worker: a case that wants more is a finding (MemoryError -> E9999)

_ORACLES: tuple[str, ...] = ORACLES
_TIMEOUT: float = 20.0


def _init(oracles: tuple[str, ...], timeout: float) -> None:
    global _ORACLES, _TIMEOUT
    _ORACLES, _TIMEOUT = oracles, timeout
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _chunk(job: tuple[int, int, int, tuple[str, ...]]) -> dict[str, object]:
    """Run cases start..start+count; what comes back is small but for failing cases' texts."""
    seed, start, count, kinds = job
    t0 = time.process_time()
    kinds_n: Counter[str] = Counter()
    kinds_s: defaultdict[str, float] = defaultdict(float)
    failures: list[Failure] = []
    slowest: list[tuple[float, int, str, str, tuple[str, ...]]] = []
    for case in make_cases(seed, start, count, kinds):
        outcome = run_case(case, _ORACLES, _TIMEOUT)
        kinds_n[case.kind] += 1
        kinds_s[case.kind] += outcome.seconds
        failures.extend(outcome.failures)
        slowest.append((outcome.seconds, case.index, case.kind, case.origin, case.ops))
    slowest.sort(reverse=True)
    return {
        "n": dict(kinds_n),
        "s": dict(kinds_s),
        "failures": failures,
        "slowest": slowest[:5],
        "cpu": time.process_time() - t0,
    }


def _show_case(seed: int, index: int, kinds: tuple[str, ...], timeout: float) -> int:
    [case] = make_cases(seed, index, 1, kinds)
    outcome = run_case(case, ORACLES, timeout)
    print(
        f"case {index} ({case.kind}, {case.origin}, ops {list(case.ops)}): {outcome.seconds:.3f} s"
    )
    print("-" * 60)
    print(case.text)
    print("-" * 60)
    for f in outcome.failures:
        print(f"FAIL {f.oracle}: {f.message}")
    return 1 if outcome.failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--chunk", type=int, default=100, help="cases per work unit")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds one case may take")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"of {', '.join(KINDS)}")
    ap.add_argument("--oracles", default=",".join(ORACLES), help=f"of {', '.join(ORACLES)}")
    ap.add_argument("--minimize", type=int, default=300, help="tries per reproducer (0: none)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--case", type=int, help="rebuild and run this one case, then stop")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    oracles = tuple(o for o in args.oracles.split(",") if o)
    if args.case is not None:
        return _show_case(args.seed, args.case, kinds, args.timeout)

    jobs = [
        (args.seed, s, min(args.chunk, args.cases - s), kinds)
        for s in range(0, args.cases, args.chunk)
    ]
    run = _Run(args, kinds, oracles)
    ctx = multiprocessing.get_context("fork")
    last_save = time.perf_counter()
    with ctx.Pool(args.jobs, initializer=_init, initargs=(oracles, args.timeout)) as pool:
        try:
            for part in pool.imap_unordered(_chunk, jobs):
                run.add(part)
                print(f"\r{run.progress()}", end="", file=sys.stderr, flush=True)
                if time.perf_counter() - last_save > 60:  # a long run leaves figures if killed
                    run.save([])
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            run.interrupted = True
            pool.terminate()
    print(file=sys.stderr)
    run.save(run.reproducers())
    run.print_table()
    return 1 if run.failures or run.interrupted else 0


class _Run:
    """The tallies of a run, its reproducers, summary.json and the printed table."""

    def __init__(self, args: argparse.Namespace, kinds: tuple[str, ...], oracles: tuple[str, ...]):
        self.args, self.kinds, self.oracles = args, kinds, oracles
        self.n_by_kind: Counter[str] = Counter()
        self.s_by_kind: Counter[str] = Counter()
        self.failures: list[Failure] = []
        self.slowest: list[tuple[float, int, str, str, tuple[str, ...]]] = []
        self.cpu = 0.0
        self.t0 = time.perf_counter()
        self.interrupted = False
        self.found: list[dict[str, object]] = []

    @property
    def done(self) -> int:
        return sum(self.n_by_kind.values())

    def add(self, part: dict[str, Any]) -> None:
        self.n_by_kind.update(part["n"])
        self.s_by_kind.update(part["s"])
        self.failures.extend(part["failures"])
        self.slowest = sorted([*self.slowest, *part["slowest"]], reverse=True)[:10]
        self.cpu += float(part["cpu"])

    def progress(self) -> str:
        wall = time.perf_counter() - self.t0
        distinct = len({f.signature for f in self.failures})
        return (
            f"{self.done:,}/{self.args.cases:,} cases  {wall:,.0f} s  {self.done / wall:,.1f}/s  "
            f"failures {len(self.failures)} ({distinct} distinct)"
        )

    def distinct(self) -> dict[tuple[str, str], list[Failure]]:
        out: dict[tuple[str, str], list[Failure]] = {}
        for f in self.failures:
            out.setdefault(f.signature, []).append(f)
        return dict(sorted(out.items()))

    def reproducers(self) -> list[dict[str, object]]:
        """One minimized text per distinct failure, with its message beside it."""
        out, args = self.args.out, self.args
        out.mkdir(parents=True, exist_ok=True)
        found: list[dict[str, object]] = []
        for k, (sig, group) in enumerate(self.distinct().items()):
            first = min(group, key=lambda f: len(f.case.text))
            text = (
                minimize(first, args.minimize, args.timeout) if args.minimize else first.case.text
            )
            stem = f"{k:03d}-{sig[0].replace('/', '-')}"
            (out / f"{stem}.nn").write_text(text, encoding="utf-8")
            (out / f"{stem}.txt").write_text(
                f"oracle: {first.oracle}\ncase: {first.case.index} (seed {args.seed}, "
                f"{first.case.kind}, {first.case.origin}, ops {list(first.case.ops)})\n"
                f"path: {first.case.path}\noccurrences: {len(group)}\n\n{first.message}\n",
                encoding="utf-8",
            )
            found.append(
                {
                    "oracle": sig[0],
                    "message": sig[1],
                    "count": len(group),
                    "first_case": first.case.index,
                    "reproducer": str(out / f"{stem}.nn"),
                }
            )
        return found

    def save(self, found: list[dict[str, object]]) -> None:
        self.found = found or [
            {"oracle": s[0], "message": s[1], "count": len(g), "first_case": g[0].case.index}
            for s, g in self.distinct().items()
        ]
        self.args.out.mkdir(parents=True, exist_ok=True)
        summary = {
            "seed": self.args.seed,
            "cases": self.done,
            "requested": self.args.cases,
            "finished": self.done == self.args.cases,
            "jobs": self.args.jobs,
            "timeout_s": self.args.timeout,
            "heavy_check_only": list(HEAVY),
            "oracles": list(self.oracles),
            "wall_s": round(time.perf_counter() - self.t0, 1),
            "cpu_s": round(self.cpu, 1),
            "cases_by_kind": dict(self.n_by_kind),
            "seconds_by_kind": {k: round(v, 1) for k, v in self.s_by_kind.items()},
            "failures": len(self.failures),
            "failures_by_oracle": dict(Counter(f.oracle for f in self.failures)),
            "distinct": self.found,
            "slowest": [
                {"seconds": round(s, 3), "case": i, "kind": k, "origin": o, "ops": list(ops)}
                for s, i, k, o, ops in self.slowest
            ],
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
        (self.args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    def print_table(self) -> None:
        wall = time.perf_counter() - self.t0
        print(
            f"\nseed {self.args.seed}: {self.done:,} cases in {wall:,.0f} s wall, "
            f"{self.cpu:,.0f} s CPU, {self.args.jobs} jobs"
        )
        print("\n| kind | cases | CPU s | ms/case |\n|---|---|---|---|")
        for kind in self.kinds:
            n, s = self.n_by_kind[kind], self.s_by_kind[kind]
            print(f"| {kind} | {n:,} | {s:,.0f} | {1000 * s / max(n, 1):.1f} |")
        by_oracle = Counter(f.oracle for f in self.failures)
        distinct = self.distinct()
        print("\n| oracle | failures | distinct |\n|---|---|---|")
        for oracle in [*self.oracles, "timeout"]:
            n = sum(c for o, c in by_oracle.items() if o.split("/")[0] == oracle)
            d = sum(1 for s in distinct if s[0].split("/")[0] == oracle)
            print(f"| {oracle} | {n} | {d} |")
        for item in self.found:
            print(f"  {item['oracle']} x{item['count']}: {str(item['message'])[:90]}")
            print(f"    -> {item.get('reproducer', '')}")
        slow = ", ".join(f"case {i} {s:.2f} s ({o})" for s, i, _, o, _ in self.slowest[:5])
        print(f"\nslowest: {slow}\nsummary: {self.args.out / 'summary.json'}")


if __name__ == "__main__":
    sys.exit(main())
