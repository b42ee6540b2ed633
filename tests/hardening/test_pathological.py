"""Pathological inputs, each through `nnrun` in its own process under resource limits: every one
ends with an ordinary diagnostic (or success) in bounded time and memory, never a traceback.

The bounds are generous (5 s of CPU, 500 MB peak RSS, 64 kB of output) and asserted, not
benchmarked: CPU time rather than wall time, so a busy machine does not fail them. Two cases run
at a time. `python -m tests.hardening.test_pathological` prints the table with the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPU_BOUND_S = 5.0
RSS_BOUND_MB = 500
OUTPUT_BOUND = 64 * 1024
MODEL = "model M() {{\n    input x: f32[B, 4]\n{body}\n}}\n"


@dataclass(frozen=True)
class Case:
    name: str
    text: Callable[[], str | bytes]
    code: str | None  # the diagnostic expected; None: the file is fine
    command: str = "check"


def _blocks(n: int) -> str:
    s = "block B0() {\n    input x: f32[B, 4]\n    return x |> Dense(4)\n}\n"
    for i in range(1, n):
        s += f"block B{i}() {{ input x: f32[B, 4]; return x |> B{i - 1}() }}\n"
    return s + f"model M() {{\n    input x: f32[B, 4]\n    return x |> B{n - 1}()\n}}\n"


def _big_model(size: int) -> str:
    """About `size` characters of ordinary blocks: the cost per byte of real text."""
    body = "".join(f"    h{i} = h{i - 1} |> Dense(8)\n" for i in range(1, 200))
    block = "block B{k}() {{\n    input h0: f32[B, 8]\n" + body + "    return h199\n}}\n"
    out, k = [], 0
    while sum(map(len, out)) < size:
        out.append(block.format(k=k))
        k += 1
    return "".join(out)


def _body(body: str) -> Callable[[], str]:
    return lambda: MODEL.format(body=body)


def _text(text: str) -> Callable[[], str]:
    return lambda: text


NEG = "model M() {\n    input x: f32[B, 0 - 5]\n    return x |> Dense(8)\n}\n"
HUGE_DIM = "model M() {\n    input x: f32[B, 1" + "0" * 400 + "]\n    return x\n}\n"
WIDE = "model M() {\n    input x: f32[B, 40000]\n    return x |> Dense(40000) |> Dense(40000)\n}\n"
FLOAT_CMP = "model M(D: int = 3) {\n    input x: f32[B, D]\n    if D > 0.5 { x = relu(x) }\n"
G = "1000000000"
COPIED = "    h = x\n    repeat {n} {{ {body} }}\n    return h"
COLLAPSED = "    repeat {n} {{ x = x |> Dense(4) }}\n    return x"
IFS = "    " + "if true { " * 500 + "x = x" + " }" * 500 + "\n    return x"
CASES = [
    # Copied repeats (a body reading another tensor cannot be one node) ...
    Case("repeat 10^12", _body(COPIED.format(n=10**12, body="h = relu(h) + x")), "E0813"),
    Case("repeat 10^6 stage", _body("    return x |> repeat 1000000 add(x)"), "E0813"),
    Case("repeat at the cap", _body("    return x |> repeat 10000 add(x)"), None),
    Case(
        "nested repeats 10^6",
        _body(COPIED.format(n=1000, body="repeat 1000 { h = relu(h) + x }")),
        "E0814",
    ),
    # ... and collapsed ones (issue 17): one node, whatever the count; the parameter budget
    Case("repeat 10^12 collapsed", _body(COLLAPSED.format(n=10**12)), "E0818"),
    Case(
        "repeat 10^12 stage collapsed",
        _body("    return x |> repeat 1000000000000 Dense(4)"),
        "E0818",
    ),
    Case("repeat 10^9 of relu", _body("    repeat 1000000000 { x = relu(x) }\n    return x"), None),
    Case(
        "nested repeats 10^6 collapsed",
        _body("    repeat 1000 { repeat 1000 { x = x |> Dense(4) } }\n    return x"),
        None,
    ),
    Case(  # found by bench/fuzz.py: a body that adds no node ran a million times (40 s)
        "nested repeats 10^6, empty body",
        _body("    repeat 1000 { repeat 1000 { } }\n    return x"),
        "E0814",
    ),
    Case(
        "nested repeats 10^6, broken body",
        _body("    repeat 1000 { repeat 1000 {\n  = x |y Dense(4)\n    }}\n    return x"),
        "E0814",
    ),
    Case("f32[B, 0 - 5]", _text(NEG), "E0816"),
    Case("f32[B, 0 - 5] summary", _text(NEG), "E0816", "summary"),
    Case("dim 10^400 summary", _text(HUGE_DIM), "E0815", "summary"),
    Case("10^10 parameters", _body("    return x |> Dense(100000) |> Dense(100000)"), "E0817"),
    Case("3.2 * 10^9 parameters", _text(WIDE), "E0818"),
    Case(
        "10^18 parameters", _body("    return x |> Dense(G) |> Dense(G)".replace("G", G)), "E0817"
    ),
    Case("500 `+` terms", _text("const A = " + " + ".join(["1"] * 500) + "\n"), "E0811"),
    Case("1000 pipeline stages", _body("    return x" + " |> Dense(4)" * 1000), "E0811"),
    Case("500 nested ifs", _body(IFS), "E0811"),
    Case("500 nested lists", _text("const A = " + "[" * 500 + "1" + "]" * 500 + "\n"), "E0811"),
    Case("200 nested blocks", lambda: _blocks(200), "E0812"),
    Case("1.0 * 400 digits", _text("const A = 1.0 * 1" + "0" * 400 + "\n"), "E0815"),
    Case("4,301-digit integer", _text("const A = " + "1" * 4301 + "\n"), "E0815"),
    Case("if D > 0.5", _text(FLOAT_CMP + "    return x\n}\n"), None),
    Case("1 MB line of garbage", lambda: "$" * 1_000_000 + "\n", "E0810"),
    Case("400 kB line of garbage", lambda: "$" * 400_000 + "\n", "E0002"),
    Case("10 MB string literal", lambda: 'const S = "' + "a" * 10_000_000 + '"\n', "E0810"),
    Case("500 kB string literal", lambda: 'const S = "' + "a" * 500_000 + '"\n', None),
    Case("250 kB of blocks", lambda: _big_model(250_000), None),
    Case("fmt non-UTF-8", lambda: b"model M() {\xff\xfe}\n", "E0103", "fmt"),
    Case("fmt 1000 stages", _body("    return x" + " |> relu" * 1000), "E0811", "fmt"),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    cpu_s: float
    wall_s: float
    rss_mb: float
    output: str


# Peak RSS is measured by a small launcher that forks the real child and reports that child's
# `wait4` usage. Linux folds the pre-exec address space's high-water mark into `ru_maxrss` at
# `execve`, so a child spawned straight from a pytest worker that ran JAX (over 1 GB) would read as
# that big whatever it does; a grandchild forked from the fresh launcher starts from a few MB.
LAUNCH = """
import json, os, resource, sys
report, args = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    os.execv(sys.executable, [sys.executable, "-m", "nndsl", *args])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_case(case: Case, folder: Path) -> Outcome:
    path = folder / (case.name.replace(" ", "_").replace("/", "_") + ".nn")
    report = path.with_suffix(".usage.json")
    text = case.text()
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    args = [case.command, str(path)] + (["--check"] if case.command == "fmt" else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("NNDSL_MAX_PARAMS", None)
    start = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCH, str(report), *args],
            stdout=out,
            stderr=out,
            env=env,
            cwd=folder,
            check=False,
        )
        wall = time.monotonic() - start
        out.seek(0)
        output = out.read(OUTPUT_BOUND + 1).decode(errors="replace")
    usage = json.loads(report.read_text())
    return Outcome(proc.returncode, usage["cpu"], wall, usage["rss_kb"] / 1024, output)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    folder = tmp_path_factory.mktemp("pathological")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda c: run_case(c, folder), CASES)
        return {c.name: r for c, r in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pathological_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[case.name]
    assert "Traceback" not in got.output and "E9999" not in got.output, got.output[:2000]
    assert got.returncode == (0 if case.code is None else 1), got.output[:2000]
    if case.code is not None:
        assert f"error[{case.code}]" in got.output, got.output[:2000]
    assert len(got.output) <= OUTPUT_BOUND
    assert got.cpu_s < CPU_BOUND_S, f"{got.cpu_s:.1f} s of CPU"
    assert got.rss_mb < RSS_BOUND_MB, f"{got.rss_mb:.0f} MB peak"


if __name__ == "__main__":  # the table, for the closing note
    with tempfile.TemporaryDirectory() as tmp:
        print("| case | command | outcome | CPU s | wall s | peak MB | output bytes |")
        print("|---|---|---|---|---|---|---|")
        for case in CASES:
            o = run_case(case, Path(tmp))
            first = next((ln for ln in o.output.splitlines() if ln.strip()), "")
            shown = first.split(":")[0] if first.startswith("error[") else f"exit {o.returncode}"
            print(
                f"| {case.name} | {case.command} | {shown} | {o.cpu_s:.2f} | {o.wall_s:.2f} "
                f"| {o.rss_mb:.0f} | {len(o.output)} |"
            )
