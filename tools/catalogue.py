"""Prints the layer catalogue's coverage as a Markdown table, by family.

    python tools/catalogue.py            # family summary
    python tools/catalogue.py --layers   # one row per layer

    python tools/catalogue.py --run      # run tests/parity first and count what they built
    python tools/catalogue.py --log F    # use the log of a run with NNDSL_PARITY_LOG=F

Columns: declared (a registry spec), shape rule (the spec states its rule), JAX (the backend
implements it), Keras parity (a test in tests/parity/ builds the layer: with `--run`, the
parity tests are run and log every spec they compile; without it, the text `Name(` must
appear in a parity test). Read the tests for which options are covered.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nndsl.backend.jax import missing_implementations  # noqa: E402
from nndsl.ops import OpKind, iter_specs  # noqa: E402
from nndsl.ops.registry import ALIASES  # noqa: E402


def parity_run() -> set[str]:
    """Run tests/parity with coverage logging on; the specs of every graph they built."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "covered.txt"
        env = {**os.environ, "NNDSL_PARITY_LOG": str(log), "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "tests/parity"]
        subprocess.run(cmd, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL)
        return set(log.read_text().split()) if log.exists() else set()


def parity_tested() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "tests" / "parity").glob("test_*.py"))
    used = set(re.findall(r"\b([A-Z][A-Za-z0-9]*)\(", text))
    return {ALIASES.get(name, name) for name in used}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", action="store_true", help="one row per layer")
    parser.add_argument("--run", action="store_true", help="run the parity tests to find out")
    parser.add_argument(
        "--log", type=Path, help="a NNDSL_PARITY_LOG file written by an earlier test run"
    )
    args = parser.parse_args()
    missing = set(missing_implementations())
    tested = parity_tested() | (parity_run() if args.run else set())
    if args.log is not None:
        tested |= set(args.log.read_text().split())
    rows: dict[str, list[tuple[str, bool, bool, bool]]] = {}
    for spec in iter_specs(OpKind.LAYER):
        rows.setdefault(spec.family, []).append(
            (spec.name, bool(spec.rule), spec.name not in missing, spec.name in tested)
        )

    def mark(flag: bool) -> str:
        return "yes" if flag else "**no**"

    if args.layers:
        print("| family | layer | shape rule | JAX | Keras parity |")
        print("|---|---|---|---|---|")
        for family, items in sorted(rows.items()):
            for name, rule, jax_ok, parity in sorted(items):
                print(f"| {family} | `{name}` | {mark(rule)} | {mark(jax_ok)} | {mark(parity)} |")
        return 0
    print("| family | declared | shape rule | JAX | Keras-parity tested |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for family, items in sorted(rows.items()):
        counts = [len(items), *(sum(i[k] for i in items) for k in (1, 2, 3))]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        print(f"| {family} | " + " | ".join(str(c) for c in counts) + " |")
    print("| **all** | " + " | ".join(f"**{c}**" for c in totals) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
